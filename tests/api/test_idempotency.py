import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from connectors.models import ConnectorCall
from connectors.testing.json_values import json_leaves
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
        response = client.post("/v1/payments", payment_body(900), format="json", HTTP_IDEMPOTENCY_KEY="race-1")
        results.append((response.status_code, response.headers.get("Idempotent-Replayed"),
                        response.json().get("id") if response.status_code == 201 else None))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ConnectorCall.objects.filter(flow="authorize").count() == 1
    assert PaymentOperation.objects.count() == 1
    # One request made the payment; the others found it in progress (409) or, when the machine
    # was slow enough that they came after it ended, were answered its replay (same payment).
    made = [r for r in results if r[0] == 201 and r[1] != "true"]
    assert len(made) == 1
    assert {status for status, _, _ in results} <= {201, 409}
    assert {payment_id for status, _, payment_id in results if status == 201} == {made[0][2]}


def _stale_record(merchant, key, body, *, resource_id="", minutes=11):
    from datetime import timedelta

    from django.utils import timezone

    from payments.api.idempotency import request_fingerprint
    from payments.models import IdempotencyRecord

    fingerprint = request_fingerprint("POST", "/v1/payments", body)
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


# -- issue 16: parameters not bytes, keys per mode, nothing readable in the record ---------------


def _post_serialised(api, body, key, **dumps_options):
    import json

    return api.post("/v1/payments", data=json.dumps(body, **dumps_options), content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_parameters_serialised_otherwise_replay_the_first_answer(api, sandbox_account):
    body = payment_body(1200, metadata={"order": "A-1", "channel": "web"})
    first = _post_serialised(api, body, "reserialised")
    compact = _post_serialised(api, body, "reserialised", separators=(",", ":"))
    reordered = _post_serialised(api, dict(reversed(list(body.items()))), "reserialised", indent=2)
    assert first.status_code == compact.status_code == reordered.status_code == 201
    assert compact.headers["Idempotent-Replayed"] == reordered.headers["Idempotent-Replayed"] == "true"
    assert compact.json() == reordered.json() == first.json()
    assert PaymentOperation.objects.count() == 1


def test_a_nested_parameter_that_differs_is_still_another_request(api, sandbox_account):
    _post_serialised(api, payment_body(1200, metadata={"order": "A-1"}), "nested")
    response = _post_serialised(api, payment_body(1200, metadata={"order": "A-2"}), "nested")
    assert_error(response, 400, code="idempotency_key_reused", param="Idempotency-Key")


def test_the_fingerprint_is_keyed_and_leaves_the_security_code_out(settings):
    from payments.api.idempotency import request_fingerprint

    body = payment_body(1200)
    fingerprint = request_fingerprint("POST", "/v1/payments", body)
    settings.IDEMPOTENCY_FINGERPRINT_KEY = "another-server-secret"
    assert request_fingerprint("POST", "/v1/payments", body) != fingerprint  # no key, no fingerprint
    settings.IDEMPOTENCY_FINGERPRINT_KEY = settings.SECRET_KEY
    other_cvc = payment_body(1200)
    other_cvc["payment_method_data"]["card"]["cvc"] = "999"
    assert request_fingerprint("POST", "/v1/payments", other_cvc) == fingerprint  # the CVC is in no form
    assert request_fingerprint("POST", "/v1/payments/pay_x/confirm", body) != fingerprint


def test_a_key_used_in_test_mode_does_not_replay_in_live_mode(api, merchant, sandbox_account, make_account, sandbox):
    from payments.models import ApiKey

    make_account(merchant, base_url=sandbox.base_url, credentials=sandbox_account.get_credentials(), mode="live")
    test_answer = _post_serialised(api, payment_body(1200), "order-9").json()
    _, live_key = ApiKey.issue(merchant, mode="live")
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {live_key}")
    response = live.post("/v1/payments", payment_body(1200), format="json", HTTP_IDEMPOTENCY_KEY="order-9")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert response.json()["livemode"] is True and response.json()["id"] != test_answer["id"]
    assert PaymentOperation.objects.filter(mode="live").count() == PaymentOperation.objects.filter(
        mode="test").count() == 1
    # and each mode still replays its own answer
    again = live.post("/v1/payments", payment_body(1200), format="json", HTTP_IDEMPOTENCY_KEY="order-9")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == response.json()["id"]


IDEMPOTENT_CREATES = {
    "payment": ("/v1/payments", lambda account: payment_body(1200, description="order 42 for Jane Roe")),
    "webhook endpoint": ("/v1/webhook_endpoints", lambda account: {
        "url": "http://127.0.0.1:9/hooks", "enabled_events": ["payment.succeeded"], "description": "shop hook"}),
    "refund": ("/v1/refunds", None),
}


@pytest.mark.parametrize("kind", IDEMPOTENT_CREATES)
def test_the_stored_answer_is_encrypted_and_replays_whole(api, sandbox_account, kind):
    """Nothing of an answer (a webhook signing secret, a customer's name, an id) is readable in
    the record; a replay still returns the answer the merchant got, secret included."""
    import json

    from payments.models import IdempotencyRecord

    path, make_body = IDEMPOTENT_CREATES[kind]
    if make_body is None:
        paid = api.post("/v1/payments", payment_body(1500), format="json").json()
        body = {"payment": paid["id"], "amount": 300, "reason": "requested by the customer"}
    else:
        body = make_body(sandbox_account)
    key = f"enc-{list(IDEMPOTENT_CREATES).index(kind)}"
    first = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201, first.content
    record = IdempotencyRecord.objects.get(key=key)
    stored = json.dumps([getattr(record, f.attname) for f in IdempotencyRecord._meta.concrete_fields
                         if f.attname != "resource_id"], default=str)
    readable = [text for text in json_leaves(first.json()) if isinstance(text, str) and len(text) >= 6 and text in stored]
    assert readable == [], readable
    replay = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == first.json()
    if kind == "webhook endpoint":
        assert replay.json()["secret"].startswith("whsec_")


def test_an_answer_copied_to_another_record_does_not_decrypt(api, sandbox_account):
    from payments.models import IdempotencyRecord

    _post_serialised(api, payment_body(1200), "source")
    _post_serialised(api, payment_body(1300), "target")
    source = IdempotencyRecord.objects.get(key="source")
    IdempotencyRecord.objects.filter(key="target").update(response_encrypted=source.response_encrypted)
    response = _post_serialised(api, payment_body(1300), "target")
    assert_error(response, 500, code="internal_error")  # never another payment's answer
