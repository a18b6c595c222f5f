"""Fiserv's own Python client (``first-data-gateway`` 1.14.0, package ``openapi_client``) drives
the Authipay simulator: every answer must deserialize into the client's models, whose setters
refuse values outside the published enums.

Only the client's API classes and models are used: its top-level helper module (the
``simple`` wrappers of its GitHub repository) does not run on Python 3 and is not in the
package. The client computes no Message-Signature, so the test signs as Fiserv's North American
pages and SDK samples do (Base64 of the hex digest), with the simulator's store set to ``hex``:
the per-account setting both signatures in the wild need.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

openapi_client = pytest.importorskip("openapi_client", reason="first-data-gateway is pinned in requirements.txt")

from openapi_client import models  # noqa: E402
from openapi_client.api.payment_api import PaymentApi  # noqa: E402
from openapi_client.api.payment_token_api import PaymentTokenApi  # noqa: E402
from openapi_client.api.verification_api import VerificationApi  # noqa: E402
from openapi_client.exceptions import ApiException  # noqa: E402

from connectors.authipay.signature import HEX_DIGEST, sign  # noqa: E402

from .conftest import CREDENTIALS  # noqa: E402

KEY, SECRET, STORE = CREDENTIALS["api_key"], CREDENTIALS["api_secret"], CREDENTIALS["store_id"]


class Client:
    """The generated API classes pointed at the simulator, with each call signed by hand."""

    def __init__(self, base_url: str):
        configuration = openapi_client.Configuration()
        configuration.host = base_url
        self.api_client = openapi_client.ApiClient(configuration)
        self.payments = PaymentApi(self.api_client)
        self.tokens = PaymentTokenApi(self.api_client)
        self.verification = VerificationApi(self.api_client)

    def headers(self, model=None) -> dict:
        """The generated client sends json.dumps of its sanitized model: sign that exact text."""
        body = "" if model is None else json.dumps(self.api_client.sanitize_for_serialization(model))
        crid, timestamp = str(uuid.uuid4()), int(time.time() * 1000)
        signature = sign(KEY, SECRET, crid, str(timestamp), body, encoding=HEX_DIGEST)
        return {
            "content_type": "application/json",
            "client_request_id": crid,
            "api_key": KEY,
            "timestamp": timestamp,
            "message_signature": signature,
        }

    def primary(self, model):
        return self.payments.submit_primary_transaction(primary_transaction=model, **self.headers(model))

    def secondary(self, transaction_id: str, model):
        return self.payments.submit_secondary_transaction(
            transaction_id=transaction_id, secondary_transaction=model, **self.headers(model)
        )

    def inquiry(self, transaction_id: str):
        return self.payments.transaction_inquiry(transaction_id=transaction_id, store_id=STORE, **self.headers())

    def read_error(self, error: ApiException, model_name: str):
        """The client raises on non-2xx without reading the body: deserialize it the client's way."""
        return self.api_client.deserialize(type("Answer", (), {"data": error.body})(), model_name)


@pytest.fixture
def client(gateway):
    gateway.app.signature_encodings[KEY] = HEX_DIGEST
    # Fiserv's client writes its own requests; the test holds the simulator's answers to the
    # description and the client's models (the conftest observer checks requests too).
    return Client(gateway.base_url)


def card(number: str = "5424180279791732"):
    return models.PaymentCard(
        number=number,
        security_code="977",
        expiry_date=models.Expiration(month="12", year="31"),
        cardholder_name="Ada Lovelace",
    )


def amount(total: float = 12.04):
    return models.Amount(total=total, currency="EUR")


def sale(request_type: str = "PaymentCardSaleTransaction", number: str = "5424180279791732", **fields):
    model_class = getattr(models, request_type)
    return model_class(
        request_type=request_type,
        transaction_amount=amount(),
        payment_method=models.PaymentCardPaymentMethod(payment_card=card(number)),
        store_id=STORE,
        **fields,
    )


def test_a_sale_and_its_inquiry_deserialize(client):
    answer = client.primary(sale())
    assert isinstance(answer, models.TransactionResponse)
    assert (answer.transaction_status, answer.transaction_state, answer.transaction_type) == (
        "APPROVED",
        "CAPTURED",
        "SALE",
    )
    assert answer.approved_amount.total == 12.04 and answer.payment_method_details.payment_card.last4 == "1732"
    assert abs(answer.transaction_time - time.time()) < 60, "transactionTime is epoch seconds"
    again = client.inquiry(answer.ipg_transaction_id)
    assert again.ipg_transaction_id == answer.ipg_transaction_id and again.transaction_state == "CAPTURED"


def test_preauth_postauth_return_and_void_deserialize(client):
    held = client.primary(sale("PaymentCardPreAuthTransaction"))
    assert held.transaction_state == "AUTHORIZED"
    captured = client.secondary(
        held.ipg_transaction_id,
        models.PostAuthTransaction(request_type="PostAuthTransaction", transaction_amount=amount(10)),
    )
    assert (captured.transaction_type, captured.transaction_state) == ("POSTAUTH", "CAPTURED")
    returned = client.secondary(
        held.ipg_transaction_id,
        models.ReturnTransaction(request_type="ReturnTransaction", transaction_amount=amount(4)),
    )
    assert (returned.transaction_type, returned.transaction_state) == ("RETURN", "CAPTURED")
    other = client.primary(sale("PaymentCardPreAuthTransaction"))
    voided = client.secondary(other.ipg_transaction_id, models.VoidTransaction(request_type="VoidTransaction"))
    assert (voided.transaction_type, voided.transaction_state) == ("VOID", "VOIDED")


def test_a_3ds_challenge_answer_deserializes_with_the_published_version(client):
    challenge = models.Secure3D21AuthenticationRequest(
        authentication_type="Secure3D21AuthenticationRequest", term_url="https://shop.example/return"
    )
    answer = client.primary(sale(number="4000000000003220", authentication_request=challenge))
    assert (answer.transaction_status, answer.authentication_response.version) == ("WAITING", "2.1")
    params = answer.authentication_response.params
    assert (
        params.acs_url.endswith("/acs/challenge") and params.c_req and params.term_url == "https://shop.example/return"
    )


def test_tokenization_and_card_verification_deserialize(client):
    request = models.PaymentCardPaymentTokenizationRequest(
        request_type="PaymentCardPaymentTokenizationRequest",
        create_token=models.CreatePaymentToken(reusable=True),
        payment_card=card(),
        store_id=STORE,
    )
    token = client.tokens.create_payment_token(payment_tokenization_request=request, **client.headers(request))
    assert isinstance(token, models.PaymentTokenizationResponse)
    assert token.request_status == "SUCCESS" and token.payment_token.last4 == "1732"
    check = models.CardVerificationRequest(payment_card=card(), store_id=STORE)
    verified = client.verification.verify_card(card_verification_request=check, **client.headers(check))
    assert (verified.transaction_type, verified.transaction_status, verified.transaction_state) == (
        "PREAUTH",
        "APPROVED",
        "AUTHORIZED",
    )
    assert verified.approved_amount.total == 0


def test_declines_and_errors_deserialize_into_the_published_error_models(client):
    with pytest.raises(ApiException) as declined:
        client.primary(sale(number="4000000000000002"))
    assert declined.value.status == 422
    answer = client.read_error(declined.value, "TransactionErrorResponse")
    assert answer.transaction_status == "DECLINED" and answer.processor.response_code == "05"
    assert answer.response_type == "EndpointDeclined" and answer.error.code == "endpoint_declined"
    with pytest.raises(ApiException) as missing:
        client.inquiry("999999999")
    error = client.read_error(missing.value, "ErrorResponse")
    assert missing.value.status == 404 and error.response_type == "NotFound"
    assert [detail.message for detail in error.error.details] == ["transaction 999999999 does not exist"]
