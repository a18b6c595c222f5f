import pytest

from connectors.base import Flow
from connectors.errors import ConnectorBadRequest
from connectors.sandbox.tests.factories import follow_up, payment
from payments.statuses import AttemptStatus


@pytest.fixture
def authorized(connector):
    data = payment(amount=10_000, manual=True)
    return follow_up(data, connector.call(Flow.AUTHORIZE, data))


def test_full_capture_charges_the_whole_authorization(connector, authorized):
    result = connector.call(Flow.CAPTURE, authorized)

    assert result.status == AttemptStatus.CHARGED
    assert (result.amount, result.amount_captured) == (10_000, 10_000)


def test_partial_capture_leaves_the_rest_capturable(connector, authorized):
    authorized.amount_to_capture = 2_500
    result = connector.call(Flow.CAPTURE, authorized)

    assert result.status == AttemptStatus.PARTIALLY_CHARGED
    assert (result.amount, result.amount_captured) == (2_500, 2_500)


def test_multiple_captures_add_up_until_the_charge_is_fully_captured(connector, authorized):
    results = []
    # The last capture asks no amount: the rest of the authorization is captured.
    for amount in (3_000, 4_000, None):
        authorized.amount_to_capture = amount
        results.append(connector.call(Flow.CAPTURE, authorized))
        authorized.amount_captured = results[-1].amount_captured

    assert [r.status for r in results] == [
        AttemptStatus.PARTIALLY_CHARGED,
        AttemptStatus.PARTIALLY_CHARGED,
        AttemptStatus.CHARGED,
    ]
    assert [r.amount for r in results] == [3_000, 4_000, 3_000]
    assert [r.amount_captured for r in results] == [3_000, 7_000, 10_000]


def test_capture_above_authorized_is_refused_by_the_gateway(connector, authorized, sim):
    authorized.amount_to_capture = 10_001

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.CAPTURE, authorized)

    assert (caught.value.status_code, caught.value.connector_code) == (422, "amount_too_large")
    assert sim.charges[authorized.connector_reference]["amount_captured"] == 0


def test_capture_above_what_remains_after_a_partial_capture_is_refused(connector, authorized):
    authorized.amount_to_capture = 9_000
    connector.call(Flow.CAPTURE, authorized)
    authorized.amount_captured, authorized.amount_to_capture = 9_000, 1_001

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.CAPTURE, authorized)
    assert caught.value.connector_code == "amount_too_large"


def test_void_releases_an_authorization(connector, authorized):
    result = connector.call(Flow.VOID, authorized)

    assert result.status == AttemptStatus.VOIDED
    assert connector.call(Flow.PSYNC, authorized).status == AttemptStatus.VOIDED


def test_void_after_capture_is_refused_as_illegal_state(connector, authorized):
    connector.call(Flow.CAPTURE, authorized)

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.VOID, authorized)
    assert (caught.value.status_code, caught.value.connector_code) == (409, "charge_already_captured")


def test_capture_after_void_is_refused_as_illegal_state(connector, authorized):
    connector.call(Flow.VOID, authorized)

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.CAPTURE, authorized)
    assert (caught.value.status_code, caught.value.connector_code) == (409, "charge_voided")


def test_capture_of_a_declined_charge_is_refused(connector):
    data = payment("4000000000000002", manual=True)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.CAPTURE, data)
    assert caught.value.connector_code == "charge_declined"


def test_void_of_an_unknown_charge_is_a_bad_request(connector, authorized):
    authorized.connector_reference = "ch_doesnotexist"

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.VOID, authorized)
    assert (caught.value.status_code, caught.value.connector_code) == (404, "resource_missing")
