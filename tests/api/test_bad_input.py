"""Every bad request answers 4xx in the one error shape, names the field, and changes nothing."""

import json

import pytest

from connectors.models import ConnectorCall
from payments.models import PaymentOperation, Refund
from tests.helpers import card, payment_body

EXPIRED = {"number": "4242424242424242", "exp_month": 1, "exp_year": 2020, "cvc": "123"}

BAD_PAYMENTS = [
    ("amount missing", {"currency": "EUR"}, "parameter_missing", "amount"),
    ("amount as string", {"amount": "1050", "currency": "EUR"}, "parameter_invalid", "amount"),
    ("amount as float", {"amount": 10.5, "currency": "EUR"}, "parameter_invalid", "amount"),
    ("amount with decimals for JPY", {"amount": 100.5, "currency": "JPY"}, "parameter_invalid", "amount"),
    ("amount as boolean", {"amount": True, "currency": "EUR"}, "parameter_invalid", "amount"),
    ("amount zero", {"amount": 0, "currency": "EUR"}, "amount_invalid", "amount"),
    ("amount negative", {"amount": -5, "currency": "EUR"}, "amount_invalid", "amount"),
    ("amount huge", {"amount": 10**15, "currency": "EUR"}, "amount_too_large", "amount"),
    ("amount null", {"amount": None, "currency": "EUR"}, "parameter_missing", "amount"),
    ("currency missing", {"amount": 100}, "parameter_missing", "currency"),
    ("currency unknown", {"amount": 100, "currency": "XYZ"}, "currency_invalid", "currency"),
    ("currency too long", {"amount": 100, "currency": "EURO"}, "currency_invalid", "currency"),
    ("currency as number", {"amount": 100, "currency": 978}, "parameter_invalid", "currency"),
    ("capture method unknown", {"amount": 100, "currency": "EUR", "capture_method": "later"}, "parameter_invalid",
     "capture_method"),
    ("confirm as string", {"amount": 100, "currency": "EUR", "confirm": "yes"}, "parameter_invalid", "confirm"),
    ("unknown field", {"amount": 100, "currency": "EUR", "amout": 5}, "parameter_unknown", "amout"),
    ("metadata not an object", {"amount": 100, "currency": "EUR", "metadata": ["a"]}, "parameter_invalid",
     "metadata"),
    ("metadata value not a string", {"amount": 100, "currency": "EUR", "metadata": {"k": 1}}, "metadata_invalid",
     "metadata"),
    ("return_url not a URL", {"amount": 100, "currency": "EUR", "return_url": "javascript:alert(1)"},
     "parameter_invalid", "return_url"),
    ("customer email invalid", {"amount": 100, "currency": "EUR", "customer": {"email": "not-an-email"}},
     "parameter_invalid", "customer.email"),
    ("customer unknown field", {"amount": 100, "currency": "EUR", "customer": {"age": 3}}, "parameter_unknown",
     "customer.age"),
    ("description too long", {"amount": 100, "currency": "EUR", "description": "x" * 1001}, "parameter_invalid",
     "description"),
    ("confirm without payment method", {"amount": 100, "currency": "EUR", "confirm": True}, "payment_method_required",
     "payment_method_data"),
    ("card number fails Luhn", payment_body(number="4242424242424241"), "card_number_invalid",
     "payment_method_data.card.number"),
    ("card number with letters", payment_body(number="4242abcd42424242"), "card_number_invalid",
     "payment_method_data.card.number"),
    ("card number too short", payment_body(number="4242"), "card_number_invalid", "payment_method_data.card.number"),
    ("card expired", {**payment_body(), "payment_method_data": {"card": EXPIRED}}, "card_expired",
     "payment_method_data.card.exp_year"),
    ("card month 13", {**payment_body(), "payment_method_data": {"card": {**card(), "exp_month": 13}}},
     "parameter_invalid", "payment_method_data.card.exp_month"),
    ("cvc letters", {**payment_body(), "payment_method_data": {"card": {**card(), "cvc": "12a"}}}, "cvc_invalid",
     "payment_method_data.card.cvc"),
    ("cvc as number", {**payment_body(), "payment_method_data": {"card": {**card(), "cvc": 123}}},
     "parameter_invalid", "payment_method_data.card.cvc"),
    ("card missing number", {**payment_body(), "payment_method_data": {"card": {"exp_month": 1, "exp_year": 2030}}},
     "parameter_missing", "payment_method_data.card.number"),
    ("card unknown field", {**payment_body(), "payment_method_data": {"card": {**card(), "pin": "1234"}}},
     "parameter_unknown", "payment_method_data.card.pin"),
    ("upi vpa invalid", {"amount": 100, "currency": "INR", "payment_method_type": "upi",
                         "payment_method_data": {"upi": {"flow": "collect", "vpa": "no-at-sign"}}},
     "vpa_invalid", "payment_method_data.upi.vpa"),
    ("upi collect without vpa", {"amount": 100, "currency": "INR", "payment_method_type": "upi",
                                 "payment_method_data": {"upi": {"flow": "collect"}}},
     "parameter_dependency", "payment_method_data.upi.vpa"),
    ("upi flow unknown", {"amount": 100, "currency": "INR", "payment_method_type": "upi",
                          "payment_method_data": {"upi": {"flow": "push"}}}, "parameter_invalid",
     "payment_method_data.upi.flow"),
    ("type and data disagree", {"amount": 100, "currency": "EUR", "payment_method_type": "upi",
                                "payment_method_data": {"card": card()}}, "parameter_dependency",
     "payment_method_data"),
    ("payment method type unknown", {"amount": 100, "currency": "EUR", "payment_method_type": "cash"},
     "parameter_invalid", "payment_method_type"),
    ("connector unknown", {**payment_body(), "connector": "mca_nope"}, "resource_missing", "connector"),
    ("SQL injection in description is just text, but too long", {"amount": 100, "currency": "EUR",
     "description": "'; DROP TABLE payments_paymentoperation; --" * 30}, "parameter_invalid", "description"),
    ("NUL byte in text", {"amount": 100, "currency": "EUR", "merchant_reference": "a\u0000b"}, "text_not_storable",
     "merchant_reference"),
]


@pytest.mark.parametrize("name, body, code, param", BAD_PAYMENTS, ids=[case[0] for case in BAD_PAYMENTS])
def test_bad_payment_requests_are_refused_with_the_field_named(api, sandbox_account, name, body, code, param):
    response = api.post("/v1/payments", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert error["param"] == param
    assert error["message"]
    assert PaymentOperation.objects.count() == 0
    assert ConnectorCall.objects.count() == 0


def test_malformed_json_is_refused(api, db):
    response = api.post("/v1/payments", data='{"amount": 10,', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_body_that_is_not_an_object_is_refused(api, db):
    response = api.post("/v1/payments", data=json.dumps([1, 2]), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_wrong_content_type_is_refused(api, db):
    response = api.post("/v1/payments", data="amount=10&currency=EUR",
                        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_oversize_body_is_refused(api, db):
    body = json.dumps({"amount": 100, "currency": "EUR", "description": "x" * (300 * 1024)})
    response = api.post("/v1/payments", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert PaymentOperation.objects.count() == 0


def test_unknown_url_answers_404_in_the_error_shape(api, db):
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


def test_wrong_method_answers_405_in_the_error_shape(api, db):
    response = api.delete("/v1/payments")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_bad_capture_amount_changes_nothing(api, sandbox_account):
    payment = api.post("/v1/payments", payment_body(1000, capture_method="manual"), format="json").json()
    for bad in ({"amount": 0}, {"amount": "10"}, {"amount": -1}, {"amount": 1.5}, {"extra": 1}):
        response = api.post(f"/v1/payments/{payment['id']}/capture", bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["error"]["param"] in ("amount", "extra")
    stored = PaymentOperation.objects.get(public_id=payment["id"])
    assert stored.status == "requires_capture" and stored.amount_captured == 0 and stored.amount_capturing == 0


def test_bad_refund_requests_change_nothing(api, sandbox_account):
    payment = api.post("/v1/payments", payment_body(1000), format="json").json()
    cases = [({"amount": 100}, "payment"), ({"payment": payment["id"], "amount": 0}, "amount"),
             ({"payment": payment["id"], "amount": "5"}, "amount"), ({"payment": payment["id"], "reason": 5}, "reason"),
             ({"payment": payment["id"], "amount": 1001}, "amount")]
    for body, param in cases:
        response = api.post("/v1/refunds", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["param"] == param
    assert api.post("/v1/refunds", {"payment": "pay_unknown"}, format="json").status_code == 404
    assert Refund.objects.count() == 0


def test_bad_list_filters_are_refused(api, db):
    response = api.get("/v1/payments?status=bogus")
    assert response.status_code == 400 and response.json()["error"]["param"] == "status"
    response = api.get("/v1/payments?created[gte]=yesterday")
    assert response.status_code == 400 and response.json()["error"]["param"] == "created_gte"
