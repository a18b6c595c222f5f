"""Migrations 0010 and 0011 erase what the records made before the keyed fingerprint gave away: the
unkeyed SHA-256 of request bodies that held card numbers, and answers kept in clear."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("payments", "0009_late_success_and_escalation")]
AFTER = [("payments", "0011_idempotency_encrypted_answer")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_records_lose_their_unkeyed_fingerprints_and_clear_answers_and_take_their_objects_mode(
        api, sandbox_account):
    from tests.helpers import assert_error, payment_body

    # an interrupted live payment (resource known), and a finished test request with a secret answer
    old = migrate(BEFORE)
    Merchant = old.get_model("payments", "Merchant")
    merchant = Merchant.objects.get()
    live_payment = old.get_model("payments", "PaymentOperation").objects.create(
        merchant=merchant, mode="live", amount=100, currency="EUR", status="processing")
    unkeyed = hashlib.sha256(b'POST /v1/payments\n{"card": {"number": "4242424242424242"}}').hexdigest()
    Record = old.get_model("payments", "IdempotencyRecord")
    Record.objects.create(merchant=merchant, key="k-live", request_fingerprint=unkeyed, state="interrupted",
                          resource_id=live_payment.public_id)
    Record.objects.create(merchant=merchant, key="k-none", request_fingerprint=unkeyed, state="completed",
                          response_status=201, response_body={"secret": "whsec_in_clear"})

    new = migrate(AFTER)
    rows = {r.key: r for r in new.get_model("payments", "IdempotencyRecord").objects.all()}
    assert {r.request_fingerprint for r in rows.values()} == {""}
    assert rows["k-live"].mode == "live" and rows["k-none"].mode == "live"
    assert all(r.response_encrypted == "" for r in rows.values())
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM payments_idempotencyrecord")
        dump = repr(cursor.fetchall())
    assert unkeyed not in dump and "whsec_in_clear" not in dump

    # a retry with an old key is refused (never run twice), naming what it created
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from payments.models import ApiKey

    _, live_key = ApiKey.issue(sandbox_account.merchant, mode="live")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {live_key}")
    error = assert_error(api.post("/v1/payments", payment_body(100), format="json", HTTP_IDEMPOTENCY_KEY="k-live"),
                         400, code="idempotency_key_reused", param="Idempotency-Key")
    assert live_payment.public_id in error["message"]
