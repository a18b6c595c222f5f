"""Fallback end to end: the API, the services, two sandbox banks on loopback.

A safe failure (bank unreachable, or a soft decline) moves the payment to the next account as
a new attempt; an unknown outcome or a hard decline never does, and the second bank then sees
no request at all.
"""

from connectors.testing.simulator import unused_port_url
from payments.models import PaymentAttempt, PaymentEvent, PaymentOperation
from tests.helpers import DECLINED_CARD, payment_body
from tests.routing.conftest import SANDBOX_CREDENTIALS, charge_requests, priority

SOFT_DECLINE_CARD = "4000000000000119"  # sandbox: processing_error, retryable elsewhere


def pay(api, **body):
    response = api.post("/v1/payments", payment_body(**body), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_unreachable_first_bank_falls_back_to_the_second_which_charges(
    api, merchant, make_account, account_b, second_sandbox, put_routing
):
    down = make_account(merchant, base_url=unused_port_url(), credentials=SANDBOX_CREDENTIALS, label="down bank")
    assert put_routing({"default": priority(down, account_b)}).status_code == 200

    payment = pay(api)

    assert payment["status"] == "succeeded" and payment["amount_captured"] == 1050
    assert [(a["connector_account"], a["status"], a["error_code"], a["fallback"]) for a in payment["attempts"]] == [
        (down.public_id, "failure", "connector_unavailable", False),
        (account_b.public_id, "charged", "", True),
    ]
    assert payment["connector_reference"] == payment["attempts"][1]["connector_reference"]
    assert len(charge_requests(second_sandbox)) == 1
    second = PaymentAttempt.objects.get(public_id=payment["attempts"][1]["id"])
    assert second.routing_decision["fallback_from"] == payment["attempts"][0]["id"]
    assert second.routing_decision["candidates"] == [down.public_id, account_b.public_id]
    assert PaymentEvent.objects.filter(payment__public_id=payment["id"], kind="routing_fallback").count() == 1
    # The payment never showed "failed" on the way: it went from processing straight to succeeded.
    moves = list(
        PaymentEvent.objects.filter(payment__public_id=payment["id"], kind="status_change").values_list(
            "to_status", flat=True
        )
    )
    assert "failed" not in moves and moves[-1] == "succeeded"


def test_bank_answering_503_counts_as_unreachable_and_falls_back(
    api, account_a, account_b, sandbox, second_sandbox, put_routing
):
    put_routing({"default": priority(account_a, account_b)})
    sandbox.app.faults.arm(status=503)

    payment = pay(api)

    assert payment["status"] == "succeeded"
    assert [a["connector_account"] for a in payment["attempts"]] == [account_a.public_id, account_b.public_id]
    assert len(charge_requests(second_sandbox)) == 1


def test_soft_decline_is_retried_on_the_next_bank_as_a_new_attempt(
    api, account_a, account_b, sandbox, second_sandbox, put_routing
):
    put_routing({"default": priority(account_a, account_b)})

    payment = pay(api, number=SOFT_DECLINE_CARD)

    # The test card declines on every sandbox bank: both attempts are tried, the payment fails last.
    assert payment["status"] == "failed"
    assert [(a["connector_account"], a["error_code"], a["fallback"]) for a in payment["attempts"]] == [
        (account_a.public_id, "processing_error", False),
        (account_b.public_id, "processing_error", True),
    ]
    assert len(charge_requests(sandbox)) == 1 and len(charge_requests(second_sandbox)) == 1
    assert payment["last_payment_error"]["code"] == "processing_error"


def test_fallback_stops_at_the_merchants_limit(api, merchant, make_account, account_b, second_sandbox, put_routing):
    merchant.max_fallback_attempts = 1
    merchant.save()
    down = [
        make_account(merchant, base_url=unused_port_url(), credentials=SANDBOX_CREDENTIALS, label=f"down {i}")
        for i in range(2)
    ]
    put_routing({"default": priority(*down, account_b)})

    payment = pay(api)

    assert payment["status"] == "failed" and payment["last_payment_error"]["code"] == "connector_unavailable"
    assert [a["connector_account"] for a in payment["attempts"]] == [down[0].public_id, down[1].public_id]
    assert second_sandbox.app.requests_seen == []


def test_unknown_outcome_stays_pending_and_is_never_sent_elsewhere(
    api, account_a, account_b, sandbox, second_sandbox, put_routing, settings
):
    settings.CONNECTOR_READ_TIMEOUT = 0.3
    put_routing({"default": priority(account_a, account_b)})
    sandbox.app.faults.arm(delay=1.0)

    payment = pay(api)

    assert payment["status"] == "processing"
    assert [(a["connector_account"], a["status"]) for a in payment["attempts"]] == [(account_a.public_id, "pending")]
    assert second_sandbox.app.requests_seen == []
    attempt = PaymentAttempt.objects.get(public_id=payment["attempts"][0]["id"])
    assert attempt.next_sync_at is not None  # sync will find out what the first bank did


def test_hard_decline_fails_the_payment_without_trying_another_bank(
    api, account_a, account_b, second_sandbox, put_routing
):
    put_routing({"default": priority(account_a, account_b)})

    payment = pay(api, number=DECLINED_CARD)

    assert payment["status"] == "failed" and payment["last_payment_error"]["code"] == "insufficient_funds"
    assert len(payment["attempts"]) == 1
    assert second_sandbox.app.requests_seen == []


def test_a_requested_connector_overrides_routing_and_is_not_fallen_back_from(
    api, merchant, make_account, account_b, second_sandbox, put_routing
):
    down = make_account(merchant, base_url=unused_port_url(), credentials=SANDBOX_CREDENTIALS, label="down bank")
    put_routing({"default": priority(account_b, down)})

    payment = pay(api, connector=down.public_id)

    assert payment["status"] == "failed"
    assert [a["connector_account"] for a in payment["attempts"]] == [down.public_id]
    assert PaymentAttempt.objects.get(public_id=payment["attempts"][0]["id"]).routing_decision["outcome"] == "requested"
    assert second_sandbox.app.requests_seen == []


def test_the_attempt_chain_is_listed_in_order_on_retrieve(
    api, merchant, make_account, account_a, account_b, put_routing
):
    down = make_account(merchant, base_url=unused_port_url(), credentials=SANDBOX_CREDENTIALS, label="down bank")
    put_routing(
        {
            "rules": [
                {
                    "name": "euro cards",
                    "conditions": {"currency": ["EUR"]},
                    "outcome": priority(down, account_b, account_a),
                }
            ]
        }
    )
    created = pay(api)

    fetched = api.get(f"/v1/payments/{created['id']}").json()

    assert [a["id"] for a in fetched["attempts"]] == [a["id"] for a in created["attempts"]]
    assert [(a["status"], a["fallback"], a["routing_rule"]) for a in fetched["attempts"]] == [
        ("failure", False, "euro cards"),
        ("charged", True, "euro cards"),
    ]
    assert fetched["connector"] == "sandbox" and fetched["status"] == "succeeded"
    assert PaymentOperation.objects.get(public_id=created["id"]).attempts.count() == 2
