"""The Message-Signature formula, the gateway's checks of it, and Client-Request-Id idempotency."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from connectors.authipay.adapter import AuthipayConnector
from connectors.authipay.signature import sign
from connectors.base import Flow
from connectors.errors import ConnectorAuthenticationFailed, ConnectorUnknownOutcome

from .conftest import CREDENTIALS, payment

CRID = "9a1b6f7e-0c3d-4e2f-8a5b-6c7d8e9f0a1b"
BODY = '{"requestType":"PaymentCardSaleTransaction"}'


def by_hand(api_key: str, secret: str, crid: str, timestamp: str, body: str) -> str:
    message = (api_key + crid + timestamp + body).encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


def test_signature_matches_the_fixed_vector_computed_by_hand():
    expected = by_hand("ak_fixed", "as_fixed_secret", CRID, "1700000000000", BODY)
    assert expected == "P8KiVhpcijv52l+Y1feWtjlJxEvT+6H1YzF1bvnei+c="
    assert sign("ak_fixed", "as_fixed_secret", CRID, "1700000000000", BODY) == expected


def test_signature_of_a_get_covers_no_body():
    assert sign("ak_fixed", "as_fixed_secret", CRID, "1700000000000", "") == (
        "/bk2exGoW4a+deXrpKZKPCE7jny4H5ewsaajYFzlUx4="
    )


def test_request_carries_the_headers_and_signs_its_exact_body(connector):
    request = connector.build_request(Flow.AUTHORIZE, payment())
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Api-Key"] == CREDENTIALS["api_key"]
    assert abs(int(headers["Timestamp"]) - time.time() * 1000) < 5000
    assert headers["Message-Signature"] == by_hand(
        CREDENTIALS["api_key"],
        CREDENTIALS["api_secret"],
        headers["Client-Request-Id"],
        headers["Timestamp"],
        request.body.decode("utf-8"),
    )


def test_sync_is_a_get_without_body_signed_over_the_empty_text(connector):
    request = connector.build_request(Flow.PSYNC, payment(connector_reference="84000001"))
    assert request.method == "GET" and request.body is None
    assert request.headers["Message-Signature"] == by_hand(
        CREDENTIALS["api_key"],
        CREDENTIALS["api_secret"],
        request.headers["Client-Request-Id"],
        request.headers["Timestamp"],
        "",
    )


def test_gateway_refuses_a_signature_made_with_another_secret(gateway):
    wrong = AuthipayConnector(credentials={**CREDENTIALS, "api_secret": "not_the_secret"}, base_url=gateway.base_url)
    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        wrong.call(Flow.AUTHORIZE, payment())
    assert caught.value.status_code == 401 and caught.value.connector_code == "invalid_signature"
    assert gateway.app.transactions == {}


def test_gateway_refuses_a_body_changed_after_signing(connector, gateway):
    request = connector.build_request(Flow.AUTHORIZE, payment(amount=1204))
    request.body = request.body.replace(b"12.04", b"1.04")
    response = connector.execute_request(request, Flow.AUTHORIZE)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"


# 310, not 301: a timestamp 301 s ahead is only 299 s ahead once a busy machine took 2 s to
# deliver the request, and the gateway rightly accepts it.
@pytest.mark.parametrize("skew_seconds", [-310, 310])
def test_gateway_refuses_a_timestamp_more_than_five_minutes_off(connector, skew_seconds):
    connector.clock = lambda: time.time() + skew_seconds
    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        connector.call(Flow.AUTHORIZE, payment())
    assert caught.value.connector_code == "stale_timestamp"


def test_gateway_accepts_a_timestamp_a_little_behind(connector):
    connector.clock = lambda: time.time() - 240
    assert connector.call(Flow.AUTHORIZE, payment()).status == "charged"


def test_gateway_refuses_an_unknown_api_key(gateway):
    stranger = AuthipayConnector(credentials={**CREDENTIALS, "api_key": "ak_unknown"}, base_url=gateway.base_url)
    with pytest.raises(ConnectorAuthenticationFailed) as caught:
        stranger.call(Flow.AUTHORIZE, payment())
    assert caught.value.connector_code == "invalid_api_key"


def test_each_build_gets_its_own_client_request_id(connector):
    data = payment()
    first = connector.build_request(Flow.AUTHORIZE, data)
    second = connector.build_request(Flow.AUTHORIZE, data)
    assert first.headers["Client-Request-Id"] != second.headers["Client-Request-Id"]


def test_resending_the_same_request_returns_the_first_answer_and_charges_once(connector, gateway):
    request = connector.build_request(Flow.AUTHORIZE, payment())
    first = connector.execute_request(request, Flow.AUTHORIZE)
    again = connector.execute_request(request, Flow.AUTHORIZE)
    assert first.json()["ipgTransactionId"] == again.json()["ipgTransactionId"]
    assert len(gateway.transactions("SALE")) == 1


def test_a_lost_answer_is_recovered_by_resending_the_same_request(connector, gateway):
    data = payment()
    request = connector.build_request(Flow.AUTHORIZE, data)
    gateway.app.faults.arm(truncate=True)
    with pytest.raises(ConnectorUnknownOutcome):
        connector.handle_response(Flow.AUTHORIZE, data, connector.execute_request(request, Flow.AUTHORIZE))
    result = connector.handle_response(Flow.AUTHORIZE, data, connector.execute_request(request, Flow.AUTHORIZE))
    assert result.status == "charged"
    assert [tx.id for tx in gateway.transactions("SALE")] == [result.connector_reference]


def test_call_log_masks_secrets_card_number_and_security_code(connector):
    connector.call(Flow.AUTHORIZE, payment())
    record = connector.calls[0]
    logged = json.dumps(vars(record))
    for secret in (CREDENTIALS["api_key"], CREDENTIALS["api_secret"], "4111111111111111"):
        assert secret not in logged
    card = json.loads(record.request_body)["paymentMethod"]["paymentCard"]
    assert card["number"].endswith("1111") and card["securityCode"] != "977"
