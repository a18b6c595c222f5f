import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from connectors.models import ConnectorCall
from payments.models import PaymentOperation
from tests.helpers import assert_error, payment_body


def test_same_key_same_body_replays_without_calling_the_connector_again(api, sandbox_account):
    first = api.post("/v1/payments", payment_body(1200), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    calls = ConnectorCall.objects.count()
    second = api.post("/v1/payments", payment_body(1200), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert ConnectorCall.objects.count() == calls == 1
    assert PaymentOperation.objects.count() == 1


def test_same_key_with_another_body_is_refused(api, sandbox_account):
    api.post("/v1/payments", payment_body(1200), format="json", HTTP_IDEMPOTENCY_KEY="order-2")
    response = api.post("/v1/payments", payment_body(1300), format="json", HTTP_IDEMPOTENCY_KEY="order-2")
    error = assert_error(response, 400, code="idempotency_key_reused", param="Idempotency-Key")
    assert error["type"] == "idempotency_error"
    assert PaymentOperation.objects.count() == 1


def test_keys_are_scoped_to_the_merchant(api, sandbox_account, make_merchant, make_account, sandbox):
    api.post("/v1/payments", payment_body(1200), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other_merchant, other_key = make_merchant("Other")
    make_account(other_merchant, base_url=sandbox.base_url,
                 credentials=sandbox_account.get_credentials())
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    response = other.post("/v1/payments", payment_body(1200), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert PaymentOperation.objects.count() == 2


def test_a_capture_replayed_with_its_key_captures_once(api, sandbox_account):
    payment = api.post("/v1/payments", payment_body(1000, capture_method="manual"), format="json").json()
    url = f"/v1/payments/{payment['id']}/capture"
    first = api.post(url, {"amount": 400}, format="json", HTTP_IDEMPOTENCY_KEY="cap-1")
    second = api.post(url, {"amount": 400}, format="json", HTTP_IDEMPOTENCY_KEY="cap-1")
    assert first.json() == second.json()
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_captured == 400


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_exactly_one_connector_call(merchant_and_key, sandbox_account, sandbox):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row-level concurrency (SQLite serialises writers)")
    raw_key = merchant_and_key[1]
    sandbox.app.faults.arm(count=1, delay=0.5)  # keep the first request in flight while the others arrive
    results = []
    barrier = threading.Barrier(8)

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        barrier.wait()
        results.append(client.post("/v1/payments", payment_body(900), format="json",
                                   HTTP_IDEMPOTENCY_KEY="race-1").status_code)
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ConnectorCall.objects.filter(flow="authorize").count() == 1
    assert PaymentOperation.objects.count() == 1
    assert sorted(results).count(201) == 1
    assert set(results) <= {201, 409}


def _stale_record(merchant, key, body, *, resource_id="", minutes=11):
    import hashlib
    import json
    from datetime import timedelta

    from django.utils import timezone

    from payments.models import IdempotencyRecord

    raw = json.dumps(body).encode()
    fingerprint = hashlib.sha256(b"POST /v1/payments\n" + raw).hexdigest()
    return IdempotencyRecord.objects.create(merchant=merchant, key=key, request_fingerprint=fingerprint,
                                            resource_id=resource_id,
                                            created_at=timezone.now() - timedelta(minutes=minutes))


def _post_raw(api, body, key):
    import json

    return api.post("/v1/payments", data=json.dumps(body), content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY=key)


def test_a_key_still_in_progress_is_refused_while_its_request_may_be_running(api, merchant, sandbox_account):
    body = payment_body(500)
    _stale_record(merchant, "fresh", body, minutes=1)
    assert_error(_post_raw(api, body, "fresh"), 409, code="idempotency_request_in_progress")
    assert PaymentOperation.objects.count() == 0


def test_a_key_left_in_progress_by_a_dead_worker_that_created_nothing_runs_again(api, merchant, sandbox_account):
    body = payment_body(500)
    _stale_record(merchant, "orphan", body)
    response = _post_raw(api, body, "orphan")
    assert response.status_code == 201 and response.json()["status"] == "succeeded"
    assert PaymentOperation.objects.count() == 1
    assert _post_raw(api, body, "orphan").headers.get("Idempotent-Replayed") == "true"


def test_a_key_left_in_progress_by_a_dead_worker_resumes_its_payment_without_charging_again(
        api, merchant, sandbox_account, sandbox):
    body = payment_body(500)
    first = _post_raw(api, body, "first-try").json()  # the charge the dead worker made
    charges = len(sandbox.app.charges)
    _stale_record(merchant, "dead-worker", body, resource_id=first["id"])
    response = _post_raw(api, body, "dead-worker")
    assert response.status_code == 201 and response.json()["id"] == first["id"]
    assert len(sandbox.app.charges) == charges
    assert PaymentOperation.objects.count() == 1
