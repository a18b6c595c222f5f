"""After a journey through every kind of payment the sandbox bank knows, a dump of the whole
database (every table, every column but the encrypted ones) holds no test card number, no CVV
value and no connector secret."""

import json

import pytest
from django.db import connection

from conftest import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from payments.models import PaymentOperation
from tests.helpers import (
    APPROVED_CARD,
    DECLINED_CARD,
    PENDING_CARD,
    PENDING_REFUND_CARD,
    THREE_DS_CARD,
    payment_body,
)
from tests.security.plugin import CVV_RE, scan

pytestmark = pytest.mark.django_db(transaction=True)

# Ciphertext columns: AES-GCM output, checked elsewhere (tests/framework/test_crypto.py).
ENCRYPTED_COLUMNS = {"credentials_encrypted", "token_encrypted", "secret_encrypted"}


def database_dump() -> str:
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                kept = {c: str(v) for c, v in zip(columns, row, strict=True) if c not in ENCRYPTED_COLUMNS}
                lines.append(f"{table} {json.dumps(kept)}")
    return "\n".join(lines)


def test_no_card_number_cvv_or_connector_secret_is_at_rest_after_a_full_journey(api, sandbox_account, sandbox):
    cards = (APPROVED_CARD, DECLINED_CARD, PENDING_CARD, THREE_DS_CARD, PENDING_REFUND_CARD)
    for index, number in enumerate(cards):
        api.post("/v1/payments", payment_body(1500, number=number), format="json", HTTP_IDEMPOTENCY_KEY=f"order-{index}")
    manual = api.post("/v1/payments", payment_body(2500, capture_method="manual"), format="json").json()
    api.post(f"/v1/payments/{manual['id']}/capture", {"amount": 1000}, format="json")
    for payment in PaymentOperation.objects.filter(status__in=["succeeded", "partially_captured"]):
        api.post("/v1/refunds", {"payment": payment.public_id, "amount": 500}, format="json")
    pending = PaymentOperation.objects.get(card_last4=PENDING_CARD[-4:])
    api.get(f"/v1/payments/{pending.public_id}?force_sync=true")

    dump = database_dump()

    assert PaymentOperation.objects.count() == 6 and "4242" in dump  # the last four are kept
    for needle in {*scan().cards, SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET}:
        assert needle not in dump, f"…{needle[-4:]} is stored in clear"
    assert not CVV_RE.search(dump), CVV_RE.search(dump).group(0)
