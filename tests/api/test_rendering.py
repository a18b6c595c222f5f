"""The hand-written renderings of payments, attempts and refunds (fast paths, see
docs/performance.md) say exactly what DRF's rendering of their declared fields says: the
schema describes the declared fields, so the two must never drift apart."""

import json

import pytest
from django.utils import timezone

from payments.api.serializers import PaymentOutput, RefundOutput
from payments.models import PaymentAttempt, PaymentOperation, Refund
from tests.helpers import DECLINED_CARD, PENDING_CARD, THREE_DS_CARD, payment_body

pytestmark = pytest.mark.django_db


def as_json(data) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def assert_payment_renderings_equal(payment: PaymentOperation) -> None:
    payment = PaymentOperation.objects.get(pk=payment.pk)
    serializer = PaymentOutput(payment)
    assert as_json(serializer.to_representation(payment)) == as_json(serializer.declared_representation(payment))


def test_payments_in_every_state_the_api_makes_render_as_their_declared_fields(api, sandbox_account):
    bodies = [payment_body(1000), payment_body(1000, capture_method="manual"), payment_body(1000, confirm=False),
              payment_body(1000, number=DECLINED_CARD), payment_body(1000, number=PENDING_CARD),
              payment_body(1000, number=THREE_DS_CARD, return_url="https://shop.example/back"),
              payment_body(500, currency="JPY", metadata={"order": "A-1"}, description="two items",
                           customer={"id": "cus_1", "email": "a@example.com"})]
    for body in bodies:
        response = api.post("/v1/payments", body, format="json")
        assert response.status_code in (201, 402), response.content
    payments = list(PaymentOperation.objects.all())
    assert len(payments) == len(bodies)
    assert {p.status for p in payments} >= {"succeeded", "requires_capture", "requires_confirmation", "failed",
                                            "processing", "requires_customer_action"}
    for payment in payments:
        assert_payment_renderings_equal(payment)


def test_the_renderings_agree_on_what_the_api_rarely_makes(merchant, sandbox_account):
    """Live mode, a form redirect, an error, a fallback attempt chosen by a named rule, no attempt."""
    payment = PaymentOperation.objects.create(
        merchant=merchant, mode="live", amount=1234, currency="KWD", status="failed", error_code="do_not_honor",
        error_message="declined by the issuer", next_action={"type": "redirect_to_url", "url": "https://bank.example",
                                                             "data": {"form": {"PaReq": "x"}}},
        payment_method_type="card", payment_method_details={"brand": "visa", "last4": "4242"}, integrity_mismatch=True)
    assert_payment_renderings_equal(payment)
    for position, decision in enumerate([{"rule": {"name": "big-eur"}}, {"fallback_from": "att_1", "position": 1}]):
        PaymentAttempt.objects.create(payment=payment, connector_account=sandbox_account, connector="sandbox",
                                      status="failure", amount=1234, currency="KWD", routing_decision=decision,
                                      error_code="processing_error" if position else "",
                                      created_at=timezone.now())
    assert_payment_renderings_equal(payment)
    refund = Refund.objects.create(payment=payment, attempt=payment.attempts.first(), amount=34, currency="KWD",
                                   status="failed", error_code="refund_failed", error_message="too late",
                                   metadata={"ticket": 7})
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    serializer = RefundOutput(refund)
    assert serializer.to_representation(refund) == serializer.declared_representation(refund)
