"""Cancelling a payment: locally before it reached a bank, by a void after authorization.

A void of an authorization is reserved like a capture: under the payment's row lock the
payment is marked ``cancelling`` before the connector is called, so concurrent cancels (and
captures) are refused with 409 and the bank is asked once. The mark goes when the bank answers:
voided (the payment is cancelled), refused (nothing changed), or, when the answer is lost, when
sync or a webhook brings the bank's word on the attempt (``outcomes.apply_attempt_outcome_locked``).
"""

from __future__ import annotations

from connectors.base import Flow
from connectors.errors import ConnectorError, ConnectorUnknownOutcome
from payments.models import PaymentOperation
from payments.services.connector_calls import payment_data_for, run_flow
from payments.services.errors import connector_failure, unexpected_state
from payments.services.outcomes import (
    LATE_SUCCESS_PAYMENT_STATUSES,
    VOIDED_LOCALLY,
    Outcome,
    apply_attempt_outcome,
    lock_payment_and_attempt,
    move_payment,
    record_event,
    schedule_sync,
    state_change,
)
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES
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
        # A late success's authorization (docs/back-office.md) may be voided too.
        late_authorization = payment.late_success and payment.status in LATE_SUCCESS_PAYMENT_STATUSES
        if (payment.status not in VOIDABLE and not late_authorization) or payment.amount_capturing:
            raise unexpected_state("payment", payment.status, "cancelled")
        attempt = payment.attempts.filter(
            status__in=[AttemptStatus.AUTHORIZED, AttemptStatus.AUTHENTICATION_PENDING]).last()
        if attempt is None:
            raise unexpected_state("payment", payment.status, "cancelled")
        if attempt.status == AttemptStatus.AUTHORIZED:
            payment.cancelling = True
            payment.save(update_fields=["cancelling", "updated_at"])

    connector = attempt.connector_account.build_connector()
    if attempt.status == AttemptStatus.AUTHENTICATION_PENDING:
        return _abandon_authentication(payment, attempt, connector, reason=reason, actor=actor)
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


def _abandon_authentication(payment, attempt, connector, *, reason: str, actor: str) -> PaymentOperation:
    """Cancel a payment whose customer never finished authenticating (3-D Secure, a UPI app).

    A bank that voids a transaction waiting for authentication (the sandbox) is asked to. One
    that refuses (Authipay: "cannot be voided: state is WAITING") or has no void is asked what
    it holds: still waiting (or plainly pending) means nothing is authorized, and the attempt is abandoned here (such
    a bank authorizes only when Pagoflex completes the authentication, which an abandoned attempt
    never does). If the customer finished meanwhile, the payment is cancelled as what it is now.
    """
    refusal = None
    if connector.supports(Flow.VOID) and attempt.connector_reference:
        try:
            response = run_flow(connector, Flow.VOID, payment_data_for(payment, attempt),
                                account=attempt.connector_account, payment=payment, attempt=attempt)
        except ConnectorUnknownOutcome as exc:
            record_event(payment, "void_unknown", message=exc.message, actor=actor, attempt=attempt)
            raise connector_failure(exc, action="void") from exc
        except ConnectorError as exc:
            refusal = exc
        else:
            if response.status == AttemptStatus.VOIDED:
                apply_attempt_outcome(attempt.pk, Outcome.from_response(response), actor=actor)
                return PaymentOperation.objects.get(pk=payment.pk)
            refusal = ConnectorError(response.message or "the connector did not void the payment",
                                     code=response.code or "void_failed")
    if attempt.connector_reference and connector.supports(Flow.PSYNC):
        try:
            held = run_flow(connector, Flow.PSYNC, payment_data_for(payment, attempt),
                            account=attempt.connector_account, payment=payment, attempt=attempt)
        except ConnectorError as exc:
            raise connector_failure(refusal or exc, action="void") from exc
        if held.status not in UNSETTLED_ATTEMPT_STATUSES:
            apply_attempt_outcome(attempt.pk, Outcome.from_response(held), actor=actor)
            if held.status == AttemptStatus.AUTHORIZED:
                return cancel_payment(payment_pk=payment.pk, reason=reason, actor=actor)
            raise connector_failure(refusal or ConnectorError("the customer finished the payment meanwhile",
                                                              code="void_failed"), action="void")
    with state_change():
        record_event(payment, "authentication_abandoned", actor=actor, attempt=attempt,
                     message="cancelled while the customer had not finished; nothing authorized at the bank")
        apply_attempt_outcome(attempt.pk, Outcome(status=AttemptStatus.VOIDED, connector_metadata={VOIDED_LOCALLY: True}),
                              actor=actor)
    cancelled = PaymentOperation.objects.get(pk=payment.pk)
    if cancelled.status != PaymentStatus.CANCELLED:
        # The customer's return settled it between our look at the bank and now.
        raise unexpected_state("payment", cancelled.status, "cancelled")
    return cancelled
