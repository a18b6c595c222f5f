"""Inbound webhook events in the back office: raw payload, signature result, outcome, re-process."""

import json

from django.urls import reverse

from conftest import SANDBOX_WEBHOOK_SECRET
from connectors.sandbox import signature
from tests.admin.conftest import post_sandbox_webhook, sandbox_charge
from webhooks import inbound
from webhooks.models import WebhookEvent, WebhookOutcome


def charge_event(sandbox, payment, event_id="evt_bo_1") -> dict:
    return {
        "id": event_id,
        "type": "charge.succeeded",
        "data": sandbox_charge(sandbox, payment.attempts.get().connector_reference),
    }


def test_event_page_shows_payload_signature_and_outcome(admin_client, client, paid, sandbox, sandbox_account):
    post_sandbox_webhook(client, sandbox_account, charge_event(sandbox, paid), secret="not-the-secret-at-all")
    event = WebhookEvent.objects.get()

    page = admin_client.get(reverse("admin:webhooks_webhookevent_change", args=[event.pk])).content.decode()

    assert event.outcome == WebhookOutcome.REJECTED_SIGNATURE
    assert "rejected_signature" in page and ">invalid<" in page
    assert "&quot;type&quot;: &quot;charge.succeeded&quot;" in page  # the raw payload, pretty-printed
    assert "Re-process" in page


def test_reprocess_runs_the_pipeline_again_and_is_idempotent(admin_client, paid, sandbox, sandbox_account):
    body = json.dumps(charge_event(sandbox, paid)).encode()
    # Stored but never processed, as when the worker died right after the store step.
    event = inbound.store_event(
        connector_key="sandbox",
        account=sandbox_account,
        body=body,
        source_address=None,
        headers={signature.HEADER.lower(): signature.sign(SANDBOX_WEBHOOK_SECRET, body)},
    )
    url = reverse("admin:webhooks_webhookevent_reprocess", args=[event.pk])

    first = admin_client.post(url, follow=True).content.decode()
    event.refresh_from_db()
    assert (event.outcome, event.signature_valid, event.payment_id) == (WebhookOutcome.PROCESSED, True, paid.pk)
    assert "re-processed by staff:root: processed" in first

    admin_client.post(url)
    event.refresh_from_db()
    assert (event.outcome, event.processing_count) == (WebhookOutcome.DUPLICATE, 2)


def test_event_without_an_account_cannot_be_reprocessed(admin_client, db):
    event = WebhookEvent.objects.create(connector="sandbox", body=b"{}", outcome=WebhookOutcome.UNKNOWN_ACCOUNT)

    page = admin_client.post(
        reverse("admin:webhooks_webhookevent_reprocess", args=[event.pk]), follow=True
    ).content.decode()

    assert "no connector account matched" in page
    event.refresh_from_db()
    assert event.processing_count == 0


def test_event_list_filters_by_outcome(admin_client, sandbox_account):
    WebhookEvent.objects.create(
        connector="sandbox",
        connector_account=sandbox_account,
        body=b"{}",
        outcome=WebhookOutcome.MALFORMED,
        event_type="bad.one",
    )
    WebhookEvent.objects.create(
        connector="sandbox",
        connector_account=sandbox_account,
        body=b"{}",
        outcome=WebhookOutcome.PROCESSED,
        event_type="good.one",
    )

    page = admin_client.get("/admin/webhooks/webhookevent/", {"outcome__exact": "malformed"}).content.decode()

    assert "bad.one" in page and "good.one" not in page
