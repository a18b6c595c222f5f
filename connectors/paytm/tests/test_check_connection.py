"""The connection check staff run from the admin: a status query for an order that cannot exist."""

import pytest

from connectors.base import Flow
from connectors.errors import ConnectorAuthenticationFailed
from connectors.paytm.adapter import CONNECTION_CHECK_ORDER_ID, PaytmConnector
from connectors.paytm.tests.conftest import KEY, MID
from payments.statuses import AttemptStatus


def test_check_connection_reads_invalid_order_id_as_reachable_and_authenticated(connector, sim):
    result = connector.call(Flow.CHECK_CONNECTION, None)

    assert (result.status, result.raw_status, result.code) == (AttemptStatus.STARTED, "ok", "334")
    sent = sim.app.requests_seen[-1]
    assert (sent.method, sent.path) == ("POST", "/v3/order/status")
    assert sent.json()["body"] == {"mid": MID, "orderId": CONNECTION_CHECK_ORDER_ID}
    assert not sim.app.orders


def test_check_connection_with_a_wrong_key_is_an_authentication_failure(sim):
    connector = PaytmConnector(
        credentials={"merchant_id": MID, "merchant_key": KEY[::-1], "website": "WEBSTAGING"}, base_url=sim.base_url
    )

    with pytest.raises(ConnectorAuthenticationFailed, match="checksum"):
        connector.call(Flow.CHECK_CONNECTION, None)


def test_check_connection_with_an_unknown_merchant_id_is_an_authentication_failure(sim):
    connector = PaytmConnector(
        credentials={"merchant_id": "UNKNOWN0000000000", "merchant_key": KEY, "website": "WEBSTAGING"},
        base_url=sim.base_url,
    )

    with pytest.raises(ConnectorAuthenticationFailed, match="Mid is invalid"):
        connector.call(Flow.CHECK_CONNECTION, None)
