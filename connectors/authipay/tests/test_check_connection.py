"""The connection check staff run from the admin: Get Payment for a transaction that cannot exist."""

import pytest

from connectors.authipay.adapter import CONNECTION_CHECK_REFERENCE, AuthipayConnector
from connectors.authipay.tests.conftest import CREDENTIALS
from connectors.base import Flow
from connectors.errors import ConnectorAuthenticationFailed, ConnectorUnavailable
from connectors.testing.simulator import unused_port_url
from payments.statuses import AttemptStatus


def test_check_connection_reads_not_found_as_reachable_and_authenticated(connector, gateway):
    result = connector.call(Flow.CHECK_CONNECTION, None)

    assert (result.status, result.raw_status) == (AttemptStatus.STARTED, "ok")
    assert gateway.app.transactions == {}


def test_check_connection_with_a_wrong_secret_is_an_authentication_failure(gateway):
    connector = AuthipayConnector(
        credentials={**CREDENTIALS, "api_secret": "as_wrong_secret"}, base_url=gateway.base_url
    )

    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        connector.call(Flow.CHECK_CONNECTION, None)
    assert caught.value.status_code == 401


def test_check_connection_with_another_store_is_refused(gateway):
    connector = AuthipayConnector(credentials={**CREDENTIALS, "store_id": "99999900000"}, base_url=gateway.base_url)

    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        connector.call(Flow.CHECK_CONNECTION, None)
    assert caught.value.status_code == 403


def test_check_connection_asks_for_the_reserved_reference_only(connector):
    request = connector.build_request(Flow.CHECK_CONNECTION, None)

    assert request.method == "GET"
    assert request.url.split("?")[0].endswith(f"/payments/{CONNECTION_CHECK_REFERENCE}")


def test_check_connection_to_a_closed_port_is_unavailable_not_ok():
    connector = AuthipayConnector(credentials=CREDENTIALS, base_url=unused_port_url())

    with pytest.raises(ConnectorUnavailable):
        connector.call(Flow.CHECK_CONNECTION, None)
