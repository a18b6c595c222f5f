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
