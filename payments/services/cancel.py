"""Cancelling a payment: locally before it reached a bank, by a void after authorization.

A void is reserved like a capture: under the payment's row lock the payment is marked
``cancelling`` before the connector is called, so concurrent cancels (and captures) are refused
with 409 and the bank is asked once. The mark goes when the bank answers: voided (the payment
is cancelled), refused (nothing changed), or, when the answer is lost, when sync or a webhook
brings the bank's word on the attempt (``outcomes.apply_attempt_outcome_locked``).
"""

from __future__ import annotations

from connectors.base import Flow
from connectors.errors import ConnectorError, ConnectorUnknownOutcome
from payments.models import PaymentOperation
from payments.services.connector_calls import payment_data_for, run_flow
from payments.services.errors import connector_failure, unexpected_state
from payments.services.outcomes import (
    Outcome,
    apply_attempt_outcome,
    lock_payment_and_attempt,
    move_payment,
    record_event,
    schedule_sync,
    state_change,
)
from payments.statuses import AttemptStatus, PaymentStatus

CANCELLABLE_LOCALLY = {PaymentStatus.REQUIRES_PAYMENT_METHOD, PaymentStatus.REQUIRES_CONFIRMATION}
VOIDABLE = {PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.REQUIRES_CUSTOMER_ACTION}


def cancel_payment(*, payment_pk: int, reason: str = "", actor: str = "api") -> PaymentOperation:
    with state_change():
        payment = PaymentOperation.objects.select_for_update(no_key=True).get(pk=payment_pk)
        if payment.status in CANCELLABLE_LOCALLY:
            move_payment(payment, PaymentStatus.CANCELLED, actor=actor, message=reason)
            payment.save()
            return payment
        if payment.cancelling:
            raise unexpected_state("payment", "being cancelled", "cancelled again")
        if payment.status not in VOIDABLE or payment.amount_capturing:
            raise unexpected_state("payment", payment.status, "cancelled")
        attempt = payment.attempts.filter(
            status__in=[AttemptStatus.AUTHORIZED, AttemptStatus.AUTHENTICATION_PENDING]).last()
        if attempt is None:
            raise unexpected_state("payment", payment.status, "cancelled")
        connector = attempt.connector_account.build_connector()
        if not connector.supports(Flow.VOID) and attempt.status == AttemptStatus.AUTHENTICATION_PENDING:
            # Nothing was authorized yet and the bank has no void: abandoning the attempt is enough.
            voided_locally = True
        else:
            voided_locally = False
            payment.cancelling = True
            payment.save(update_fields=["cancelling", "updated_at"])

    if voided_locally:
        apply_attempt_outcome(attempt.pk, Outcome(status=AttemptStatus.VOIDED), actor=actor)
        return PaymentOperation.objects.get(pk=payment.pk)
    try:
        response = run_flow(connector, Flow.VOID, payment_data_for(payment, attempt),
                            account=attempt.connector_account, payment=payment, attempt=attempt)
    except ConnectorUnknownOutcome as exc:
        # The void may have happened: the payment stays cancelling until the bank's word.
        with state_change():
            payment, attempt = lock_payment_and_attempt(attempt.pk, account=attempt.connector_account)
            record_event(payment, "void_unknown", message=exc.message, actor=actor, attempt=attempt)
            schedule_sync(attempt)
            attempt.save(update_fields=["next_sync_at", "updated_at"])
        raise connector_failure(exc, action="void") from exc
    except ConnectorError as exc:
        _not_cancelling(payment.pk)
        raise connector_failure(exc, action="void") from exc
    if response.status != AttemptStatus.VOIDED:
        _not_cancelling(payment.pk)
        raise connector_failure(ConnectorError(response.message or "the connector did not void the payment",
                                               code=response.code or "void_failed"), action="void")
    apply_attempt_outcome(attempt.pk, Outcome.from_response(response), actor=actor)
    return PaymentOperation.objects.get(pk=payment.pk)


def _not_cancelling(payment_pk: int) -> None:
    """The bank refused the void (or was never reached): nothing changed, the mark goes."""
    PaymentOperation.objects.filter(pk=payment_pk, cancelling=True).update(cancelling=False)
