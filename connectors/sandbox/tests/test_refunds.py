import pytest
import requests

from connectors.base import Flow
from connectors.errors import ConnectorBadRequest
from connectors.sandbox.tests.factories import follow_up, payment, refund
from payments.statuses import RefundStatus


@pytest.fixture
def charged(connector):
    data = payment(amount=5_000)
    return follow_up(data, connector.call(Flow.AUTHORIZE, data))


def test_full_refund_succeeds_at_once(connector, charged):
    result = connector.call(Flow.REFUND, refund(charged, 5_000))

    assert result.status == RefundStatus.SUCCEEDED
    assert result.connector_reference.startswith("rf_")
    assert (result.amount, result.currency) == (5_000, "EUR")


def test_partial_refunds_add_up_to_the_captured_amount(connector, charged, sim):
    results = [connector.call(Flow.REFUND, refund(charged, amount)) for amount in (1_000, 1_500, 2_500)]

    assert [r.status for r in results] == [RefundStatus.SUCCEEDED] * 3
    assert len({r.connector_reference for r in results}) == 3
    assert sim.charges[charged.connector_reference]["amount_refunded"] == 5_000


def test_refund_above_what_is_left_is_refused(connector, charged):
    connector.call(Flow.REFUND, refund(charged, 4_000))

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.REFUND, refund(charged, 1_001))
    assert (caught.value.status_code, caught.value.connector_code) == (422, "amount_too_large")


def test_refund_is_limited_to_what_a_partial_capture_took(connector):
    data = payment(amount=5_000, manual=True, amount_to_capture=2_000)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    connector.call(Flow.CAPTURE, data)

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.REFUND, refund(data, 2_001))
    assert caught.value.connector_code == "amount_too_large"
    assert connector.call(Flow.REFUND, refund(data, 2_000)).status == RefundStatus.SUCCEEDED


def test_refund_of_an_uncaptured_charge_is_refused(connector):
    data = payment(manual=True)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.REFUND, refund(data, 100))
    assert (caught.value.status_code, caught.value.connector_code) == (409, "charge_not_captured")


def test_pending_refund_settles_on_rsync(connector):
    data = payment("4000000000007726", amount=3_000)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    refund_data = refund(data, 1_200)

    started = connector.call(Flow.REFUND, refund_data)
    refund_data.refund_connector_reference = started.connector_reference
    synced = connector.call(Flow.RSYNC, refund_data)

    assert started.status == RefundStatus.PENDING
    assert (synced.status, synced.amount, synced.connector_reference) == (
        RefundStatus.SUCCEEDED,
        1_200,
        started.connector_reference,
    )


def test_rsync_without_a_bank_id_finds_the_refund_by_its_reference(connector, charged):
    refund_data = refund(charged, 700)
    made = connector.call(Flow.REFUND, refund_data)

    found = connector.call(Flow.RSYNC, refund_data)  # refund_connector_reference still empty

    assert found.connector_reference == made.connector_reference


def test_repeating_a_refund_reference_does_not_refund_twice(connector, charged, sim):
    refund_data = refund(charged, 700)
    first = connector.call(Flow.REFUND, refund_data)
    second = connector.call(Flow.REFUND, refund_data)

    assert first.connector_reference == second.connector_reference
    assert sim.charges[charged.connector_reference]["amount_refunded"] == 700


def test_failed_pending_refund_gives_its_amount_back(connector, bank):
    data = payment("4000000000007726", amount=3_000)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    refund_data = refund(data, 3_000)
    refund_data.refund_connector_reference = connector.call(Flow.REFUND, refund_data).connector_reference

    requests.post(
        f"{bank.base_url}/__control__/refunds/{refund_data.refund_connector_reference}/settle",
        json={"outcome": "failed"},
        timeout=5,
    ).raise_for_status()
    failed = connector.call(Flow.RSYNC, refund_data)

    assert (failed.status, failed.code) == (RefundStatus.FAILED, "refund_declined")
    assert connector.call(Flow.REFUND, refund(data, 3_000)).status == RefundStatus.PENDING
