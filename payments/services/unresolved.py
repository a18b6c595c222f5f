"""The unresolved queue: every payment attempt and refund whose outcome the bank has not told
yet, and their escalation after ``UNRESOLVED_ESCALATE_AFTER`` without an answer.

"Unresolved" means Pagoflex sent the request and does not know what the bank did: an attempt
``started`` (the call may still be running, or its process died) or ``pending`` (an unknown
outcome, an answer still to come), a refund ``pending``, and a capture in doubt (a payment's
``amount_capture_unknown``: a capture whose answer was lost, held until a sync gives the bank's
captured total), counted from its last ``capture_unknown`` event. An attempt waiting for the customer
(``authentication_pending``) is not: its state is known, and it expires on its own.

The sync sweeps keep asking the bank about every one of them (``sweeps.py``, backoff capped at an
hour); staff see the queue oldest first in the back office (``payments/admin/unresolved.py``)
with a one-click sync. Past ``UNRESOLVED_ESCALATE_AFTER`` seconds an item is escalated once: a
``escalated`` entry on the payment's timeline and a warning in the log for staff, and the merchant
event ``payment.outcome_unresolved`` or ``refund.outcome_unresolved``. The sync goes on: only the
bank's word settles it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from payments import outbox
from payments.models import PaymentAttempt, PaymentEvent, Refund
from payments.services.outcomes import lock_payment_and_attempt, lock_payment_and_refund, record_event, state_change
from payments.services.sweeps import UNKNOWN_OUTCOME_ATTEMPT_STATUSES
from payments.statuses import AttemptStatus, RefundStatus

logger = logging.getLogger("pagoflex.jobs")

UNRESOLVED_ATTEMPT_STATUSES = (AttemptStatus.STARTED, AttemptStatus.PENDING)
MAX_ESCALATIONS_PER_RUN = 1000


def unresolved_attempts():
    return PaymentAttempt.objects.filter(status__in=UNRESOLVED_ATTEMPT_STATUSES)


def unresolved_refunds():
    return Refund.objects.filter(status=RefundStatus.PENDING)


def _payment_events(kind: str):
    return PaymentEvent.objects.filter(payment=OuterRef("payment"), kind=kind)


def captures_in_doubt():
    """Attempts whose payment holds a capture of unknown outcome (the ones the sweep syncs for it),
    annotated with ``in_doubt_since``
    (its payment's last ``capture_unknown`` event) and ``escalated_since`` (an escalation of the
    payment at or after that moment, if any)."""
    since = _payment_events("capture_unknown").order_by("-created_at").values("created_at")[:1]
    attempts = PaymentAttempt.objects.filter(payment__amount_capture_unknown__gt=0,
                                             status__in=UNKNOWN_OUTCOME_ATTEMPT_STATUSES)
    attempts = attempts.annotate(in_doubt_since=Subquery(since)).filter(in_doubt_since__isnull=False)
    escalated = _payment_events("escalated").filter(created_at__gte=OuterRef("in_doubt_since"))
    return attempts.annotate(escalated_since=Subquery(escalated.order_by("created_at").values("created_at")[:1]))


@dataclass(frozen=True)
class UnresolvedItem:
    """One row of the queue: an attempt (``kind`` "payment") or a refund."""

    kind: str
    pk: int
    public_id: str
    payment_pk: int
    payment_public_id: str
    merchant: str
    connector: str
    status: str
    amount: int
    currency: str
    created_at: datetime
    last_error: str
    sync_count: int
    next_sync_at: datetime | None
    escalated_at: datetime | None

    @property
    def age(self) -> timedelta:
        return timezone.now() - self.created_at


def unresolved_queue(*, limit: int = 200) -> tuple[list[UnresolvedItem], int]:
    """The oldest ``limit`` unresolved items, oldest first, and how many there are in all."""
    attempts = unresolved_attempts().select_related("payment__merchant").order_by("created_at", "id")
    refunds = unresolved_refunds().select_related("payment__merchant", "attempt").order_by("created_at", "id")
    captures = captures_in_doubt().select_related("payment__merchant").order_by("in_doubt_since", "id")
    items = [
        UnresolvedItem("payment", a.pk, a.public_id, a.payment_id, a.payment.public_id, a.payment.merchant.name,
                       a.connector, a.status, a.amount, a.currency, a.created_at, _error(a), a.sync_count,
                       a.next_sync_at, a.escalated_at)
        for a in attempts[:limit]
    ] + [
        UnresolvedItem("refund", r.pk, r.public_id, r.payment_id, r.payment.public_id, r.payment.merchant.name,
                       r.attempt.connector, r.status, r.amount, r.currency, r.created_at, _error(r), r.sync_count,
                       r.next_sync_at, r.escalated_at)
        for r in refunds[:limit]
    ] + [
        # Synced like any attempt (kind "payment"); the amount is the capture in doubt.
        UnresolvedItem("payment", a.pk, a.public_id, a.payment_id, a.payment.public_id, a.payment.merchant.name,
                       a.connector, "capture_unknown", a.payment.amount_capture_unknown, a.currency,
                       a.in_doubt_since, _error(a), a.sync_count, a.next_sync_at, a.escalated_since)
        for a in captures[:limit]
    ]
    items.sort(key=lambda item: (item.created_at, item.kind, item.pk))
    return items[:limit], attempts.count() + refunds.count() + captures.count()


def _error(row) -> str:
    if not row.error_code:
        return ""
    return f"{row.error_code}: {row.error_message}" if row.error_message else row.error_code


def escalate_after() -> timedelta:
    return timedelta(seconds=settings.UNRESOLVED_ESCALATE_AFTER)


def escalate_unresolved(*, now: datetime | None = None, limit: int = MAX_ESCALATIONS_PER_RUN) -> int:
    """Escalate, once each, the items unresolved for longer than ``UNRESOLVED_ESCALATE_AFTER``;
    returns how many were escalated. Each is re-checked under its row locks, so an item the bank
    settled meanwhile, or another worker escalated, is left alone."""
    now = now or timezone.now()
    cutoff = now - escalate_after()
    escalated = 0
    due_attempts = unresolved_attempts().filter(created_at__lte=cutoff, escalated_at__isnull=True)
    for pk in list(due_attempts.order_by("created_at", "id").values_list("pk", flat=True)[:limit]):
        escalated += _escalate_attempt(pk, now)
    due_refunds = unresolved_refunds().filter(created_at__lte=cutoff, escalated_at__isnull=True)
    for pk in list(due_refunds.order_by("created_at", "id").values_list("pk", flat=True)[:limit]):
        escalated += _escalate_refund(pk, now)
    due_captures = captures_in_doubt().filter(in_doubt_since__lte=cutoff, escalated_since__isnull=True)
    for pk in list(due_captures.order_by("in_doubt_since", "id").values_list("pk", flat=True)[:limit]):
        escalated += _escalate_capture(pk, now)
    return escalated


def _message(row, now: datetime) -> str:
    hours = (now - row.created_at).total_seconds() / 3600
    error = _error(row) or "none recorded"
    return (f"outcome still unknown after {hours:.1f} h and {row.sync_count} sync(s); last error: {error}. "
            "Pagoflex keeps asking the bank; check with the bank and sync from the unresolved queue.")


def _escalate_attempt(attempt_pk: int, now: datetime) -> int:
    with state_change():
        payment, attempt = lock_payment_and_attempt(attempt_pk)
        if attempt.status not in UNRESOLVED_ATTEMPT_STATUSES or attempt.escalated_at is not None:
            return 0
        attempt.escalated_at = now
        attempt.save(update_fields=["escalated_at", "updated_at"])
        message = _message(attempt, now)
        record_event(payment, "escalated", message=message, actor="escalation", attempt=attempt)
        outbox.emit_payment_event(payment, outbox.EventType.PAYMENT_OUTCOME_UNRESOLVED, unresolved={
            "attempt": attempt.public_id, "since": attempt.created_at.isoformat(), "sync_count": attempt.sync_count,
            "last_error": attempt.error_code})
    logger.warning("payment %s escalated: %s", payment.public_id, message)
    return 1


def _escalate_refund(refund_pk: int, now: datetime) -> int:
    with state_change():
        payment, refund = lock_payment_and_refund(refund_pk)
        if refund.status != RefundStatus.PENDING or refund.escalated_at is not None:
            return 0
        refund.escalated_at = now
        refund.save(update_fields=["escalated_at", "updated_at"])
        message = _message(refund, now)
        record_event(payment, "escalated", message=message, actor="escalation", refund=refund)
        outbox.emit_refund_event(refund, outbox.EventType.REFUND_OUTCOME_UNRESOLVED)
    logger.warning("refund %s of payment %s escalated: %s", refund.public_id, payment.public_id, message)
    return 1


def _escalate_capture(attempt_pk: int, now: datetime) -> int:
    with state_change():
        payment, attempt = lock_payment_and_attempt(attempt_pk)
        # Re-read under the locks: a sync may have settled it, or another worker escalated it.
        current = captures_in_doubt().filter(pk=attempt.pk).values("in_doubt_since", "escalated_since").first()
        if current is None or current["escalated_since"] is not None:
            return 0
        since = current["in_doubt_since"]
        hours = (now - since).total_seconds() / 3600
        message = (f"a capture of {payment.amount_capture_unknown} {payment.currency} is in doubt after {hours:.1f} h "
                   f"and {attempt.sync_count} sync(s): the bank's captured total is still unknown, so it stays "
                   "reserved and nothing is refundable from it. Check with the bank and sync from the unresolved queue.")
        record_event(payment, "escalated", message=message, actor="escalation", attempt=attempt)
        outbox.emit_payment_event(payment, outbox.EventType.PAYMENT_OUTCOME_UNRESOLVED, unresolved={
            "attempt": attempt.public_id, "since": since.isoformat(), "sync_count": attempt.sync_count,
            "last_error": attempt.error_code, "capture_in_doubt": payment.amount_capture_unknown})
    logger.warning("payment %s escalated: %s", payment.public_id, message)
    return 1
