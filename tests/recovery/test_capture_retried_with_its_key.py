"""A capture retried with its ``Idempotency-Key`` after the first try failed once the capture was
reserved (payments/services/capture.py, ``interrupted_capture``): the first try may have captured,
so the retry never sends the capture again; it is answered 409 ``capture_interrupted``, and the
payment's amounts say what the bank did.

Before, the key was freed whenever no object had been created, so the retry that the 503 or 502
asked for captured a second time: a partial capture of 400 of 1000 became 800 at the bank.
"""

import psycopg
import pytest
from django.db import connection

import payments.services.capture as capture_services
from connectors.models import ConnectorCall
from payments.models import IdempotencyRecord, PaymentOperation
from tests.faults.conftest import needs_postgres
from tests.helpers import payment_body

pytestmark = pytest.mark.django_db(transaction=True)


def authorized(api, amount=1000):
    response = api.post("/v1/payments", payment_body(amount, capture_method="manual"), format="json")
    assert response.status_code == 201 and response.json()["status"] == "requires_capture", response.content
    return response.json()


def captures_sent() -> int:
    return ConnectorCall.objects.filter(flow="capture").count()


def assert_interrupted(answer):
    assert answer.status_code == 409, answer.content
    assert answer.json()["error"]["code"] == "capture_interrupted"


def test_a_capture_whose_record_failed_is_never_sent_again_by_its_retry(api, sandbox_account, sandbox,
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
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.resource_id) == ("interrupted", payment["id"])

    for _ in range(2):  # every retry gets the same answer, and nothing is sent
        assert_interrupted(api.post(url, {"amount": 400}, format="json", **key))
    assert captures_sent() == 1
    assert sandbox.app.charges[payment["connector_reference"]]["amount_captured"] == 400  # once, at the bank


def test_a_capture_whose_answer_was_lost_is_not_resent_and_the_bank_settles_it(api, sandbox_account, sandbox):
    payment = authorized(api)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-lost-answer"}
    sandbox.app.faults.arm(truncate=True)  # the bank captures, its answer is cut in half
    assert api.post(url, {"amount": 400}, format="json", **key).status_code == 502

    assert_interrupted(api.post(url, {"amount": 400}, format="json", **key))
    assert captures_sent() == 1
    synced = api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()
    assert (synced["amount_captured"], synced["amount_capturable"]) == (400, 600)  # the bank's word
    assert sandbox.app.charges[synced["connector_reference"]]["amount_captured"] == 400
    rest = api.post(url, {"amount": 600}, format="json", HTTP_IDEMPOTENCY_KEY="capture-the-rest")
    assert rest.status_code == 200 and rest.json()["status"] == "succeeded", rest.content


def test_a_capture_the_bank_refused_frees_its_key_so_the_retry_runs_again(api, sandbox_account, sandbox):
    payment = authorized(api)
    url, key = f"/v1/payments/{payment['id']}/capture", {"HTTP_IDEMPOTENCY_KEY": "capture-refused"}
    sandbox.app.faults.arm(status=402)  # a definite refusal: nothing was captured
    refused = api.post(url, {"amount": 400}, format="json", **key)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "connector_bad_request", refused.content
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_capturing == 0

    retry = api.post(url, {"amount": 400}, format="json", **key)
    assert retry.status_code == 200, retry.content  # run again: nothing had happened at the bank
    assert captures_sent() == 2 and retry.json()["amount_captured"] == 400
