"""Turning a connector's answer into state: one place for attempts, one for refunds.

Confirm, sync, the customer's return and bank webhooks all end here. Each applies the
outcome under row locks (payment first, then attempt or refund, always in that order so two
writers never deadlock) and moves status only through the state machine.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from connectors import errors as connector_errors
from connectors.base import ConnectorResponse, Flow
from payments import outbox
from payments.models import (
    LateSuccessPolicy,
    PaymentAttempt,
    PaymentEvent,
    PaymentOperation,
    Refund,
    SavedPaymentMethod,
)
from payments.services.errors import unexpected_state
from payments.services.payment_methods import save_from_payment
from payments.state_machine import (
    PAYMENT_STATUS_FOR_ATTEMPT,
    UNSETTLED_ATTEMPT_STATUSES,
    can_transition,
    is_late_success,
)
from payments.statuses import AttemptStatus, PaymentStatus, RefundStatus

logger = logging.getLogger("pagoflex.payments")

# How long after an unsettled answer the first sync is due; later syncs back off (see sync.py).
FIRST_SYNC_DELAY = timedelta(seconds=30)

# The attempt's connector_metadata key saying Pagoflex ended it without the bank's word (an
# abandoned authentication the bank had nothing to void for): a later success is a late success.
VOIDED_LOCALLY = "voided_locally"
# The ended payments a late success is applied to: their amounts follow the bank, refundable.
LATE_SUCCESS_PAYMENT_STATUSES = {PaymentStatus.FAILED, PaymentStatus.CANCELLED}


# Where a capture leaves an attempt: what "captured, by how much not said" must not move it to.
CAPTURED_ATTEMPT_STATUSES = (AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED)


@dataclass
class Outcome:
    """What a flow told us, in platform terms, whatever the path (answer, error, webhook)."""

    status: str | None  # AttemptStatus or RefundStatus; None: nothing to change (e.g. unknown)
    connector_reference: str = ""
    raw_status: str = ""
    error_code: str = ""
    error_message: str = ""
    next_action: dict | None = None
    connector_metadata: dict = field(default_factory=dict)
    amount_captured: int | None = None
    amount_captured_unknown: bool = False  # captured, by how much not said (ConnectorResponse)
    integrity_mismatch: str = ""
    payment_token: str = ""
    retryable_elsewhere: bool = False
    retry_safe: bool = False
    # ``amount_captured`` is the bank's own figure (an answer, a sync): it settles captures whose
    # answer was lost. False when the platform computed it (the capture service's running sum).
    captured_is_banks_total: bool = True
    # The bank's own lookup of the transaction (a psync), not an event it pushed: what confirms a
    # late success a webhook reported (see _claim_late_success).
    bank_lookup: bool = False

    @classmethod
    def from_response(cls, response: ConnectorResponse) -> Outcome:
        return cls(
            status=response.status,
            connector_reference=response.connector_reference,
            raw_status=response.raw_status,
            error_code=response.code if response.status in (AttemptStatus.FAILURE, RefundStatus.FAILED) else "",
            error_message=response.message if response.status in (AttemptStatus.FAILURE, RefundStatus.FAILED) else "",
            next_action=response.next_action.as_dict() if response.next_action else None,
            connector_metadata=dict(response.connector_metadata),
            amount_captured=response.amount_captured,
            amount_captured_unknown=response.amount_captured_unknown,
            payment_token=response.payment_token,
            retryable_elsewhere=response.retryable_elsewhere,
        )

    @classmethod
    def from_error(cls, exc: connector_errors.ConnectorError, *, failed_status: str, unknown_status: str | None):
        """A connector error as an outcome: unknown outcomes stay unsettled, the rest fail."""
        if isinstance(exc, connector_errors.IntegrityMismatch):
            outcome = cls.from_response(exc.response)
            outcome.integrity_mismatch = exc.message
            return outcome
        if isinstance(exc, connector_errors.ConnectorUnknownOutcome):
            return cls(status=unknown_status, error_code=exc.code, error_message=exc.message)
        if isinstance(exc, connector_errors.ConnectorDeclined):
            return cls(status=failed_status, error_code=exc.decline_code or exc.code, error_message=exc.message,
                       connector_reference=exc.connector_reference, retryable_elsewhere=exc.retryable_elsewhere)
        return cls(status=failed_status, error_code=exc.code, error_message=exc.message, retry_safe=exc.retry_safe)


@dataclass
class ApplyResult:
    changed: bool
    illegal_transition: str = ""
    integrity_mismatch: bool = False
    refund: Refund | None = None  # the refund as saved (refund outcomes)


# The fields an outcome may change, saved by name: a full-row UPDATE costs more to build and
# would write back columns another writer (a sweep's claim, say) may have moved meanwhile.
PAYMENT_OUTCOME_FIELDS = ["status", "amount_authorized", "amount_captured", "amount_capturing", "amount_refunded",
                          "amount_capture_unknown", "cancelling", "next_action", "error_code", "error_message",
                          "integrity_mismatch", "updated_at"]
ATTEMPT_OUTCOME_FIELDS = ["connector_reference", "connector_metadata", "raw_connector_status", "status",
                          "error_code", "error_message", "next_action", "next_sync_at", "updated_at"]
REFUND_OUTCOME_FIELDS = ["connector_reference", "connector_metadata", "raw_connector_status", "status",
                         "error_code", "error_message", "next_sync_at", "updated_at"]

_pending_events: ContextVar[list | None] = ContextVar("pending_payment_events", default=None)


@contextmanager
def state_change():
    """A transaction for a change of state: the payment events and merchant events recorded
    inside are written when the block ends, one INSERT per table, still inside the transaction.
    A nested block is a savepoint whose events join the outermost block's, unless it rolls back."""
    pending = _pending_events.get()
    if pending is not None:
        # What the nested block recorded goes with its savepoint if it rolls back.
        kept, kept_merchant_events = len(pending), outbox.pending_count()
        try:
            with transaction.atomic():
                yield
        except BaseException:
            del pending[kept:]
            outbox.forget_after(kept_merchant_events)
            raise
        return
    events: list[PaymentEvent] = []
    token = _pending_events.set(events)
    try:
        with transaction.atomic(), outbox.collecting() as merchant_events:
            yield
            _pending_events.reset(token)
            token = None
            if events:
                PaymentEvent.objects.bulk_create(events)
            merchant_events.write()
    finally:
        if token is not None:
            _pending_events.reset(token)


def record_event(payment, kind: str, *, from_status: str = "", to_status: str = "", message: str = "",
                 actor: str = "", attempt=None, refund=None) -> None:
    event = PaymentEvent(payment=payment, attempt=attempt, refund=refund, kind=kind, from_status=from_status,
                         to_status=to_status, message=message[:1000], actor=actor)
    pending = _pending_events.get()
    if pending is None:
        event.save()
    else:
        pending.append(event)


def move_payment(payment: PaymentOperation, target: str, *, actor: str, message: str = "", attempt=None) -> None:
    """Change a locked payment's status through the state machine and record it."""
    if payment.status == target:
        return
    previous = payment.status
    payment.set_status(target)
    record_event(payment, "status_change", from_status=previous, to_status=target, message=message, actor=actor,
                 attempt=attempt)
    # The merchant's event, in this same transaction (the outbox): never a change without it.
    outbox.emit_payment_status_event(payment)


# Row locks everywhere are FOR NO KEY UPDATE (select_for_update(no_key=True)): they serialise
# writers of a payment just as well, but unlike FOR UPDATE they do not block the FOR KEY SHARE
# lock that inserting a row pointing at the payment takes (a call log, an event), which
# otherwise deadlocks concurrent captures against each other's call-log inserts.


def locked_with_payment(queryset):
    """``queryset`` (attempts or refunds) locking each row with its payment in one statement:
    ``OF`` lists the payment first, and PostgreSQL takes row locks in that order, as every other
    writer does."""
    return queryset.select_for_update(no_key=True, of=("payment", "self"))


def lock_payment_and_attempt(attempt_pk: int, *, account=None) -> tuple[PaymentOperation, PaymentAttempt]:
    """Lock an attempt and its payment in one statement (``locked_with_payment``). ``account``:
    the attempt's connector account when the caller has it (one table less to read)."""
    related = ("payment__merchant",) if account is not None else ("payment__merchant", "connector_account")
    attempt = locked_with_payment(PaymentAttempt.objects.select_related(*related)).get(pk=attempt_pk)
    if account is not None:
        if account.pk != attempt.connector_account_id:
            raise ValueError(f"attempt {attempt.public_id} is not on account {account.public_id}")
        attempt.connector_account = account
    return attempt.payment, attempt


def _payment_lookup(payment) -> dict:
    """Filter arguments for a payment given as a primary key, a ``selectors.PaymentRef``, or a
    query of payment ids (``values("payment_id")``)."""
    if isinstance(payment, int):
        return {"pk": payment}
    if isinstance(payment, QuerySet):
        return {"pk__in": payment}
    return payment.lookup()


def lock_payment_with_attempts(payment) -> tuple[PaymentOperation | None, list[PaymentAttempt]]:
    """A payment and all its attempts (oldest first, each with its connector account), locked by
    one statement, the payment first. ``payment``: see ``_payment_lookup``. The payment carries
    the list, so rendering it reads nothing more. (None, []) when the payment has no attempt (or
    does not exist)."""
    lookup = _payment_lookup(payment)
    query = PaymentAttempt.objects.select_related("payment__merchant", "connector_account").filter(
        **{f"payment__{name}": value for name, value in lookup.items()})
    attempts = list(locked_with_payment(query).order_by("created_at", "id"))
    if not attempts:
        return None, []
    locked = attempts[0].payment
    for attempt in attempts:
        attempt.payment = locked
    locked.remember_attempts(attempts)
    return locked, attempts


def lock_latest_attempt(payment, *, attempt_statuses, payment_statuses, action: str) -> PaymentAttempt:
    """The payment's latest attempt in one of ``attempt_statuses`` while the payment is in one
    of ``payment_statuses``, locked with the payment and its other attempts in one statement; an
    ``unexpected_state`` error naming ``action`` ("captured", ...) when there is none, a 404 when
    ``payment`` (a key or a ``PaymentRef``) names no payment of the merchant."""
    locked, attempts = lock_payment_with_attempts(payment)
    candidates = [a for a in attempts if a.status in attempt_statuses]
    if locked is None or locked.status not in payment_statuses or not candidates:
        if locked is None:
            status = PaymentOperation.objects.filter(**_payment_lookup(payment)).values_list("status", flat=True).first()
            if status is None:
                raise Http404
        else:
            status = locked.status
        raise unexpected_state("payment", status, action)
    return candidates[-1]


def apply_attempt_outcome(attempt_pk: int, outcome: Outcome, *, actor: str) -> ApplyResult:
    with state_change():
        payment, attempt = lock_payment_and_attempt(attempt_pk)
        return apply_attempt_outcome_locked(payment, attempt, outcome, actor=actor)


def apply_attempt_outcome_locked(payment, attempt, outcome: Outcome, *, actor: str,
                                  settles_payment: bool = True) -> ApplyResult:
    """Apply a connector's outcome to an attempt whose payment and attempt rows the caller has
    locked (``lock_payment_and_attempt``) inside ``state_change()``: the attempt moves through the
    state machine, amounts and the payment follow, and the events are recorded. A move the
    table forbids changes nothing and is recorded for staff. ``settles_payment=False`` leaves
    the payment processing after a safe failure that routing falls back from."""
    if outcome.connector_reference and not attempt.connector_reference:
        attempt.connector_reference = outcome.connector_reference
    if outcome.connector_metadata:
        attempt.connector_metadata = {**attempt.connector_metadata, **outcome.connector_metadata}
    if outcome.raw_status:
        attempt.raw_connector_status = outcome.raw_status[:100]

    if outcome.integrity_mismatch:
        # The bank reports another amount or currency: never call it a success. The attempt
        # stays unsettled and flagged; staff decide (see the admin's integrity filter).
        payment.integrity_mismatch = True
        attempt.error_code, attempt.error_message = "integrity_mismatch", outcome.integrity_mismatch[:1000]
        if attempt.status == AttemptStatus.STARTED:
            attempt.set_status(AttemptStatus.PENDING)
        attempt.next_sync_at = None  # a sync would only repeat the mismatch: staff own it now
        record_event(payment, "integrity_mismatch", message=outcome.integrity_mismatch, actor=actor, attempt=attempt)
        attempt.save(update_fields=ATTEMPT_OUTCOME_FIELDS)
        payment.save(update_fields=PAYMENT_OUTCOME_FIELDS)
        outbox.emit_payment_event(payment, outbox.EventType.PAYMENT_INTEGRITY_MISMATCH,
                                  integrity_mismatch=outcome.integrity_mismatch)
        return ApplyResult(changed=True, integrity_mismatch=True)

    target = outcome.status
    if outcome.amount_captured_unknown and target in CAPTURED_ATTEMPT_STATUSES and target != attempt.status:
        # Captured, by how much the bank did not say: the amounts could not follow the move, and
        # "captured" is not "captured in full". Nothing moves; the answer's metadata is kept (it
        # may name where the figure is, Authipay's order) and the attempt is synced again.
        target = None
    if payment.cancelling and target not in (None, AttemptStatus.STARTED, AttemptStatus.PENDING):
        # The bank's word on the attempt ends a void whose outcome was unknown: voided (the move
        # below cancels the payment) or not voided (the merchant may cancel again).
        payment.cancelling = False
    if target is None or target == attempt.status:
        if target in UNSETTLED_ATTEMPT_STATUSES or target is None:
            schedule_sync(attempt)
        if outcome.error_code and target is None:
            attempt.error_code, attempt.error_message = outcome.error_code, outcome.error_message[:1000]
        if target is not None:
            _reconcile_amounts(payment, attempt, target, outcome)
        attempt.save(update_fields=ATTEMPT_OUTCOME_FIELDS)
        payment.save(update_fields=PAYMENT_OUTCOME_FIELDS)
        return ApplyResult(changed=False)

    if is_late_success(attempt.status, target,
                       ended_by_the_bank=not attempt.connector_metadata.get(VOIDED_LOCALLY)):
        if outcome.bank_lookup or not attempt.connector_account.connector_class.supports(Flow.PSYNC):
            return _apply_late_success(payment, attempt, outcome, actor=actor)
        return _claim_late_success(payment, attempt, outcome, actor=actor)

    if not can_transition("attempt", attempt.status, target):
        # A late or reordered answer (a failure after a success, say): keep what we have and
        # leave a trace for staff rather than undoing a settled payment.
        message = f"ignored {target} for attempt in {attempt.status} (late or out of order)"
        logger.warning("payment %s: %s", payment.public_id, message)
        record_event(payment, "illegal_transition", from_status=attempt.status, to_status=target, message=message,
                     actor=actor, attempt=attempt)
        attempt.save(update_fields=ATTEMPT_OUTCOME_FIELDS)
        payment.save(update_fields=PAYMENT_OUTCOME_FIELDS)  # what the caller changed under its lock, if anything
        return ApplyResult(changed=False, illegal_transition=message)

    attempt.set_status(target)
    if target == AttemptStatus.FAILURE:
        attempt.error_code = (outcome.error_code or "declined")[:100]
        attempt.error_message = (outcome.error_message or "the payment was declined")[:1000]
    elif outcome.error_code:
        # An unknown outcome (timeout, reset, 5xx, unreadable answer) leaves the attempt pending:
        # staff and the merchant must still see why it did not settle.
        attempt.error_code, attempt.error_message = outcome.error_code[:100], outcome.error_message[:1000]
    else:
        attempt.error_code, attempt.error_message = "", ""
    attempt.next_action = outcome.next_action if target == AttemptStatus.AUTHENTICATION_PENDING else None
    if target in UNSETTLED_ATTEMPT_STATUSES:
        schedule_sync(attempt)
    else:
        attempt.next_sync_at = None

    _reconcile_amounts(payment, attempt, target, outcome)
    if target in (AttemptStatus.AUTHORIZED, AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED):
        if outcome.payment_token:
            save_from_payment(payment, attempt, outcome.payment_token)
        if payment.saved_payment_method_id:
            # The stored-credential agreement is now established: later uses are SUBSEQUENT.
            SavedPaymentMethod.objects.filter(pk=payment.saved_payment_method_id).update(first_payment_done=True)
    if target == AttemptStatus.FAILURE and not settles_payment:
        # A safe failure that routing falls back from: the payment stays processing for the next attempt.
        attempt.save(update_fields=ATTEMPT_OUTCOME_FIELDS)
        return ApplyResult(changed=True)
    payment_target = PAYMENT_STATUS_FOR_ATTEMPT[target]
    # Everything the merchant's event shows is set (and the attempt saved) before the move.
    payment.next_action = attempt.next_action
    if target == AttemptStatus.FAILURE:
        payment.error_code, payment.error_message = attempt.error_code, attempt.error_message
    attempt.save(update_fields=ATTEMPT_OUTCOME_FIELDS)
    if can_transition("payment", payment.status, payment_target):
        move_payment(payment, payment_target, actor=actor, attempt=attempt,
                     message=attempt.error_message if target == AttemptStatus.FAILURE else "")
    payment.save(update_fields=PAYMENT_OUTCOME_FIELDS)
    return ApplyResult(changed=True)


def _claim_late_success(payment, attempt, outcome: Outcome, *, actor: str) -> ApplyResult:
    """A webhook reports success for an ended attempt: a customer who paid late, or an event out of
    order with the bank's ledger. The bank's own lookup decides (``late_success.verify_claim``,
    enqueued on commit; a sync time on the ended attempt marks the claim until it is verified, and
    the escalation sweep retries a lost one). Nothing changes before that."""
    message = (f"{actor} reported {outcome.status} for the attempt, which had ended {attempt.status}; "
               "asking the bank to confirm")
    record_event(payment, "late_success_reported", from_status=attempt.status, to_status=outcome.status,
                 message=message, actor=actor, attempt=attempt)
    attempt.next_sync_at = timezone.now()
    attempt.save(update_fields=["next_sync_at", "updated_at"])  # nothing else of an unconfirmed claim
    from payments.services.late_success import enqueue_verification

    transaction.on_commit(lambda: enqueue_verification(attempt.pk), robust=True)
    return ApplyResult(changed=False)


def _apply_late_success(payment, attempt, outcome: Outcome, *, actor: str) -> ApplyResult:
    """The bank took or holds money for an attempt Pagoflex had ended (expired, abandoned, failed
    without the bank's word): never invisible to the merchant. The attempt takes the bank's
    status; the payment keeps its terminal status, is flagged ``late_success``, its amounts follow
    the bank, and it can be refunded (or voided); the merchant gets ``payment.late_success``, and
    a merchant whose policy is ``return`` has it refunded or voided at once (``late_success.py``).

    When the payment settled through another attempt meanwhile (a fallback), its amounts stay
    those of that attempt: the event and the staff timeline carry this one's."""
    previous, target = attempt.status, outcome.status
    # Not a move back in the attempt table: state_machine.LATE_SUCCESS_ATTEMPT_TRANSITIONS allows it.
    attempt.status = target
    attempt.next_action, attempt.next_sync_at = None, None
    payment.late_success = True
    payment.next_action = None
    is_the_payments = payment.status in LATE_SUCCESS_PAYMENT_STATUSES and not PaymentAttempt.objects.filter(
        payment_id=payment.pk, created_at__gt=attempt.created_at).exists()
    if is_the_payments:
        _reconcile_amounts(payment, attempt, target, outcome)
    held = (outcome.amount_captured if outcome.amount_captured is not None else attempt.amount)
    message = (f"the bank reported {target} after the attempt had ended {previous}"
               f"{f' ({attempt.error_code})' if attempt.error_code else ''}: {held} {attempt.currency} at the bank")
    logger.warning("payment %s: late success: %s", payment.public_id, message)
    record_event(payment, "late_success", from_status=previous, to_status=target, message=message, actor=actor,
                 attempt=attempt)
    attempt.save(update_fields=ATTEMPT_OUTCOME_FIELDS)
    payment.save(update_fields=[*PAYMENT_OUTCOME_FIELDS, "late_success"])
    policy = payment.merchant.late_success_policy
    outbox.emit_payment_event(payment, outbox.EventType.PAYMENT_LATE_SUCCESS, late_success={
        "attempt": attempt.public_id, "status": target, "previous_status": previous, "amount": held,
        "currency": attempt.currency, "policy": policy})
    if policy == LateSuccessPolicy.RETURN and is_the_payments:
        from payments.services.late_success import enqueue_return

        transaction.on_commit(lambda: enqueue_return(payment.pk), robust=True)
    return ApplyResult(changed=True)


def _reconcile_amounts(payment, attempt, target: str, outcome: Outcome) -> None:
    """Authorized and captured amounts follow what the bank reports; they only ever grow, and a
    capture reservation never outlives the room left to capture. The bank's own captured total
    settles every capture whose answer was lost: each is in that total or never happened, so
    their reservation (``amount_capture_unknown``) is released."""
    if target in (AttemptStatus.AUTHORIZED, AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED):
        payment.amount_authorized = max(payment.amount_authorized, attempt.amount)
    banks_total = _captured_total(attempt, target, outcome)
    in_flight = payment.amount_capturing - payment.amount_capture_unknown
    if banks_total is not None and outcome.captured_is_banks_total and in_flight > 0:
        # A capture is on its way and the bank's total may already count it: its own answer
        # will, so the amounts wait for the next sync rather than count it twice.
        banks_total = None
    if banks_total is not None:
        payment.amount_captured = max(payment.amount_captured, banks_total)
        if outcome.captured_is_banks_total and payment.amount_capture_unknown:
            payment.amount_capturing = max(payment.amount_capturing - payment.amount_capture_unknown, 0)
            payment.amount_capture_unknown = 0
    payment.amount_capturing = min(payment.amount_capturing,
                                   max(payment.amount_authorized - payment.amount_captured, 0))


def _captured_total(attempt, target: str, outcome: Outcome) -> int | None:
    """What the outcome says is captured in all; None when it does not say."""
    if outcome.amount_captured_unknown:
        return None
    if outcome.amount_captured is not None and target in (
            AttemptStatus.AUTHORIZED, AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED):
        return outcome.amount_captured
    if target == AttemptStatus.CHARGED:
        return attempt.amount  # a connector that cannot tell (Recovery.captured_amount_on_sync) charged it all
    if target == AttemptStatus.AUTHORIZED:
        return 0
    return None


def schedule_sync(attempt) -> None:
    """Make an attempt (or refund) due for its first sync, unless one is already due."""
    if attempt.next_sync_at is None:
        attempt.next_sync_at = timezone.now() + FIRST_SYNC_DELAY


def lock_payment_and_refund(refund_pk: int) -> tuple[PaymentOperation, Refund]:
    """Lock a refund and its payment in one statement, the payment first (see above)."""
    refunds = Refund.objects.select_related("payment__merchant", "attempt__connector_account")
    refund = locked_with_payment(refunds).get(pk=refund_pk)
    return refund.payment, refund


def apply_refund_outcome(refund_pk: int, outcome: Outcome, *, actor: str) -> ApplyResult:
    with state_change():
        payment, refund = lock_payment_and_refund(refund_pk)
        result = apply_refund_outcome_locked(payment, refund, outcome, actor=actor)
    result.refund = refund
    return result


def apply_refund_outcome_locked(payment, refund, outcome: Outcome, *, actor: str) -> ApplyResult:
    """Apply a connector's outcome to a refund whose payment and refund rows the caller has
    locked (``lock_payment_and_refund``) inside ``state_change()``; the refund event and the
    merchant's event are written with it."""
    if outcome.connector_reference and not refund.connector_reference:
        refund.connector_reference = outcome.connector_reference
    if outcome.connector_metadata:
        refund.connector_metadata = {**refund.connector_metadata, **outcome.connector_metadata}
    if outcome.raw_status:
        refund.raw_connector_status = outcome.raw_status[:100]
    if outcome.integrity_mismatch:
        payment.integrity_mismatch = True
        refund.error_code, refund.error_message = "integrity_mismatch", outcome.integrity_mismatch[:1000]
        refund.next_sync_at = None
        record_event(payment, "integrity_mismatch", message=outcome.integrity_mismatch, actor=actor, refund=refund)
        refund.save(update_fields=REFUND_OUTCOME_FIELDS)
        payment.save(update_fields=PAYMENT_OUTCOME_FIELDS)
        outbox.emit_payment_event(payment, outbox.EventType.PAYMENT_INTEGRITY_MISMATCH,
                                  integrity_mismatch=outcome.integrity_mismatch, refund=refund.public_id)
        return ApplyResult(changed=True, integrity_mismatch=True)

    target = outcome.status
    if target is None or target == refund.status:
        if refund.status == RefundStatus.PENDING and refund.next_sync_at is None:
            refund.next_sync_at = timezone.now() + FIRST_SYNC_DELAY
        if outcome.error_code and target is None:
            refund.error_code, refund.error_message = outcome.error_code, outcome.error_message[:1000]
        refund.save(update_fields=REFUND_OUTCOME_FIELDS)
        return ApplyResult(changed=False)
    if not can_transition("refund", refund.status, target):
        message = f"ignored {target} for refund in {refund.status} (late or out of order)"
        record_event(payment, "illegal_transition", from_status=refund.status, to_status=target, message=message,
                     actor=actor, refund=refund)
        return ApplyResult(changed=False, illegal_transition=message)

    previous = refund.status
    refund.set_status(target)
    refund.next_sync_at = None
    if target == RefundStatus.FAILED:
        refund.error_code = (outcome.error_code or "refund_failed")[:100]
        refund.error_message = (outcome.error_message or "the connector refused the refund")[:1000]
    else:
        refund.error_code, refund.error_message = "", ""
    if target == RefundStatus.SUCCEEDED:
        payment.amount_refunded += refund.amount
        payment.save(update_fields=["amount_refunded", "updated_at"])
    record_event(payment, "refund_status_change", from_status=previous, to_status=target, actor=actor, refund=refund,
                 message=refund.error_message)
    refund.save(update_fields=REFUND_OUTCOME_FIELDS)
    outbox.emit_refund_event(refund, outbox.EventType.REFUND_SUCCEEDED if target == RefundStatus.SUCCEEDED
                             else outbox.EventType.REFUND_FAILED)
    return ApplyResult(changed=True)


__all__ = ["ApplyResult", "Outcome", "PaymentStatus", "apply_attempt_outcome", "apply_refund_outcome",
           "move_payment", "record_event", "state_change"]
