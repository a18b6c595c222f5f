"""``GET /metrics``: Prometheus exposition of what Pagoflex records (observability/metrics.py)
and of its backlog, read from the database at each scrape.

Guarded: with ``METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``; with
no token, ``/metrics`` answers only in development (``DEBUG=True``) and is a 404 otherwise, so a
production install never shows its volumes to the internet by accident.

Backlog series (gauges, computed here so every worker reports the same):
- ``pagoflex_webhook_delivery_backlog``: merchant webhook deliveries still pending;
  ``pagoflex_webhook_delivery_oldest_age_seconds``: how long the oldest of them has waited.
- ``pagoflex_sync_lag_seconds``: how far the sync sweep is behind (the oldest attempt or refund
  whose next sync is due, measured from when it was due; 0 when the sweep keeps up).
- ``pagoflex_unresolved_attempts`` / ``pagoflex_unresolved_refunds``: outcomes still unknown
  (an attempt started or pending at the bank, a refund pending), and
  ``pagoflex_unresolved_oldest_age_seconds``.
- ``pagoflex_backlog_up``: 1 when the gauges above were read at this scrape; 0 when the database
  did not answer within ``BACKLOG_TIMEOUT`` (no free pooled connection, a locked table): they are
  then left out and the scrape still answers 200 with every other series.

Served by ``pagoflex.health.HealthCheckMiddleware``, ahead of host validation and the HTTPS
redirect like ``/healthz``, so Prometheus can scrape a pod by its IP address in plain HTTP on the
private network; the token guard above still applies.
"""

from __future__ import annotations

import hmac
import logging
import os

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpResponse, HttpResponseNotFound
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from pagoflex.health import database_within
from payments.models import PaymentAttempt, Refund
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES
from payments.statuses import AttemptStatus, RefundStatus
from webhooks.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger("pagoflex.metrics")
# Seconds the backlog may wait for a pooled connection, and then for each of its queries: well
# within a scrape timeout (Prometheus: 10 s), and a busy pool is not made busier by scrapes.
BACKLOG_TIMEOUT = 1.0


class BacklogCollector:
    """Reads the backlog gauges from the database when the registry is collected, within
    ``BACKLOG_TIMEOUT``; when the database cannot answer in time, yields only
    ``pagoflex_backlog_up`` 0 (the reason is logged)."""

    def collect(self):
        try:
            with database_within(BACKLOG_TIMEOUT):
                gauges = list(read_backlog())  # every query inside the bound
        except DatabaseError:
            logger.warning("backlog gauges not read: the database did not answer in time", exc_info=True)
            gauges = []
        yield GaugeMetricFamily("pagoflex_backlog_up", "1 when the backlog gauges were read at this scrape, "
                                "0 when the database did not answer in time (they are then absent).",
                                value=1 if gauges else 0)
        yield from gauges


def read_backlog():
    """Yields the backlog gauges, read now (a few indexed aggregates)."""
    now = timezone.now()

    def age(moment) -> float:
        return max(0.0, (now - moment).total_seconds()) if moment else 0.0

    deliveries = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).aggregate(
        count=Count("id"), oldest=Min("created_at"))
    yield GaugeMetricFamily("pagoflex_webhook_delivery_backlog", "Merchant webhook deliveries pending.",
                            value=deliveries["count"])
    yield GaugeMetricFamily("pagoflex_webhook_delivery_oldest_age_seconds",
                            "Age of the oldest pending merchant webhook delivery.", value=age(deliveries["oldest"]))

    due_attempt = PaymentAttempt.objects.filter(status__in=UNSETTLED_ATTEMPT_STATUSES,
                                                next_sync_at__lte=now).aggregate(due=Min("next_sync_at"))["due"]
    due_refund = Refund.objects.filter(status=RefundStatus.PENDING,
                                       next_sync_at__lte=now).aggregate(due=Min("next_sync_at"))["due"]
    oldest_due = min((m for m in (due_attempt, due_refund) if m), default=None)
    yield GaugeMetricFamily("pagoflex_sync_lag_seconds", "How long the oldest due sync has waited.",
                            value=age(oldest_due))

    unknown = PaymentAttempt.objects.filter(status__in=[AttemptStatus.STARTED, AttemptStatus.PENDING]).aggregate(
        count=Count("id"), oldest=Min("created_at"))
    refunds = Refund.objects.filter(status=RefundStatus.PENDING).aggregate(count=Count("id"),
                                                                            oldest=Min("created_at"))
    yield GaugeMetricFamily("pagoflex_unresolved_attempts", "Payment attempts whose outcome is unknown.",
                            value=unknown["count"])
    yield GaugeMetricFamily("pagoflex_unresolved_refunds", "Refunds whose outcome is unknown.",
                            value=refunds["count"])
    oldest = min((m for m in (unknown["oldest"], refunds["oldest"]) if m), default=None)
    yield GaugeMetricFamily("pagoflex_unresolved_oldest_age_seconds",
                            "Age of the oldest attempt or refund whose outcome is unknown.", value=age(oldest))


def exposition() -> bytes:
    """This process's series (or, in multiprocess mode, every gunicorn worker's), then the backlog."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        recorded = CollectorRegistry()
        multiprocess.MultiProcessCollector(recorded)
    else:
        recorded = REGISTRY
    backlog = CollectorRegistry()
    backlog.register(BacklogCollector())
    return generate_latest(recorded) + generate_latest(backlog)


def authorized(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return settings.DEBUG
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


def metrics_view(request):
    if request.method not in ("GET", "HEAD") or not authorized(request):
        return HttpResponseNotFound(b"", content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
