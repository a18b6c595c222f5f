import json
import time

import pytest
import requests

from connectors.base import Flow
from connectors.errors import ConnectorBadRequest
from connectors.sandbox import signature
from connectors.sandbox.tests.factories import WEBHOOK_SECRET, follow_up, payment, refund, wait_for
from payments.statuses import AttemptStatus, RefundStatus


def received(merchant, index=0):
    """(lower-cased headers, body) of a webhook the merchant received, as Pagoflex sees them."""
    request = wait_for(lambda: len(merchant.webhooks) > index and merchant.webhooks)[index]
    return {name.lower(): value for name, value in request.headers.items()}, request.body


def settle(bank, kind, object_id, outcome="succeeded"):
    answer = requests.post(
        f"{bank.base_url}/__control__/{kind}/{object_id}/settle", json={"outcome": outcome}, timeout=5
    )
    answer.raise_for_status()
    return answer.json()


def test_settled_pending_charge_sends_a_signed_webhook_that_verifies(connector, bank, merchant):
    data = payment("4000000000000259", webhook_url=f"{merchant.base_url}/hooks")
    started = connector.call(Flow.AUTHORIZE, data)

    settle(bank, "charges", started.connector_reference)
    headers, body = received(merchant)
    event = connector.parse_webhook(headers=headers, body=body)

    assert connector.verify_webhook(headers=headers, body=body) is True
    assert (event.event_type, event.connector_reference, event.status) == (
        "charge.succeeded",
        started.connector_reference,
        AttemptStatus.CHARGED,
    )
    assert (event.amount, event.currency, event.is_refund) == (1050, "EUR", False)
    assert event.attempt_reference == data.attempt_reference
    assert event.event_id.startswith("evt_")


def test_failed_settlement_sends_a_failure_webhook(connector, bank, merchant):
    data = payment("4000000000000259", webhook_url=f"{merchant.base_url}/hooks")
    started = connector.call(Flow.AUTHORIZE, data)

    settle(bank, "charges", started.connector_reference, "failed")
    headers, body = received(merchant)
    event = connector.parse_webhook(headers=headers, body=body)

    assert (event.event_type, event.status, event.code) == ("charge.failed", AttemptStatus.FAILURE, "do_not_honor")


def test_psync_settling_a_pending_charge_also_sends_the_webhook(connector, merchant):
    data = payment("4000000000000259", manual=True, webhook_url=f"{merchant.base_url}/hooks")
    follow_up(data, connector.call(Flow.AUTHORIZE, data))

    connector.call(Flow.PSYNC, data)
    headers, body = received(merchant)

    assert connector.parse_webhook(headers=headers, body=body).status == AttemptStatus.AUTHORIZED


def test_three_ds_completion_sends_the_webhook(connector, merchant):
    data = payment("4000000000003220", webhook_url=f"{merchant.base_url}/hooks")
    started = connector.call(Flow.AUTHORIZE, data)

    requests.post(started.next_action.url, data={"outcome": "fail"}, allow_redirects=False, timeout=5)
    headers, body = received(merchant)
    event = connector.parse_webhook(headers=headers, body=body)

    assert (event.status, event.code) == (AttemptStatus.FAILURE, "authentication_failed")


def test_refund_webhook_echoes_the_refund_and_attempt_references(connector, bank, merchant):
    data = payment("4000000000007726", webhook_url=f"{merchant.base_url}/hooks")
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    refund_data = refund(data, 400)
    started = connector.call(Flow.REFUND, refund_data)

    settle(bank, "refunds", started.connector_reference)
    headers, body = received(merchant)
    event = connector.parse_webhook(headers=headers, body=body)

    assert connector.verify_webhook(headers=headers, body=body)
    assert (event.is_refund, event.status, event.event_type) == (True, RefundStatus.SUCCEEDED, "refund.succeeded")
    assert (event.connector_reference, event.refund_reference, event.attempt_reference) == (
        started.connector_reference,
        refund_data.refund_id,
        data.attempt_reference,
    )
    assert event.amount == 400


def test_an_unreachable_webhook_url_does_not_break_settlement(connector, bank, sim):
    from connectors.testing.simulator import unused_port_url

    data = payment("4000000000000259", webhook_url=f"{unused_port_url()}/hooks")
    started = connector.call(Flow.AUTHORIZE, data)

    settled = settle(bank, "charges", started.connector_reference)

    assert settled["status"] == "captured"
    assert sim.webhook_deliveries[0]["error"] == "ConnectionError"


def _signed(body: bytes, *, secret=WEBHOOK_SECRET, timestamp=None):
    return {"sandbox-signature": signature.sign(secret, body, timestamp)}


BODY = json.dumps(
    {
        "id": "evt_1",
        "type": "charge.succeeded",
        "data": {
            "id": "ch_1",
            "object": "charge",
            "status": "captured",
            "amount": 100,
            "currency": "EUR",
            "amount_captured": 100,
            "reference": "att_1",
        },
    }
).encode()


def test_webhook_with_a_good_signature_verifies(connector):
    assert connector.verify_webhook(headers=_signed(BODY), body=BODY) is True


def test_webhook_signed_with_another_secret_is_rejected(connector):
    assert connector.verify_webhook(headers=_signed(BODY, secret="whsec_other"), body=BODY) is False


def test_webhook_whose_body_was_changed_is_rejected(connector):
    headers = _signed(BODY)

    assert connector.verify_webhook(headers=headers, body=BODY.replace(b"100", b"999")) is False


def test_webhook_older_than_five_minutes_is_rejected(connector):
    stale = int(time.time()) - 301

    assert connector.verify_webhook(headers=_signed(BODY, timestamp=stale), body=BODY) is False
    assert connector.verify_webhook(headers=_signed(BODY, timestamp=stale + 60), body=BODY) is True


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=deadbeef", f"t={int(time.time())}"])
def test_webhook_with_a_missing_or_malformed_signature_is_rejected(connector, header):
    assert connector.verify_webhook(headers={"sandbox-signature": header}, body=BODY) is False


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "evt_1", "type": "x", "data": {"object": "card"}}'])
def test_a_body_that_is_not_a_sandbox_event_cannot_be_parsed(connector, body):
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.parse_webhook(headers={}, body=body)
    assert caught.value.code == "invalid_webhook"
