"""Capturing an authorized payment, in full, in part, or in several parts."""

from __future__ import annotations

from django.db import transaction

from connectors.base import Flow
from connectors.errors import ConnectorError, ConnectorUnknownOutcome, IntegrityMismatch
from payments import outbox
from payments.models import PaymentOperation
from payments.selectors import PaymentRef
from payments.services.connector_calls import payment_data_for, run_flow
from payments.services.errors import PaymentError, connector_failure, unexpected_state
from payments.services.idempotency_scope import forget_capture_reserved, remember_capture_reserved
from payments.services.outcomes import (
    Outcome,
    apply_attempt_outcome_locked,
    lock_latest_attempt,
    lock_payment_and_attempt,
    lock_payment_with_attempts,
    record_event,
    schedule_sync,
    state_change,
)
from payments.statuses import AttemptStatus, PaymentStatus

CAPTURABLE = {PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.PARTIALLY_CAPTURED}
CAPTURABLE_ATTEMPTS = {AttemptStatus.AUTHORIZED, AttemptStatus.PARTIALLY_CHARGED}


def capture_payment(*, payment_pk: int | None = None, payment: PaymentRef | None = None, amount: int | None = None,
                    actor: str = "api") -> PaymentOperation:
    """Capture ``amount`` (default: all that is left) of an authorized payment, named by its key
    or, from the API, by a ``PaymentRef`` (404 when it is not the merchant's).

    The amount is reserved under the payment's row lock before the connector is called, so
    concurrent captures can never add up to more than was authorized.
    """
    with transaction.atomic():
        attempt = lock_latest_attempt(payment_pk if payment is None else payment,
                                      attempt_statuses=CAPTURABLE_ATTEMPTS, payment_statuses=CAPTURABLE,
                                      action="captured")
        payment = attempt.payment
        if payment.cancelling:
            raise unexpected_state("payment", "being cancelled", "captured")
        connector_class = attempt.connector_account.connector_class
        if not connector_class.supports(Flow.CAPTURE):
            raise PaymentError("capture is not supported by this connector", code="flow_not_supported")
        if payment.status == PaymentStatus.PARTIALLY_CAPTURED and not connector_class.supports_multiple_captures:
            raise PaymentError("multiple captures are not supported by this connector", code="flow_not_supported")
        capturable = payment.amount_capturable
        amount = capturable if amount is None else amount
        whole = isinstance(amount, int) and not isinstance(amount, bool)
        if not whole or amount <= 0 or amount > capturable:
            raise PaymentError(f"amount must be between 1 and the capturable amount {capturable}",
                               code="amount_too_large" if whole and amount > 0 else "amount_invalid", param="amount")
        payment.amount_capturing += amount
        payment.save(update_fields=["amount_capturing", "updated_at"])
        # Committed with the reservation: a retry of this request (same Idempotency-Key) after any
        # failure from here on is answered 409 instead of capturing again (interrupted_capture).
        remember_capture_reserved(payment)

    connector = attempt.connector_account.build_connector()
    data = payment_data_for(payment, attempt)
    data.amount_to_capture = amount
    try:
        response = run_flow(connector, Flow.CAPTURE, data, account=attempt.connector_account, payment=payment,
                            attempt=attempt)
    except (ConnectorUnknownOutcome, IntegrityMismatch) as exc:
        # The capture may have happened: keep the reservation, marked unknown, until the bank's
        # captured total (sync) says whether it did (outcomes._reconcile_amounts releases it).
        with state_change():
            payment, attempt = lock_payment_and_attempt(attempt.pk, account=attempt.connector_account)
            payment.amount_capture_unknown += amount
            payment.save(update_fields=["amount_capture_unknown", "updated_at"])
            if isinstance(exc, IntegrityMismatch):
                apply_attempt_outcome_locked(payment, attempt, Outcome.from_error(
                    exc, failed_status=AttemptStatus.FAILURE, unknown_status=None), actor=actor)
            else:
                record_event(payment, "capture_unknown", message=exc.message, actor=actor, attempt=attempt)
                schedule_sync(attempt)
                attempt.save(update_fields=["next_sync_at", "updated_at"])
        raise connector_failure(exc, action="capture") from exc
    except ConnectorError as exc:
        _release(payment.pk, amount)
        raise connector_failure(exc, action="capture") from exc

    if response.status == AttemptStatus.FAILURE:
        _release(payment.pk, amount)
        raise PaymentError(f"the connector declined the capture: {response.message}",
                           code=response.code or "capture_declined", type="connector_error", http_status=402)

    with state_change():
        payment, attempts = lock_payment_with_attempts(payment.pk)  # all of them: the events render them
        attempt = next(locked for locked in attempts if locked.pk == attempt.pk)
        payment.amount_capturing -= amount
        payment.amount_captured += amount
        fully_captured = payment.amount_captured >= payment.amount_authorized
        final = fully_captured or not connector_class.supports_multiple_captures
        outcome = Outcome.from_response(response)
        outcome.status = AttemptStatus.CHARGED if final else AttemptStatus.PARTIALLY_CHARGED
        outcome.amount_captured = payment.amount_captured
        outcome.captured_is_banks_total = False  # Pagoflex's running sum: it settles no lost capture
        record_event(payment, "captured", message=f"captured {amount} {payment.currency}", actor=actor,
                     attempt=attempt)
        if final and not fully_captured:
            # A partial capture that closes the authorization: the rest is released.
            payment.amount_capturing = payment.amount_capture_unknown = 0
        apply_attempt_outcome_locked(payment, attempt, outcome, actor=actor)
        outbox.emit_payment_event(payment, outbox.EventType.PAYMENT_CAPTURED, capture_amount=amount)
    return payment


def interrupted_capture(payment: PaymentOperation) -> PaymentError:
    """The answer to a capture retried with the ``Idempotency-Key`` of a try that failed after
    reserving its amount (a database error after the bank was called, a lost answer, a process that
    died): 409 ``capture_interrupted``, every time. That try may have captured, and nothing here can
    tell its capture from another of the same payment (a bank reports a captured total), so it is
    never sent again: the merchant reads the payment (a sync settles a lost answer) and captures any
    remainder with a new key.

    Known limit: a try whose answer reached the bank but not the database (the write that records
    it failed, the process died) stays counted in flight (``amount_capturing``), and no sync can
    settle it: a capture object of its own (its state and the bank's reference, synced like a
    refund) is the way to (docs/deployment.md)."""
    return PaymentError(
        f"a capture made with this Idempotency-Key was interrupted after it may have reached the bank; it is "
        f"never sent again: read the payment (GET /v1/payments/{payment.public_id}?force_sync=true) and capture "
        f"what remains with a new key", code="capture_interrupted", type="idempotency_error", http_status=409)


def _release(payment_pk: int, amount: int) -> None:
    """The bank's word is that the capture did not happen: its reservation goes, and a retry of
    the request may run it again."""
    with transaction.atomic():
        payment = PaymentOperation.objects.select_for_update(no_key=True).get(pk=payment_pk)
        payment.amount_capturing = max(payment.amount_capturing - amount, 0)
        payment.save(update_fields=["amount_capturing", "updated_at"])
        forget_capture_reserved()
