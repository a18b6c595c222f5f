"""Staff actions on a payment: confirmation first, then the same services as the API, recorded
with the staff user; a refusal shows the service's message and changes nothing."""

import pytest
from django.urls import reverse

from connectors.models import ConnectorCall
from payments.models import PaymentEvent, Refund
from tests.helpers import PENDING_CARD


def action_url(payment, name: str) -> str:
    return reverse("admin:payments_paymentoperation_action", args=[payment.pk, name])


def test_refund_page_asks_for_confirmation_and_changes_nothing_on_get(admin_client, paid):
    calls_before = ConnectorCall.objects.count()

    page = admin_client.get(action_url(paid, "refund")).content.decode()

    assert "Refundable" in page and "25.00 EUR" in page and "Yes, refund" in page
    assert not Refund.objects.exists()
    assert ConnectorCall.objects.count() == calls_before


def test_refund_from_the_admin_goes_through_the_service_as_the_staff_user(admin_client, paid):
    response = admin_client.post(
        action_url(paid, "refund"), {"amount": "5.00", "reason": "customer asked"}, follow=True
    )

    refund = Refund.objects.get(payment=paid)
    assert (refund.amount, refund.reason, refund.status) == (500, "customer asked", "succeeded")
    assert refund.connector_calls.filter(flow="refund", status_code=201).exists()
    created = PaymentEvent.objects.get(payment=paid, kind="refund_created")
    assert created.actor == "staff:root"
    assert PaymentEvent.objects.filter(payment=paid, kind="staff_action", actor="staff:root").exists()
    assert f"Refund {refund.public_id} of 5.00 EUR: succeeded" in response.content.decode()


def test_refund_above_what_is_left_shows_the_service_message_and_refunds_nothing(admin_client, paid):
    response = admin_client.post(action_url(paid, "refund"), {"amount": "30.00"})

    assert response.status_code == 200
    assert "amount 3000 is more than the 2500 left to refund" in response.content.decode()
    assert not Refund.objects.exists()
    refused = PaymentEvent.objects.get(payment=paid, kind="staff_action")
    assert refused.actor == "staff:root" and "refused" in refused.message


def test_amount_with_more_decimals_than_the_currency_has_is_refused_before_the_service(admin_client, paid):
    response = admin_client.post(action_url(paid, "refund"), {"amount": "5.001"})

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not Refund.objects.exists()


def test_partial_capture_from_the_admin(admin_client, take_payment):
    payment = take_payment(amount=2000, capture_method="manual")
    assert payment.status == "requires_capture"

    admin_client.post(action_url(payment, "capture"), {"amount": "12.50"})

    payment.refresh_from_db()
    assert (payment.amount_captured, payment.status) == (1250, "partially_captured")
    assert PaymentEvent.objects.filter(payment=payment, kind="captured", actor="staff:root").exists()


def test_capture_of_a_succeeded_payment_shows_why_not(admin_client, paid):
    response = admin_client.post(action_url(paid, "capture"), {"amount": ""})

    assert "this payment is succeeded; it cannot be captured" in response.content.decode()
    paid.refresh_from_db()
    assert paid.amount_captured == 2500


def test_cancel_voids_an_authorization_as_the_staff_user(admin_client, take_payment):
    payment = take_payment(capture_method="manual")

    admin_client.post(action_url(payment, "cancel"), {"reason": "duplicate order"})

    payment.refresh_from_db()
    assert payment.status == "cancelled"
    change = PaymentEvent.objects.get(payment=payment, kind="status_change", to_status="cancelled")
    assert change.actor == "staff:root"
    assert ConnectorCall.objects.filter(payment=payment, flow="void").exists()


def test_sync_now_settles_a_pending_payment(admin_client, take_payment):
    payment = take_payment(number=PENDING_CARD)
    assert payment.status == "processing"

    admin_client.post(action_url(payment, "sync"))

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    settled = PaymentEvent.objects.get(payment=payment, kind="status_change", to_status="succeeded")
    assert settled.actor == "staff:root"


def test_unknown_action_is_refused(admin_client, paid):
    assert admin_client.get(action_url(paid, "chargeback")).status_code == 403


# Issue 16, item 12: the form let 0 and 0.00 through; the refund service refuses them itself.
@pytest.mark.parametrize("value", ["0", "0.00", "-1.00"])
def test_a_zero_refund_from_the_admin_is_refused_and_nothing_reaches_the_bank(admin_client, paid, value):
    calls_before = ConnectorCall.objects.count()
    response = admin_client.post(action_url(paid, "refund"),
                                 {"amount": value})
    assert response.status_code == 200
    page = response.content.decode()
    assert "errorlist" in page or "amount must be a positive integer" in page
    assert not Refund.objects.exists()
    assert ConnectorCall.objects.count() == calls_before
