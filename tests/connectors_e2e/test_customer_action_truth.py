"""A payment waiting for the customer keeps waiting until the bank's own word (issue 15, failing
inputs 7, 10 and 11): a bare return request, a sync or the sweep that learns only "pending" change
nothing, and a payment whose authentication was abandoned can be cancelled."""

import pytest
import requests

from connectors.models import ConnectorCall
from connectors.testing.forms import read_form
from payments.models import PaymentAttempt, PaymentOperation
from payments.services import sweeps
from tests.connectors_e2e.test_authipay import CHALLENGE, pay
from tests.connectors_e2e.test_paytm import order_id, upi

pytestmark = pytest.mark.django_db(transaction=True)


def flows(payment_json) -> list[str]:
    return list(ConnectorCall.objects.filter(payment__public_id=payment_json["id"]).order_by("created_at", "id")
                .values_list("flow", flat=True))


def walk_the_challenge(browser, payment_json, otp="1234"):
    """The customer on the ACS pages; returns (return URL, fields the ACS sends back)."""
    acs_url, acs_fields = read_form(browser.get(payment_json["next_action"]["url"], timeout=5))
    challenge_url, challenge_fields = read_form(browser.post(acs_url, data=acs_fields, timeout=5))
    challenge_fields["otp"] = otp
    return read_form(browser.post(challenge_url, data=challenge_fields, timeout=5))


def test_a_bare_return_request_changes_nothing_and_the_customer_can_still_authenticate(
        api, authipay_account, pagoflex_server):
    payment = pay(api, number=CHALLENGE, request_three_d_secure=True, return_url="https://shop.example/back")
    assert payment["status"] == "requires_customer_action"

    # A link scanner or a prefetch: no ACS result at all.
    scanned = requests.get(f"{pagoflex_server.base_url}/payments/{payment['id']}/return/", allow_redirects=False,
                           timeout=5)

    assert scanned.status_code == 302 and "status=requires_customer_action" in scanned.headers["Location"]
    after = api.get(f"/v1/payments/{payment['id']}").json()
    assert (after["status"], after["last_payment_error"], after["next_action"]) == (
        "requires_customer_action", None, payment["next_action"])
    assert flows(payment) == ["authorize", "psync"]  # it asked the bank, and only asked

    browser = requests.Session()
    back_url, back_fields = walk_the_challenge(browser, payment)
    final = browser.post(back_url, data=back_fields, allow_redirects=False, timeout=5)
    assert "status=succeeded" in final.headers["Location"]
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_captured == 1204


def test_a_return_with_a_result_that_is_not_this_payments_changes_nothing(api, authipay_account,
                                                                          pagoflex_server):
    payment = pay(api, number=CHALLENGE, request_three_d_secure=True)
    forged = requests.post(f"{pagoflex_server.base_url}/payments/{payment['id']}/return/",
                           data={"cres": "bm90LWEtY3Jlcw"}, timeout=5)
    assert forged.status_code == 200
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "requires_customer_action"


def test_an_abandoned_3ds_authentication_can_be_cancelled_and_never_authorizes_later(
        api, authipay_account, gateway, pagoflex_server):
    payment = pay(api, number=CHALLENGE, request_three_d_secure=True, return_url="https://shop.example/back")
    # The customer opens the bank's challenge page, then leaves it open.
    browser = requests.Session()
    acs_url, acs_fields = read_form(browser.get(payment["next_action"]["url"], timeout=5))
    challenge_url, challenge_fields = read_form(browser.post(acs_url, data=acs_fields, timeout=5))

    cancelled = api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json")

    assert cancelled.status_code == 200, cancelled.content
    body = cancelled.json()
    assert (body["status"], body["next_action"], body["amount_capturable"]) == ("cancelled", None, 0)
    # The gateway refused to void a transaction waiting for 3-D Secure; it was asked what it holds.
    assert flows(payment) == ["authorize", "void", "psync"]
    transaction = gateway[0].transactions[payment["connector_reference"]]
    assert transaction.status == "WAITING"
    # The customer finishes the challenge afterwards: Pagoflex never completes it at the gateway.
    back_url, back_fields = read_form(browser.post(challenge_url, data={**challenge_fields, "otp": "1234"},
                                                   timeout=5))
    browser.post(back_url, data=back_fields, allow_redirects=False, timeout=5)
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "cancelled"
    assert transaction.status == "WAITING" and "complete_authorize" not in flows(payment)


def test_a_3ds_payment_with_the_sandbox_is_voided_at_the_bank(api, sandbox_account, sandbox):
    response = api.post("/v1/payments", {"amount": 1050, "currency": "EUR", "confirm": True,
                                         "payment_method_type": "card", "payment_method_data": {"card": {
                                             "number": "4000000000003220", "exp_month": 12, "exp_year": 2034,
                                             "cvc": "123"}}}, format="json").json()
    assert response["status"] == "requires_customer_action"
    cancelled = api.post(f"/v1/payments/{response['id']}/cancel", {}, format="json").json()
    assert cancelled["status"] == "cancelled" and flows(response) == ["authorize", "void"]
    attempt = PaymentAttempt.objects.get(payment__public_id=response["id"])
    assert sandbox.app.charges[attempt.connector_reference]["status"] == "voided"


def test_a_upi_intent_keeps_its_app_link_through_force_sync_and_the_sweep(api, paytm_account, paytm):
    paytm[0].notification_url = ""
    payment = upi(api, "intent")
    link = payment["next_action"]
    assert payment["status"] == "requires_customer_action" and link["url"].startswith("upi://pay?")

    synced = api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()
    assert (synced["status"], synced["next_action"]) == ("requires_customer_action", link)

    attempt = PaymentAttempt.objects.get(payment__public_id=payment["id"])
    results = []
    sweeps.sweep_due_attempts(now=attempt.next_sync_at, enqueue=lambda pk, token: results.append(
        sweeps.sync_claimed_attempt(attempt_pk=pk, token=token)))
    assert results == ["synced"]
    swept = api.get(f"/v1/payments/{payment['id']}").json()
    assert (swept["status"], swept["next_action"]) == ("requires_customer_action", link)
    assert flows(payment).count("psync") == 2

    # The customer pays in the app: the next sync settles it.
    requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment)}/pay", timeout=5)
    assert api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()["status"] == "succeeded"


def test_a_upi_intent_can_be_cancelled_while_paytm_still_says_pending(api, paytm_account, paytm):
    paytm[0].notification_url = ""
    payment = upi(api, "intent")
    cancelled = api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json").json()
    assert (cancelled["status"], cancelled["next_action"]) == ("cancelled", None)
    assert flows(payment)[-1] == "psync"
