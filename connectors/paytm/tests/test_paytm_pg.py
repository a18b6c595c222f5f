"""Paytm's merchant SDK (``paytm-pg`` 1.1.2, pinned) drives the simulator's Initiate Transaction,
Transaction Status, Refund and Refund Status endpoints, its endpoint URLs set to loopback.

The SDK reads each answer into its own classes (an unknown object-valued field makes it fail)
and verifies Paytm's signature on S/TXN_SUCCESS/PENDING answers with its own checksum code, so
a passing run says the simulator's answers are what Paytm's SDK expects. The SDK has no Process
Transaction call; the test makes the customer pay with a plain HTTP call in between. The SDK's
requests are Paytm's own business, so only the simulator's answers are held to the description.
"""

from __future__ import annotations

import pytest
import requests

pg = pytest.importorskip("paytmpg.pg.Payment", reason="paytm-pg is pinned in requirements.txt")

from paytmpg.merchant.models.PaymentDetail import PaymentDetailsBuilder  # noqa: E402
from paytmpg.merchant.models.PaymentStatusDetail import PaymentStatusDetailBuilder  # noqa: E402
from paytmpg.merchant.models.RefundDetail import RefundDetailBuilder  # noqa: E402
from paytmpg.merchant.models.RefundStatusDetail import RefundStatusDetailBuilder  # noqa: E402
from paytmpg.pg.constants.LibraryConstants import LibraryConstants  # noqa: E402
from paytmpg.pg.constants.MerchantProperty import MerchantProperty  # noqa: E402
from paytmpg.pg.enums.EChannelId import EChannelId  # noqa: E402
from paytmpg.pg.enums.EnumCurrency import EnumCurrency  # noqa: E402
from paytmpg.pg.models.Money import Money  # noqa: E402
from paytmpg.pg.models.UserInfo import UserInfo  # noqa: E402
from paytmpg.pg.Payment import Payment  # noqa: E402
from paytmpg.pg.Refund import Refund  # noqa: E402

from connectors.paytm.published_api import API  # noqa: E402
from connectors.paytm.simulator import PaytmSimulator  # noqa: E402
from connectors.testing.contract import observe  # noqa: E402
from connectors.testing.references import random_reference  # noqa: E402
from connectors.testing.simulator import SimulatorServer  # noqa: E402

from .conftest import KEY, MID  # noqa: E402


@pytest.fixture
def paytm(monkeypatch):
    """The simulator, and the SDK's merchant settings pointed at it (restored afterwards)."""
    app = PaytmSimulator({MID: KEY})
    contract = observe(app, API, requests=False)
    server = SimulatorServer(app).start()
    for name in ("is_initialized", "environment", "mid", "merchant_key", "client_id", "website", "callback_url"):
        monkeypatch.setattr(MerchantProperty, name, getattr(MerchantProperty, name))
    MerchantProperty.initialize(LibraryConstants.STAGING_ENVIRONMENT, MID, KEY, "", "WEBSTAGING")
    MerchantProperty.set_callback_url("https://pagoflex.test/pay/return")
    for name, path in (
        ("initiate_txn_url", "/order/initiate"),  # the SDK's own path for Initiate Transaction
        ("payment_status_url", "/v3/order/status"),
        ("refund_url", "/refund/apply"),
        ("refund_status_url", "/v2/refund/status"),
    ):
        monkeypatch.setattr(MerchantProperty, name, server.base_url + path)
    yield server
    server.stop()
    assert contract.checked >= 1
    contract.assert_followed()


def initiate(order_id: str, amount: str = "10.50"):
    user = UserInfo()
    user.set_cust_id("cus_42")
    user.set_email("asha@example.in")
    detail = PaymentDetailsBuilder(EChannelId.WEB, order_id, Money(EnumCurrency("INR").currency, amount), user).build()
    return Payment.createTxnToken(detail).get_response_object()


def result(response) -> tuple[str, str]:
    info = response.get_body().get_result_info()
    return info.get_result_status(), info.get_result_code()


def customer_pays(server: SimulatorServer, order_id: str, txn_token: str) -> None:
    """Process Transaction (UPI collect from a VPA that pays at once): not an SDK call."""
    answer = requests.post(
        f"{server.base_url}/theia/api/v1/processTransaction",
        params={"mid": MID, "orderId": order_id},
        json={
            "head": {"txnToken": txn_token},
            "body": {
                "requestType": "NATIVE",
                "mid": MID,
                "orderId": order_id,
                "paymentMode": "UPI",
                "payerAccount": "success@paytm",
            },
        },
        timeout=5,
    )
    assert answer.json()["body"]["resultInfo"]["resultCode"] == "0000"


def test_the_sdk_initiates_pays_checks_and_refunds_against_the_simulator(paytm):
    order_id = random_reference("ORDER")
    initiated = initiate(order_id)
    assert result(initiated) == ("S", "0000")
    token = initiated.get_body().txnToken
    assert token and initiated.get_head().get_signature(), "a signed answer the SDK verified"

    customer_pays(paytm, order_id, token)
    status = Payment.getPaymentStatus(PaymentStatusDetailBuilder(order_id).build()).get_response_object()
    assert result(status) == ("TXN_SUCCESS", "01")
    body = status.get_body()
    assert (body.txnAmount, body.orderId, body.mid) == ("10.50", order_id, MID)

    ref_id = random_reference("REF")
    refund = Refund.doRefund(RefundDetailBuilder(order_id, ref_id, body.txnId, "REFUND", "4.00").build())
    refunded = refund.get_response_object()
    assert result(refunded) == ("PENDING", "601")
    assert refunded.get_body().refundAmount == "4.00"

    status_detail = RefundStatusDetailBuilder().set_order_id(order_id).set_ref_id(ref_id).build()
    settled = Refund.getRefundStatus(status_detail).get_response_object()
    assert result(settled) == ("TXN_SUCCESS", "10")
    assert settled.get_body().totalRefundAmount == "4.00"


def test_the_sdk_refuses_an_answer_whose_signature_was_tampered_with(paytm):
    order_id = random_reference("ORDER")
    requests.post(f"{paytm.base_url}/__control__/response-signature", json={"mode": "tamper"}, timeout=5)
    refused = initiate(order_id)
    status, code = result(refused)
    assert (status, code) == ("failure", "501") and refused.get_body().txnToken is None
    paytm.app.contract.violations.clear()  # the forged answer breaks the description on purpose


def test_the_sdk_is_told_about_a_repeated_order(paytm):
    order_id = random_reference("ORDER")
    first = initiate(order_id)
    again = initiate(order_id)
    assert result(again) == ("S", "0002") and again.get_body().txnToken == first.get_body().txnToken
    assert result(initiate(order_id, amount="11.00")) == ("F", "325")
