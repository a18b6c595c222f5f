"""The sync sweeps, claims under several workers, expiry and housekeeping, through the services
the Celery tasks call (the real worker runs in test_real_worker.py)."""

import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from connectors.models import ConnectorCall
from payments.models import IdempotencyRecord, PaymentAttempt, PaymentOperation, Refund
from payments.services import sweeps
from payments.services.claims import CLAIM_LEASE, claim_due
from tests.helpers import APPROVED_CARD, PENDING_CARD, PENDING_REFUND_CARD, THREE_DS_CARD
from webhooks.models import MerchantEvent


def run_attempt_syncs(results):
    """An enqueue that runs each item's task at once, as a worker would."""
    return lambda pk, token: results.append((pk, sweeps.sync_claimed_attempt(attempt_pk=pk, token=token)))


def attempt_of(payment_json) -> PaymentAttempt:
    return PaymentAttempt.objects.get(payment__public_id=payment_json["id"])


def psync_calls(attempt) -> int:
    return ConnectorCall.objects.filter(attempt=attempt, flow="psync").count()


def test_a_pending_payment_is_settled_by_the_sweep_once_its_sync_is_due(pay):
    payment = pay(PENDING_CARD)
    attempt = attempt_of(payment)
    assert payment["status"] == "processing" and attempt.status == "pending"
    results = []

    assert sweeps.sweep_due_attempts(enqueue=run_attempt_syncs(results)) == 0  # first sync is 30 s away
    swept = sweeps.sweep_due_attempts(enqueue=run_attempt_syncs(results), now=attempt.next_sync_at)

    attempt.refresh_from_db()
    assert swept == 1 and results == [(attempt.pk, "synced")]
    assert attempt.status == "charged" and attempt.next_sync_at is None
    assert PaymentOperation.objects.get(pk=attempt.payment_id).status == "succeeded"
    assert list(MerchantEvent.objects.filter(payment_id=attempt.payment_id).values_list("type", flat=True)) == [
        "payment.succeeded"]


def test_a_sync_that_learns_nothing_backs_off_30s_then_doubling(pay, sandbox):
    attempt = attempt_of(pay(PENDING_CARD))
    results = []
    for expected_backoff in (60, 120):
        sandbox.app.faults.arm(status=500)  # the bank fails the status query: still unknown
        before = timezone.now()
        sweeps.sweep_due_attempts(enqueue=run_attempt_syncs(results), now=attempt.next_sync_at)
        attempt.refresh_from_db()
        assert attempt.status == "pending"
        waited = (attempt.next_sync_at - before).total_seconds()
        assert expected_backoff - 1 <= waited <= expected_backoff + 5
    assert attempt.sync_count == 2 and [r for _, r in results] == ["synced", "synced"]


def test_a_claimed_item_is_not_claimed_again_until_its_lease_ends(pay):
    attempt = attempt_of(pay(PENDING_CARD))
    queryset = PaymentAttempt.objects.filter(status__in=sweeps.SWEPT_ATTEMPT_STATUSES)
    due = attempt.next_sync_at

    first, token = claim_due(queryset, due_field="next_sync_at", now=due, batch_size=10)
    again, _ = claim_due(queryset, due_field="next_sync_at", now=due + CLAIM_LEASE - timedelta(seconds=1),
                         batch_size=10)
    after_crash, _ = claim_due(queryset, due_field="next_sync_at", now=token, batch_size=10)

    assert first == [attempt.pk] and again == []
    assert after_crash == [attempt.pk]  # the worker that held it never finished: it comes due again


def test_a_stale_task_does_not_sync_an_item_another_worker_reclaimed(pay):
    attempt = attempt_of(pay(PENDING_CARD))
    queryset = PaymentAttempt.objects.filter(status__in=sweeps.SWEPT_ATTEMPT_STATUSES)
    _, old_token = claim_due(queryset, due_field="next_sync_at", now=attempt.next_sync_at, batch_size=10)
    _, new_token = claim_due(queryset, due_field="next_sync_at", now=old_token, batch_size=10)

    assert sweeps.sync_claimed_attempt(attempt_pk=attempt.pk, token=old_token) == "skipped"
    assert sweeps.sync_claimed_attempt(attempt_pk=attempt.pk, token=new_token) == "synced"
    assert sweeps.sync_claimed_attempt(attempt_pk=attempt.pk, token=new_token) == "skipped"  # a redelivery
    assert psync_calls(attempt) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_sync_each_item_exactly_once(api, sandbox_account):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent row locks (SKIP LOCKED) need PostgreSQL; SQLite serializes every writer")
    from tests.helpers import payment_body

    for _ in range(24):
        assert api.post("/v1/payments", payment_body(900, number=PENDING_CARD), format="json").status_code == 201
    due = timezone.now() + timedelta(minutes=1)
    start = threading.Barrier(2)
    results: list[tuple[int, str]] = []
    errors = []

    def worker():
        try:
            start.wait(timeout=10)
            sweeps.sweep_due_attempts(enqueue=run_attempt_syncs(results), now=due, batch_size=3)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a sweeping thread outlived its 60 s"

    assert errors == []
    synced = [pk for pk, outcome in results if outcome == "synced"]
    assert sorted(synced) == sorted(PaymentAttempt.objects.values_list("pk", flat=True))
    assert len(synced) == len(set(synced)) == 24
    per_attempt = {a.pk: psync_calls(a) for a in PaymentAttempt.objects.all()}
    assert set(per_attempt.values()) == {1}
    assert set(PaymentOperation.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_pending_refund_is_settled_by_the_refund_sweep(api, pay):
    payment = pay(PENDING_REFUND_CARD)
    refund = api.post("/v1/refunds", {"payment": payment["id"], "amount": 400}, format="json").json()
    row = Refund.objects.get(public_id=refund["id"])
    assert row.status == "pending" and row.next_sync_at is not None
    results = []

    sweeps.sweep_due_refunds(now=row.next_sync_at, enqueue=lambda pk, token: results.append(
        sweeps.sync_claimed_refund(refund_pk=pk, token=token)))

    row.refresh_from_db()
    assert results == ["synced"] and row.status == "succeeded" and row.next_sync_at is None
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_refunded == 400
    assert MerchantEvent.objects.filter(refund=row, type="refund.succeeded").count() == 1


def _age(attempt, settings, *, extra=timedelta(minutes=1)):
    """The customer has been away longer than the time-to-live; its next sync is far off."""
    now = timezone.now()
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        created_at=now - timedelta(seconds=settings.PAYMENT_CUSTOMER_ACTION_TTL) - extra,
        next_sync_at=now + timedelta(minutes=45))


def test_a_payment_waiting_for_the_customer_past_its_ttl_is_synced_once_more_then_expired(pay, settings):
    payment = pay(THREE_DS_CARD)
    fresh = pay(THREE_DS_CARD)
    attempt = attempt_of(payment)
    assert payment["status"] == "requires_customer_action"
    _age(attempt, settings)
    results = []

    assert sweeps.make_expired_attempts_due() == 1  # the fresh one is left alone
    sweeps.sweep_due_attempts(enqueue=run_attempt_syncs(results))

    expired = PaymentOperation.objects.get(public_id=payment["id"])
    assert results == [(attempt.pk, "expired")] and psync_calls(attempt) == 1
    assert (expired.status, expired.error_code) == ("failed", "expired")
    events = MerchantEvent.objects.filter(payment=expired).order_by("created_at", "id")
    assert [e.type for e in events] == ["payment.requires_customer_action", "payment.failed"]
    assert events.last().data["object"]["last_payment_error"]["code"] == "expired"
    assert PaymentOperation.objects.get(public_id=fresh["id"]).status == "requires_customer_action"
    # The bank was told too: the expired payment's transaction is voided there.
    flows = list(ConnectorCall.objects.filter(attempt=attempt).order_by("created_at", "id")
                 .values_list("flow", flat=True))
    assert flows == ["authorize", "psync", "void"]


def test_a_customer_completing_the_bank_page_after_the_expiry_cannot_authorize(pay, settings, sandbox):
    payment = pay(THREE_DS_CARD)
    attempt = attempt_of(payment)
    _age(attempt, settings)
    sweeps.make_expired_attempts_due()
    sweeps.sweep_due_attempts(enqueue=run_attempt_syncs([]))
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "failed"
    late = requests.post(payment["next_action"]["url"], data={"outcome": "complete"}, allow_redirects=False,
                         timeout=5)
    assert late.status_code == 302  # the customer is sent back; the bank settles nothing
    attempt.refresh_from_db()
    assert sandbox.app.charges[attempt.connector_reference]["status"] == "voided"
    attempt.refresh_from_db()
    assert attempt.status == "failure" and attempt.error_code == "expired"


def test_a_customer_who_completed_just_before_the_expiry_keeps_the_payment(pay, settings):
    payment = pay(THREE_DS_CARD)
    attempt = attempt_of(payment)
    # The customer completes the bank's page but never comes back to the shop.
    answer = requests.post(payment["next_action"]["url"], data={"outcome": "complete"}, allow_redirects=False,
                           timeout=5)
    assert answer.status_code == 302
    _age(attempt, settings)
    results = []

    sweeps.make_expired_attempts_due()
    sweeps.sweep_due_attempts(enqueue=run_attempt_syncs(results))

    assert results == [(attempt.pk, "synced")]
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "succeeded"


def test_purge_forgets_idempotency_answers_past_their_retention_only(merchant, settings):
    now = timezone.now()
    old = IdempotencyRecord.objects.create(merchant=merchant, key="old", request_fingerprint="x",
                                           created_at=now - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS,
                                                                      minutes=1))
    recent = IdempotencyRecord.objects.create(merchant=merchant, key="recent", request_fingerprint="x",
                                              created_at=now - timedelta(hours=1))

    assert sweeps.purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()


def test_an_approved_payment_is_never_picked_by_the_sweep(pay):
    attempt = attempt_of(pay(APPROVED_CARD))
    results = []

    sweeps.sweep_due_attempts(enqueue=run_attempt_syncs(results), now=timezone.now() + timedelta(days=1))

    assert attempt.next_sync_at is None and results == []


def test_the_schedule_is_in_the_database_and_names_registered_tasks(db):
    from django_celery_beat.models import PeriodicTask

    from pagoflex.celery import app

    app.loader.import_default_modules()
    schedules = {task.name: task for task in PeriodicTask.objects.select_related("interval")}
    expected = {"payment sync sweep", "refund sync sweep", "webhook delivery retries",
                "expiry of abandoned payments", "purge of old idempotency records"}
    assert expected <= set(schedules)
    for name in expected:
        assert schedules[name].enabled and schedules[name].task in app.tasks, name
    assert schedules["payment sync sweep"].interval.every <= 30  # a pending payment settles within a minute


def test_an_integrity_mismatched_refund_is_left_to_staff_not_synced_again(api, pay, sandbox):
    payment = pay(APPROVED_CARD, amount=3000)
    sandbox.app.faults.arm(wrong_amount=True)
    refund = api.post("/v1/refunds", {"payment": payment["id"], "amount": 1000}, format="json").json()
    row = Refund.objects.get(public_id=refund["id"])
    assert (row.status, row.error_code, row.next_sync_at) == ("pending", "integrity_mismatch", None)
    events = MerchantEvent.objects.filter(type="payment.integrity_mismatch").count()
    results = []

    swept = sweeps.sweep_due_refunds(now=timezone.now() + timedelta(days=1), enqueue=lambda pk, token: results.append(
        sweeps.sync_claimed_refund(refund_pk=pk, token=token)))

    assert swept == 0 and results == []
    assert MerchantEvent.objects.filter(type="payment.integrity_mismatch").count() == events == 1
