"""Refund and refund sync over real HTTP against the Paytm simulator."""

import json

import pytest

from connectors.base import Flow
from connectors.errors import ConnectorBadRequest, ResponseSignatureInvalid
from payments.statuses import AttemptStatus, RefundStatus

from .conftest import authorize, control, payment, refund_data


@pytest.fixture
def charged(connector, sim):
    """An intent payment of INR 100.00 the customer has paid, synced so its TXNID is known."""
    data = payment("intent", amount=10_000)
    authorize(connector, data)
    control(sim, f"orders/{data.attempt_reference}/pay")
    synced = connector.call(Flow.PSYNC, data)
    assert synced.status == AttemptStatus.CHARGED
    data.connector_reference = synced.connector_reference
    return data


def test_full_refund_is_accepted_pending_then_succeeds_by_rsync(connector, sim, charged):
    refund = refund_data(charged, 10_000)
    applied = connector.call(Flow.REFUND, refund)
    assert (applied.status, applied.code, applied.amount) == (RefundStatus.PENDING, "601", 10_000)
    sent = json.loads(sim.app.requests_seen[-1].body)["body"]
    assert sent == {
        "mid": sent["mid"],
        "txnType": "REFUND",
        "orderId": charged.attempt_reference,
        "txnId": charged.connector_reference,
        "refId": refund.refund_id,
        "refundAmount": "100.00",
    }
    refund.refund_connector_reference = applied.connector_reference
    synced = connector.call(Flow.RSYNC, refund)
    assert (synced.status, synced.amount) == (RefundStatus.SUCCEEDED, 10_000)
    assert synced.connector_reference == applied.connector_reference


def test_partial_refunds_add_up_and_the_excess_is_refused(connector, sim, charged):
    first = refund_data(charged, 2_550)
    assert connector.call(Flow.REFUND, first).status == RefundStatus.PENDING
    assert connector.call(Flow.RSYNC, first).status == RefundStatus.SUCCEEDED
    assert json.loads(sim.app.requests_seen[-2].body)["body"]["refundAmount"] == "25.50"
    second = refund_data(charged, 7_450)
    assert connector.call(Flow.REFUND, second).status == RefundStatus.PENDING
    too_much = connector.call(Flow.REFUND, refund_data(charged, 1))
    assert (too_much.status, too_much.code) == (RefundStatus.FAILED, "619")


def test_repeated_refund_id_is_answered_with_the_same_refund(connector, sim, charged):
    refund = refund_data(charged, 500)
    first = connector.call(Flow.REFUND, refund)
    again = connector.call(Flow.REFUND, refund)
    assert again.connector_reference == first.connector_reference
    assert (
        sim.app.orders[(json.loads(sim.app.requests_seen[-1].body)["body"]["mid"], charged.attempt_reference)].refunded
        == 5
    )


def test_refund_of_an_unpaid_payment_fails(connector, sim):
    data = payment("collect", vpa="pending@paytm")
    authorize(connector, data)
    data.connector_reference = connector.call(Flow.PSYNC, data).connector_reference
    result = connector.call(Flow.REFUND, refund_data(data, 100))
    assert (result.status, result.code) == (RefundStatus.FAILED, "600")


def test_rsync_of_an_unknown_refund_is_failed(connector, sim, charged):
    result = connector.call(Flow.RSYNC, refund_data(charged, 100))
    assert (result.status, result.code) == (RefundStatus.FAILED, "631")


def test_refund_without_the_payments_txnid_is_refused_before_sending(connector, sim, charged):
    refund = refund_data(charged, 100)
    refund.connector_reference, refund.connector_metadata = "", {}
    seen = len(sim.app.requests_seen)
    with pytest.raises(ConnectorBadRequest):
        connector.call(Flow.REFUND, refund)
    assert len(sim.app.requests_seen) == seen


def test_forged_refund_status_is_rejected(connector, sim, charged):
    refund = refund_data(charged, 100)
    connector.call(Flow.REFUND, refund)
    sim.app.refunds[next(iter(sim.app.refunds))].status = "TXN_FAILURE"
    control(sim, "response-signature", {"mode": "tamper"})
    with pytest.raises(ResponseSignatureInvalid):
        connector.call(Flow.RSYNC, refund)
