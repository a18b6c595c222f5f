"""Sweeps: the background reconciliation of payments and refunds that did not settle at once.

Each sweep claims due items in batches (``payments/services/claims.py``: safe under several
workers, a crashed worker's items come due again) and hands each item to its own task, which
calls the same sync services as the API. Payments waiting for the customer past their
time-to-live are synced once more, then expired.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from connectors.base import Flow
from connectors.errors import ConnectorError, FlowNotSupported
from payments.models import IdempotencyRecord, PaymentAttempt, PaymentOperation, Refund
from payments.services.claims import CLAIM_LEASE, MAX_BATCHES_PER_RUN, Enqueue, claim_due, sweep, take_claim
from payments.services.connector_calls import payment_data_for, run_flow
from payments.services.outcomes import Outcome, apply_attempt_outcome_locked, lock_payment_and_attempt, state_change
from payments.services.sync import MAX_SYNC_BACKOFF, sync_attempt, sync_refund
from payments.statuses import AttemptStatus, PaymentStatus, RefundStatus

logger = logging.getLogger("pagoflex.jobs")

SWEPT_ATTEMPT_STATUSES = (AttemptStatus.STARTED, AttemptStatus.PENDING, AttemptStatus.AUTHENTICATION_PENDING)
# Settled enough to capture or void, so swept only while a capture or void outcome is unknown.
UNKNOWN_OUTCOME_ATTEMPT_STATUSES = (AttemptStatus.AUTHORIZED, AttemptStatus.PARTIALLY_CHARGED)


def in_flight_grace() -> timedelta:
    """How long a connector call may still be running: past it, a ``started`` attempt or a
    pending refund that was never given a sync time was orphaned (its process died mid-call)."""
    return timedelta(seconds=settings.CONNECTOR_CONNECT_TIMEOUT + settings.CONNECTOR_READ_TIMEOUT + 30)


def make_orphans_due(queryset, now: datetime) -> int:
    """Give rows left without a sync time by a process that died mid-call (the row was committed
    before the bank was called, the answer never applied) a sync time of now."""
    # An integrity mismatch also clears the sync time, on purpose: staff own those rows.
    return queryset.filter(next_sync_at__isnull=True, created_at__lte=now - in_flight_grace()).exclude(
        error_code="integrity_mismatch").update(next_sync_at=now)


def _batch_size(batch_size: int | None) -> int:
    return batch_size or settings.SWEEP_BATCH_SIZE


# -- payment attempts ---------------------------------------------------------------------------

def sweep_due_attempts(*, enqueue: Enqueue, now: datetime | None = None, batch_size: int | None = None,
                       max_batches: int = MAX_BATCHES_PER_RUN) -> int:
    """Claim attempts in ``pending``/``authentication_pending`` whose sync is due, ``started``
    ones orphaned mid-call, and authorized ones whose payment waits for the bank's word on a
    capture or a void whose answer was lost; one task each."""
    size = _batch_size(batch_size)
    make_orphans_due(PaymentAttempt.objects.filter(status=AttemptStatus.STARTED), now or timezone.now())
    # A subquery, not a join: the claim locks attempt rows only.
    waiting_payments = PaymentOperation.objects.filter(Q(amount_capture_unknown__gt=0) | Q(cancelling=True))
    queryset = PaymentAttempt.objects.filter(
        Q(status__in=SWEPT_ATTEMPT_STATUSES)
        | Q(status__in=UNKNOWN_OUTCOME_ATTEMPT_STATUSES, payment_id__in=waiting_payments.values("pk")))
    return sweep(lambda: claim_due(queryset, due_field="next_sync_at", now=now or timezone.now(), batch_size=size),
                 enqueue, batch_size=size, max_batches=max_batches)


def sync_claimed_attempt(*, attempt_pk: int, token: datetime) -> str:
    """The task for one claimed attempt: sync it with its connector, then expire it if it has
    waited for the customer longer than ``PAYMENT_CUSTOMER_ACTION_TTL``.

    Returns what happened: ``skipped`` (stale claim), ``synced`` or ``expired``.
    """
    if not take_claim(PaymentAttempt, attempt_pk, due_field="next_sync_at", token=token):
        return "skipped"
    try:
        attempt = sync_attempt(attempt_pk=attempt_pk, actor="sync")
    except FlowNotSupported:
        # Nothing to ask the bank: its webhook settles the attempt, or the expiry below does
        # (a customer-action attempt comes due again at its time-to-live for that).
        attempt = PaymentAttempt.objects.get(pk=attempt_pk)
        due = (attempt.created_at + timedelta(seconds=settings.PAYMENT_CUSTOMER_ACTION_TTL)
               if attempt.status == AttemptStatus.AUTHENTICATION_PENDING else timezone.now() + MAX_SYNC_BACKOFF)
        PaymentAttempt.objects.filter(pk=attempt_pk).update(next_sync_at=due)
    if attempt.status == AttemptStatus.AUTHENTICATION_PENDING and _waited_too_long(attempt):
        return "expired" if expire_attempt(attempt_pk=attempt_pk) else "synced"
    return "synced"


def customer_action_deadline(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.PAYMENT_CUSTOMER_ACTION_TTL)


def _waited_too_long(attempt) -> bool:
    return attempt.created_at <= customer_action_deadline()


def expire_attempt(*, attempt_pk: int, actor: str = "expiry") -> bool:
    """Fail a payment still waiting for the customer with code ``expired``; False when it
    settled meanwhile (under the locks, so a late success is never overwritten)."""
    minutes = settings.PAYMENT_CUSTOMER_ACTION_TTL // 60
    _void_at_the_bank(attempt_pk)
    with state_change():
        payment, attempt = lock_payment_and_attempt(attempt_pk)
        if attempt.status != AttemptStatus.AUTHENTICATION_PENDING:
            return False
        outcome = Outcome(status=AttemptStatus.FAILURE, error_code="expired",
                          error_message=f"the customer did not complete the payment within {minutes} minutes")
        apply_attempt_outcome_locked(payment, attempt, outcome, actor=actor)
    logger.info("payment %s expired waiting for the customer", payment.public_id)
    return True


def _void_at_the_bank(attempt_pk: int) -> None:
    """Best effort, before expiring: cancel the transaction at the bank where the connector can,
    so a customer completing 3-D Secure late cannot authorize money for an expired payment. If
    the void fails, a late success still arrives as an illegal transition, flagged for staff."""
    attempt = PaymentAttempt.objects.select_related("payment", "connector_account").get(pk=attempt_pk)
    connector = attempt.connector_account.build_connector()
    if attempt.status != AttemptStatus.AUTHENTICATION_PENDING or not attempt.connector_reference \
            or not connector.supports(Flow.VOID):
        return
    try:
        run_flow(connector, Flow.VOID, payment_data_for(attempt.payment, attempt), account=attempt.connector_account,
                 payment=attempt.payment, attempt=attempt)
    except ConnectorError as exc:
        logger.warning("payment %s: void before expiry failed: %s", attempt.payment.public_id, exc.message)


def make_expired_attempts_due(*, now: datetime | None = None) -> int:
    """Bring the next sync of payments waiting for the customer past their time-to-live
    forward to now; the sync sweep then syncs them once more and expires them.

    Rows whose due time is within a lease from now are left alone: that may be a worker's claim.
    """
    now = now or timezone.now()
    return PaymentAttempt.objects.filter(
        status=AttemptStatus.AUTHENTICATION_PENDING, payment__status=PaymentStatus.REQUIRES_CUSTOMER_ACTION,
        created_at__lte=customer_action_deadline(now), next_sync_at__gt=now + CLAIM_LEASE,
    ).update(next_sync_at=now)


# -- refunds ------------------------------------------------------------------------------------

def sweep_due_refunds(*, enqueue: Enqueue, now: datetime | None = None, batch_size: int | None = None,
                      max_batches: int = MAX_BATCHES_PER_RUN) -> int:
    """Claim pending refunds whose sync is due (or orphaned mid-call), one task each."""
    size = _batch_size(batch_size)
    queryset = Refund.objects.filter(status=RefundStatus.PENDING)
    make_orphans_due(queryset, now or timezone.now())
    return sweep(lambda: claim_due(queryset, due_field="next_sync_at", now=now or timezone.now(), batch_size=size),
                 enqueue, batch_size=size, max_batches=max_batches)


def sync_claimed_refund(*, refund_pk: int, token: datetime) -> str:
    """The task for one claimed refund: ``skipped`` (stale claim) or ``synced``."""
    if not take_claim(Refund, refund_pk, due_field="next_sync_at", token=token):
        return "skipped"
    try:
        sync_refund(refund_pk=refund_pk, actor="sync")
    except FlowNotSupported:
        # Only the bank's webhook settles it; a sync time (not None) keeps the orphan rule off it.
        Refund.objects.filter(pk=refund_pk).update(next_sync_at=timezone.now() + MAX_SYNC_BACKOFF)
    return "synced"


# -- housekeeping -------------------------------------------------------------------------------

def purge_idempotency_records(*, now: datetime | None = None, batch_size: int = 5000,
                              max_batches: int = 100) -> int:
    """Forget ``Idempotency-Key`` answers older than ``IDEMPOTENCY_RETENTION_HOURS``, in batches
    (short transactions, never one huge delete)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS)
    deleted = 0
    for _ in range(max_batches):
        pks = list(IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        deleted += IdempotencyRecord.objects.filter(pk__in=pks).delete()[0]
    return deleted
