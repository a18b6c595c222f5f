"""The outbox: merchant events, written beside the state change that causes them.

The services call ``emit_payment_event``, ``emit_payment_status_event`` and
``emit_refund_event`` inside the change's transaction; a state change
(``payments.services.outcomes.state_change``) collects its events and writes them together
before it commits. So no change is without its event, and no event is without its change.

Delivering them is the webhooks app's job (``webhooks/outbound.py``): this module does not know
about endpoints. It sends ``events_written`` inside the same transaction with the events that
may have to be delivered, and the webhooks app's receiver creates one delivery per endpoint
that wants them (still in the transaction) and asks a worker to deliver once it commits.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar

from django.dispatch import Signal

from payments.api.serializers import PaymentOutput, RefundOutput
from payments.models import EventType, MerchantEvent, PaymentOperation, Refund

__all__ = [
    "EventCollector", "EventType", "PAYMENT_STATUS_EVENTS", "collecting", "emit_payment_event",
    "emit_payment_status_event", "emit_refund_event", "events_written", "forget_after", "pending_count",
]

# Sent with ``events`` (a list of saved MerchantEvent rows) inside the transaction that wrote
# them, once per write, for the events whose merchant may have endpoints (the merchant row read
# with the locked payment says whether it has any). Receivers run in that transaction: an
# exception rolls the change back with its events.
events_written = Signal()

PAYMENT_STATUS_EVENTS = {
    "succeeded": EventType.PAYMENT_SUCCEEDED,
    "failed": EventType.PAYMENT_FAILED,
    "requires_capture": EventType.PAYMENT_REQUIRES_CAPTURE,
    "requires_customer_action": EventType.PAYMENT_REQUIRES_CUSTOMER_ACTION,
    "cancelled": EventType.PAYMENT_CANCELLED,
}


class EventCollector:
    """The merchant events of one state change, written together when it ends
    (``payments.services.outcomes.state_change``): each object rendered once, in its final
    state in that transaction (the state the merchant can ever see), one INSERT for the events,
    then ``events_written`` for their delivery (one query for the endpoints, one INSERT for the
    deliveries, in ``webhooks/outbound.py``)."""

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
        to_deliver = [event for event in events if event.merchant_id not in without_endpoints]
        if to_deliver:
            events_written.send(sender=MerchantEvent, events=to_deliver)
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
    data = RefundOutput(obj).data if isinstance(obj, Refund) else PaymentOutput(obj).data
    # JSON round trip: what is stored is exactly what will be sent (dates as ISO text).
    return json.loads(json.dumps(data, default=str))


def _payment_of(obj):
    """The payment an event is about: the object itself, or a refund's payment."""
    return obj.payment if isinstance(obj, Refund) else obj


def _event_for(obj, event_type: str, data: dict) -> MerchantEvent:
    payment = _payment_of(obj)
    return MerchantEvent(merchant_id=payment.merchant_id, mode=payment.mode, type=event_type, data=data,
                         payment_id=payment.pk, refund_id=obj.pk if payment is not obj else None)


def _may_have_endpoints(obj) -> bool:
    """False only when the merchant row read with the locked payment says it has no endpoint."""
    payment = _payment_of(obj)
    if not PaymentOperation.merchant.is_cached(payment):
        return True
    return payment.merchant.has_webhook_endpoints
