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
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpResponse, HttpResponseNotFound
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from payments.models import PaymentAttempt, Refund
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES
from payments.statuses import AttemptStatus, RefundStatus
from webhooks.models import DeliveryStatus, WebhookDelivery


class BacklogCollector:
    """Reads the backlog gauges from the database when the registry is collected."""

    def collect(self):
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
