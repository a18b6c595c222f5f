"""Issue 16, item 9: a refused request changes nothing. ``POST /v1/payments`` with
``"confirm": true`` whose confirmation is refused (an unknown saved payment method, no account
that can take the payment, ...) creates no payment, no attempt, no event, and frees its
Idempotency-Key; Stripe creates no PaymentIntent then either."""

import pytest
from rest_framework.test import APIClient

from payments.models import ApiKey
from tests.api.test_bad_input_extended import snapshot
from tests.helpers import assert_error, payment_body


def _live_client(merchant):
    _, key = ApiKey.issue(merchant, mode="live")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


# (name, body, which client, status, code, param): every way the confirmation can be refused
REFUSALS = [
    ("unknown saved payment method", {"amount": 900, "currency": "EUR", "confirm": True, "payment_method": "pm_nope"},
     "test", 400, "resource_missing", "payment_method"),
    ("saved payment method of another mode", {"amount": 900, "currency": "EUR", "confirm": True,
                                              "payment_method": "pm_" + "x" * 24}, "test", 400, "resource_missing",
     "payment_method"),
    ("no account in live mode", payment_body(900), "live", 400, None, None),
    ("requested account is disabled", payment_body(900, connector="{disabled}"), "test", 400,
     "connector_not_eligible", "connector"),
    ("paytm cannot take a card", payment_body(900, connector="{paytm}"), "test", 400, "connector_not_eligible",
     "connector"),
    ("confirm without a payment method", {"amount": 900, "currency": "EUR", "confirm": True}, "test", 400,
     "payment_method_required", "payment_method_data"),
]


@pytest.mark.parametrize("name, body, mode, status, code, param", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refused_create_and_confirm_creates_nothing(api, merchant, sandbox_account, make_account, sandbox, name,
                                                      body, mode, status, code, param):
    accounts = {"disabled": make_account(merchant, base_url=sandbox.base_url, enabled=False, label="off"),
                "paytm": make_account(merchant, connector="paytm", label="paytm", enabled=True, mode="test",
                                      priority=-5)}
    if str(body.get("connector", "")).startswith("{"):
        body = {**body, "connector": accounts[body["connector"].strip("{}")].public_id}
    client = _live_client(merchant) if mode == "live" else api
    before = snapshot()
    response = client.post("/v1/payments", body, format="json", HTTP_IDEMPOTENCY_KEY=f"refused-{name}")
    assert_error(response, status, code=code, param=param)
    assert snapshot() == before


def test_a_refused_create_and_confirm_frees_its_key_for_the_corrected_request(api, sandbox_account):
    refused = api.post("/v1/payments", {"amount": 900, "currency": "EUR", "confirm": True,
                                        "payment_method": "pm_nope"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(refused, 400, code="resource_missing", param="payment_method")
    again = api.post("/v1/payments", {"amount": 900, "currency": "EUR", "confirm": True,
                                      "payment_method": "pm_nope"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert "Idempotent-Replayed" not in again.headers  # refusals are not stored: nothing to resume
    assert api.get("/v1/payments").json()["data"] == []
