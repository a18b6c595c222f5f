"""The unresolved queue (issue 15): every payment and refund whose outcome the bank has not told
yet, oldest first, with its age, last sync error and a one-click sync; escalated once to staff and
the merchant after UNRESOLVED_ESCALATE_AFTER, and synced on after that."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from payments.models import PaymentAttempt, PaymentEvent, PaymentOperation, Refund
from payments.services.unresolved import escalate_unresolved, unresolved_queue
from tests.helpers import APPROVED_CARD, PENDING_CARD, PENDING_REFUND_CARD
from webhooks.models import MerchantEvent

QUEUE = "/admin/payments/paymentoperation/unresolved/"


def _age(row, **delta):
    type(row).objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(**delta))


def _pending_refund(api, take_payment):
    payment = take_payment(amount=3000, number=PENDING_REFUND_CARD)
    answer = api.post("/v1/refunds", {"payment": payment.public_id, "amount": 1000}, format="json").json()
    assert answer["status"] == "pending"
    return Refund.objects.get(public_id=answer["id"])


def test_the_queue_lists_every_unknown_outcome_oldest_first_with_age_and_last_error(
        admin_client, api, take_payment, sandbox):
    settled = take_payment(number=APPROVED_CARD)
    pending = take_payment(number=PENDING_CARD)
    sandbox.app.faults.arm(status=500)  # the bank fails the charge request: outcome unknown
    unknown = take_payment(number=APPROVED_CARD)
    refund = _pending_refund(api, take_payment)
    _age(unknown.attempts.get(), hours=3)
    _age(refund, hours=2)
    _age(pending.attempts.get(), hours=1)

    items, total = unresolved_queue()
    page = admin_client.get(QUEUE)

    assert total == 3 and [item.public_id for item in items] == [
        unknown.attempts.get().public_id, refund.public_id, pending.attempts.get().public_id]
    assert "500" in items[0].last_error  # why the outcome is unknown: the bank answered HTTP 500
    assert settled.public_id not in page.content.decode()
    html = page.content.decode()
    assert page.status_code == 200 and html.count('value="Sync now"') == 3
    assert html.index(unknown.public_id) < html.index(refund.public_id) < html.index(pending.public_id)
    assert "3\xa0hours" in html and items[0].last_error.split(":")[0] in html


def test_one_click_sync_asks_the_bank_and_the_settled_item_leaves_the_queue(admin_client, take_payment):
    pending = take_payment(number=PENDING_CARD)
    attempt = pending.attempts.get()

    answer = admin_client.post(reverse("admin:payments_unresolved_sync", args=["payment", attempt.pk]), follow=True)

    pending.refresh_from_db()
    assert pending.status == "succeeded"  # the sandbox settles a pending charge on its next status query
    html = answer.content.decode()
    assert f"Synced {pending.public_id}: charged" in html and "Nothing is unresolved" in html
    assert PaymentEvent.objects.filter(payment=pending, kind="staff_action", actor="staff:root").exists()


def test_one_click_refund_sync(admin_client, api, take_payment):
    refund = _pending_refund(api, take_payment)
    admin_client.post(reverse("admin:payments_unresolved_sync", args=["refund", refund.pk]))
    refund.refresh_from_db()
    assert refund.status == "succeeded"


def test_support_staff_without_the_sync_permission_see_the_queue_but_cannot_sync(take_payment, db):
    from tests.admin.conftest import logged_in, make_staff

    pending = take_payment(number=PENDING_CARD)
    viewer = make_staff("vera_view")
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_paymentoperation"))
    client = logged_in(viewer)
    assert client.get(QUEUE).status_code == 200 and 'value="Sync now"' not in client.get(QUEUE).content.decode()
    refused = client.post(reverse("admin:payments_unresolved_sync", args=["payment", pending.attempts.get().pk]))
    assert refused.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "processing"


def test_past_the_configured_time_an_unknown_outcome_is_escalated_once_and_synced_on(
        api, take_payment, settings):
    settings.UNRESOLVED_ESCALATE_AFTER = 3600
    old = take_payment(number=PENDING_CARD)
    fresh = take_payment(number=PENDING_CARD)
    refund = _pending_refund(api, take_payment)
    _age(old.attempts.get(), hours=2)
    _age(refund, hours=2)

    assert escalate_unresolved() == 2
    assert escalate_unresolved() == 0  # once

    attempt = PaymentAttempt.objects.get(payment=old)
    assert attempt.escalated_at is not None and attempt.status == "pending" and attempt.next_sync_at is not None
    line = PaymentEvent.objects.get(payment=old, kind="escalated")
    assert "outcome still unknown after 2.0 h" in line.message and line.actor == "escalation"
    event = MerchantEvent.objects.get(payment=old, type="payment.outcome_unresolved")
    assert event.data["unresolved"]["attempt"] == attempt.public_id
    assert event.data["object"]["status"] == "processing"
    assert MerchantEvent.objects.filter(refund=refund, type="refund.outcome_unresolved").count() == 1
    assert PaymentEvent.objects.filter(refund=refund, kind="escalated").count() == 1
    assert not PaymentEvent.objects.filter(payment=fresh, kind="escalated").exists()
    assert PaymentOperation.objects.get(pk=old.pk).status == "processing"


def test_an_item_the_bank_settled_meanwhile_is_not_escalated(take_payment, settings, admin_client):
    settings.UNRESOLVED_ESCALATE_AFTER = 60
    pending = take_payment(number=PENDING_CARD)
    _age(pending.attempts.get(), hours=1)
    admin_client.post(reverse("admin:payments_unresolved_sync", args=["payment", pending.attempts.get().pk]))
    assert escalate_unresolved() == 0
    assert not MerchantEvent.objects.filter(type="payment.outcome_unresolved").exists()


def test_the_escalation_runs_on_the_beat_schedule(db):
    from django_celery_beat.models import PeriodicTask

    from pagoflex.celery import app

    app.loader.import_default_modules()
    task = PeriodicTask.objects.select_related("interval").get(name="escalation of unresolved outcomes")
    assert task.enabled and task.task == "payments.escalate_unresolved" and task.task in app.tasks
    assert task.interval.every <= 600


def test_the_beat_task_escalates_what_is_due(take_payment, settings):
    from payments import tasks

    settings.UNRESOLVED_ESCALATE_AFTER = 600
    pending = take_payment(number=PENDING_CARD)
    _age(pending.attempts.get(), minutes=11)

    assert tasks.escalate_unresolved() == 1
    assert tasks.escalate_unresolved() == 0
    assert MerchantEvent.objects.filter(payment=pending, type="payment.outcome_unresolved").count() == 1
