"""PostgreSQL drops the request's connection mid-request (``pg_terminate_backend`` from another
connection, as a failover or an admin would): the request fails cleanly in the error shape,
keeps nothing, and a retry with the same Idempotency-Key completes it exactly once."""

import time

import psycopg
import pytest
from django.db import connection

import payments.services.payments as payment_services
from connectors.models import ConnectorCall
from payments.models import IdempotencyRecord, PaymentOperation
from tests.faults.conftest import needs_postgres
from tests.helpers import payment_body

pytestmark = pytest.mark.django_db(transaction=True)


def terminate_backend_of(django_connection) -> None:
    """Kill the server process behind ``django_connection`` from a separate connection and wait
    (bounded) until PostgreSQL has ended it."""
    with django_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = django_connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = params.pop("dbname", None) or django_connection.settings_dict["NAME"]
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")},
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "PostgreSQL did not end the backend in 10 s"
            time.sleep(0.02)


def test_a_connection_dropped_mid_request_fails_cleanly_and_the_retry_completes_once(api, sandbox_account,
                                                                                     monkeypatch, sandbox):
    needs_postgres()
    real_record_event = payment_services.record_event
    dropped = []

    def drop_the_connection_once(payment, kind, **kwargs):
        # After the payment's row is written and before the request is done.
        if kind == "created" and not dropped:
            dropped.append(True)
            terminate_backend_of(connection)
        return real_record_event(payment, kind, **kwargs)

    monkeypatch.setattr(payment_services, "record_event", drop_the_connection_once)
    charges_before = len(sandbox.app.charges)

    first = api.post("/v1/payments", payment_body(1000), format="json", HTTP_IDEMPOTENCY_KEY="order-42")

    assert dropped
    assert first.status_code == 503, first.content
    error = first.json()["error"]
    assert error["code"] == "service_unavailable" and "Idempotency-Key" in error["message"]
    assert first.headers["Retry-After"] == "1"
    # Nothing was kept: no payment half made, and the key is free for the retry.
    assert PaymentOperation.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0
    assert ConnectorCall.objects.count() == 0

    retry = api.post("/v1/payments", payment_body(1000), format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    assert retry.status_code == 201, retry.content
    assert retry.json()["status"] == "succeeded"
    again = api.post("/v1/payments", payment_body(1000), format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == retry.json()["id"]

    assert PaymentOperation.objects.count() == 1
    assert ConnectorCall.objects.filter(flow="authorize").count() == 1
    assert len(sandbox.app.charges) == charges_before + 1


def test_a_connection_dropped_after_the_bank_charged_is_resumed_by_the_retry_never_charged_twice(
        api, sandbox_account, monkeypatch, sandbox):
    needs_postgres()
    real_settle = payment_services.settle_or_fall_back
    dropped = []

    def drop_before_saving_the_outcome(**kwargs):
        # The bank has answered (and charged); Pagoflex loses its database before saving that.
        if not dropped:
            dropped.append(True)
            terminate_backend_of(connection)
        return real_settle(**kwargs)

    monkeypatch.setattr(payment_services, "settle_or_fall_back", drop_before_saving_the_outcome)
    charges_before = len(sandbox.app.charges)

    first = api.post("/v1/payments", payment_body(1000), format="json", HTTP_IDEMPOTENCY_KEY="order-77")
    assert dropped and first.status_code == 503, first.content
    # The payment exists and its key remembers it, interrupted: a retry must not create another.
    record = IdempotencyRecord.objects.get(key="order-77")
    assert record.state == IdempotencyRecord.State.INTERRUPTED and record.resource_id.startswith("pay_")

    retry = api.post("/v1/payments", payment_body(1000), format="json", HTTP_IDEMPOTENCY_KEY="order-77")
    assert retry.status_code == 201, retry.content
    assert retry.json()["id"] == record.resource_id
    assert retry.json()["status"] == "succeeded"  # learnt from the bank by sync, not by charging again
    assert PaymentOperation.objects.count() == 1
    assert ConnectorCall.objects.filter(flow="authorize").count() == 1
    assert len(sandbox.app.charges) == charges_before + 1
    again = api.post("/v1/payments", payment_body(1000), format="json", HTTP_IDEMPOTENCY_KEY="order-77")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == retry.json()
