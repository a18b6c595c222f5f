"""The spec's HTTP status table (3.4), the error object (5.1) and the transport failures."""

from __future__ import annotations

import pytest

from connectors.authipay.adapter import AuthipayConnector
from connectors.base import Flow
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorBadRequest,
    ConnectorDeclined,
    ConnectorUnavailable,
    ConnectorUnknownOutcome,
)
from connectors.testing.simulator import unused_port_url

from .conftest import CREDENTIALS, payment


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ConnectorBadRequest),
        (401, ConnectorAuthenticationFailed),
        (403, ConnectorAuthenticationFailed),
        (404, ConnectorBadRequest),
        (409, ConnectorDeclined),
        (422, ConnectorDeclined),
        (500, ConnectorUnknownOutcome),
        (502, ConnectorUnknownOutcome),
        (503, ConnectorUnavailable),
        (504, ConnectorUnknownOutcome),
    ],
)
def test_http_status_maps_to_the_typed_error(connector, gateway, status, error_class):
    gateway.app.faults.arm(status=status)
    with pytest.raises(error_class) as caught:
        connector.call(Flow.AUTHORIZE, payment())
    assert type(caught.value) is error_class
    assert caught.value.status_code == status
    assert caught.value.connector_code == str(status)
    assert caught.value.retry_safe is (status == 503)


def test_invalid_card_number_is_a_bad_request_with_the_error_details(connector, gateway):
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.AUTHORIZE, payment(card="4111111111111112"))
    assert caught.value.status_code == 400 and caught.value.connector_code == "invalid_request"
    assert caught.value.message == "Invalid card number: Card number is not valid"
    assert gateway.app.transactions == {}


def test_a_store_id_the_api_key_does_not_own_is_an_authorization_failure(gateway):
    other_store = AuthipayConnector(credentials={**CREDENTIALS, "store_id": "99999900000"}, base_url=gateway.base_url)
    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        other_store.call(Flow.AUTHORIZE, payment())
    assert (caught.value.status_code, caught.value.connector_code) == (403, "unauthorized_store")


def test_capturing_an_unknown_transaction_is_not_found(connector):
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.CAPTURE, payment(connector_reference="12345"))
    assert (caught.value.status_code, caught.value.connector_code) == (404, "not_found")


def test_endpoint_decline_carries_the_processor_code_and_the_transaction(connector, gateway):
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.AUTHORIZE, payment(card="4000000000000002"))
    declined = caught.value
    assert (declined.status_code, declined.decline_code, declined.message) == (422, "05", "DO NOT HONOUR")
    assert declined.connector_code == "endpoint_declined"
    assert declined.connector_reference == gateway.transactions("SALE")[0].id
    assert declined.retryable_elsewhere is False


def test_insufficient_funds_is_a_hard_decline(connector):
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.AUTHORIZE, payment(card="4000000000009995"))
    assert (caught.value.decline_code, caught.value.retryable_elsewhere) == ("51", False)


def test_gateway_decline_may_be_retried_with_another_connector(connector):
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.AUTHORIZE, payment(card="4000000000000259"))
    assert caught.value.status_code == 409
    assert caught.value.decline_code == "gateway_declined" and caught.value.retryable_elsewhere is True


def test_an_expired_card_is_declined(connector):
    data = payment()
    data.card.exp_year = 2020
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.AUTHORIZE, data)
    assert (caught.value.decline_code, caught.value.message) == ("54", "EXPIRED CARD")


@pytest.mark.parametrize(("card", "status"), [("4000000000000119", 500), ("4000000000000200", 502)])
def test_server_and_communication_errors_are_unknown_outcomes_that_sync_resolves(connector, card, status):
    data = payment(card=card)
    with pytest.raises(ConnectorUnknownOutcome) as caught:
        connector.call(Flow.AUTHORIZE, data)
    assert caught.value.status_code == status and not caught.value.retry_safe
    # The gateway did process it: sync by the attempt reference finds the charge.
    assert connector.call(Flow.PSYNC, payment(attempt_reference=data.attempt_reference)).status == "charged"


def test_an_answer_that_is_not_json_is_an_unknown_outcome(connector, gateway):
    gateway.app.faults.arm(garbage=True)
    with pytest.raises(ConnectorUnknownOutcome):
        connector.call(Flow.AUTHORIZE, payment())


def test_a_connection_reset_after_sending_is_an_unknown_outcome(connector, gateway):
    gateway.app.faults.arm(reset=True)
    with pytest.raises(ConnectorUnknownOutcome):
        connector.call(Flow.AUTHORIZE, payment())


def test_a_gateway_that_cannot_be_reached_is_unavailable_and_retry_safe():
    unreachable = AuthipayConnector(credentials=CREDENTIALS, base_url=unused_port_url())
    with pytest.raises(ConnectorUnavailable) as caught:
        unreachable.call(Flow.AUTHORIZE, payment())
    assert caught.value.retry_safe


def test_capture_without_the_gateway_id_is_refused_before_sending(connector, gateway):
    with pytest.raises(ConnectorBadRequest):
        connector.call(Flow.CAPTURE, payment(connector_reference=""))
    assert gateway.app.requests_seen == []
