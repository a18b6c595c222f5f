"""A success the bank reports after Pagoflex ended the payment is never invisible (issue 15,
failing input 6): the payment keeps its terminal status, is flagged ``late_success``, its amounts
follow the bank, the merchant hears ``payment.late_success``, and the money can be refunded, or is
refunded at once when the merchant's policy says ``return``."""

import json
from datetime import timedelta

import pytest
import requests

from connectors.sandbox import signature
from pagoflex.celery import app
from payments.models import LateSuccessPolicy, PaymentAttempt, PaymentEvent, PaymentOperation
from payments.services import sweeps
from payments.services.late_success import (
    return_late_success,
    return_lost_late_successes,
    verify_claim,
    verify_lost_claims,
)
from tests.connectors_e2e.test_paytm import order_id, upi, wait_for
from tests.helpers import DECLINED_CARD, SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET, payment_body
from webhooks.models import MerchantEvent, WebhookEvent, WebhookOutcome

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tasks_run_in_place():
    """Celery's own eager mode: a task enqueued runs in the thread that enqueues it."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def expire(payment_json, settings):
    """Let the UPI intent wait past its time-to-live, then run the expiry sweep as beat would."""
    attempt = PaymentAttempt.objects.get(payment__public_id=payment_json["id"])
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        created_at=attempt.created_at - timedelta(seconds=settings.PAYMENT_CUSTOMER_ACTION_TTL + 60))
    results = []
    sweeps.sweep_due_attempts(now=attempt.next_sync_at, enqueue=lambda pk, token: results.append(
        sweeps.sync_claimed_attempt(attempt_pk=pk, token=token)))
    assert results == ["expired"]
    expired = PaymentOperation.objects.get(public_id=payment_json["id"])
    assert (expired.status, expired.error_code, expired.late_success) == ("failed", "expired", False)
    return expired


def pay_in_the_app_after_expiry(paytm, payment_json, *, verified=True):
    """The customer pays in the app; Paytm's TXN_SUCCESS notification reaches Pagoflex, which asks
    Paytm to confirm (with a worker running, ``verified``) before anything changes."""
    answer = requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment_json)}/pay", timeout=5)
    assert answer.status_code == 200, answer.text
    assert wait_for(lambda: WebhookEvent.objects.filter(payment__public_id=payment_json["id"],
                                                        outcome=WebhookOutcome.PROCESSED).exists())
    if verified:
        assert wait_for(lambda: PaymentOperation.objects.get(public_id=payment_json["id"]).late_success)
    return PaymentOperation.objects.get(public_id=payment_json["id"])


def test_money_paid_after_the_expiry_is_flagged_announced_and_refundable(api, paytm_account, paytm, settings,
                                                                         pagoflex_server, tasks_run_in_place):
    payment = upi(api, "intent", amount=1050)
    expire(payment, settings)

    late = pay_in_the_app_after_expiry(paytm, payment)

    assert (late.status, late.late_success, late.amount_captured) == ("failed", True, 1050)
    shown = api.get(f"/v1/payments/{payment['id']}").json()
    assert (shown["status"], shown["late_success"], shown["amount_captured"]) == ("failed", True, 1050)
    event = MerchantEvent.objects.get(payment=late, type="payment.late_success")
    assert event.data["late_success"] == {"attempt": late.attempts.get().public_id, "status": "charged",
                                          "previous_status": "failure", "amount": 1050, "currency": "INR",
                                          "policy": "notify"}
    assert event.data["object"]["late_success"] is True
    assert WebhookEvent.objects.get(payment=late).outcome == WebhookOutcome.PROCESSED
    assert list(PaymentEvent.objects.filter(payment=late, kind__startswith="late_success").order_by("id")
                .values_list("kind", "actor")) == [
        ("late_success_reported", f"webhook:{WebhookEvent.objects.get(payment=late).public_id}"),
        ("late_success", "late_success_check")]
    assert [call.flow for call in late.connector_calls.order_by("id")][-1] == "psync"  # Paytm confirmed it

    refund = api.post("/v1/refunds", {"payment": payment["id"]}, format="json")
    assert refund.status_code == 201, refund.content
    assert refund.json()["amount"] == 1050
    settled = api.get(f"/v1/refunds/{refund.json()['id']}?force_sync=true").json()
    assert settled["status"] == "succeeded"
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 1050
    # Paytm's notification again (a retry) is a duplicate: announced once, refundable once.
    again = requests.post(f"{pagoflex_server.base_url}{paytm_account.webhook_path}",
                          data=bytes(WebhookEvent.objects.get(payment=late).body),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert again.status_code == 200
    assert WebhookEvent.objects.filter(payment=late).order_by("-id").first().outcome == WebhookOutcome.DUPLICATE
    assert MerchantEvent.objects.filter(payment=late, type="payment.late_success").count() == 1
    assert api.post("/v1/refunds", {"payment": payment["id"]}, format="json").status_code == 400


def test_a_merchant_whose_policy_is_return_has_it_refunded_at_once(api, merchant, paytm_account, paytm, settings,
                                                                   tasks_run_in_place):
    merchant.late_success_policy = LateSuccessPolicy.RETURN
    merchant.save()
    payment = upi(api, "intent", amount=2000)
    expire(payment, settings)

    late = pay_in_the_app_after_expiry(paytm, payment)

    assert wait_for(lambda: late.refunds.exists())
    refund = late.refunds.get()
    assert (refund.amount, refund.reason) == (2000, "late success returned by the merchant's policy")
    assert MerchantEvent.objects.get(payment=late, type="payment.late_success").data["late_success"]["policy"] == \
        "return"


def test_a_lost_return_task_is_caught_by_the_escalation_sweep_and_never_returns_twice(
        api, merchant, paytm_account, paytm, settings):
    # No worker runs here: the tasks enqueued on commit (verify, then return) are never run.
    merchant.late_success_policy = LateSuccessPolicy.RETURN
    merchant.save()
    payment = upi(api, "intent", amount=1500)
    expire(payment, settings)
    claimed = pay_in_the_app_after_expiry(paytm, payment, verified=False)
    assert (claimed.late_success, claimed.amount_captured) == (False, 0)

    checks = []
    assert verify_lost_claims(enqueue=lambda pk: checks.append(verify_claim(attempt_pk=pk))) == 1
    late = PaymentOperation.objects.get(pk=claimed.pk)
    assert checks == ["confirmed"] and (late.late_success, late.amount_captured) == (True, 1500)
    assert verify_lost_claims(enqueue=checks.append) == 0
    assert not late.refunds.exists()

    ran = []
    found = return_lost_late_successes(enqueue=lambda pk: ran.append(return_late_success(payment_pk=pk)))

    assert (found, ran) == (1, ["refunded"])
    assert late.refunds.get().amount == 1500
    assert return_lost_late_successes(enqueue=lambda pk: ran.append(pk)) == 0  # asked for already
    assert return_late_success(payment_pk=late.pk) == "nothing"  # a duplicate task refunds nothing more
    assert late.refunds.count() == 1


def test_a_success_webhook_the_banks_ledger_contradicts_changes_nothing(api, sandbox_account, sandbox, client,
                                                                        tasks_run_in_place):
    """An event out of order with the bank's ledger (a declined charge, then a signed
    charge.succeeded for it): the bank's lookup says failed, and the payment stays as it is."""
    declined = api.post("/v1/payments", payment_body(amount=1800, number=DECLINED_CARD), format="json").json()
    assert declined["status"] == "failed"
    attempt = PaymentAttempt.objects.get(payment__public_id=declined["id"])
    charge = requests.get(f"{sandbox.base_url}/v1/charges/{attempt.connector_reference}",
                          headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}, timeout=5).json()
    body = json.dumps({"id": "evt_out_of_order", "type": "charge.succeeded",
                       "data": {**charge, "status": "captured", "amount_captured": 1800}}).encode()

    answer = client.post(sandbox_account.webhook_path, data=body, content_type="application/json",
                         headers={signature.HEADER: signature.sign(SANDBOX_WEBHOOK_SECRET, body)})

    assert answer.status_code == 200
    payment = PaymentOperation.objects.get(public_id=declined["id"])
    attempt.refresh_from_db()
    assert (payment.status, payment.late_success, payment.amount_captured) == ("failed", False, 0)
    assert (attempt.status, attempt.next_sync_at) == ("failure", None)
    assert list(PaymentEvent.objects.filter(payment=payment, kind__startswith="late_success").order_by("id")
                .values_list("kind", flat=True)) == ["late_success_reported", "late_success_dismissed"]
    assert not MerchantEvent.objects.filter(payment=payment, type="payment.late_success").exists()
    assert api.post("/v1/refunds", {"payment": declined["id"]}, format="json").status_code == 409
