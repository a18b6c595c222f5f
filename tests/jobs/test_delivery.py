"""Delivering events to a merchant's endpoint (a real loopback HTTP server): signatures checked
with the helper docs/webhooks.md ships, retries with backoff, timeouts, giving up, the outbox."""

import json
import time
from datetime import timedelta

from django.utils import timezone

from connectors.testing.simulator import unused_port_url
from tests.helpers import APPROVED_CARD, DECLINED_CARD
from webhooks import outbound
from webhooks.models import WebhookDelivery


def only_delivery(payment_json) -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("event").get(event__payment__public_id=payment_json["id"])


def run_deliveries(results):
    return lambda pk, token: results.append(outbound.deliver(delivery_pk=pk, token=token))


def test_a_delivery_is_signed_and_the_documented_helper_verifies_it(pay, endpoint, merchant_server):
    payment = pay(APPROVED_CARD)
    delivery = only_delivery(payment)

    outbound.deliver(delivery_pk=delivery.pk)

    [received] = merchant_server.events()
    assert received["verified"] is True
    body = received["json"]
    assert (body["id"], body["type"], body["object"]) == (delivery.event.public_id, "payment.succeeded", "event")
    assert body["data"]["object"]["id"] == payment["id"] and abs(body["created"] - time.time()) < 60
    verify = merchant_server.verify
    assert not verify(received["body"].replace(b"1050", b"9050"), received["signature"], merchant_server.secret)
    assert not verify(received["body"], received["signature"], "whsec_another_merchant")
    stale = outbound.signature_header(merchant_server.secret, received["body"], int(time.time()) - 3600)
    assert not verify(received["body"], stale, merchant_server.secret)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == ("succeeded", 1, None)
    [attempt] = delivery.attempts.all()
    assert (attempt.succeeded, attempt.status_code, attempt.response_excerpt) == (True, 200, "merchant says 200")


def test_500s_are_retried_with_growing_backoff_until_the_endpoint_answers_2xx(pay, endpoint, merchant_server):
    merchant_server.answers = [(500, 0.0), (500, 0.0)]
    delivery = only_delivery(pay(DECLINED_CARD))
    outbound.deliver(delivery_pk=delivery.pk)
    waits = []
    results = []
    for _ in range(2):
        delivery.refresh_from_db()
        waits.append((delivery.next_attempt_at - delivery.attempts.last().created_at).total_seconds())
        assert outbound.retry_due_deliveries(enqueue=lambda pk, token: None) == 0  # not due yet
        outbound.retry_due_deliveries(enqueue=run_deliveries(results), now=delivery.next_attempt_at)

    delivery.refresh_from_db()
    attempts = list(delivery.attempts.all())
    assert [(a.status_code, a.succeeded) for a in attempts] == [(500, False), (500, False), (200, True)]
    assert attempts[0].response_excerpt == "merchant says 500" and all(a.latency_ms >= 0 for a in attempts)
    assert 30 * 0.75 - 1 <= waits[0] <= 30 * 1.25 and 60 * 0.75 - 1 <= waits[1] <= 60 * 1.25
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("succeeded", 3, 200)
    assert [r["verified"] for r in merchant_server.events()] == [True, True, True]
    assert len({r["json"]["id"] for r in merchant_server.events()}) == 1  # the same event each time


def test_an_endpoint_slower_than_the_timeout_is_a_failed_try_and_retried(pay, endpoint, merchant_server, settings):
    settings.WEBHOOK_DELIVERY_TIMEOUT = 0.4
    merchant_server.answers = [(200, 1.5)]  # a 200, but too late
    delivery = only_delivery(pay(APPROVED_CARD))

    outbound.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    [attempt] = delivery.attempts.all()
    assert (attempt.succeeded, attempt.status_code) == (False, None) and "timeout" in attempt.error
    assert 300 <= attempt.latency_ms < 1400
    assert delivery.status == "pending" and delivery.next_attempt_at > timezone.now()
    outbound.retry_due_deliveries(enqueue=run_deliveries([]), now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_count == 2


def test_a_redirect_or_a_refused_connection_is_not_a_delivery(pay, endpoint, merchant_server):
    merchant_server.answers = [(302, 0.0)]
    delivery = only_delivery(pay(APPROVED_CARD))
    outbound.deliver(delivery_pk=delivery.pk)
    endpoint.url = unused_port_url()
    endpoint.save()
    outbound.deliver(delivery_pk=delivery.pk)

    attempts = list(WebhookDelivery.objects.get(pk=delivery.pk).attempts.all())

    assert [(a.status_code, a.succeeded) for a in attempts] == [(302, False), (None, False)]
    assert attempts[1].error == "could not connect to the endpoint"  # fixed words: no port-state detail


def test_a_delivery_still_failing_three_days_after_its_event_is_marked_failed(pay, endpoint):
    endpoint.url = unused_port_url()
    endpoint.save()
    delivery = only_delivery(pay(APPROVED_CARD))
    # The event is three days old, less a few seconds: the next retry would fall after its window.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(give_up_at=timezone.now() + timedelta(seconds=5))

    outbound.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at, delivery.attempt_count) == ("failed", None, 1)
    assert outbound.retry_due_deliveries(enqueue=run_deliveries([]), now=timezone.now() + timedelta(days=4)) == 0
    assert (delivery.give_up_at - delivery.event.created_at) < outbound.RETRY_WINDOW


def test_backoff_doubles_from_30_seconds_with_jitter_and_is_capped():
    for attempt_count, base in ((1, 30), (2, 60), (3, 120), (8, 3840)):
        samples = [outbound.delivery_backoff(attempt_count).total_seconds() for _ in range(30)]
        assert all(base * 0.75 <= s <= base * 1.25 for s in samples), (attempt_count, samples)
        assert len(set(samples)) > 1  # jittered: endpoints coming back are not stampeded
    capped = outbound.delivery_backoff(40).total_seconds()
    assert 6 * 3600 * 0.75 <= capped <= 6 * 3600 * 1.25


def test_the_outbox_survives_a_crash_between_commit_and_delivery(pay, endpoint, merchant_server,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        payment = pay(APPROVED_CARD)
    # The change committed with its event; the process dies before the "deliver now" request
    # reaches the broker (the on-commit callback never runs).
    assert callbacks, "the first try is requested once the change commits"
    delivery = only_delivery(payment)
    assert merchant_server.events() == []

    assert outbound.retry_due_deliveries(enqueue=run_deliveries([])) == 0  # its own task may still come
    later = timezone.now() + outbound.FIRST_TRY_GRACE + timedelta(seconds=1)
    assert outbound.retry_due_deliveries(enqueue=run_deliveries([]), now=later) == 1

    [received] = merchant_server.events()
    assert received["verified"] and received["json"]["id"] == delivery.event.public_id
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "succeeded"


def test_a_late_first_try_task_does_nothing_once_the_sweep_took_the_delivery_over(pay, endpoint, merchant_server):
    delivery = only_delivery(pay(APPROVED_CARD))
    first_try_token = delivery.next_attempt_at
    results = []
    outbound.retry_due_deliveries(enqueue=run_deliveries(results), now=first_try_token)

    assert outbound.deliver(delivery_pk=delivery.pk, token=first_try_token) is None
    assert len(merchant_server.events()) == 1 and results[0].status == "succeeded"


def test_resend_delivers_a_succeeded_event_again_with_a_new_window(pay, endpoint, merchant_server):
    delivery = only_delivery(pay(APPROVED_CARD))
    outbound.deliver(delivery_pk=delivery.pk)

    [reopened] = outbound.resend_event(event=delivery.event)
    outbound.retry_due_deliveries(enqueue=run_deliveries([]), now=reopened.next_attempt_at)

    assert [json.loads(r["body"])["id"] for r in merchant_server.events()] == [delivery.event.public_id] * 2
    reopened.refresh_from_db()
    assert reopened.status == "succeeded" and reopened.attempt_count == 2
    assert reopened.give_up_at > delivery.give_up_at
