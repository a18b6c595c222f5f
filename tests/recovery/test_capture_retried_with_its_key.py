"""A capture retried with its ``Idempotency-Key`` after the first try failed once the capture was
reserved (payments/services/capture.py, ``resume_capture``): the retry hands the reservation to
the bank's word and never sends the capture a second time; it runs the capture only when the bank
says nothing was captured since the reservation.

Before, the key was freed whenever no object had been created, so the retry that the 503 or 502
asked for captured a second time (400 of 1000 became 800 at the bank), and a reservation whose
answer Pagoflex could not record stayed counted in flight for good.
"""

import psycopg
import pytest
from django.db import OperationalError, connection

import payments.services.capture as capture_services
from connectors.models import ConnectorCall
from payments.models import IdempotencyRecord, PaymentAttempt, PaymentOperation
from payments.services import sweeps
from tests.faults.conftest import needs_postgres
from tests.helpers import payment_body

pytestmark = pytest.mark.django_db(transaction=True)


def authorized(api, amount=1000):
    response = api.post("/v1/payments", payment_body(amount, capture_method="manual"), format="json")
    assert response.status_code == 201 and response.json()["status"] == "requires_capture", response.content
    return response.json()


def captures_sent() -> int:
    return ConnectorCall.objects.filter(flow="capture").count()


def amounts(payment_id: str) -> tuple:
    payment = PaymentOperation.objects.get(public_id=payment_id)
    return payment.amount_captured, payment.amount_capturing, payment.amount_capture_unknown


def test_a_capture_whose_record_failed_is_settled_by_the_bank_when_retried_never_sent_twice(
        api, sandbox_account, sandbox, monkeypatch):
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
    assert amounts(payment["id"]) == (0, 400, 0)  # reserved: the bank may have captured
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.reserved_amount, record.captured_before_reservation) == ("interrupted", 400, 0)

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content
    assert captures_sent() == 1  # the retry asked the bank; it did not capture again
    charge = sandbox.app.charges[retry.json()["connector_reference"]]
    assert charge["amount_captured"] == 400
    assert (retry.json()["status"], retry.json()["amount_captured"], retry.json()["amount_capturable"]) == (
        "partially_captured", 400, 600)
    assert amounts(payment["id"]) == (400, 0, 0)
    again = api.post(url, {"amount": 400}, format="json", **key)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == retry.json()

    rest = api.post(url, {"amount": 600}, format="json", HTTP_IDEMPOTENCY_KEY="capture-the-rest")
    assert rest.status_code == 200 and rest.json()["status"] == "succeeded", rest.content
    assert charge["amount_captured"] == 1000 and captures_sent() == 2


def test_a_capture_that_failed_before_reaching_the_bank_is_made_once_by_its_retry(api, sandbox_account,
                                                                                 monkeypatch):
    payment = authorized(api)
    real_run_flow = capture_services.run_flow

    def database_lost_before_sending(*args, **kwargs):
        raise OperationalError("the connection to the database was lost")

    monkeypatch.setattr(capture_services, "run_flow", database_lost_before_sending)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-never-sent"}
    assert api.post(url, {"amount": 400}, format="json", **key).status_code == 503
    monkeypatch.setattr(capture_services, "run_flow", real_run_flow)
    assert captures_sent() == 0 and amounts(payment["id"]) == (0, 400, 0)

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content
    # The bank's word: nothing captured since the reservation; the retry made the capture, once.
    assert captures_sent() == 1
    assert (retry.json()["amount_captured"], retry.json()["amount_capturable"]) == (400, 600)
    assert amounts(payment["id"]) == (400, 0, 0)


def test_a_capture_whose_answer_was_lost_is_asked_about_when_retried_with_its_key(api, sandbox_account, sandbox):
    payment = authorized(api)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-lost-answer"}
    sandbox.app.faults.arm(truncate=True)  # the bank captures, its answer is cut in half
    assert api.post(url, {"amount": 400}, format="json", **key).status_code == 502
    assert amounts(payment["id"]) == (0, 400, 400)  # an unknown outcome, reserved

    sandbox.app.faults.arm(status=500)  # the retry's sync: the bank cannot answer either
    pending = api.post(url, {"amount": 400}, format="json", **key)
    assert pending.status_code == 409 and pending.json()["error"]["code"] == "capture_pending", pending.content
    assert captures_sent() == 1 and amounts(payment["id"]) == (0, 400, 400)

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content
    assert captures_sent() == 1
    assert sandbox.app.charges[retry.json()["connector_reference"]]["amount_captured"] == 400
    assert (retry.json()["amount_captured"], retry.json()["amount_capturable"]) == (400, 600)  # the bank's word


def test_a_retry_that_finds_the_bank_unreachable_leaves_the_capture_to_the_sweep(api, sandbox_account, sandbox,
                                                                                  monkeypatch):
    payment = authorized(api)
    real_run_flow = capture_services.run_flow
    answers = []

    def captured_then_database_lost(*args, **kwargs):
        answers.append(real_run_flow(*args, **kwargs))  # the bank captures and answers
        raise OperationalError("the connection to the database was lost")

    monkeypatch.setattr(capture_services, "run_flow", captured_then_database_lost)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-settled-by-sweep"}
    assert api.post(url, {"amount": 400}, format="json", **key).status_code == 503
    monkeypatch.setattr(capture_services, "run_flow", real_run_flow)
    sandbox.app.faults.arm(status=500)
    assert api.post(url, {"amount": 400}, format="json", **key).status_code == 409  # handed over, still unknown
    assert amounts(payment["id"]) == (0, 400, 400)

    due = PaymentAttempt.objects.get(payment__public_id=payment["id"]).next_sync_at
    assert due is not None  # the sweep asks the bank again, with or without another retry
    results = []
    sweeps.sweep_due_attempts(
        enqueue=lambda pk, token: results.append(sweeps.sync_claimed_attempt(attempt_pk=pk, token=token)), now=due)
    assert results == ["synced"]
    assert amounts(payment["id"]) == (400, 0, 0) and captures_sent() == 1


def test_a_capture_the_bank_refused_frees_its_key_so_the_retry_runs_again(api, sandbox_account, sandbox):
    payment = authorized(api)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-refused"}
    sandbox.app.faults.arm(status=402)  # a definite refusal: nothing was captured
    refused = api.post(url, {"amount": 400}, format="json", **key)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "connector_bad_request", refused.content
    assert amounts(payment["id"]) == (0, 0, 0)

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content  # run again: nothing had happened at the bank
    assert captures_sent() == 2
    assert retry.json()["amount_captured"] == 400
