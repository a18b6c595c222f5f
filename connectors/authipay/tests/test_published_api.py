"""Authipay held to Fiserv's published API (published_api.py), not to the adapter's own reading.

Each of issue 18's seven inputs is a test here; the conftest's ``gateway`` fixture also checks
every exchange of every Authipay test against the description. The simulator refuses what the
description refuses, so an adapter that drifts fails against it as it would against Fiserv.
"""

from __future__ import annotations

import json

import pytest
import requests

from connectors.authipay import transformers
from connectors.authipay.adapter import AuthipayConnector
from connectors.authipay.published_api import API
from connectors.authipay.signature import HEX_DIGEST, RAW_DIGEST, sign
from connectors.authipay.simulator import AuthipaySimulator
from connectors.base import Flow, HttpResponse
from connectors.errors import ConnectorAuthenticationFailed, ConnectorBadRequest
from connectors.testing.contract import Exchange, check_exchange
from connectors.testing.simulator import SimulatorServer

from .conftest import CREDENTIALS, after, payment, refund
from .test_three_ds import CHALLENGE_1, CHALLENGE_2, ReturnReceiver, customer_authenticates, start


@pytest.fixture(scope="module")
def _return_server():
    receiver = ReturnReceiver()
    with SimulatorServer(receiver) as base_url:
        receiver.return_url = f"{base_url}/return"
        yield receiver


@pytest.fixture
def shop(_return_server):
    """Where the customer's browser comes back after the ACS (Pagoflex's return URL)."""
    _return_server.posted.clear()
    yield _return_server
    _return_server.settle()  # a browser post of this test cannot land in the next one


def last_exchange(connector) -> tuple[dict, dict]:
    call = connector.calls[-1]
    return json.loads(call.request_body or "{}"), json.loads(call.response_body)


def send_raw(connector, method: str, path: str, payload: dict) -> requests.Response:
    """A correctly signed request with a body the adapter would not write (the old shapes)."""
    request = connector.signed_request(method, path, payload)
    return requests.request(request.method, request.url, headers=request.headers, data=request.body, timeout=5)


def detail_fields(answer: requests.Response) -> list[str]:
    return [detail.get("field") for detail in answer.json()["error"]["details"]]


# -- 1. paymentCard.cardholderName --------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "capture_method", "card_at"),
    [
        (Flow.AUTHORIZE, "automatic", ("paymentMethod", "paymentCard")),
        (Flow.AUTHORIZE, "manual", ("paymentMethod", "paymentCard")),
        (Flow.TOKENIZE, "automatic", ("paymentCard",)),
        (Flow.VERIFY, "automatic", ("paymentCard",)),
    ],
)
def test_the_card_holder_travels_as_the_published_cardholderName(connector, flow, capture_method, card_at):
    connector.call(flow, payment(capture_method=capture_method))
    card, _ = last_exchange(connector)
    for key in card_at:
        card = card[key]
    assert card["cardholderName"] == "Ada Lovelace" and "holderName" not in card


def test_the_simulator_refuses_the_unpublished_holderName_naming_the_field(connector, gateway):
    body = transformers.payment_request(payment(), CREDENTIALS["store_id"])
    card = body["paymentMethod"]["paymentCard"]
    card["holderName"] = card.pop("cardholderName")
    answer = send_raw(connector, "POST", "/payments", body)
    assert answer.status_code == 400
    assert detail_fields(answer) == ["paymentMethod.paymentCard.holderName"]
    assert gateway.transactions("SALE") == []
    gateway.app.contract.violations.clear()  # the test sent the unpublished shape on purpose


# -- 2. 3-D Secure 1.0 continuation ------------------------------------------------------------


def test_the_3ds1_continuation_sends_payerAuthenticationResponse_and_merchantData(connector, shop):
    data, result = start(connector, shop, card=CHALLENGE_1)
    customer_authenticates(result.next_action, "1234")
    data.redirect_params = shop.posted[0]
    assert connector.call(Flow.COMPLETE_AUTHORIZE, data).status == "charged"
    sent, _ = last_exchange(connector)
    assert set(sent) == {"authenticationType", "storeId", "payerAuthenticationResponse", "merchantData"}
    assert sent["payerAuthenticationResponse"] == shop.posted[0]["PaRes"]
    assert sent["merchantData"] == shop.posted[0]["MD"]


def test_the_simulator_refuses_the_old_acsResponse_paRes_md_shape(connector, gateway, shop):
    data, result = start(connector, shop, card=CHALLENGE_1)
    customer_authenticates(result.next_action, "1234")
    posted = shop.posted[0]
    old_shape = {
        "authenticationType": "Secure3D10AuthenticationUpdateRequest",
        "storeId": CREDENTIALS["store_id"],
        "acsResponse": {"paRes": posted["PaRes"], "md": posted["MD"]},
    }
    answer = send_raw(connector, "PATCH", f"/payments/{result.connector_reference}", old_shape)
    assert answer.status_code == 400
    assert set(detail_fields(answer)) == {"acsResponse", "payerAuthenticationResponse"}
    assert gateway.app.transactions[result.connector_reference].status == "WAITING"
    gateway.app.contract.violations.clear()


# -- 3. a partial return stays inside the published transactionState enum ----------------------


def test_a_partial_return_answers_a_published_state_and_reads_as_succeeded(connector):
    paid = payment(amount=5000)
    sale = connector.call(Flow.AUTHORIZE, paid)
    returned = connector.call(Flow.REFUND, refund(paid, sale.connector_reference, 2000))
    _, answer = last_exchange(connector)
    assert (answer["transactionType"], answer["transactionStatus"], answer["transactionState"]) == (
        "RETURN",
        "APPROVED",
        "CAPTURED",
    )
    assert returned.status == "succeeded" and returned.amount == 2000
    assert "RETURNED" not in {state for _, state in transformers.STATUS_TABLE}


# -- 4. authenticationResponse.version ---------------------------------------------------------


@pytest.mark.parametrize(("card", "version"), [(CHALLENGE_2, "2.1"), (CHALLENGE_1, "1.0")])
def test_3ds_answers_carry_the_published_protocol_version(connector, shop, card, version):
    start(connector, shop, card=card)
    _, answer = last_exchange(connector)
    assert answer["transactionStatus"] == "WAITING"
    assert answer["authenticationResponse"]["version"] == version


# -- 5. card verification: an approved zero-amount pre-authorization ---------------------------


def test_card_verification_answers_a_zero_amount_preauth_and_the_adapter_settles_it(connector):
    result = connector.call(Flow.VERIFY, payment())
    _, answer = last_exchange(connector)
    assert (answer["transactionType"], answer["transactionStatus"], answer["transactionState"]) == (
        "PREAUTH",
        "APPROVED",
        "AUTHORIZED",
    )
    assert answer["approvedAmount"]["total"] == 0
    # Read through the payment status table this would be AUTHORIZED and never end; a
    # verification has nothing to capture, so its approval is final.
    assert transformers.attempt_status(answer) == "authorized"
    assert result.status == "charged"


def test_a_declined_verification_is_a_failure_and_an_unknown_one_stays_pending():
    assert transformers.verification_status({"transactionStatus": "DECLINED", "transactionState": "DECLINED"}) == (
        "failure"
    )
    assert transformers.verification_status({"transactionStatus": "WAITING", "transactionState": "PENDING"}) == (
        "pending"
    )


# -- 6. transactionTime in seconds -------------------------------------------------------------


def test_transaction_time_is_epoch_seconds(gateway, connector):
    gateway.app.clock = lambda: 1_764_460_800.75  # 2025-11-30T00:00:00.75Z
    connector.clock = gateway.app.clock
    connector.call(Flow.AUTHORIZE, payment())
    _, answer = last_exchange(connector)
    assert answer["transactionTime"] == 1_764_460_800


# -- 7. error details: field and message -------------------------------------------------------


def test_error_details_name_the_field_and_the_adapter_reads_them(connector, gateway):
    body = transformers.payment_request(payment(), CREDENTIALS["store_id"])
    body["transactionAmount"]["currency"] = "euro"
    answer = send_raw(connector, "POST", "/payments", body)
    assert answer.status_code == 400
    details = answer.json()["error"]["details"]
    assert details and all(set(d) == {"field", "message"} for d in details), details
    assert details[0]["field"] == "transactionAmount.currency"
    code, message = connector.read_error(HttpResponse(400, {}, answer.content))
    assert code == "invalid_request" and "transactionAmount.currency: " in message
    gateway.app.contract.violations.clear()


def test_an_invalid_card_number_is_refused_with_a_field_less_detail(connector):
    with pytest.raises(ConnectorBadRequest, match="Card number is not valid"):
        connector.call(Flow.AUTHORIZE, payment(card="4111111111111112"))
    _, answer = last_exchange(connector)
    assert answer["error"]["details"] == [{"message": "Card number is not valid"}]


# -- the description itself catches each kind -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "answer", "complaint"),
    [
        (200, {"transactionState": "RETURNED"}, "transactionState: 'RETURNED' is not one of"),
        (200, {"transactionTime": 1_764_460_800_123}, "must be epoch seconds, got 1764460800123 (milliseconds)"),
        (200, {"authenticationResponse": {"version": "2.1.0"}}, "authenticationResponse.version: '2.1.0'"),
        (200, {"transactionType": "VERIFICATION"}, "transactionType: 'VERIFICATION' is not one of"),
        (200, {"storeId": "12345500000"}, "storeId: not a field of the published description"),
        (400, {"error": {"details": [{"location": "body"}]}}, "error.details[0].location: not a field"),
        (200, {"approvedAmount": {"total": "12.04", "currency": "EUR"}}, "approvedAmount.total: must be number"),
    ],
)
def test_the_description_refuses_each_drift_the_issue_found(status, answer, complaint):
    exchange = Exchange("GET", "/payments/84000001", {}, {}, b"", status, json.dumps(answer).encode())
    problems = check_exchange(API, exchange, requests=False)
    assert any(complaint in problem for problem in problems), problems


def test_the_description_accepts_a_faithful_answer_and_refuses_an_unknown_operation():
    faithful = {"transactionStatus": "APPROVED", "transactionState": "CAPTURED", "transactionTime": 1_764_460_800}
    ok = Exchange("GET", "/payments/84000001", {"storeId": "1"}, {}, b"", 200, json.dumps(faithful).encode())
    assert check_exchange(API, ok, requests=False) == []
    unknown = Exchange("POST", "/refunds", {}, {}, b"{}", 200, b"{}")
    assert check_exchange(API, unknown) == ["POST /refunds: not an operation of " + f"{API.name} {API.version}"]


# -- Message-Signature encoding: a per-account setting ------------------------------------------


def test_signature_encodings_are_base64_of_the_raw_digest_or_of_its_hex_text():
    # Known answers computed outside Python: printf '%s' 'keycrid1764460800000{"a":1}' |
    # openssl dgst -sha256 -hmac secret -binary | base64  (and, for hex, without -binary).
    args = ("key", "secret", "crid", "1764460800000", '{"a":1}')
    assert sign(*args) == sign(*args, encoding=RAW_DIGEST) == "xbMdCKnC2jpQtuxYG4vWoiObyL6JZbhDHLkYXxuMOro="
    assert sign(*args, encoding=HEX_DIGEST) == (
        "YzViMzFkMDhhOWMyZGEzYTUwYjZlYzU4MWI4YmQ2YTIyMzliYzhiZTg5NjViODQzMWNiOTE4NWYxYjhjM2FiYQ=="
    )
    with pytest.raises(ValueError, match="signature encoding"):
        sign(*args, encoding="base32")


@pytest.mark.parametrize("encoding", [RAW_DIGEST, HEX_DIGEST])
def test_an_account_signs_the_way_its_gateway_expects(gateway, encoding):
    key = CREDENTIALS["api_key"]
    gateway.app.signature_encodings[key] = encoding
    credentials = {**CREDENTIALS, "signature_encoding": encoding}
    assert AuthipayConnector.validate_credentials(credentials) == {}
    connector = AuthipayConnector(credentials=credentials, base_url=gateway.base_url)
    assert connector.call(Flow.AUTHORIZE, payment()).status == "charged"
    other = HEX_DIGEST if encoding == RAW_DIGEST else RAW_DIGEST
    mismatched = AuthipayConnector(credentials={**CREDENTIALS, "signature_encoding": other}, base_url=gateway.base_url)
    with pytest.raises(ConnectorAuthenticationFailed, match="Message-Signature"):
        mismatched.call(Flow.AUTHORIZE, payment())


def test_the_default_signature_encoding_is_the_specifications_raw_digest(gateway, connector):
    assert "signature_encoding" not in CREDENTIALS and connector.signature_encoding == RAW_DIGEST
    assert AuthipaySimulator(stores={}).signature_encodings.get("any", RAW_DIGEST) == RAW_DIGEST
    assert connector.call(Flow.AUTHORIZE, payment()).status == "charged"


def test_an_unknown_signature_encoding_is_refused_with_the_field_named():
    errors = AuthipayConnector.validate_credentials({**CREDENTIALS, "signature_encoding": "b64"})
    assert list(errors) == ["signature_encoding"] and "raw, hex" in errors["signature_encoding"]


def test_a_partial_capture_of_a_preauth_answers_within_the_description(connector):
    paid = payment(amount=3000, capture_method="manual")
    held = connector.call(Flow.AUTHORIZE, paid)
    assert connector.call(Flow.CAPTURE, after(paid, held, amount_to_capture=1000)).status == "partially_charged"
