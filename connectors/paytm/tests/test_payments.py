"""Session token, authorize and psync over real HTTP against the Paytm simulator."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.base import Flow
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorBadRequest,
    ConnectorDeclined,
    IntegrityMismatch,
    ResponseSignatureInvalid,
)
from connectors.paytm.adapter import PaytmConnector
from connectors.paytm.signature import raw_json_member, verify_signature
from payments.statuses import AttemptStatus

from .conftest import KEY, MID, authorize, control, payment


def test_intent_returns_a_upi_deep_link_and_waits_for_the_customer(connector, sim):
    data = payment("intent", amount=1050)
    result = authorize(connector, data)
    assert result.status == AttemptStatus.AUTHENTICATION_PENDING
    assert result.next_action.type == "upi_intent"
    link = urlsplit(result.next_action.url)
    assert (link.scheme, link.netloc) == ("upi", "pay")
    assert parse_qs(link.query)["am"] == ["10.50"]
    assert result.next_action.data == {"qr_code_data": result.next_action.url}
    assert (result.amount, result.currency) == (1050, "INR")
    assert result.connector_reference and result.connector_metadata["txn_id"] == result.connector_reference
    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.PENDING


def test_intent_paid_in_the_upi_app_is_charged_by_psync(connector, sim):
    data = payment("intent", amount=99_999)
    authorize(connector, data)
    control(sim, f"orders/{data.attempt_reference}/pay")
    result = connector.call(Flow.PSYNC, data)
    assert (result.status, result.raw_status, result.amount) == (AttemptStatus.CHARGED, "TXN_SUCCESS", 99_999)
    assert result.amount_captured == 99_999
    assert result.connector_reference == data.connector_reference


def test_intent_declined_in_the_upi_app_fails_with_paytms_code(connector, sim):
    data = payment("intent")
    authorize(connector, data)
    control(sim, f"orders/{data.attempt_reference}/decline")
    result = connector.call(Flow.PSYNC, data)
    assert (result.status, result.code) == (AttemptStatus.FAILURE, "227")
    assert "declined by your bank" in result.message


def test_session_token_sends_the_amount_as_exact_major_units_and_keeps_the_token(connector, sim):
    data = payment("intent", amount=1)
    result = connector.call(Flow.SESSION_TOKEN, data)
    assert result.session_token and result.connector_metadata["txn_token"] == result.session_token
    sent = json.loads(sim.app.requests_seen[-1].body)
    assert sent["body"]["txnAmount"] == {"value": "0.01", "currency": "INR"}
    assert sent["body"]["orderId"] == data.attempt_reference
    assert sent["body"]["callbackUrl"] == data.return_url
    assert sent["body"]["enablePaymentMode"] == [{"mode": "UPI", "channels": ["UPIPUSH"]}]
    assert sent["body"]["userInfo"]["mobile"] == "9876543210"


def test_request_signature_covers_the_exact_body_bytes_sent(connector, sim):
    data = payment("collect", vpa="pending@paytm")
    connector.call(Flow.SESSION_TOKEN, data)
    text = sim.app.requests_seen[-1].body.decode("utf-8")
    signature = json.loads(text)["head"]["signature"]
    assert verify_signature(raw_json_member(text, "body"), KEY, signature)


def test_non_ascii_customer_name_is_signed_and_accepted(connector, sim):
    data = payment("intent")
    data.customer.name = "Renée राज"
    result = connector.call(Flow.SESSION_TOKEN, data)
    assert result.session_token
    assert "राज" in sim.app.requests_seen[-1].body.decode("utf-8")


def test_collect_with_success_vpa_is_pending_then_charged_by_psync(connector, sim):
    data = payment("collect", vpa="success@paytm", amount=25_000)
    result = authorize(connector, data)
    assert result.status == AttemptStatus.PENDING
    assert result.next_action.type == "upi_collect_pending"
    assert result.amount == 25_000
    sent = json.loads(sim.app.requests_seen[-1].body)["body"]
    assert (sent["paymentMode"], sent["payerAccount"]) == ("UPI", "success@paytm")
    synced = connector.call(Flow.PSYNC, data)
    assert (synced.status, synced.amount) == (AttemptStatus.CHARGED, 25_000)
    assert synced.connector_reference and synced.connector_metadata["txn_id"] == synced.connector_reference


def test_collect_declined_by_the_payers_bank_fails_on_psync(connector, sim):
    data = payment("collect", vpa="fail@paytm")
    assert authorize(connector, data).status == AttemptStatus.PENDING
    result = connector.call(Flow.PSYNC, data)
    assert (result.status, result.code, result.raw_status) == (AttemptStatus.FAILURE, "227", "TXN_FAILURE")


def test_collect_left_pending_is_settled_then_seen_by_psync(connector, sim):
    data = payment("collect", vpa="pending@paytm")
    authorize(connector, data)
    pending = connector.call(Flow.PSYNC, data)
    assert (pending.status, pending.code) == (AttemptStatus.PENDING, "402")
    control(sim, f"orders/{data.attempt_reference}/settle", {"outcome": "success"})
    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.CHARGED


def test_repeated_initiate_of_the_same_order_returns_0002_with_the_same_token(connector, sim):
    data = payment("intent")
    first = connector.call(Flow.SESSION_TOKEN, data)
    again = connector.call(Flow.SESSION_TOKEN, data)
    assert (first.code, again.code) == ("0000", "0002")
    assert again.session_token == first.session_token
    data.session[Flow.SESSION_TOKEN] = again
    assert connector.call(Flow.AUTHORIZE, data).status == AttemptStatus.AUTHENTICATION_PENDING


def test_same_order_id_with_another_amount_is_declined_with_paytms_code(connector, sim):
    data = payment("intent", amount=1000)
    connector.call(Flow.SESSION_TOKEN, data)
    data.amount = 2000
    with pytest.raises(ConnectorDeclined) as declined:
        connector.call(Flow.SESSION_TOKEN, data)
    assert declined.value.connector_code == "325"


def test_request_signed_with_a_wrong_key_gets_paytms_checksum_failure(sim):
    wrong = PaytmConnector(
        credentials={"merchant_id": MID, "merchant_key": KEY[::-1], "website": "WEBSTAGING"}, base_url=sim.base_url
    )
    with pytest.raises(ConnectorAuthenticationFailed) as refused:
        wrong.call(Flow.SESSION_TOKEN, payment("intent"))
    assert refused.value.connector_code == "2005"
    assert not sim.app.orders
    with pytest.raises(ConnectorAuthenticationFailed) as refused_status:
        wrong.call(Flow.PSYNC, payment("intent"))
    assert refused_status.value.connector_code == "330"


@pytest.mark.parametrize("mode", ["tamper", "wrong_key", "missing"])
def test_answer_whose_signature_fails_is_rejected(connector, sim, mode):
    data = payment("collect", vpa="pending@paytm")
    authorize(connector, data)
    control(sim, "response-signature", {"mode": mode})
    with pytest.raises(ResponseSignatureInvalid):
        connector.call(Flow.PSYNC, data)
    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.PENDING


def test_status_reporting_another_amount_raises_integrity_mismatch(connector, sim):
    data = payment("intent", amount=1050)
    authorize(connector, data)
    control(sim, f"orders/{data.attempt_reference}/pay")
    sim.app.faults.arm(wrong_amount=True)
    with pytest.raises(IntegrityMismatch) as mismatch:
        connector.call(Flow.PSYNC, data)
    assert mismatch.value.mismatches["amount"] == (1050, 1150)


def test_authorize_with_an_expired_token_fails_the_attempt(connector, sim):
    data = payment("intent")
    connector.call(Flow.SESSION_TOKEN, data)
    data.connector_metadata["txn_token"] = "not-the-token"
    result = connector.call(Flow.AUTHORIZE, data)
    assert (result.status, result.code) == (AttemptStatus.FAILURE, "1006")


def test_authorize_without_a_session_token_is_refused_before_sending(connector, sim):
    with pytest.raises(ConnectorBadRequest):
        connector.call(Flow.AUTHORIZE, payment("intent"))
    assert not sim.app.requests_seen


@pytest.mark.parametrize(
    "change", [{"currency": "USD"}, {"attempt_reference": "att/with/slash"}, {"payment_method_type": "card"}]
)
def test_requests_paytm_cannot_take_are_refused_before_sending(connector, sim, change):
    data = payment("intent")
    for name, value in change.items():
        setattr(data, name, value)
    with pytest.raises(ConnectorBadRequest):
        connector.call(Flow.SESSION_TOKEN, data)
    assert not sim.app.requests_seen


def test_flows_paytm_upi_does_not_have_are_not_supported(connector):
    assert set(connector.supported_flows()) == {
        Flow.SESSION_TOKEN, Flow.AUTHORIZE, Flow.PSYNC, Flow.REFUND, Flow.RSYNC, Flow.CHECK_CONNECTION
    }
    assert connector.pre_authorize_flows == (Flow.SESSION_TOKEN,)


def test_credentials_need_an_aes_sized_ascii_key_and_a_known_channel():
    good = {"merchant_id": MID, "merchant_key": KEY, "website": "WEBSTAGING"}
    assert PaytmConnector.validate_credentials(good) == {}
    assert PaytmConnector.validate_credentials({**good, "merchant_key": "k" * 24, "channel_id": "WAP"}) == {}
    assert "merchant_key" in PaytmConnector.validate_credentials({**good, "merchant_key": "k" * 20})
    assert "merchant_key" in PaytmConnector.validate_credentials({**good, "merchant_key": "é" * 16})
    assert "channel_id" in PaytmConnector.validate_credentials({**good, "channel_id": "APP"})


def test_gateway_error_is_read_from_paytms_error_shape(connector, sim):
    from connectors.errors import ConnectorUnavailable, ConnectorUnknownOutcome

    sim.app.faults.arm(status=503)
    with pytest.raises(ConnectorUnavailable):
        connector.call(Flow.SESSION_TOKEN, payment("intent"))
    sim.app.faults.arm(status=500)
    with pytest.raises(ConnectorUnknownOutcome) as failed:
        connector.call(Flow.PSYNC, payment("intent"))
    assert failed.value.connector_code == "HTTP_500"


def test_call_log_masks_the_signature_and_never_holds_the_key(connector, sim):
    connector.call(Flow.SESSION_TOKEN, payment("intent"))
    record = connector.calls[-1]
    assert '"signature": "********"' in record.request_body
    assert KEY not in record.request_body + json.dumps(record.request_headers)


def test_registry_serves_the_adapter_under_paytm():
    from connectors.registry import get_connector_class

    assert get_connector_class("paytm") is PaytmConnector
