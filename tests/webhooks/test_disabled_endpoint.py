"""Disabling a merchant webhook endpoint stops its queued retries (issue 16, item 13): nothing is
sent to it any more, whichever way a try was queued (an enqueued task, the retry sweep, a
resend)."""

import pytest
from rest_framework.test import APIClient

from tests.helpers import APPROVED_CARD, payment_body
from tests.jobs.conftest import MerchantServer
from webhooks import outbound
from webhooks.models import WebhookDelivery


@pytest.fixture
def merchant_server(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    server = MerchantServer()
    yield server
    server.stop()


def queued_delivery(api: APIClient, merchant_server, answers) -> tuple[dict, WebhookDelivery]:
    """An endpoint whose first try failed (500): a retry is queued."""
    endpoint = api.post("/v1/webhook_endpoints", {"url": merchant_server.url, "enabled_events": ["*"]},
                        format="json").json()
    merchant_server.secret = endpoint["secret"]
    merchant_server.answers = answers
    payment = api.post("/v1/payments", payment_body(number=APPROVED_CARD), format="json").json()
    delivery = WebhookDelivery.objects.get(event__payment__public_id=payment["id"])
    outbound.deliver(delivery_pk=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    return endpoint, delivery


def test_disabling_an_endpoint_stops_its_queued_retries(api, sandbox_account, merchant_server):
    endpoint, delivery = queued_delivery(api, merchant_server, [(500, 0.0)])
    token = delivery.next_attempt_at

    disabled = api.post(f"/v1/webhook_endpoints/{endpoint['id']}", {"disabled": True}, format="json")
    assert disabled.status_code == 200, disabled.content

    # The task enqueued before the change still runs, and the sweep runs when the retry was due.
    outbound.deliver(delivery_pk=delivery.pk)
    outbound.deliver(delivery_pk=delivery.pk, token=token)
    assert outbound.retry_due_deliveries(enqueue=lambda pk, t: outbound.deliver(delivery_pk=pk, token=t),
                                         now=token) == 0
    delivery.refresh_from_db()
    assert len(merchant_server.events()) == 1  # the first try only
    assert (delivery.status, delivery.next_attempt_at, delivery.attempt_count) == ("failed", None, 1)
    assert delivery.last_error == outbound.ENDPOINT_DISABLED


def test_a_try_of_an_endpoint_disabled_behind_the_services_back_sends_nothing(api, sandbox_account,
                                                                              merchant_server):
    """The next member of the kind: however the flag was turned off (admin, shell, a migration),
    the delivery itself looks at it before sending, including a resend."""
    endpoint, delivery = queued_delivery(api, merchant_server, [(500, 0.0)])
    delivery.endpoint.__class__.objects.filter(pk=delivery.endpoint_id).update(enabled=False)

    outbound.deliver(delivery_pk=delivery.pk)
    outbound.resend_event(event=delivery.event, endpoint=delivery.endpoint)
    outbound.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    assert len(merchant_server.events()) == 1
    assert (delivery.status, delivery.attempt_count) == ("failed", 1)


def test_an_endpoint_enabled_again_gets_resent_events(api, sandbox_account, merchant_server):
    endpoint, delivery = queued_delivery(api, merchant_server, [(500, 0.0)])
    api.post(f"/v1/webhook_endpoints/{endpoint['id']}", {"disabled": True}, format="json")
    api.post(f"/v1/webhook_endpoints/{endpoint['id']}", {"disabled": False}, format="json")

    resent = api.post(f"/v1/events/{delivery.event.public_id}/resend", {"endpoint": endpoint["id"]},
                      format="json")
    assert resent.status_code == 202, resent.content
    outbound.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and len(merchant_server.events()) == 2
