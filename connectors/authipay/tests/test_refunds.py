"""Refunds (ReturnTransaction): full, partial, several, too much, and rsync."""

from __future__ import annotations

import json

import pytest

from connectors.base import Flow
from connectors.errors import ConnectorDeclined, IntegrityMismatch

from .conftest import CREDENTIALS, after, payment, refund


@pytest.fixture
def charged(connector):
    data = payment(amount=1000)
    return after(data, connector.call(Flow.AUTHORIZE, data))


def test_full_refund_succeeds_and_is_its_own_gateway_transaction(connector, gateway, charged):
    data = refund(charged, charged.connector_reference, 1000)
    result = connector.call(Flow.REFUND, data)
    assert (result.status, result.amount, result.currency) == ("succeeded", 1000, "EUR")
    assert result.connector_reference == gateway.transactions("RETURN")[0].id != charged.connector_reference
    assert json.loads(connector.calls[-1].request_body) == {
        "requestType": "ReturnTransaction",
        "transactionAmount": {"total": 10, "currency": "EUR"},
        "merchantTransactionId": data.refund_id,
        "storeId": CREDENTIALS["store_id"],
    }


def test_several_partial_refunds_up_to_the_captured_amount(connector, gateway, charged):
    for amount in (300, 300, 400):
        assert connector.call(Flow.REFUND, refund(charged, charged.connector_reference, amount)).status == "succeeded"
    assert gateway.app.transactions[charged.connector_reference].refunded == 1000


def test_refund_above_what_is_left_is_refused_by_the_gateway(connector, gateway, charged):
    connector.call(Flow.REFUND, refund(charged, charged.connector_reference, 600))
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.REFUND, refund(charged, charged.connector_reference, 401))
    assert caught.value.status_code == 422
    assert "exceeds the captured amount" in caught.value.message
    assert gateway.app.transactions[charged.connector_reference].refunded == 600


def test_an_uncaptured_pre_auth_has_nothing_to_refund(connector):
    data = payment(amount=1000, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data))
    with pytest.raises(ConnectorDeclined, match="exceeds the captured amount"):
        connector.call(Flow.REFUND, refund(data, data.connector_reference, 100))


def test_a_partly_captured_pre_auth_refunds_up_to_its_captures(connector):
    data = payment(amount=1000, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data), amount_to_capture=500)
    connector.call(Flow.CAPTURE, data)
    assert connector.call(Flow.REFUND, refund(data, data.connector_reference, 500)).status == "succeeded"
    with pytest.raises(ConnectorDeclined):
        connector.call(Flow.REFUND, refund(data, data.connector_reference, 1))


def test_rsync_reads_the_refund_by_its_gateway_id(connector, charged):
    data = refund(charged, charged.connector_reference, 250)
    data.refund_connector_reference = connector.call(Flow.REFUND, data).connector_reference
    synced = connector.call(Flow.RSYNC, data)
    assert (synced.status, synced.amount) == ("succeeded", 250)
    assert f"/payments/{data.refund_connector_reference}?" in connector.calls[-1].url


def test_rsync_finds_a_refund_by_pagoflex_refund_id_when_the_answer_was_lost(connector, gateway, charged):
    data = refund(charged, charged.connector_reference, 250)
    connector.call(Flow.REFUND, data)
    synced = connector.call(Flow.RSYNC, data)  # no refund_connector_reference yet
    assert synced.status == "succeeded"
    assert synced.connector_reference == gateway.transactions("RETURN")[0].id


def test_rsync_reporting_another_amount_fails_the_integrity_check(connector, gateway, charged):
    data = refund(charged, charged.connector_reference, 250)
    data.refund_connector_reference = connector.call(Flow.REFUND, data).connector_reference
    gateway.app.faults.arm(wrong_amount=True)
    with pytest.raises(IntegrityMismatch):
        connector.call(Flow.RSYNC, data)
