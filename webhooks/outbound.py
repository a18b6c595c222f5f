"""Events to merchants: delivering the outbox.

The payments app writes the events (``payments/outbox.py``) in the same transaction as the
change that causes them, and sends ``events_written``; ``fan_out`` here receives it, still in
that transaction, and writes one delivery row per endpoint that wants each event. Once that
transaction commits a task is asked to deliver at once; if that request is lost (a crash between
commit and enqueue, a broker outage) the retry sweep finds the delivery due a minute later.
This module reads the outbox and never writes it.

Delivery: ``POST`` of the event as JSON, signed with the endpoint's secret in
``Pagoflex-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``. A 2xx within
``WEBHOOK_DELIVERY_TIMEOUT`` seconds is success; anything else is retried with exponential
backoff and jitter until three days after the event, then the delivery is failed. Every try is
logged (status code, latency, an excerpt of the answer).
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from connectors.crypto import hmac_sha256_hex
from payments.enqueue import enqueue_best_effort
from payments.models import MerchantEvent
from payments.outbox import events_written
from payments.services.claims import CLAIM_LEASE, claim_due, sweep, take_claim
from webhooks import delivery_http
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

logger = logging.getLogger("pagoflex.webhooks.outbound")

SIGNATURE_HEADER = "Pagoflex-Signature"
RETRY_WINDOW = timedelta(days=3)
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX_INTERVAL = timedelta(hours=6)
# How long a new delivery waits for its on-commit task before the retry sweep takes it over.
FIRST_TRY_GRACE = timedelta(minutes=1)


# -- fanning out (inside the transaction that wrote the events) ---------------------------------

@receiver(events_written, dispatch_uid="webhooks_fan_out_merchant_events")
def fan_out(sender, events: list[MerchantEvent], **kwargs) -> None:
    """One delivery per event and endpoint that wants it; the first tries are enqueued on commit.

    Runs inside the transaction that wrote the events (``payments.outbox.events_written``)."""
    if not events:
        return
    scopes = {(event.merchant_id, event.mode) for event in events}
    query = Q()
    for merchant_id, mode in scopes:
        query |= Q(merchant_id=merchant_id, mode=mode)
    endpoints = list(WebhookEndpoint.objects.filter(query, enabled=True))
    # One due time for the batch: it is also the claim token its enqueued tasks carry.
    first_try = timezone.now() + FIRST_TRY_GRACE
    deliveries = [
        WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=first_try,
                        give_up_at=event.created_at + RETRY_WINDOW)
        for event in events for endpoint in endpoints
        if (endpoint.merchant_id, endpoint.mode) == (event.merchant_id, event.mode) and endpoint.wants(event.type)
    ]
    if not deliveries:
        return
    deliveries = WebhookDelivery.objects.bulk_create(deliveries)
    pks = [delivery.pk for delivery in deliveries if delivery.pk is not None] or list(
        WebhookDelivery.objects.filter(event__in=events).values_list("pk", flat=True))
    transaction.on_commit(lambda: enqueue_deliveries(pks, first_try), robust=True)


def enqueue_deliveries(delivery_pks: list[int], token: datetime) -> None:
    """Ask a worker to deliver now. Best effort: the retry sweep covers a lost request."""
    from webhooks.tasks import deliver_webhook

    for pk in delivery_pks:
        # Not enqueued (the broker is down): the retry sweep delivers it after FIRST_TRY_GRACE.
        enqueue_best_effort(deliver_webhook, [pk, token.isoformat()], what=f"webhook delivery {pk}",
                            fallback="the retry sweep")


# -- delivering ---------------------------------------------------------------------------------

def event_body(event: MerchantEvent) -> bytes:
    envelope = {"id": event.public_id, "object": "event", "type": event.type,
                "created": int(event.created_at.timestamp()), "livemode": event.mode == "live", "data": event.data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={hmac_sha256_hex(secret, str(timestamp).encode('ascii') + b'.' + body)}"


def delivery_backoff(attempt_count: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 6 h, each spread by +-25 % so that endpoints that came
    back up are not hit by every retry at the same instant."""
    base = min(RETRY_BASE * (2 ** min(max(attempt_count - 1, 0), 20)), RETRY_MAX_INTERVAL)
    return base * random.uniform(0.75, 1.25)


def deliver(*, delivery_pk: int, token: datetime | None = None) -> WebhookDelivery | None:
    """Try one delivery now and record the try; with ``token`` only if that claim is still ours.

    Returns the delivery, or None when the claim was stale (another worker has it).
    """
    if token is not None and not take_claim(WebhookDelivery, delivery_pk, due_field="next_attempt_at",
                                            token=token):
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_pk)
    if delivery.status != DeliveryStatus.PENDING:
        return delivery
    if not delivery.endpoint.enabled:
        close_deliveries_of_disabled_endpoint(delivery.endpoint_id)
        delivery.refresh_from_db()
        return delivery
    body = event_body(delivery.event)
    headers = {"Content-Type": "application/json", "User-Agent": "Pagoflex-Webhooks/1.0",
               SIGNATURE_HEADER: signature_header(delivery.endpoint.get_secret(), body)}
    status_code, excerpt, error, latency_ms = delivery_http.post(delivery.endpoint.url, body, headers)
    succeeded = status_code is not None and 200 <= status_code < 300 and not error
    now = timezone.now()
    with transaction.atomic():
        WebhookDeliveryAttempt.objects.create(delivery=delivery, succeeded=succeeded, status_code=status_code,
                                              latency_ms=latency_ms, response_excerpt=excerpt, error=error[:500])
        delivery.attempt_count += 1
        delivery.last_status_code = status_code
        delivery.last_error = error[:500]
        if succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
        else:
            next_try = now + delivery_backoff(delivery.attempt_count)
            if next_try > delivery.give_up_at:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
                logger.warning("delivery %s of %s to %s failed for good after %s tries", delivery.pk,
                               delivery.event.public_id, delivery.endpoint.url, delivery.attempt_count)
            else:
                delivery.next_attempt_at = next_try
        delivery.save(update_fields=["attempt_count", "last_status_code", "last_error", "status", "delivered_at",
                                     "next_attempt_at"])
    return delivery


ENDPOINT_DISABLED = "not sent: the endpoint is disabled"


def close_deliveries_of_disabled_endpoint(endpoint_pk: int) -> int:
    """End the pending deliveries of a disabled endpoint: no retry is sent to it any more (they
    stay listed, failed, and can be resent once it is enabled again). Returns how many."""
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=ENDPOINT_DISABLED)


def retry_due_deliveries(*, enqueue, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Claim pending deliveries whose try is due and enqueue one task each (see sweeps.py)."""
    size = batch_size or settings.SWEEP_BATCH_SIZE
    queryset = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
    return sweep(lambda: claim_due(queryset, due_field="next_attempt_at", now=now or timezone.now(),
                                   batch_size=size, lease=CLAIM_LEASE), enqueue, batch_size=size)


# -- resending ----------------------------------------------------------------------------------

def resend_event(*, event: MerchantEvent, endpoint=None) -> list[WebhookDelivery]:
    """Deliver an event again, to one endpoint or to every enabled endpoint that wants it.

    A finished delivery is reopened with a new three-day retry window; an endpoint registered
    after the event gets a delivery of its own. The first try is enqueued on commit. Used by
    the API (``POST /v1/events/{id}/resend``) and the admin.
    """
    now = timezone.now()
    if endpoint is not None:
        endpoints = [endpoint]
    else:
        endpoints = [e for e in WebhookEndpoint.objects.filter(merchant_id=event.merchant_id, mode=event.mode)
                     if e.wants(event.type)]
    first_try = now + FIRST_TRY_GRACE
    deliveries = []
    with transaction.atomic():
        for target in endpoints:
            delivery, _ = WebhookDelivery.objects.select_for_update().get_or_create(
                event=event, endpoint=target, defaults={"give_up_at": now + RETRY_WINDOW})
            if (delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
                    and delivery.next_attempt_at <= now + CLAIM_LEASE):
                deliveries.append(delivery)  # due now or held by a worker: it is being delivered
                continue
            delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, first_try
            delivery.give_up_at = now + RETRY_WINDOW
            delivery.save(update_fields=["status", "next_attempt_at", "give_up_at"])
            deliveries.append(delivery)
        pks = [d.pk for d in deliveries if d.next_attempt_at == first_try]
        transaction.on_commit(lambda: enqueue_deliveries(pks, first_try), robust=True)
    return deliveries
