"""The connection check staff run from the admin: a status query for a payment that cannot exist."""

import pytest

from connectors.banco_x.adapter import CONNECTION_CHECK_ID, BancoXConnector
from connectors.banco_x.tests.conftest import CREDENTIALS, bank_requests
from connectors.base import Flow
from connectors.errors import ConnectorAuthenticationFailed, ConnectorBadRequest
from payments.statuses import AttemptStatus


def test_check_connection_reads_not_found_as_reachable_and_authenticated(connector, sim):
    result = connector.call(Flow.CHECK_CONNECTION, None)

    assert (result.status, result.raw_status) == (AttemptStatus.STARTED, "ok")
    sent = bank_requests(sim, f"/pay/{CONNECTION_CHECK_ID}", "GET")
    assert len(sent) == 1
    assert sim.payments == {}


def test_check_connection_with_a_wrong_signing_secret_is_an_authentication_failure(bank_url):
    connector = BancoXConnector(credentials={**CREDENTIALS, "secret": "not_the_secret_0001"}, base_url=bank_url)

    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        connector.call(Flow.CHECK_CONNECTION, None)
    assert caught.value.connector_code == "invalid_signature"


def test_not_found_still_fails_a_real_status_query(connector, make_payment):
    data = make_payment()
    data.connector_reference = "bx_does_not_exist"

    with pytest.raises(ConnectorBadRequest):
        connector.call(Flow.PSYNC, data)
