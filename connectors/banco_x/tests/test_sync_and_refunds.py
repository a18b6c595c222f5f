import pytest

from connectors.base import Flow
from connectors.errors import ConnectorBadRequest, IntegrityMismatch
from payments.statuses import AttemptStatus, RefundStatus

from .conftest import bank_requests, refund_data


def test_payment_whose_webhook_never_comes_is_settled_by_psync(connector, sim, receiver, make_payment):
    sim.arm_webhook(suppress=True, delay=0.3)
    data = make_payment(1050)
    data.connector_reference = connector.call(Flow.AUTHORIZE, data).connector_reference

    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.PENDING
    assert sim.wait_for_settlement(data.connector_reference) == "succeeded"
    result = connector.call(Flow.PSYNC, data)

    assert (result.status, result.amount, result.amount_captured, result.currency) == (
        AttemptStatus.CHARGED,
        1050,
        1050,
        "EUR",
    )
    assert receiver.received == [] and sim.deliveries == []


def test_psync_of_a_failed_payment_carries_the_banks_code(connector, sim, make_payment):
    sim.arm_webhook(suppress=True)
    data = make_payment(3013)
    data.connector_reference = connector.call(Flow.AUTHORIZE, data).connector_reference
    sim.wait_for_settlement(data.connector_reference)

    result = connector.call(Flow.PSYNC, data)

    assert (result.status, result.code, result.raw_status) == (AttemptStatus.FAILURE, "insufficient_funds", "failed")


def test_psync_reporting_another_amount_is_an_integrity_mismatch(connector, sim, settled_payment):
    data = settled_payment(5000)
    sim.faults.arm(wrong_amount=True)

    with pytest.raises(IntegrityMismatch):
        connector.call(Flow.PSYNC, data)


def test_psync_of_an_unknown_id_is_a_bad_request(connector, make_payment):
    data = make_payment()
    data.connector_reference = "bx_does_not_exist"

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.PSYNC, data)

    assert (caught.value.status_code, caught.value.connector_code) == (404, "not_found")


def test_psync_without_the_banks_id_finds_the_payment_by_our_reference(connector, sim, make_payment):
    data = make_payment(1050)
    bank_id = connector.call(Flow.AUTHORIZE, data).connector_reference  # the answer Pagoflex lost
    sim.wait_for_settlement(bank_id)

    data.connector_reference = ""
    result = connector.call(Flow.PSYNC, data)

    assert (result.status, result.connector_reference) == (AttemptStatus.CHARGED, bank_id)
    assert bank_requests(sim)[-1].path == "/pay" and bank_requests(sim)[-1].query == {"ref": data.attempt_reference}


def test_psync_by_a_reference_banco_x_never_received_is_not_found(connector, sim, make_payment):
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.PSYNC, make_payment())

    assert connector.is_not_found(caught.value)
    assert (caught.value.status_code, caught.value.connector_code) == (404, "not_found")


def test_refund_is_pending_then_rsync_and_webhook_say_succeeded(connector, sim, receiver, settled_payment):
    payment = settled_payment(5000)
    refund = refund_data(payment, 2000)

    result = connector.call(Flow.REFUND, refund)

    assert (result.status, result.amount, result.currency) == (RefundStatus.PENDING, 2000, "EUR")
    refund.refund_connector_reference = result.connector_reference
    assert sim.wait_for_settlement(result.connector_reference) == "succeeded"
    assert connector.call(Flow.RSYNC, refund).status == RefundStatus.SUCCEEDED
    sim.wait_for_deliveries(2)
    # The payment's webhook and the refund's, in the order they arrived: on a loaded machine the
    # payment's can come last.
    [event] = [event for event in receiver.parsed() if event.is_refund]
    assert (event.event_type, event.status, event.is_refund) == ("refund.succeeded", RefundStatus.SUCCEEDED, True)
    # The refund's own id, never the payment's (issue 15: a refund is never confused with its payment).
    assert (event.refund_reference, event.connector_reference) == (refund.refund_id, result.connector_reference)
    assert (event.amount, event.attempt_reference) == (2000, payment.attempt_reference)


def test_refund_amount_ending_in_13_is_declined_and_frees_the_amount(connector, sim, settled_payment):
    payment = settled_payment(5000)
    declined = refund_data(payment, 4913)
    declined.refund_connector_reference = connector.call(Flow.REFUND, declined).connector_reference
    sim.wait_for_settlement(declined.refund_connector_reference)

    result = connector.call(Flow.RSYNC, declined)

    assert (result.status, result.code) == (RefundStatus.FAILED, "refund_declined")
    assert connector.call(Flow.REFUND, refund_data(payment, 5000)).status == RefundStatus.PENDING


def test_refunds_above_the_payment_are_refused_by_the_bank(connector, settled_payment):
    payment = settled_payment(5000)
    connector.call(Flow.REFUND, refund_data(payment, 3000))

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.REFUND, refund_data(payment, 2001))

    assert (caught.value.status_code, caught.value.connector_code) == (422, "amount_exceeds_refundable")


def test_refund_of_a_payment_not_yet_settled_is_refused(connector, sim, make_payment):
    sim.arm_webhook(delay=5)
    payment = make_payment(5000)
    payment.connector_reference = connector.call(Flow.AUTHORIZE, payment).connector_reference

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.REFUND, refund_data(payment, 1000))

    assert caught.value.connector_code == "payment_not_settled"


def test_retried_refund_with_the_same_id_is_not_paid_twice(connector, sim, settled_payment):
    payment = settled_payment(5000)
    refund = refund_data(payment, 1000)

    first = connector.call(Flow.REFUND, refund)
    second = connector.call(Flow.REFUND, refund)

    assert first.connector_reference == second.connector_reference
    assert sim.payments[payment.connector_reference].refunded == 1000
