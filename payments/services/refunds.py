"""Refunds: never more than was captured, even when many are asked for at once."""

from __future__ import annotations

from django.db.models import Sum

from connectors.base import Flow
from connectors.errors import ConnectorError
from payments.models import PaymentOperation, Refund
from payments.selectors import PaymentRef
from payments.services.connector_calls import refund_data_for, run_flow
from payments.services.errors import PaymentError
from payments.services.idempotency_scope import remember_created
from payments.services.outcomes import Outcome, apply_refund_outcome, lock_latest_attempt, record_event, state_change
from payments.statuses import AttemptStatus, PaymentStatus, RefundStatus

# Failed and cancelled payments hold a charged attempt only after a late success: refundable then.
REFUNDABLE = {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_CAPTURED, PaymentStatus.FAILED,
              PaymentStatus.CANCELLED}
REFUNDABLE_ATTEMPTS = {AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED}


def refundable_amount(payment: PaymentOperation) -> int:
    """Captured minus every refund that succeeded or may still succeed (pending)."""
    reserved = payment.refunds.filter(status__in=[RefundStatus.PENDING, RefundStatus.SUCCEEDED]).aggregate(
        total=Sum("amount"))["total"] or 0
    return payment.amount_captured - reserved


def create_refund(*, payment_pk: int | None = None, payment: PaymentRef | None = None, amount: int | None = None,
                  reason: str = "", metadata: dict | None = None, actor: str = "api") -> Refund:
    """Refund ``amount`` (default: all that is left) of a captured payment, named by its key or,
    from the API, by a ``PaymentRef`` (404 when it is not the merchant's).

    The refund row is created ``pending`` under the payment's row lock, so it counts against
    the refundable amount before the connector is called: concurrent refunds cannot exceed
    what was captured. An ``amount`` below 1 is refused here, whoever calls (the API's input
    checks it too, the admin's form did not): a zero refund must never reach the bank.
    """
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount < 1):
        raise PaymentError("amount must be a positive integer of minor units", code="amount_invalid", param="amount")
    with state_change():
        attempt = lock_latest_attempt(payment_pk if payment is None else payment, attempt_statuses=REFUNDABLE_ATTEMPTS,
                                      payment_statuses=REFUNDABLE, action="refunded")
        payment = attempt.payment
        connector_class = attempt.connector_account.connector_class
        if not connector_class.supports(Flow.REFUND):
            raise PaymentError("refunds are not supported by this connector", code="flow_not_supported")
        available = refundable_amount(payment)
        amount = available if amount is None else amount
        if available <= 0:
            raise PaymentError("this payment has been refunded in full", code="charge_already_refunded",
                               param="amount")
        if amount > available:
            raise PaymentError(f"amount {amount} is more than the {available} left to refund",
                               code="amount_too_large", param="amount")
        if amount < payment.amount_captured and not connector_class.supports_partial_refunds:
            raise PaymentError("partial refunds are not supported by this connector", code="flow_not_supported",
                               param="amount")
        refund = Refund.objects.create(payment=payment, attempt=attempt, amount=amount, currency=payment.currency,
                                       status=RefundStatus.PENDING, reason=reason, metadata=metadata or {})
        record_event(payment, "refund_created", to_status=RefundStatus.PENDING, actor=actor, refund=refund,
                     message=f"refund of {amount} {payment.currency}")
        remember_created(refund)

    account = attempt.connector_account
    connector = account.build_connector()
    try:
        response = run_flow(connector, Flow.REFUND, refund_data_for(refund), account=account, payment=payment,
                            attempt=attempt, refund=refund)
        outcome = Outcome.from_response(response)
    except ConnectorError as exc:
        outcome = Outcome.from_error(exc, failed_status=RefundStatus.FAILED, unknown_status=None)
    return apply_refund_outcome(refund.pk, outcome, actor=actor).refund
