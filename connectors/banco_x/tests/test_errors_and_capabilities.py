import pytest

from connectors.banco_x.adapter import BancoXConnector
from connectors.base import Flow
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorUnavailable,
    ConnectorUnknownOutcome,
    FlowNotSupported,
)
from connectors.registry import get_connector_class
from connectors.testing.simulator import unused_port_url

from .conftest import CREDENTIALS, bank_requests


def test_registered_under_banco_x_and_the_guides_BANCO_X():
    assert get_connector_class("BANCO_X") is BancoXConnector
    assert get_connector_class("banco_x") is BancoXConnector


@pytest.mark.parametrize("flow", [Flow.CAPTURE, Flow.VOID])
def test_capture_and_void_are_not_supported_by_this_connector(connector, sim, settled_payment, flow):
    data = settled_payment(5000)
    requests_before = len(bank_requests(sim))

    with pytest.raises(FlowNotSupported, match="not supported by this connector"):
        connector.call(flow, data)

    assert len(bank_requests(sim)) == requests_before
    assert BancoXConnector.supports_manual_capture is False


def test_supported_flows_are_authorize_psync_refund_rsync_and_check_connection():
    assert BancoXConnector.supported_flows() == [
        Flow.AUTHORIZE, Flow.PSYNC, Flow.REFUND, Flow.RSYNC, Flow.CHECK_CONNECTION
    ]


def test_credentials_need_api_key_secret_and_webhook_secret():
    assert BancoXConnector.validate_credentials(CREDENTIALS) == {}
    errors = BancoXConnector.validate_credentials({"api_key": CREDENTIALS["api_key"], "merchant_id": "x"})
    assert set(errors) == {"secret", "webhook_secret", "merchant_id"}


def test_secrets_are_masked_in_the_call_log(connector, make_payment):
    connector.call(Flow.AUTHORIZE, make_payment())

    record = connector.calls[-1]
    logged = f"{record.request_headers}{record.request_body}{record.response_body}"
    assert all(secret not in logged for secret in CREDENTIALS.values())


def test_unknown_api_key_is_an_authentication_failure(bank_url, make_payment):
    connector = BancoXConnector(credentials={**CREDENTIALS, "api_key": "bx_key_nobody_knows"}, base_url=bank_url)

    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        connector.call(Flow.AUTHORIZE, make_payment())

    assert (caught.value.status_code, caught.value.connector_code) == (401, "invalid_api_key")


def test_request_signed_with_the_wrong_secret_is_an_authentication_failure(bank_url, sim, make_payment):
    connector = BancoXConnector(credentials={**CREDENTIALS, "secret": "not_the_signing_secret"}, base_url=bank_url)

    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        connector.call(Flow.AUTHORIZE, make_payment())

    assert caught.value.connector_code == "invalid_signature"
    assert sim.payments == {}


def test_connection_refused_is_unavailable_and_safe_to_retry(make_payment):
    connector = BancoXConnector(credentials=CREDENTIALS, base_url=unused_port_url())

    with pytest.raises(ConnectorUnavailable) as caught:
        connector.call(Flow.AUTHORIZE, make_payment())

    assert caught.value.retry_safe


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 500}, ConnectorUnknownOutcome),
        ({"status": 502}, ConnectorUnknownOutcome),
        ({"reset": True}, ConnectorUnknownOutcome),
        ({"garbage": True}, ConnectorUnknownOutcome),
        ({"truncate": True}, ConnectorUnknownOutcome),
        ({"status": 503}, ConnectorUnavailable),
        ({"status": 429}, ConnectorUnavailable),
    ],
)
def test_bank_failures_say_whether_the_payment_may_have_happened(connector, sim, make_payment, fault, error):
    sim.faults.arm(**fault)

    with pytest.raises(error) as caught:
        connector.call(Flow.AUTHORIZE, make_payment())

    assert type(caught.value) is error
    assert caught.value.retry_safe is (error is ConnectorUnavailable)


def test_answer_with_an_unknown_payment_status_is_an_unknown_outcome(connector, sim, settled_payment):
    data = settled_payment(5000)
    sim.payments[data.connector_reference].status = "chargeback_pending"

    with pytest.raises(ConnectorUnknownOutcome) as caught:
        connector.call(Flow.PSYNC, data)

    assert caught.value.code == "invalid_connector_response"
