"""Paytm UPI end to end: the API runs session token then authorize against the Paytm simulator;
results come back by Paytm's signed S2S notification, by sync, and by the customer's return."""

import time

import pytest
import requests

from connectors.paytm.signature import generate_form_checksum
from connectors.paytm.simulator import PaytmSimulator
from connectors.testing.simulator import SimulatorServer
from payments.models import PaymentAttempt, PaymentOperation
from webhooks.models import WebhookEvent, WebhookOutcome

MID, MERCHANT_KEY = "PAGOFX12345678901234", "kbzk1DSbJiV_O3p5"
CREDENTIALS = {"merchant_id": MID, "merchant_key": MERCHANT_KEY, "website": "WEBSTAGING"}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paytm():
    simulator = PaytmSimulator(merchants={MID: MERCHANT_KEY})
    server = SimulatorServer(simulator).start()
    yield simulator, server.base_url
    server.stop()


@pytest.fixture
def paytm_account(merchant, make_account, paytm, pagoflex_server):
    account = make_account(merchant, connector="paytm", base_url=paytm[1], credentials=CREDENTIALS)
    paytm[0].notification_url = f"{pagoflex_server.base_url}{account.webhook_path}"
    return account


def upi(api, flow, vpa="", amount=1050, **extra):
    data = {"flow": flow, **({"vpa": vpa} if vpa else {})}
    response = api.post("/v1/payments", {"amount": amount, "currency": "INR", "confirm": True,
                                         "payment_method_type": "upi", "payment_method_data": {"upi": data},
                                         **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def order_id(payment):
    return PaymentAttempt.objects.get(payment__public_id=payment["id"]).public_id


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_intent_returns_a_deep_link_then_the_notification_completes_it(api, paytm_account, paytm):
    payment = upi(api, "intent")
    assert payment["status"] == "requires_customer_action"
    action = payment["next_action"]
    assert action["type"] == "upi_intent" and action["url"].startswith("upi://pay?")
    assert action["data"]["qr_code_data"] == action["url"]
    assert "am=10.50" in action["url"]
    requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment)}/pay", timeout=5)
    assert wait_for(lambda: PaymentOperation.objects.get(public_id=payment["id"]).status == "succeeded")
    event = WebhookEvent.objects.get(payment__public_id=payment["id"])
    assert event.outcome == WebhookOutcome.PROCESSED and event.signature_valid


def test_intent_paid_is_found_by_sync_when_no_notification_arrives(api, paytm_account, paytm):
    paytm[0].notification_url = ""
    payment = upi(api, "intent")
    requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment)}/pay", timeout=5)
    synced = api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()
    assert synced["status"] == "succeeded" and synced["amount_captured"] == 1050


def test_customer_return_triggers_a_sync_and_never_trusts_the_form(api, paytm_account, paytm, pagoflex_server):
    payment = upi(api, "intent", return_url="https://shop.example/thanks")
    callback = requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment)}/pay", timeout=5).json()["callback"]
    # The form Paytm posts with the browser, tampered: it claims success for another amount.
    forged = dict(callback["fields"], TXNAMOUNT="1.00")
    back = requests.post(callback["url"], data=forged, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    assert back.headers["Location"].startswith("https://shop.example/thanks?")
    assert "status=succeeded" in back.headers["Location"]
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_captured == 1050


def test_collect_success(api, paytm_account):
    payment = upi(api, "collect", "success@paytm")
    assert payment["status"] in ("processing", "succeeded")
    assert api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()["status"] == "succeeded"


def test_collect_decline_fails_with_paytms_code(api, paytm_account, paytm):
    paytm[0].notification_url = ""
    payment = upi(api, "collect", "fail@paytm")
    failed = api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()
    assert failed["status"] == "failed" and failed["last_payment_error"]["code"] == "227"


def test_collect_pending_settles_by_sync(api, paytm_account, paytm):
    paytm[0].notification_url = ""
    payment = upi(api, "collect", "pending@paytm")
    assert api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()["status"] == "processing"
    requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment)}/settle", json={"outcome": "success"},
                  timeout=5)
    assert api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()["status"] == "succeeded"


def test_amount_mismatch_in_status_is_an_integrity_mismatch(api, paytm_account, paytm):
    paytm[0].notification_url = ""
    payment = upi(api, "collect", "success@paytm")
    paytm[0].faults.arm(wrong_amount=True)
    synced = api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()
    assert synced["integrity_mismatch"] is True and synced["status"] != "succeeded"


def test_a_wrong_merchant_key_fails_the_attempt_and_never_succeeds(api, merchant, make_account, paytm):
    make_account(merchant, connector="paytm", base_url=paytm[1],
                 credentials={**CREDENTIALS, "merchant_key": "WRONGKEY00000000"})
    payment = upi(api, "intent")
    assert payment["status"] == "failed"
    assert payment["last_payment_error"]["code"] == "connector_authentication_failed"


def test_tampered_notification_is_rejected(api, paytm_account, paytm, pagoflex_server):
    paytm[0].notification_url = ""
    payment = upi(api, "intent")
    callback = requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment)}/pay", timeout=5).json()["callback"]
    tampered = dict(callback["fields"], TXNAMOUNT="9999.00")
    url = f"{pagoflex_server.base_url}{paytm_account.webhook_path}"
    assert requests.post(url, data=tampered, timeout=5).status_code == 401
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.REJECTED_SIGNATURE
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "requires_customer_action"
    # the untouched notification is accepted
    assert requests.post(url, data=callback["fields"], timeout=5).status_code == 200
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "succeeded"


def test_notification_signed_with_the_right_key_for_another_amount_is_an_integrity_mismatch(
        api, paytm_account, paytm, pagoflex_server):
    paytm[0].notification_url = ""
    payment = upi(api, "intent")
    callback = requests.post(f"{paytm[1]}/__control__/orders/{order_id(payment)}/pay", timeout=5).json()["callback"]
    fields = {k: v for k, v in callback["fields"].items() if k != "CHECKSUMHASH"}
    fields["TXNAMOUNT"] = "1.00"
    fields["CHECKSUMHASH"] = generate_form_checksum(fields, MERCHANT_KEY)
    url = f"{pagoflex_server.base_url}{paytm_account.webhook_path}"
    assert requests.post(url, data=fields, timeout=5).status_code == 200
    stored = PaymentOperation.objects.get(public_id=payment["id"])
    assert stored.integrity_mismatch and stored.status != "succeeded"


def test_refund_full_and_partial_settle_by_refund_sync(api, paytm_account, paytm):
    paytm[0].notification_url = ""
    payment = upi(api, "collect", "success@paytm", amount=5000)
    api.get(f"/v1/payments/{payment['id']}?force_sync=true")
    partial = api.post("/v1/refunds", {"payment": payment["id"], "amount": 2000}, format="json").json()
    assert partial["status"] == "pending"
    assert api.get(f"/v1/refunds/{partial['id']}?force_sync=true").json()["status"] == "succeeded"
    rest = api.post("/v1/refunds", {"payment": payment["id"]}, format="json").json()
    assert rest["amount"] == 3000
    assert api.get(f"/v1/refunds/{rest['id']}?force_sync=true").json()["status"] == "succeeded"
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 5000


def test_paytm_takes_only_inr(api, paytm_account):
    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "confirm": True,
                                         "payment_method_type": "upi",
                                         "payment_method_data": {"upi": {"flow": "intent"}}}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "no_eligible_connector"
