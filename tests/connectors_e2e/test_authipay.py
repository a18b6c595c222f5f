"""Authipay end to end through the API: sale and pre-auth, captures, refunds, the 3-D Secure
round trip through Pagoflex's own pages, saved cards for recurring payments, card verification."""

import pytest
import requests

from connectors.authipay.simulator import AuthipaySimulator
from connectors.masking import mask_card_data
from connectors.testing.forms import read_form
from connectors.testing.simulator import SimulatorServer
from payments.models import PaymentOperation, SavedPaymentMethod
from tests.helpers import assert_error

API_KEY, API_SECRET, STORE_ID = "ak_e2e_4f9c2a7e1b", "as_e2e_8d31b6f0c2e94a57", "12345500000"
CREDENTIALS = {"api_key": API_KEY, "api_secret": API_SECRET, "store_id": STORE_ID}
APPROVED, DECLINED, CHALLENGE = "4111111111111111", "4000000000000002", "4000000000003220"


@pytest.fixture
def gateway():
    simulator = AuthipaySimulator(stores={API_KEY: (API_SECRET, STORE_ID)})
    server = SimulatorServer(simulator).start()
    yield simulator, server.base_url
    server.stop()


@pytest.fixture
def authipay_account(merchant, make_account, gateway):
    return make_account(merchant, connector="authipay", base_url=gateway[1], credentials=CREDENTIALS)


def card(number=APPROVED):
    return {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def pay(api, amount=1204, number=APPROVED, **extra):
    response = api.post("/v1/payments", {"amount": amount, "currency": "EUR", "confirm": True,
                                         "payment_method_type": "card", "payment_method_data": {"card": card(number)},
                                         **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_sale_charges_at_once(api, authipay_account, gateway):
    payment = pay(api)
    assert payment["status"] == "succeeded" and payment["amount_captured"] == 1204
    transaction = gateway[0].transactions[payment["connector_reference"]]
    assert transaction.state == "CAPTURED"


def test_pre_auth_then_partial_and_multiple_captures_then_refunds(api, authipay_account):
    payment = pay(api, amount=3000, capture_method="manual")
    assert payment["status"] == "requires_capture"
    first = api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 1000}, format="json").json()
    assert first["status"] == "partially_captured"
    second = api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 2000}, format="json").json()
    assert second["status"] == "succeeded" and second["amount_captured"] == 3000
    for amount in (500, 700):
        refund = api.post("/v1/refunds", {"payment": payment["id"], "amount": amount}, format="json").json()
        assert refund["status"] == "succeeded", refund
    assert_error(api.post("/v1/refunds", {"payment": payment["id"], "amount": 1801}, format="json"), 400,
                 code="amount_too_large")
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 1200


def test_void_of_a_pre_auth(api, authipay_account):
    payment = pay(api, capture_method="manual")
    assert api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json").json()["status"] == "cancelled"


def test_decline_carries_the_processor_code(api, authipay_account):
    payment = pay(api, number=DECLINED)
    assert payment["status"] == "failed" and payment["last_payment_error"]["code"] == "05"


@pytest.mark.django_db(transaction=True)
def test_three_d_secure_round_trip_through_pagoflex_pages(api, authipay_account, pagoflex_server):
    payment = pay(api, number=CHALLENGE, request_three_d_secure=True, return_url="https://shop.example/back")
    assert payment["status"] == "requires_customer_action"
    action = payment["next_action"]
    # Merchants get a plain URL: Pagoflex's page, which posts the bank's form for the customer.
    assert action == {"type": "redirect_to_url", "url": f"{pagoflex_server.base_url}/payments/{payment['id']}"
                                                        "/authenticate/"}
    browser = requests.Session()
    acs_url, acs_fields = read_form(browser.get(action["url"], timeout=5))
    challenge_url, challenge_fields = read_form(browser.post(acs_url, data=acs_fields, timeout=5))
    challenge_fields["otp"] = "1234"
    back_url, back_fields = read_form(browser.post(challenge_url, data=challenge_fields, timeout=5))
    assert back_url == f"{pagoflex_server.base_url}/payments/{payment['id']}/return/"
    final = browser.post(back_url, data=back_fields, allow_redirects=False, timeout=5)
    assert final.status_code == 302
    assert final.headers["Location"].startswith("https://shop.example/back?")
    assert "status=succeeded" in final.headers["Location"]
    stored = PaymentOperation.objects.get(public_id=payment["id"])
    assert stored.status == "succeeded" and stored.next_action is None
    assert list(stored.connector_calls.values_list("flow", flat=True)) == ["authorize", "complete_authorize"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_challenge_fails_the_payment(api, authipay_account, pagoflex_server):
    payment = pay(api, number=CHALLENGE, request_three_d_secure=True)
    browser = requests.Session()
    acs_url, acs_fields = read_form(browser.get(payment["next_action"]["url"], timeout=5))
    challenge_url, challenge_fields = read_form(browser.post(acs_url, data=acs_fields, timeout=5))
    challenge_fields["otp"] = "0000"
    back_url, back_fields = read_form(browser.post(challenge_url, data=challenge_fields, timeout=5))
    page = browser.post(back_url, data=back_fields, timeout=5)
    assert page.status_code == 200 and "failed" in page.text
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "failed"


def test_saved_card_pays_later_with_the_token_first_then_subsequent(api, authipay_account, gateway):
    saved = api.post("/v1/payment_methods", {"card": card(), "customer_id": "cus_42",
                                             "connector": authipay_account.public_id}, format="json")
    assert saved.status_code == 201, saved.content
    method = saved.json()
    assert method["id"].startswith("pm_") and method["card"]["last4"] == "1111"
    stored = SavedPaymentMethod.objects.get(public_id=method["id"])
    assert stored.token_encrypted.startswith("v1:") and "4111111111111111" not in stored.token_encrypted
    sequences = []
    for _ in range(2):
        payment = api.post("/v1/payments", {"amount": 999, "currency": "EUR", "confirm": True,
                                            "payment_method": method["id"], "customer": {"id": "cus_42"},
                                            "scheduled_payment": True}, format="json").json()
        assert payment["status"] == "succeeded", payment
        sent = gateway[0].requests_seen[-1].json()
        # The simulator's copy of a request has card-number-like digit runs masked, and the token
        # (random hex) holds one now and then: compare with the token as that copy shows it.
        assert sent["paymentMethod"]["paymentToken"]["value"] == mask_card_data(stored.get_token())
        sequences.append(sent["storedCredentials"])
    assert sequences == [{"sequence": "FIRST", "scheduled": True}, {"sequence": "SUBSEQUENT", "scheduled": True}]


def test_save_payment_method_on_a_payment_keeps_the_gateway_token(api, authipay_account):
    payment = pay(api, save_payment_method=True, customer={"id": "cus_7"})
    assert payment["status"] == "succeeded"
    methods = api.get("/v1/payment_methods?customer_id=cus_7").json()["data"]
    assert len(methods) == 1 and methods[0]["card"]["last4"] == "1111"
    repeat = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "confirm": True,
                                       "payment_method": methods[0]["id"], "customer": {"id": "cus_7"}},
                      format="json").json()
    assert repeat["status"] == "succeeded"


def test_a_detached_method_cannot_pay(api, authipay_account):
    method = api.post("/v1/payment_methods", {"card": card(), "customer_id": "cus_1",
                                              "connector": "authipay"}, format="json").json()
    assert api.post(f"/v1/payment_methods/{method['id']}/detach", {}, format="json").json()["detached"] is True
    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "confirm": True,
                                         "payment_method": method["id"]}, format="json")
    assert_error(response, 400, code="resource_missing", param="payment_method")


def test_card_verification_validates_without_charging(api, authipay_account, gateway):
    ok = api.post("/v1/payment_methods", {"card": card(), "customer_id": "cus_9", "connector": "authipay",
                                          "verify": True}, format="json")
    assert ok.status_code == 201
    bad = api.post("/v1/payment_methods", {"card": card(DECLINED), "customer_id": "cus_9", "connector": "authipay",
                                           "verify": True}, format="json")
    assert bad.status_code == 402 and bad.json()["error"]["type"] in ("card_error", "connector_error")
    assert SavedPaymentMethod.objects.count() == 1
    kinds = [t.kind for t in gateway[0].transactions.values()]
    assert "VERIFICATION" in kinds and "SALE" not in kinds and "PREAUTH" not in kinds
    assert all(t.captured == 0 for t in gateway[0].transactions.values())


def test_saving_cards_is_not_supported_by_the_sandbox(api, sandbox_account):
    response = api.post("/v1/payment_methods", {"card": card("4242424242424242"), "customer_id": "c",
                                                "connector": "sandbox"}, format="json")
    assert_error(response, 400, code="flow_not_supported")
