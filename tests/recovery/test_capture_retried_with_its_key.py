"""A capture retried with its ``Idempotency-Key`` after the first try failed once the capture was
reserved: the retry asks the bank what happened (a sync) and never sends the capture again, and a
capture whose answer Pagoflex itself could not record is settled by the bank's captured total once
the connector's timeouts have passed (the attempt sweep), as a lost answer is.

Before, the key was freed whenever no object had been created, so the retry that the 503 or 502
asked for captured a second time: a partial capture of 400 of 1000 left 800 captured at the bank.
"""

import psycopg
import pytest
from django.db import connection
from django.db.models import F

import payments.services.capture as capture_services
from connectors.models import ConnectorCall
from payments.models import IdempotencyRecord, PaymentOperation
from payments.services import sweeps
from payments.services.outcomes import in_flight_grace
from tests.faults.conftest import needs_postgres
from tests.helpers import payment_body

pytestmark = pytest.mark.django_db(transaction=True)


def authorized(api, amount=1000):
    response = api.post("/v1/payments", payment_body(amount, capture_method="manual"), format="json")
    assert response.status_code == 201 and response.json()["status"] == "requires_capture", response.content
    return response.json()


def captures_sent() -> int:
    return ConnectorCall.objects.filter(flow="capture").count()


def sweep_as_if_the_timeouts_had_passed(payment_id: str) -> list:
    PaymentOperation.objects.filter(public_id=payment_id).update(
        capture_started_at=F("capture_started_at") - in_flight_grace())
    results = []
    sweeps.sweep_due_attempts(
        enqueue=lambda pk, token: results.append(sweeps.sync_claimed_attempt(attempt_pk=pk, token=token)))
    return results


def test_a_capture_whose_record_failed_is_asked_about_then_settled_never_sent_twice(api, sandbox_account, sandbox,
                                                                                    monkeypatch):
    """The bank captures; another session (a migration, psql) holds the payments table, so the
    write that records the capture waits past the lock bound and the request is answered 503."""
    needs_postgres()
    payment = authorized(api)
    real_run_flow, blockers = capture_services.run_flow, []

    def bank_then_a_lock(*args, **kwargs):
        response = real_run_flow(*args, **kwargs)
        params = connection.get_connection_params()
        blocker = psycopg.connect(**{k: v for k, v in params.items() if k in ("host", "port", "user", "password")},
                                  dbname=connection.settings_dict["NAME"])
        blocker.execute("LOCK TABLE payments_paymentoperation IN ACCESS EXCLUSIVE MODE")
        blockers.append(blocker)
        return response

    monkeypatch.setattr(capture_services, "run_flow", bank_then_a_lock)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-400-once"}
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '500ms'")  # DATABASE_LOCK_TIMEOUT, 3 s in production
    try:
        first = api.post(url, {"amount": 400}, format="json", **key)
    finally:
        for blocker in blockers:
            blocker.close()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    monkeypatch.setattr(capture_services, "run_flow", real_run_flow)

    assert first.status_code == 503 and first.json()["error"]["code"] == "service_unavailable", first.content
    held = PaymentOperation.objects.get(public_id=payment["id"])
    assert (held.amount_captured, held.amount_capturing) == (0, 400)  # reserved: the bank may have captured
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.INTERRUPTED

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content
    assert captures_sent() == 1  # the retry asked the bank; it did not capture again
    charge = sandbox.app.charges[retry.json()["connector_reference"]]
    assert charge["amount_captured"] == 400
    # Still within the connector's timeouts, the capture could be on its way: it stays reserved.
    assert retry.json()["amount_capturable"] == 600

    assert sweep_as_if_the_timeouts_had_passed(payment["id"]) == ["synced"]
    settled = PaymentOperation.objects.get(public_id=payment["id"])
    assert (settled.status, settled.amount_captured, settled.amount_capturing, settled.amount_capture_unknown) == (
        "partially_captured", 400, 0, 0)
    rest = api.post(url, {"amount": 600}, format="json", HTTP_IDEMPOTENCY_KEY="capture-the-rest")
    assert rest.status_code == 200 and rest.json()["status"] == "succeeded", rest.content
    assert charge["amount_captured"] == 1000 and captures_sent() == 2


def test_a_capture_whose_answer_was_lost_is_asked_about_when_retried_with_its_key(api, sandbox_account, sandbox):
    payment = authorized(api)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-lost-answer"}
    sandbox.app.faults.arm(truncate=True)  # the bank captures, its answer is cut in half
    assert api.post(url, {"amount": 400}, format="json", **key).status_code == 502

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content
    assert captures_sent() == 1
    assert sandbox.app.charges[retry.json()["connector_reference"]]["amount_captured"] == 400
    assert (retry.json()["amount_captured"], retry.json()["amount_capturable"]) == (400, 600)  # the bank's word


def test_a_capture_the_bank_refused_frees_its_key_so_the_retry_runs_again(api, sandbox_account, sandbox):
    payment = authorized(api)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-refused"}
    sandbox.app.faults.arm(status=402)  # a definite refusal: nothing was captured
    refused = api.post(url, {"amount": 400}, format="json", **key)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "connector_bad_request", refused.content
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_capturing == 0

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content  # run again: nothing had happened at the bank
    assert captures_sent() == 2
    assert retry.json()["amount_captured"] == 400
