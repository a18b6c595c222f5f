"""Claiming due rows for background work, safe under several workers at once.

A sweep claims due items in batches and hands each to its own task. Claiming is safe under
several workers at once:

- the batch is selected ``FOR UPDATE SKIP LOCKED``, so two sweeps never pick the same row;
- inside that transaction each row's due time (``next_sync_at``, ``next_attempt_at``) moves
  to the end of a lease, and that value is the claim's token. A second sweep sees the row as
  not due; a crashed worker's rows simply come due again when the lease ends;
- the item's task starts by swapping the token for a fresh lease (compare-and-set). A stale
  task (its row was re-claimed after the lease ran out) finds another token and does nothing,
  so one item is never synced by two workers at the same time.

The lease is longer than a task's hard time limit (settings ``CELERY_TASK_TIME_LIMIT``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger("pagoflex.jobs")

CLAIM_LEASE = timedelta(minutes=5)
# A sweep run stops after this many batches; the next run goes on where it stopped.
MAX_BATCHES_PER_RUN = 20

Enqueue = Callable[[int, datetime], None]


def claim_due(queryset, *, due_field: str, now: datetime, batch_size: int,
              lease: timedelta = CLAIM_LEASE) -> tuple[list[int], datetime]:
    """Claim up to ``batch_size`` rows of ``queryset`` whose ``due_field`` has passed.

    Returns the claimed primary keys and the claim token (the new due time). Only rows whose
    due time this transaction moved count as claimed, which also keeps SQLite (no row locks)
    from handing one row to two claimers.
    """
    token = now + lease
    due = {f"{due_field}__lte": now}
    model = queryset.model
    with transaction.atomic():
        candidates = list(queryset.filter(**due).order_by(due_field, "pk")
                          .select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size])
        if not candidates:
            return [], token
        model.objects.filter(pk__in=candidates, **due).update(**{due_field: token})
        claimed = list(model.objects.filter(pk__in=candidates, **{due_field: token}).values_list("pk", flat=True))
    return claimed, token


def take_claim(model, pk: int, *, due_field: str, token: datetime, lease: timedelta = CLAIM_LEASE) -> bool:
    """Start work on a claimed row: true (and a fresh lease) only if the claim is still ours."""
    renewed = model.objects.filter(pk=pk, **{due_field: token}).update(**{due_field: timezone.now() + lease})
    if not renewed:
        logger.info("%s %s: claim %s is stale (re-claimed or settled), skipped", model.__name__, pk, token)
    return bool(renewed)


def sweep(claim_batch: Callable[[], tuple[list[int], datetime]], enqueue: Enqueue, *, batch_size: int,
          max_batches: int = MAX_BATCHES_PER_RUN) -> int:
    """Claim batch after batch and enqueue one task per item; returns how many were enqueued.

    Each batch's claim is committed before its items are enqueued, so a task never starts on
    an uncommitted claim; an enqueue that fails leaves the item to come due at the lease's end.
    """
    total = 0
    for _ in range(max_batches):
        pks, token = claim_batch()
        for pk in pks:
            enqueue(pk, token)
        total += len(pks)
        if len(pks) < batch_size:
            break
    return total
