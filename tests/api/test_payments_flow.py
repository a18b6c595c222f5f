"""End to end over real HTTP to the sandbox bank: the API, the services, the adapter, the simulator."""

import requests

from connectors.models import ConnectorCall
from payments import services
from payments.models import PaymentAttempt, PaymentOperation, Refund
from tests.helpers import (
    DECLINED_CARD,
    PENDING_CARD,
    PENDING_REFUND_CARD,
    THREE_DS_CARD,
    UNSUPPORTED_CARD,
    assert_error,
    card,
    payment_body,
)


def create(api, body, **headers):
    return api.post("/v1/payments", body, format="json", **headers)


def test_approved_card_with_automatic_capture_succeeds(api, sandbox_account):
    response = create(api, payment_body(1050, "EUR"))
    assert response.status_code == 201, response.content
    payment = response.json()
    assert payment["id"].startswith("pay_") and payment["object"] == "payment"
    assert payment["status"] == "succeeded"
    assert payment["amount_captured"] == 1050 and payment["amount_capturable"] == 0
    assert payment["payment_method"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
    assert payment["connector"] == "sandbox" and payment["connector_reference"]
    assert [a["status"] for a in payment["attempts"]] == ["charged"]


def test_create_then_confirm_in_two_steps(api, sandbox_account):
    created = create(api, {"amount": 700, "currency": "USD"}).json()
    assert created["status"] == "requires_payment_method"
    confirmed = api.post(f"/v1/payments/{created['id']}/confirm",
                         {"payment_method_type": "card", "payment_method_data": {"card": card()}}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "succeeded"


def test_manual_capture_in_full(api, sandbox_account):
    payment = create(api, payment_body(2000, capture_method="manual")).json()
    assert payment["status"] == "requires_capture" and payment["amount_capturable"] == 2000
    captured = api.post(f"/v1/payments/{payment['id']}/capture", {}, format="json")
    assert captured.status_code == 200, captured.content
    assert captured.json()["status"] == "succeeded" and captured.json()["amount_captured"] == 2000


def test_partial_and_multiple_captures_add_up_to_the_authorization(api, sandbox_account):
    payment = create(api, payment_body(3000, capture_method="manual")).json()
    first = api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 1000}, format="json").json()
    assert first["status"] == "partially_captured" and first["amount_captured"] == 1000
    assert first["amount_capturable"] == 2000
    second = api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 2000}, format="json").json()
    assert second["status"] == "succeeded" and second["amount_captured"] == 3000


def test_capture_above_the_capturable_amount_is_refused_and_changes_nothing(api, sandbox_account):
    payment = create(api, payment_body(1000, capture_method="manual")).json()
    calls_before = ConnectorCall.objects.count()
    assert_error(api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 1001}, format="json"), 400,
                 code="amount_too_large", param="amount")
    assert ConnectorCall.objects.count() == calls_before
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_capturing == 0


def test_void_cancels_an_authorized_payment(api, sandbox_account):
    payment = create(api, payment_body(1000, capture_method="manual")).json()
    cancelled = api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["attempts"][-1]["status"] == "voided"
    assert_error(api.post(f"/v1/payments/{payment['id']}/capture", {}, format="json"), 409,
                 code="payment_unexpected_state")


def test_a_captured_payment_cannot_be_cancelled(api, sandbox_account):
    payment = create(api, payment_body(1000)).json()
    assert_error(api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json"), 409,
                 code="payment_unexpected_state")


def test_declined_card_fails_the_payment_with_the_decline_code(api, sandbox_account):
    payment = create(api, payment_body(1000, number=DECLINED_CARD)).json()
    assert payment["status"] == "failed"
    assert payment["last_payment_error"]["code"] == "insufficient_funds"
    assert payment["last_payment_error"]["message"]
    assert payment["attempts"][0]["status"] == "failure"


def test_card_not_supported_decline(api, sandbox_account):
    payment = create(api, payment_body(1000, number=UNSUPPORTED_CARD)).json()
    assert payment["status"] == "failed" and payment["last_payment_error"]["code"] == "card_not_supported"


def test_pending_payment_settles_on_sync(api, sandbox_account):
    payment = create(api, payment_body(1500, number=PENDING_CARD)).json()
    assert payment["status"] == "processing" and payment["attempts"][0]["status"] == "pending"
    synced = api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()
    assert synced["status"] == "succeeded" and synced["amount_captured"] == 1500


def test_three_d_secure_returns_a_redirect_and_the_return_completes_the_payment(api, sandbox_account, live_server,
                                                                                settings):
    settings.PAGOFLEX_PUBLIC_URL = live_server.url
    payment = create(api, payment_body(2500, number=THREE_DS_CARD, return_url="https://shop.example/done")).json()
    assert payment["status"] == "requires_customer_action"
    action = payment["next_action"]
    assert action["type"] == "redirect_to_url" and action["url"].startswith(sandbox_account.base_url)
    # The customer's browser: open the bank's page, complete the challenge, follow the way back.
    browser = requests.Session()
    assert browser.get(action["url"], timeout=5).status_code == 200
    back = browser.post(action["url"], data={"outcome": "complete"}, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    final = browser.get(back.headers["Location"], allow_redirects=False, timeout=5)
    assert final.status_code == 302
    assert final.headers["Location"].startswith("https://shop.example/done?")
    assert "status=succeeded" in final.headers["Location"]
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "succeeded"


def test_the_return_shows_the_status_a_bank_webhook_settled_while_the_return_was_read(
        api, sandbox_account, sandbox, client, monkeypatch):
    """The bank's webhook may settle the payment between the return page's read of the payment
    and of its latest attempt (Paytm's notification races the customer's browser): the page then
    skips its own sync, and must still send the customer back with the settled status."""
    payment = create(api, payment_body(2500, number=THREE_DS_CARD, return_url="https://shop.example/done")).json()
    attempt = PaymentAttempt.objects.get(payment__public_id=payment["id"])
    latest_attempt = PaymentOperation.latest_attempt

    def webhook_lands_meanwhile(self):
        monkeypatch.setattr(PaymentOperation, "latest_attempt", latest_attempt)  # once
        settled = requests.post(f"{sandbox.base_url}/__control__/charges/{attempt.connector_reference}/settle",
                                json={"outcome": "succeeded"}, timeout=5)
        assert settled.status_code == 200, settled.text
        services.sync_attempt(attempt_pk=attempt.pk, actor="webhook")
        return latest_attempt.fget(self)

    monkeypatch.setattr(PaymentOperation, "latest_attempt", property(webhook_lands_meanwhile))
    back = client.get(f"/payments/{payment['id']}/return/")

    assert back.status_code == 302
    assert "status=succeeded" in back["Location"], back["Location"]


def test_refunds_full_partial_multiple_and_over_refund(api, sandbox_account):
    payment = create(api, payment_body(5000)).json()
    first = api.post("/v1/refunds", {"payment": payment["id"], "amount": 1000, "reason": "damaged"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "succeeded" and first.json()["id"].startswith("re_")
    second = api.post("/v1/refunds", {"payment": payment["id"], "amount": 1500}, format="json").json()
    assert second["status"] == "succeeded"
    over = api.post("/v1/refunds", {"payment": payment["id"], "amount": 2501}, format="json")
    assert_error(over, 400, code="amount_too_large", param="amount")
    rest = api.post("/v1/refunds", {"payment": payment["id"]}, format="json").json()
    assert rest["amount"] == 2500 and rest["status"] == "succeeded"
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 5000
    assert_error(api.post("/v1/refunds", {"payment": payment["id"], "amount": 1}, format="json"), 400,
                 code="charge_already_refunded")
    assert Refund.objects.filter(payment__public_id=payment["id"], status="succeeded").count() == 3


def test_pending_refund_settles_on_refund_sync(api, sandbox_account):
    payment = create(api, payment_body(4000, number=PENDING_REFUND_CARD)).json()
    refund = api.post("/v1/refunds", {"payment": payment["id"], "amount": 4000}, format="json").json()
    assert refund["status"] == "pending"
    synced = api.get(f"/v1/refunds/{refund['id']}?force_sync=true").json()
    assert synced["status"] == "succeeded"
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 4000


def test_refund_of_an_uncaptured_payment_is_refused(api, sandbox_account):
    payment = create(api, payment_body(1000, capture_method="manual")).json()
    assert_error(api.post("/v1/refunds", {"payment": payment["id"]}, format="json"), 409,
                 code="payment_unexpected_state")


def test_list_is_cursor_paginated_newest_first_and_filters_by_status(api, sandbox_account):
    ids = [create(api, payment_body(100 + i)).json()["id"] for i in range(5)]
    create(api, payment_body(999, number=DECLINED_CARD))
    page = api.get("/v1/payments?limit=2&status=succeeded").json()
    assert page["object"] == "list" and page["has_more"] is True
    assert [p["id"] for p in page["data"]] == ids[::-1][:2]
    seen = [p["id"] for p in page["data"]]
    while page["has_more"]:
        page = api.get(f"/v1/payments?limit=2&status=succeeded&cursor={page['next_cursor']}").json()
        seen += [p["id"] for p in page["data"]]
    assert seen == ids[::-1]


def test_every_connector_call_is_logged_with_the_card_masked(api, sandbox_account):
    payment = create(api, payment_body(1000, capture_method="manual")).json()
    api.post(f"/v1/payments/{payment['id']}/capture", {}, format="json")
    calls = list(ConnectorCall.objects.filter(payment__public_id=payment["id"]).order_by("created_at", "id"))
    assert [c.flow for c in calls] == ["authorize", "capture"]
    assert [c.status_code for c in calls] == [201, 200] and all(c.latency_ms >= 0 for c in calls)
    assert "4242424242424242" not in calls[0].request_body and "4242" in calls[0].request_body
    assert '"123"' not in calls[0].request_body
