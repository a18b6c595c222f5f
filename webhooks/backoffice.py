"""What the webhooks app adds to the payments back office: the overview's webhook failures,
and a payment timeline's inbound bank webhooks, events sent to the merchant and delivery tries.

The payments admin does not import this app; ``webhooks/admin.py`` registers these with
``add_overview_section`` and ``add_timeline_source`` (the arrows point from webhooks to
payments, see docs/architecture.md).
"""

from __future__ import annotations

from django.db.models import Count

from payments.admin.charts import bar_list_chart
from payments.admin.overview import LIST_LIMIT
from payments.admin.timeline import AccountSecrets, TimelineEntry, admin_link, pretty_body
from payments.models import MerchantEvent
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt, WebhookEvent, WebhookOutcome

OVERVIEW_TEMPLATE = "admin/webhooks/overview_failures.html"
WEBHOOK_FAILURES = [
    outcome
    for outcome in WebhookOutcome.values
    if outcome not in (WebhookOutcome.PROCESSED, WebhookOutcome.DUPLICATE, WebhookOutcome.RECEIVED)
]


# -- the overview -------------------------------------------------------------------------------

def overview_figures(*, since, until, merchant=None) -> dict:
    """Inbound webhooks that failed in [since, until) by outcome, the most recent of them, and
    how many deliveries to merchants gave up in the period."""
    webhooks = WebhookEvent.objects.filter(received_at__gte=since, received_at__lt=until)
    deliveries = WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED, created_at__gte=since,
                                                created_at__lt=until)
    if merchant is not None:
        webhooks = webhooks.filter(connector_account__merchant=merchant)
        deliveries = deliveries.filter(endpoint__merchant=merchant)
    return {"webhook_failures": _webhook_failures(webhooks), "outbound_failed": deliveries.count()}


def _webhook_failures(webhooks):
    failed = webhooks.filter(outcome__in=WEBHOOK_FAILURES)
    by_outcome = list(failed.values("outcome").annotate(count=Count("id")).order_by("-count", "outcome"))
    return {
        "total": sum(row["count"] for row in by_outcome),
        "chart": bar_list_chart(
            [(row["outcome"], row["count"], str(row["count"])) for row in by_outcome],
            title="Inbound webhook failures by outcome",
        ),
        "recent": list(failed.order_by("-received_at")[:LIST_LIMIT]),
    }


# -- a payment's timeline -----------------------------------------------------------------------

def timeline_entries(payment, secrets: AccountSecrets) -> list[TimelineEntry]:
    """The inbound bank webhooks about this payment, the events sent to the merchant about it
    and every delivery try."""
    entries = [_webhook_entry(event, secrets)
               for event in WebhookEvent.objects.filter(payment=payment).select_related("connector_account")]
    return entries + _outbound_entries(payment)


def _webhook_entry(event, secrets: AccountSecrets) -> TimelineEntry:
    account_secrets = secrets.of(event.connector_account)
    signature = {True: "signature valid", False: "signature INVALID", None: "signature not checked"}[
        event.signature_valid
    ]
    summary = " · ".join(part for part in (signature, event.event_id, event.outcome_detail) if part)
    return TimelineEntry(
        at=event.received_at,
        kind="webhook",
        title=f"Inbound webhook {event.event_type or '(unparsed)'} from {event.connector}",
        status=event.outcome,
        summary=summary,
        blocks=[("Payload", pretty_body(event.body_text, account_secrets))],
        link=admin_link(event),
        order=4,
    )


def _outbound_entries(payment) -> list[TimelineEntry]:
    entries = []
    for event in MerchantEvent.objects.filter(payment=payment).prefetch_related("deliveries__endpoint"):
        targets = ", ".join(f"{d.endpoint.url}: {d.status}" for d in event.deliveries.all()) or "no endpoint"
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind="outbound",
                title=f"Event {event.type} to the merchant ({event.public_id})",
                summary=targets,
                link=admin_link(event),
                order=6,
            )
        )
    tries = WebhookDeliveryAttempt.objects.filter(delivery__event__payment=payment).select_related(
        "delivery__event", "delivery__endpoint"
    )
    for attempt in tries:
        details = [f"{attempt.latency_ms} ms", attempt.error, attempt.response_excerpt[:200]]
        entries.append(
            TimelineEntry(
                at=attempt.created_at,
                kind="outbound",
                title=f"Delivery of {attempt.delivery.event.type} to {attempt.delivery.endpoint.url}",
                status=f"HTTP {attempt.status_code}" if attempt.status_code else "no answer",
                summary=" · ".join(part for part in details if part),
                link=admin_link(attempt.delivery),
                order=7,
            )
        )
    return entries
