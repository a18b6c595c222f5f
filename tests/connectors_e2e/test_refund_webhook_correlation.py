"""A refund event is matched to its refund and gives it the refund's own bank id, never the id of
the payment it refunds (issue 15, failing input 3, the webhook side)."""

import time

import pytest

from payments.models import Refund
from tests.connectors_e2e.test_banco_x import pay, wait_for_status
from webhooks.models import WebhookEvent, WebhookOutcome

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_refund(public_id, timeout=5.0) -> Refund:
    deadline = time.monotonic() + timeout
    while Refund.objects.get(public_id=public_id).status == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    return Refund.objects.get(public_id=public_id)


def test_a_refund_whose_answer_was_cut_takes_the_banks_refund_id_from_its_webhook(api, bancox_account, bank):
    simulator = bank[0]
    payment = pay(api)
    wait_for_status(payment["id"], {"succeeded"})
    attempt_reference = payment["connector_reference"]

    simulator.faults.arm(truncate=True)  # Banco X creates the refund, its answer is cut in half
    cut = api.post("/v1/refunds", {"payment": payment["id"], "amount": 300}, format="json").json()
    assert cut["status"] == "pending"
    whole = api.post("/v1/refunds", {"payment": payment["id"], "amount": 200}, format="json").json()

    first, second = wait_for_refund(cut["id"]), wait_for_refund(whole["id"])

    bank_ids = {refund.ref: refund.id for refund in simulator.refunds.values()}
    assert (first.status, first.connector_reference) == ("succeeded", bank_ids[cut["id"]])
    assert (second.status, second.connector_reference) == ("succeeded", bank_ids[whole["id"]])
    assert attempt_reference not in (first.connector_reference, second.connector_reference)
    outcomes = WebhookEvent.objects.filter(refund__isnull=False).values_list("refund__public_id", "outcome")
    assert sorted(outcomes) == sorted([(cut["id"], WebhookOutcome.PROCESSED), (whole["id"], WebhookOutcome.PROCESSED)])
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 500
