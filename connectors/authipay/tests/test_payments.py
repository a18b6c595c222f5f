"""Authorize (sale and pre-auth), capture, void and psync against the simulator over HTTP."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest

from connectors.authipay import simulator as authipay_simulator
from connectors.authipay.adapter import AuthipayConnector
from connectors.base import Flow
from connectors.errors import ConnectorDeclined, FlowNotSupported, IntegrityMismatch
from connectors.registry import get_connector_class

from .conftest import CREDENTIALS, after, payment


def sent_body(connector) -> dict:
    return json.loads(connector.calls[-1].request_body)


def test_the_connector_is_registered_under_authipay():
    assert get_connector_class("authipay") is AuthipayConnector


def test_credentials_need_key_secret_and_a_short_store_id():
    assert AuthipayConnector.validate_credentials(CREDENTIALS) == {}
    errors = AuthipayConnector.validate_credentials({"api_key": "k", "store_id": "1" * 21})
    assert set(errors) == {"api_secret", "store_id"}


def test_automatic_capture_is_a_sale_that_comes_back_charged(connector, gateway):
    data = payment(amount=1204, currency="EUR")
    result = connector.call(Flow.AUTHORIZE, data)
    assert result.status == "charged"
    assert (result.amount, result.currency) == (1204, "EUR")
    assert result.connector_reference == gateway.transactions("SALE")[0].id
    assert result.connector_metadata["order_id"].startswith("R-")
    assert result.connector_metadata["approval_code"]
    body = sent_body(connector)
    assert body["requestType"] == "PaymentCardSaleTransaction"
    assert body["merchantTransactionId"] == data.attempt_reference
    assert body["storeId"] == CREDENTIALS["store_id"]
    assert body["paymentMethod"]["paymentCard"]["expiryDate"] == {"month": "12", "year": "31"}


def test_amount_is_sent_as_an_exact_json_number_in_major_units(connector):
    connector.call(Flow.AUTHORIZE, payment(amount=1204, currency="EUR"))
    assert '"transactionAmount":{"total":12.04,"currency":"EUR"}' in connector.calls[-1].request_body


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [(500, "JPY", '"total":500,'), (1234, "KWD", '"total":1.234,'), (5, "EUR", '"total":0.05,')],
)
def test_zero_and_three_decimal_currencies_travel_exactly(connector, amount, currency, wire):
    result = connector.call(Flow.AUTHORIZE, payment(amount=amount, currency=currency))
    assert wire in connector.calls[-1].request_body
    assert (result.status, result.amount, result.currency) == ("charged", amount, currency)


def test_manual_capture_is_a_pre_auth_that_comes_back_authorized(connector):
    result = connector.call(Flow.AUTHORIZE, payment(capture_method="manual"))
    assert result.status == "authorized"
    assert sent_body(connector)["requestType"] == "PaymentCardPreAuthTransaction"


def test_full_capture_charges_the_pre_auth(connector, gateway):
    data = payment(amount=2500, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data))
    result = connector.call(Flow.CAPTURE, data)
    assert (result.status, result.amount, result.amount_captured) == ("charged", 2500, 2500)
    assert result.connector_reference == data.connector_reference
    assert sent_body(connector) == {
        "requestType": "PostAuthTransaction",
        "transactionAmount": {"total": 25, "currency": "EUR"},
        "storeId": CREDENTIALS["store_id"],
    }
    assert gateway.app.transactions[data.connector_reference].captured == 2500


def test_partial_captures_add_up_until_the_pre_auth_is_fully_charged(connector, gateway):
    data = payment(amount=1000, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data), amount_to_capture=400)
    first = connector.call(Flow.CAPTURE, data)
    assert (first.status, first.amount, first.amount_captured) == ("partially_charged", 400, 400)
    data = after(data, first, amount_captured=400, amount_to_capture=600)
    second = connector.call(Flow.CAPTURE, data)
    assert (second.status, second.amount, second.amount_captured) == ("charged", 600, 1000)
    data = after(data, second)
    assert len(set(data.connector_metadata["capture_ids"])) == 2
    assert [tx.amount for tx in gateway.transactions("POSTAUTH")] == [400, 600]


def test_capture_above_what_is_left_is_refused_by_the_gateway(connector, gateway):
    data = payment(amount=1000, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data), amount_to_capture=700)
    data = after(data, connector.call(Flow.CAPTURE, data), amount_captured=700, amount_to_capture=301)
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.CAPTURE, data)
    assert caught.value.status_code == 422
    assert "exceeds the authorized amount" in caught.value.message
    assert gateway.app.transactions[data.connector_reference].captured == 700


def test_a_sale_cannot_be_captured_again(connector):
    data = payment()
    data = after(data, connector.call(Flow.AUTHORIZE, data))
    with pytest.raises(ConnectorDeclined, match="cannot be captured"):
        connector.call(Flow.CAPTURE, data)


def test_void_cancels_an_uncaptured_pre_auth(connector, gateway):
    data = payment(capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data))
    result = connector.call(Flow.VOID, data)
    assert result.status == "voided"
    assert result.connector_reference == data.connector_reference
    assert result.connector_metadata["void_id"] == gateway.transactions("VOID")[0].id
    assert sent_body(connector) == {"requestType": "VoidTransaction", "storeId": CREDENTIALS["store_id"]}
    assert connector.call(Flow.PSYNC, data).status == "voided"


def test_void_after_a_capture_is_refused(connector):
    data = payment(capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data), amount_to_capture=100)
    connector.call(Flow.CAPTURE, data)
    with pytest.raises(ConnectorDeclined, match="cannot be voided"):
        connector.call(Flow.VOID, data)


# An order id whose digits "63369-2752-4464" pass the Luhn check: masked wherever card numbers are.
ORDER_UUID_WITH_A_CARD_LIKE_RUN = uuid.UUID("03e63369-2752-4464-ab43-f04dc0626473")


@pytest.mark.parametrize("card_like_order_id", [False, True], ids=["random order id", "order id with a card-like run"])
def test_psync_reports_what_the_gateway_holds(connector, gateway, monkeypatch, card_like_order_id):
    if card_like_order_id:
        # Only the simulator's order ids: its Client-Request-Id replay needs the adapter's to differ.
        monkeypatch.setattr(authipay_simulator, "uuid", SimpleNamespace(uuid4=lambda: ORDER_UUID_WITH_A_CARD_LIKE_RUN))
    data = payment(amount=990, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data))
    synced = connector.call(Flow.PSYNC, data)
    assert (synced.status, synced.amount, synced.currency) == ("authorized", 990, "EUR")
    # The order inquiry: the only answer that shows what was captured of a pre-auth. Read from
    # what the gateway saw, whose path is kept as it came: the call log masks card-number-like
    # digit runs, and the order id's uuid holds one now and then (1 in 300).
    order_id = data.connector_metadata["order_id"]
    assert (order_id == f"R-{ORDER_UUID_WITH_A_CARD_LIKE_RUN}") is card_like_order_id
    asked = gateway.app.requests_seen[-1]
    assert (asked.method, asked.path, asked.query) == ("GET", f"/orders/{order_id}", {"storeId": CREDENTIALS["store_id"]})
    assert synced.amount_captured == 0


def test_psync_after_a_partial_capture_is_partially_charged(connector):
    data = payment(amount=1000, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data), amount_to_capture=250)
    connector.call(Flow.CAPTURE, data)
    # Pagoflex's own sum is not given: the captured amount is the gateway's figure.
    synced = connector.call(Flow.PSYNC, data)
    assert (synced.status, synced.amount_captured) == ("partially_charged", 250)


def test_psync_of_a_captured_pre_auth_without_its_order_does_not_say_how_much(connector):
    """Without the order's id the sync reads the pre-auth alone, which says CAPTURED after any
    capture: captured, not captured in full. The answer's order id is kept for the next sync."""
    data = payment(amount=1000, capture_method="manual")
    data = after(data, connector.call(Flow.AUTHORIZE, data), amount_to_capture=250)
    connector.call(Flow.CAPTURE, data)
    order_id = data.connector_metadata.pop("order_id")
    synced = connector.call(Flow.PSYNC, data)
    assert synced.status == "charged"  # the gateway's word for the pre-auth
    assert (synced.amount_captured, synced.amount_captured_unknown) == (None, True)
    assert synced.connector_metadata["order_id"] == order_id


def test_psync_finds_a_payment_by_attempt_reference_before_its_id_is_known(connector, gateway):
    data = payment()
    connector.call(Flow.AUTHORIZE, data)
    synced = connector.call(Flow.PSYNC, payment(attempt_reference=data.attempt_reference))
    assert synced.status == "charged"
    assert synced.connector_reference == gateway.transactions("SALE")[0].id


def test_psync_reporting_another_amount_fails_the_integrity_check(connector, gateway):
    data = payment(amount=1204)
    data = after(data, connector.call(Flow.AUTHORIZE, data))
    gateway.app.faults.arm(wrong_amount=True)
    with pytest.raises(IntegrityMismatch) as caught:
        connector.call(Flow.PSYNC, data)
    assert caught.value.mismatches == {"amount": (1204, 1205)}


def test_flows_the_gateway_does_not_have_are_not_supported(connector):
    assert not AuthipayConnector.supports(Flow.SESSION_TOKEN)
    with pytest.raises(FlowNotSupported, match="not supported by this connector"):
        connector.call(Flow.SESSION_TOKEN, payment())
    assert set(AuthipayConnector.supported_flows()) == {
        Flow.AUTHORIZE,
        Flow.COMPLETE_AUTHORIZE,
        Flow.CAPTURE,
        Flow.VOID,
        Flow.PSYNC,
        Flow.REFUND,
        Flow.RSYNC,
        Flow.TOKENIZE,
        Flow.VERIFY,
        Flow.CHECK_CONNECTION,
    }
