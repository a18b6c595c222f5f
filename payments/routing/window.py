"""The success-rate window: recent authorization results per (connector account, payment method,
currency), kept in one-minute buckets so that reading the window is a sum over a few rows.

Results are recorded when a confirmation's attempt gets its answer (authorized or charged:
success; failure, including an unreachable connector: not). Unknown outcomes are not counted
until they are known; the customer's 3-D Secure step is not an authorization result either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from payments.models import RoutingWindowBucket
from payments.statuses import AttemptStatus

WINDOW = timedelta(minutes=15)
BUCKET = timedelta(minutes=1)
SUCCESS_STATUSES = {AttemptStatus.AUTHORIZED, AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED}
COUNTED_STATUSES = SUCCESS_STATUSES | {AttemptStatus.FAILURE}


def bucket_start(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def window_since(now: datetime | None = None) -> datetime:
    """The start of the oldest bucket still in the window."""
    return bucket_start(now or timezone.now()) - WINDOW + BUCKET


def smoothed_rate(successes: int, attempts: int) -> float:
    """Success rate with one success and one failure assumed (Laplace): an account with no
    recent results scores 0.5, between a healthy and a failing one, so it is not starved."""
    return (successes + 1) / (attempts + 2)


def record_result(
    *, account_id: int, payment_method_type: str, currency: str, status: str, at: datetime | None = None
) -> bool:
    """Count one authorization result in the current bucket; False when ``status`` is not a
    result (pending, waiting for the customer). Runs outside the payment's transaction so the
    shared bucket row is locked only for its own statement."""
    if status not in COUNTED_STATUSES:
        return False
    at = at or timezone.now()
    key = {
        "connector_account_id": account_id,
        "payment_method_type": payment_method_type or "card",
        "currency": currency,
        "bucket_start": bucket_start(at),
    }
    succeeded = 1 if status in SUCCESS_STATUSES else 0
    increment = {"attempts": F("attempts") + 1, "successes": F("successes") + succeeded}
    if RoutingWindowBucket.objects.filter(**key).update(**increment):
        return True
    try:
        with transaction.atomic():
            RoutingWindowBucket.objects.create(**key, attempts=1, successes=succeeded)
    except IntegrityError:
        # Another process created this minute's bucket between our update and insert.
        RoutingWindowBucket.objects.filter(**key).update(**increment)
        return True
    # A new bucket starts once a minute per key: the moment to drop the ones long out of the window.
    RoutingWindowBucket.objects.filter(
        connector_account_id=account_id,
        payment_method_type=key["payment_method_type"],
        currency=currency,
        bucket_start__lt=window_since(at) - WINDOW,
    ).delete()
    return True


@dataclass(frozen=True)
class WindowFigures:
    connector_account: str  # public id
    label: str
    connector: str
    payment_method_type: str
    currency: str
    attempts: int
    successes: int

    @property
    def success_rate(self) -> float | None:
        """The plain rate shown to people (None without results); routing uses ``smoothed_rate``."""
        return self.successes / self.attempts if self.attempts else None


def window_figures(*, merchant=None, mode: str | None = None, now: datetime | None = None) -> list[WindowFigures]:
    """The window as routing sees it, one row per (account, payment method, currency) with
    results, for the admin overview; optionally for one merchant and mode."""
    buckets = RoutingWindowBucket.objects.filter(bucket_start__gte=window_since(now))
    if merchant is not None:
        buckets = buckets.filter(connector_account__merchant=merchant)
    if mode:
        buckets = buckets.filter(connector_account__mode=mode)
    rows = (
        buckets.order_by()
        .values(
            "connector_account__public_id",
            "connector_account__label",
            "connector_account__connector",
            "payment_method_type",
            "currency",
        )
        .annotate(attempts=Sum("attempts"), successes=Sum("successes"))
        .order_by("connector_account__label", "payment_method_type", "currency")
    )
    return [
        WindowFigures(
            connector_account=row["connector_account__public_id"],
            label=row["connector_account__label"],
            connector=row["connector_account__connector"],
            payment_method_type=row["payment_method_type"],
            currency=row["currency"],
            attempts=row["attempts"],
            successes=row["successes"],
        )
        for row in rows
    ]
