"""Re-processing judges a webhook's freshness by when it arrived, not when staff pressed the button
(issue 15, failing input 5)."""

import json
import time
from datetime import timedelta

import requests
from django.urls import reverse

from conftest import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from connectors.sandbox import signature
from tests.admin.conftest import sandbox_charge
from webhooks import inbound
from webhooks.models import WebhookEvent, WebhookOutcome

PENDING_CARD = "4000000000000259"


def _settled_charge_event(sandbox, payment) -> bytes:
    reference = payment.attempts.get().connector_reference
    answer = requests.post(f"{sandbox.base_url}/__control__/charges/{reference}/settle",
                           json={"outcome": "succeeded"}, timeout=5)
    assert answer.status_code == 200, answer.text
    charge = sandbox_charge(sandbox, reference)
    assert charge["status"] == "captured"
    return json.dumps({"id": "evt_fresh_then_fixed", "type": "charge.succeeded", "data": charge}).encode()


def _arrived_ten_minutes_ago(account, body: bytes) -> WebhookEvent:
    """The event as it reached Pagoflex ten minutes ago, signed then by the bank, and processed
    then with the account's secret as it was."""
    arrival = time.time() - 600
    headers = {signature.HEADER.lower(): signature.sign(SANDBOX_WEBHOOK_SECRET, body, timestamp=int(arrival))}
    event = inbound.store_event(connector_key="sandbox", account=account, headers=headers, body=body,
                                source_address="127.0.0.1", processing_count=1)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=event.received_at - timedelta(seconds=600))
    event.refresh_from_db()
    inbound.process(event, counted=True)
    event.refresh_from_db()
    return event


def test_an_event_rejected_for_a_mistyped_secret_is_applied_when_reprocessed_after_the_fix(
        admin_client, take_payment, sandbox, sandbox_account):
    payment = take_payment(amount=2500, number=PENDING_CARD)
    assert payment.status == "processing"
    body = _settled_charge_event(sandbox, payment)
    sandbox_account.set_credentials({"api_key": SANDBOX_API_KEY, "webhook_secret": "whsec_mistyped"})
    sandbox_account.save()

    event = _arrived_ten_minutes_ago(sandbox_account, body)
    assert event.outcome == WebhookOutcome.REJECTED_SIGNATURE
    payment.refresh_from_db()
    assert payment.status == "processing"

    # Staff correct the secret, then re-process: the event was fresh when it arrived.
    sandbox_account.set_credentials({"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET})
    sandbox_account.save()
    admin_client.post(reverse("admin:webhooks_webhookevent_reprocess", args=[event.pk]))

    event.refresh_from_db()
    payment.refresh_from_db()
    assert (event.outcome, event.signature_valid) == (WebhookOutcome.PROCESSED, True)
    assert (payment.status, payment.amount_captured) == ("succeeded", 2500)


def test_the_same_signed_event_replayed_now_is_still_refused_as_stale(client, take_payment, sandbox,
                                                                      sandbox_account):
    payment = take_payment(amount=2500, number=PENDING_CARD)
    body = _settled_charge_event(sandbox, payment)
    old_header = signature.sign(SANDBOX_WEBHOOK_SECRET, body, timestamp=int(time.time()) - 600)

    answer = client.post(sandbox_account.webhook_path, data=body, content_type="application/json",
                         headers={signature.HEADER: old_header})

    assert answer.status_code == 401
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.REJECTED_SIGNATURE
    payment.refresh_from_db()
    assert payment.status == "processing"
