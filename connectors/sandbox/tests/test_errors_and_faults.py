import json

import pytest

from connectors.base import Flow
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorBadRequest,
    ConnectorUnavailable,
    ConnectorUnknownOutcome,
    FlowNotSupported,
    IntegrityMismatch,
)
from connectors.registry import get_connector_class
from connectors.sandbox.adapter import SandboxConnector
from connectors.sandbox.tests.factories import (
    API_KEY,
    CVC,
    OTHER_API_KEY,
    VISA,
    WEBHOOK_SECRET,
    follow_up,
    payment,
    refund,
    wait_for,
)
from connectors.testing.simulator import unused_port_url
from payments.statuses import AttemptStatus


def test_connector_is_registered_under_sandbox():
    cls = get_connector_class("sandbox")

    assert cls is SandboxConnector
    assert cls.supports_multiple_captures and cls.supports_manual_capture and cls.supports_partial_refunds
    assert cls.validate_credentials({"api_key": "k"}) == {"webhook_secret": "Webhook secret is required"}


def test_check_connection_with_good_credentials_reports_ok_not_a_payment_status(connector):
    result = connector.call(Flow.CHECK_CONNECTION, None)

    assert (result.status, result.raw_status) == (AttemptStatus.STARTED, "ok")


def test_wrong_api_key_is_refused_as_authentication_failure(bank, sim):
    connector = SandboxConnector(
        credentials={"api_key": "sk_wrong", "webhook_secret": WEBHOOK_SECRET}, base_url=bank.base_url
    )

    with pytest.raises(ConnectorAuthenticationFailed):
        connector.call(Flow.CHECK_CONNECTION, None)
    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        connector.call(Flow.AUTHORIZE, payment())
    assert caught.value.status_code == 401
    assert sim.charges == {}


def test_another_accounts_charge_is_not_found(connector, bank):
    data = payment()
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    other = SandboxConnector(credentials={"api_key": OTHER_API_KEY, "webhook_secret": "x"}, base_url=bank.base_url)

    with pytest.raises(ConnectorBadRequest) as caught:
        other.call(Flow.PSYNC, data)
    assert caught.value.status_code == 404


def test_complete_authorize_is_not_a_sandbox_flow(connector):
    with pytest.raises(FlowNotSupported):
        connector.call(Flow.COMPLETE_AUTHORIZE, payment())


def test_server_error_means_the_outcome_is_unknown(connector, sim):
    sim.faults.arm(status=500)

    with pytest.raises(ConnectorUnknownOutcome) as caught:
        connector.call(Flow.AUTHORIZE, payment())
    assert caught.value.retry_safe is False


@pytest.mark.parametrize("status", [503, 429])
def test_unavailable_answers_are_safe_to_retry(connector, sim, status):
    sim.faults.arm(status=status)

    with pytest.raises(ConnectorUnavailable) as caught:
        connector.call(Flow.AUTHORIZE, payment())
    assert caught.value.retry_safe is True


def test_refused_connection_is_unavailable_and_safe_to_retry():
    connector = SandboxConnector(
        credentials={"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}, base_url=unused_port_url()
    )

    with pytest.raises(ConnectorUnavailable) as caught:
        connector.call(Flow.AUTHORIZE, payment())
    assert caught.value.retry_safe is True


def test_read_timeout_is_unknown_and_psync_by_reference_finds_the_charge(connector, sim):
    data = payment()
    sim.faults.arm(delay=1.2)
    request = connector.build_request(Flow.AUTHORIZE, data)
    request.timeout = (1, 0.5)

    with pytest.raises(ConnectorUnknownOutcome) as caught:
        connector.execute_request(request, Flow.AUTHORIZE)
    assert caught.value.code == "connector_timeout"

    # The bank went on and made the charge; psync learns its id from the attempt reference.
    wait_for(lambda: sim.charges)
    found = connector.call(Flow.PSYNC, data)
    assert (found.status, found.connector_reference) == (AttemptStatus.CHARGED, next(iter(sim.charges)))


@pytest.mark.parametrize("fault", [{"garbage": True}, {"truncate": True}, {"reset": True}])
def test_unreadable_or_missing_answers_mean_the_outcome_is_unknown(connector, sim, fault):
    sim.faults.arm(**fault)

    with pytest.raises(ConnectorUnknownOutcome):
        connector.call(Flow.AUTHORIZE, payment())


def test_wrong_amount_in_an_authorize_answer_fails_the_integrity_check(connector, sim):
    sim.faults.arm(wrong_amount=True)

    with pytest.raises(IntegrityMismatch) as caught:
        connector.call(Flow.AUTHORIZE, payment(amount=1050))
    assert caught.value.mismatches == {"amount": (1050, 1051)}
    assert caught.value.response.connector_reference.startswith("ch_")


@pytest.mark.parametrize("flow", [Flow.CAPTURE, Flow.PSYNC])
def test_wrong_amount_in_capture_and_psync_answers_fails_the_integrity_check(connector, sim, flow):
    data = payment(amount=2_000, manual=True)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    sim.faults.arm(wrong_amount=True)

    with pytest.raises(IntegrityMismatch):
        connector.call(flow, data)


def test_wrong_amount_in_a_refund_answer_fails_the_integrity_check(connector, sim):
    data = payment(amount=2_000)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    sim.faults.arm(wrong_amount=True)

    with pytest.raises(IntegrityMismatch):
        connector.call(Flow.REFUND, refund(data, 500))


def test_call_records_hold_no_card_number_cvc_or_api_key(connector):
    data = payment(VISA, manual=True)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))
    connector.call(Flow.CAPTURE, data)
    connector.call(Flow.REFUND, refund(data, 100))

    assert len(connector.calls) == 3
    for record in connector.calls:
        logged = json.dumps(
            [record.url, record.request_headers, record.request_body, record.response_headers, record.response_body]
        )
        assert VISA not in logged
        assert API_KEY not in logged
    sent_card = json.loads(connector.calls[0].request_body)["card"]
    assert sent_card["number"].endswith("4242") and sent_card["number"] != VISA
    assert sent_card["cvc"] != CVC


def test_the_bank_keeps_only_the_last_four_digits(connector, sim):
    connector.call(Flow.AUTHORIZE, payment(VISA))

    kept = json.dumps([sim.charges, [r.body.decode() for r in sim.requests_seen]], default=str)
    assert VISA not in kept
    assert f'"cvc": "{CVC}"' not in kept and f'"cvc":"{CVC}"' not in kept
    assert next(iter(sim.charges.values()))["card"]["last4"] == "4242"
