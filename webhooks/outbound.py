"""Events to merchants: the outbox and its delivery.

Events are written by the services in the same transaction as the change that causes them
(``emit_payment_event``, ``emit_refund_event``; a state change collects its events and writes
them together before it commits), with one delivery row per endpoint that wants them. Once that transaction commits a task is asked to deliver at once; if that request is
lost (a crash between commit and enqueue, a broker outage) the retry sweep finds the delivery
due a minute later. So no change is without its event, and no event is without its change.

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
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connectors.crypto import hmac_sha256_hex
from payments.services.claims import CLAIM_LEASE, claim_due, sweep, take_claim
from webhooks import delivery_http
from webhooks.models import DeliveryStatus, EventType, MerchantEvent, WebhookDelivery, WebhookDeliveryAttempt

logger = logging.getLogger("pagoflex.webhooks.outbound")

SIGNATURE_HEADER = "Pagoflex-Signature"
RETRY_WINDOW = timedelta(days=3)
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX_INTERVAL = timedelta(hours=6)
# How long a new delivery waits for its on-commit task before the retry sweep takes it over.
FIRST_TRY_GRACE = timedelta(minutes=1)

PAYMENT_STATUS_EVENTS = {
    "succeeded": EventType.PAYMENT_SUCCEEDED,
    "failed": EventType.PAYMENT_FAILED,
    "requires_capture": EventType.PAYMENT_REQUIRES_CAPTURE,
    "requires_customer_action": EventType.PAYMENT_REQUIRES_CUSTOMER_ACTION,
    "cancelled": EventType.PAYMENT_CANCELLED,
}


# -- writing events (inside the caller's transaction) -------------------------------------------

class EventCollector:
    """The merchant events of one state change, written together when it ends
    (``payments.services.outcomes.state_change``): each object rendered once, in its final
    state in that transaction (the state the merchant can ever see), one INSERT for the events,
    one query for the endpoints, one INSERT for the deliveries."""

    def __init__(self):
        self.pending: list[tuple[object, str, dict]] = []

    def add(self, obj, event_type: str, extra: dict) -> None:
        self.pending.append((obj, event_type, extra))

    def write(self) -> list[MerchantEvent]:
        rendered: dict[int, dict] = {}
        events = []
        without_endpoints = set()
        for obj, event_type, extra in self.pending:
            if id(obj) not in rendered:
                rendered[id(obj)] = _render(obj)
            events.append(_event_for(obj, event_type, {"object": rendered[id(obj)], **extra}))
            if not _may_have_endpoints(obj):
                without_endpoints.add(events[-1].merchant_id)
        self.pending = []
        if not events:
            return []
        events = MerchantEvent.objects.bulk_create(events)
        _fan_out([event for event in events if event.merchant_id not in without_endpoints])
        return events


_collector: ContextVar[EventCollector | None] = ContextVar("merchant_event_collector", default=None)


@contextmanager
def collecting():
    """Collect the merchant events emitted inside; the caller writes them (``write()``) before
    its transaction commits."""
    collector = EventCollector()
    token = _collector.set(collector)
    try:
        yield collector
    finally:
        _collector.reset(token)


def pending_count() -> int:
    """How many merchant events the current collection holds (0 outside one)."""
    collector = _collector.get()
    return len(collector.pending) if collector is not None else 0


def forget_after(count: int) -> None:
    """Drop the events collected after the first ``count`` (their savepoint rolled back)."""
    collector = _collector.get()
    if collector is not None:
        del collector.pending[count:]


def emit_payment_event(payment, event_type: str, **extra) -> None:
    """Write a payment event to the outbox; call it inside the state change's transaction."""
    _emit(payment, event_type, extra)


def emit_payment_status_event(payment) -> None:
    """The event for the payment's new status, if merchants hear about that status."""
    event_type = PAYMENT_STATUS_EVENTS.get(payment.status)
    if event_type:
        emit_payment_event(payment, event_type)


def emit_refund_event(refund, event_type: str) -> None:
    """Write a refund event to the outbox, inside the refund's state change transaction."""
    _emit(refund, event_type, {})


def _emit(obj, event_type: str, extra: dict) -> None:
    collector = _collector.get()
    if collector is None:
        collector = EventCollector()
        collector.add(obj, event_type, extra)
        collector.write()
    else:
        collector.add(obj, event_type, extra)


def _render(obj) -> dict:
    from payments.api.serializers import PaymentOutput, RefundOutput
    from payments.models import Refund

    data = RefundOutput(obj).data if isinstance(obj, Refund) else PaymentOutput(obj).data
    # JSON round trip: what is stored is exactly what will be sent (dates as ISO text).
    return json.loads(json.dumps(data, default=str))


def _payment_of(obj):
    """The payment an event is about: the object itself, or a refund's payment."""
    from payments.models import Refund

    return obj.payment if isinstance(obj, Refund) else obj


def _event_for(obj, event_type: str, data: dict) -> MerchantEvent:
    payment = _payment_of(obj)
    return MerchantEvent(merchant_id=payment.merchant_id, mode=payment.mode, type=event_type, data=data,
                         payment_id=payment.pk, refund_id=obj.pk if payment is not obj else None)


def _may_have_endpoints(obj) -> bool:
    """False only when the merchant row read with the locked payment says it has no endpoint."""
    from payments.models import PaymentOperation

    payment = _payment_of(obj)
    if not PaymentOperation.merchant.is_cached(payment):
        return True
    return payment.merchant.has_webhook_endpoints


def _fan_out(events: list[MerchantEvent]) -> None:
    """One delivery per event and endpoint that wants it; the first tries are enqueued on commit."""
    from webhooks.models import WebhookEndpoint

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
        try:
            deliver_webhook.apply_async(args=[pk, token.isoformat()], retry=False)
        except Exception as exc:  # the broker is down: the sweep delivers it after FIRST_TRY_GRACE
            logger.warning("delivery %s not enqueued (%s); the retry sweep will pick it up", pk, exc)


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
    from webhooks.models import WebhookEndpoint

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
