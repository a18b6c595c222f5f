"""More bad requests, on every endpoint: injection strings, wrong keys, other merchants' ids,
bad headers. Each answers 4xx in the one error shape, names the field at fault (a body field,
the Authorization or Idempotency-Key header, or the id in the URL), and changes nothing.

With tests/api/test_bad_input.py this makes well over 60 distinct bad requests.
"""

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from connectors.models import ConnectorCall
from payments.models import ApiKey, IdempotencyRecord, PaymentAttempt, PaymentEvent, PaymentOperation, Refund
from tests.helpers import card, payment_body

SQL = "' OR 1=1; DROP TABLE payments_paymentoperation; --"
SCRIPT = "<script>alert(document.cookie)</script>"


@pytest.fixture
def world(api, merchant, merchant_and_key, sandbox_account, make_merchant, make_account):
    """An authorized payment and a captured one of ours, another merchant's payment and refund,
    and keys in every state: the raw material of the bad requests below."""
    authorized = api.post("/v1/payments", payment_body(1000, capture_method="manual"), format="json").json()
    captured = api.post("/v1/payments", payment_body(2000), format="json").json()
    other_merchant, other_key = make_merchant("Other shop")
    make_account(other_merchant, base_url=sandbox_account.base_url_override,
                 credentials=sandbox_account.get_credentials())
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    foreign_payment = other.post("/v1/payments", payment_body(3000), format="json").json()
    foreign_refund = other.post("/v1/refunds", {"payment": foreign_payment["id"], "amount": 100}, format="json").json()
    revoked, revoked_key = ApiKey.issue(merchant)
    revoked.revoked_at = timezone.now()
    revoked.save()
    _, live_key = ApiKey.issue(merchant, mode="live")
    return {"authorized": authorized["id"], "captured": captured["id"], "foreign_payment": foreign_payment["id"],
            "foreign_refund": foreign_refund["id"], "key": merchant_and_key[1], "revoked_key": revoked_key,
            "live_key": live_key}


def snapshot():
    """Everything a bad request might touch."""
    return {
        "payments": sorted(PaymentOperation.objects.values_list("public_id", "status", "amount_captured",
                                                                "amount_capturing", "amount_refunded", "description")),
        "attempts": PaymentAttempt.objects.count(), "refunds": Refund.objects.count(),
        "events": PaymentEvent.objects.count(), "calls": ConnectorCall.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


# (name, method, path (formatted with the world), body, extra headers, status, code, param)
CASES = [
    # -- text fields carrying injection strings where the field's rules refuse them
    ("SQL in currency", "post", "/v1/payments", {"amount": 100, "currency": SQL}, {}, 400, "currency_invalid",
     "currency"),
    ("script in capture method", "post", "/v1/payments", {"amount": 100, "currency": "EUR",
                                                           "capture_method": SCRIPT}, {}, 400, "parameter_invalid",
     "capture_method"),
    ("script as the customer's email", "post", "/v1/payments", {"amount": 100, "currency": "EUR",
                                                                 "customer": {"email": SCRIPT}}, {}, 400,
     "parameter_invalid", "customer.email"),
    ("script URL as return_url", "post", "/v1/payments", {"amount": 100, "currency": "EUR",
                                                           "return_url": "javascript:" + SCRIPT}, {}, 400,
     "parameter_invalid", "return_url"),
    ("SQL as the connector", "post", "/v1/payments", {**payment_body(100), "connector": SQL}, {}, 400,
     "parameter_invalid", "connector"),
    ("SQL as a card number", "post", "/v1/payments", {**payment_body(), "payment_method_data": {
        "card": {**card(), "number": SQL[:23]}}}, {}, 400, "card_number_invalid", "payment_method_data.card.number"),
    ("script as a VPA", "post", "/v1/payments", {"amount": 100, "currency": "INR", "payment_method_type": "upi",
                                                  "payment_method_data": {"upi": {"flow": "collect", "vpa": SCRIPT}}},
     {}, 400, "vpa_invalid", "payment_method_data.upi.vpa"),
    ("script as a metadata key too long", "post", "/v1/payments", {"amount": 100, "currency": "EUR",
                                                                    "metadata": {SCRIPT * 2: "x"}}, {}, 400,
     "metadata_key_invalid", "metadata"),
    ("SQL as a list filter", "get", "/v1/payments?status=" + SQL, None, {}, 400, "parameter_invalid", "status"),
    ("SQL as a refund's payment", "post", "/v1/refunds", {"payment": SQL[:40]}, {}, 404, "resource_missing", None),
    ("SQL in the payment id of the URL", "get", "/v1/payments/pay_' OR '1'='1", None, {}, 404, "resource_missing",
     None),
    ("script as the cancellation reason type", "post", "/v1/payments/{authorized}/cancel",
     {"cancellation_reason": [SCRIPT]}, {}, 400, "parameter_invalid", "cancellation_reason"),
    # -- wrong types and values
    ("amount as a list", "post", "/v1/payments", {"amount": [100], "currency": "EUR"}, {}, 400, "parameter_invalid",
     "amount"),
    ("amount as an object", "post", "/v1/payments", {"amount": {"value": 100}, "currency": "EUR"}, {}, 400,
     "parameter_invalid", "amount"),
    ("amount in exponent notation", "post", "/v1/payments", {"amount": 1e3, "currency": "EUR"}, {}, 400,
     "parameter_invalid", "amount"),
    ("amount past 64 bits", "post", "/v1/payments", {"amount": 2**70, "currency": "EUR"}, {}, 400,
     "amount_too_large", "amount"),
    ("currency lower-case unknown", "post", "/v1/payments", {"amount": 100, "currency": "abc"}, {}, 400,
     "currency_invalid", "currency"),
    ("customer not an object", "post", "/v1/payments", {"amount": 100, "currency": "EUR", "customer": "bob"}, {},
     400, "parameter_invalid", "customer"),
    ("card data not an object", "post", "/v1/payments", {**payment_body(), "payment_method_data": {"card": "4242"}},
     {}, 400, "parameter_invalid", "payment_method_data.card"),
    ("card year as a string", "post", "/v1/payments", {**payment_body(), "payment_method_data": {
        "card": {**card(), "exp_year": "2034"}}}, {}, 400, "parameter_invalid", "payment_method_data.card.exp_year"),
    ("card expired last month of 2021", "post", "/v1/payments", {**payment_body(), "payment_method_data": {
        "card": {**card(), "exp_month": 12, "exp_year": 2021}}}, {}, 400, "card_expired",
     "payment_method_data.card.exp_year"),
    ("Luhn-valid but 11 digits", "post", "/v1/payments", payment_body(number="42424242424"), {}, 400,
     "card_number_invalid", "payment_method_data.card.number"),
    ("VPA without a PSP", "post", "/v1/payments", {"amount": 100, "currency": "INR", "payment_method_type": "upi",
                                                    "payment_method_data": {"upi": {"flow": "collect",
                                                                                    "vpa": "alice@"}}},
     {}, 400, "vpa_invalid", "payment_method_data.upi.vpa"),
    ("capture amount above the authorization", "post", "/v1/payments/{authorized}/capture", {"amount": 1001}, {},
     400, "amount_too_large", "amount"),
    ("capture with an unknown field", "post", "/v1/payments/{authorized}/capture", {"amount": 10, "final": True},
     {}, 400, "parameter_unknown", "final"),
    ("refund with metadata not an object", "post", "/v1/refunds", {"payment": "{captured}", "metadata": "x"}, {},
     400, "parameter_invalid", "metadata"),
    ("refund above what was captured", "post", "/v1/refunds", {"payment": "{captured}", "amount": 2001}, {}, 400,
     "amount_too_large", "amount"),
    ("list limit above 100", "get", "/v1/payments?limit=1000", None, {}, 400, "parameter_invalid", "limit"),
    ("list limit zero", "get", "/v1/payments?limit=0", None, {}, 400, "parameter_invalid", "limit"),
    # -- states
    ("capture of a captured payment", "post", "/v1/payments/{captured}/capture", {}, {}, 409,
     "payment_unexpected_state", None),
    ("cancel of a captured payment", "post", "/v1/payments/{captured}/cancel", {}, {}, 409,
     "payment_unexpected_state", None),
    ("confirm of a captured payment", "post", "/v1/payments/{captured}/confirm",
     {"payment_method_data": {"card": card()}}, {}, 409, "payment_unexpected_state", None),
    ("refund of an uncaptured payment", "post", "/v1/refunds", {"payment": "{authorized}"}, {}, 409,
     "payment_unexpected_state", None),
    # -- keys
    ("no API key", "post", "/v1/payments", payment_body(), {"HTTP_AUTHORIZATION": ""}, 401, "api_key_missing",
     "Authorization"),
    ("a revoked API key", "post", "/v1/payments", payment_body(), {"HTTP_AUTHORIZATION": "Bearer {revoked_key}"},
     401, "api_key_revoked", "Authorization"),
    ("a made-up API key", "post", "/v1/refunds", {"payment": "{captured}"},
     {"HTTP_AUTHORIZATION": "Bearer sk_test_" + "x" * 32}, 401, "api_key_invalid", "Authorization"),
    ("Basic instead of Bearer", "get", "/v1/payments", None, {"HTTP_AUTHORIZATION": "Basic {key}"}, 401,
     "api_key_invalid", "Authorization"),
    ("a live key on a test payment", "post", "/v1/payments/{authorized}/capture", {},
     {"HTTP_AUTHORIZATION": "Bearer {live_key}"}, 404, "resource_missing", None),
    ("a live key refunding a test payment", "post", "/v1/refunds", {"payment": "{captured}"},
     {"HTTP_AUTHORIZATION": "Bearer {live_key}"}, 404, "resource_missing", None),
    # -- another merchant's ids
    ("another merchant's payment, retrieved", "get", "/v1/payments/{foreign_payment}", None, {}, 404,
     "resource_missing", None),
    ("another merchant's payment, captured", "post", "/v1/payments/{foreign_payment}/capture", {}, {}, 404,
     "resource_missing", None),
    ("another merchant's payment, confirmed", "post", "/v1/payments/{foreign_payment}/confirm",
     {"payment_method_data": {"card": card()}}, {}, 404, "resource_missing", None),
    ("another merchant's payment, cancelled", "post", "/v1/payments/{foreign_payment}/cancel", {}, {}, 404,
     "resource_missing", None),
    ("another merchant's payment, refunded", "post", "/v1/refunds", {"payment": "{foreign_payment}"}, {}, 404,
     "resource_missing", None),
    ("another merchant's refund, retrieved", "get", "/v1/refunds/{foreign_refund}", None, {}, 404,
     "resource_missing", None),
    # -- headers
    ("Idempotency-Key too long", "post", "/v1/payments", payment_body(), {"HTTP_IDEMPOTENCY_KEY": "k" * 256}, 400,
     "idempotency_key_invalid", "Idempotency-Key"),
    ("Idempotency-Key with a control character", "post", "/v1/payments", payment_body(),
     {"HTTP_IDEMPOTENCY_KEY": "key\x07"}, 400, "idempotency_key_invalid", "Idempotency-Key"),
]


def _fill(value, world):
    """Put the world's ids in place of "{name}" placeholders."""
    if isinstance(value, str):
        return world.get(value[1:-1], value) if value.startswith("{") and value.endswith("}") else value
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name, method, path, body, headers, status, code, param", CASES,
                         ids=[case[0] for case in CASES])
def test_a_bad_request_answers_4xx_names_the_field_and_changes_nothing(api, world, name, method, path, body,
                                                                       headers, status, code, param):
    before = snapshot()
    path = path.format(**world)
    extra = {k: v.format(**world) for k, v in headers.items()}
    # A case that brings its own Authorization header uses a client without the merchant's key.
    client = APIClient() if "HTTP_AUTHORIZATION" in extra else api
    if method == "get":
        response = client.get(path, **extra)
    else:
        response = client.post(path, json.dumps(_fill(body, world)), content_type="application/json", **extra)

    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert error["type"] in ("invalid_request_error", "authentication_error", "idempotency_error")
    assert error.get("param") == param
    assert snapshot() == before


def test_a_reused_idempotency_key_with_another_body_is_refused_and_changes_nothing(api, world):
    first = api.post("/v1/payments", {"amount": 100, "currency": "EUR"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    before = snapshot()
    response = api.post("/v1/payments", {"amount": 200, "currency": "EUR"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert snapshot() == before


def test_a_json_body_sent_as_text_plain_is_refused(api, world):
    before = snapshot()
    response = api.post("/v1/payments", json.dumps(payment_body()), content_type="text/plain")
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
    assert snapshot() == before


def test_a_body_that_is_a_json_string_is_refused(api, world):
    response = api.post("/v1/payments", json.dumps("amount=100"), content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_injection_strings_in_free_text_are_kept_as_inert_text(api, world):
    """Free-text fields accept any text; it is stored and answered verbatim as a JSON string,
    never interpreted (SQL goes through parameters, the API only speaks JSON)."""
    body = {"amount": 100, "currency": "EUR", "description": SQL, "merchant_reference": SCRIPT,
            "metadata": {"note": SQL}}
    created = api.post("/v1/payments", body, format="json")
    assert created.status_code == 201 and created.headers["Content-Type"] == "application/json"
    fetched = api.get(f"/v1/payments/{created.json()['id']}").json()
    assert (fetched["description"], fetched["merchant_reference"], fetched["metadata"]) == (SQL, SCRIPT,
                                                                                          {"note": SQL})
    assert PaymentOperation.objects.filter(description=SQL).count() == 1
