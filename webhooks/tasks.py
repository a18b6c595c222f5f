"""Celery tasks for merchant webhooks: one delivery, and the sweep of deliveries that are due."""

from datetime import datetime

from celery import shared_task

from webhooks import outbound


@shared_task(name="webhooks.deliver")
def deliver_webhook(delivery_pk: int, token: str) -> str:
    """Try one claimed delivery now; a failure is recorded and scheduled, never raised."""
    delivery = outbound.deliver(delivery_pk=delivery_pk, token=datetime.fromisoformat(token))
    return "skipped" if delivery is None else delivery.status


@shared_task(name="webhooks.retry_deliveries")
def retry_deliveries() -> int:
    """Claim deliveries whose first try or retry is due; one ``webhooks.deliver`` task each."""
    return outbound.retry_due_deliveries(enqueue=lambda pk, token: deliver_webhook.delay(pk, token.isoformat()))
