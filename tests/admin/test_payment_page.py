"""Investigating a payment: the list, its filters and search, and the one-screen timeline."""

import pytest
from django.urls import reverse

from connectors.models import ConnectorCall
from payments.models import PaymentOperation
from tests.admin.conftest import post_sandbox_webhook, sandbox_charge
from tests.helpers import DECLINED_CARD
from webhooks.models import WebhookEvent, WebhookOutcome

CHANGELIST = "/admin/payments/paymentoperation/"


def change_url(payment) -> str:
    return reverse("admin:payments_paymentoperation_change", args=[payment.pk])


def test_payment_list_shows_badge_amount_in_currency_connector_and_merchant(admin_client, paid):
    page = admin_client.get(CHANGELIST).content.decode()

    assert paid.public_id in page
    assert '<span class="pf-badge pf-ok">succeeded</span>' in page
    assert "25.00 EUR" in page
    assert ">sandbox<" in page
    assert paid.merchant.name in page


def test_search_by_last_four_digits_finds_the_card_payment_only(admin_client, take_payment):
    visa = take_payment(amount=1000)
    mastercard = take_payment(amount=1100, number="5555555555554444")

    page = admin_client.get(CHANGELIST, {"q": "4444"}).content.decode()

    assert mastercard.public_id in page
    assert visa.public_id not in page


def test_search_by_connector_reference_and_merchant_reference(admin_client, take_payment):
    payment = take_payment(merchant_reference="order-7781")
    other = take_payment()
    reference = payment.attempts.get().connector_reference

    by_connector = admin_client.get(CHANGELIST, {"q": reference}).content.decode()
    by_merchant = admin_client.get(CHANGELIST, {"q": "order-7781"}).content.decode()

    assert payment.public_id in by_connector and other.public_id not in by_connector
    assert payment.public_id in by_merchant and other.public_id not in by_merchant


def test_filters_for_status_connector_refunds_and_integrity(admin_client, take_payment, api):
    paid = take_payment()
    declined = take_payment(number=DECLINED_CARD)
    api.post("/v1/refunds", {"payment": paid.public_id, "amount": 100}, format="json")
    PaymentOperation.objects.filter(pk=declined.pk).update(integrity_mismatch=True)

    def listed(**params):
        page = admin_client.get(CHANGELIST, params).content.decode()
        return {p.public_id for p in (paid, declined) if p.public_id in page}

    assert listed(status__exact="failed") == {declined.public_id}
    assert listed(connector="sandbox") == {paid.public_id, declined.public_id}
    assert listed(connector="paytm") == set()
    assert listed(has_refunds="yes") == {paid.public_id}
    assert listed(has_refunds="no") == {declined.public_id}
    assert listed(integrity_mismatch__exact="1") == {declined.public_id}


def test_timeline_merges_events_attempts_calls_webhooks_and_refunds_in_time_order(
    admin_client, paid, api, sandbox, sandbox_account, client
):
    api.post("/v1/refunds", {"payment": paid.public_id, "amount": 700, "reason": "damaged"}, format="json")
    attempt = paid.attempts.get()
    charge = sandbox_charge(sandbox, attempt.connector_reference)
    answer = post_sandbox_webhook(
        client, sandbox_account, {"id": "evt_admin_1", "type": "charge.succeeded", "data": charge}
    )
    assert answer.status_code == 200, answer.content
    assert WebhookEvent.objects.get(payment=paid).outcome in (WebhookOutcome.PROCESSED, WebhookOutcome.DUPLICATE)

    response = admin_client.get(change_url(paid))
    page = response.content.decode()
    timeline = response.context["timeline"]

    kinds = [entry.kind for entry in timeline]
    assert {"event", "attempt", "call", "webhook", "refund"} <= set(kinds)
    assert [entry.at for entry in timeline] == sorted(entry.at for entry in timeline)
    assert kinds.index("attempt") < kinds.index("call") < kinds.index("refund") < kinds.index("webhook")
    authorize = next(entry for entry in timeline if entry.kind == "call" and entry.title.startswith("authorize"))
    assert authorize.status == "HTTP 201" and authorize.tone == "ok" and "ms" in authorize.summary
    request_body = dict(authorize.blocks)["Request body"]
    assert request_body.startswith("{\n  ")  # pretty-printed
    assert "4242424242424242" not in page and "************4242" in request_body
    assert "Refund re_" in page and "reason: damaged" in page
    assert "Inbound webhook charge.succeeded from sandbox" in page
    assert SANDBOX_SECRET_FRAGMENT not in page


SANDBOX_SECRET_FRAGMENT = "sbx_test_key_0123456789"


@pytest.mark.plants_secrets  # the secrets scan (tests/security/plugin.py) expects this one
def test_connector_call_bodies_are_masked_again_with_the_account_secrets(admin_client, paid, sandbox_account):
    call = ConnectorCall.objects.filter(payment=paid).first()
    # A secret that reached the call log by mistake (an echoing bank) is still never shown.
    ConnectorCall.objects.filter(pk=call.pk).update(response_body='{"echo": "sbx_test_key_0123456789"}')

    page = admin_client.get(change_url(paid)).content.decode()

    assert "sbx_test_key_0123456789" not in page
    assert "********" in page
