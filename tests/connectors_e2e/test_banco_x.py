"""Banco X end to end: the API, the bank simulator, and the bank's real webhooks arriving at
Pagoflex's live server over loopback HTTP."""

import json
import threading
import time

import pytest
import requests
from django.db import connection

from connectors.banco_x.signature import webhook_signature_header
from connectors.banco_x.simulator import BancoXSimulator
from connectors.testing.simulator import SimulatorServer
from payments.models import PaymentOperation, Refund
from webhooks.models import AppliedWebhook, WebhookEvent, WebhookOutcome

API_KEY, SECRET, WEBHOOK_SECRET = "bx_e2e_api_key_0001", "bx_e2e_secret_0001", "bx_e2e_webhook_secret_01"
CREDENTIALS = {"api_key": API_KEY, "secret": SECRET, "webhook_secret": WEBHOOK_SECRET}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bank():
    simulator = BancoXSimulator(accounts={API_KEY: (SECRET, WEBHOOK_SECRET)}, webhook_delay=0.05)
    server = SimulatorServer(simulator).start()
    yield simulator, server.base_url
    simulator.close()  # no callback due later; stop() waits for those under way
    server.stop()


@pytest.fixture
def bancox_account(merchant, make_account, bank, live_server, settings):
    settings.PAGOFLEX_PUBLIC_URL = live_server.url
    return make_account(merchant, connector="banco_x", base_url=bank[1], credentials=CREDENTIALS)


def pay(api, amount=2500):
    response = api.post("/v1/payments", {"amount": amount, "currency": "EUR", "confirm": True,
                                         "payment_method_type": "card",
                                         "payment_method_data": {"card": {"number": "4242424242424242",
                                                                          "exp_month": 12, "exp_year": 2034}}},
                        format="json")
    assert response.status_code == 201, response.content
    return response.json()


def wait_for_status(payment_id, statuses, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payment = PaymentOperation.objects.get(public_id=payment_id)
        if payment.status in statuses:
            return payment
        time.sleep(0.05)
    raise AssertionError(f"{payment_id} stayed {PaymentOperation.objects.get(public_id=payment_id).status}")


def test_pending_payment_succeeds_when_the_banks_webhook_arrives(api, bancox_account, bank):
    payment = pay(api)
    assert payment["status"] == "processing" and payment["attempts"][0]["status"] == "pending"
    settled = wait_for_status(payment["id"], {"succeeded", "failed"})
    assert settled.status == "succeeded" and settled.amount_captured == 2500
    event = WebhookEvent.objects.get(payment=settled)
    assert event.outcome == WebhookOutcome.PROCESSED and event.signature_valid is True
    assert bank[0].wait_for_deliveries(1)[0].status_code == 200


def test_failed_webhook_fails_the_payment_with_the_banks_code(api, bancox_account):
    payment = pay(api, amount=2513)  # the simulator fails amounts ending in 13
    failed = wait_for_status(payment["id"], {"succeeded", "failed"})
    assert failed.status == "failed" and failed.error_code == "insufficient_funds"


def test_duplicate_delivery_changes_nothing(api, bancox_account, bank):
    bank[0].arm_webhook(twice=True)
    payment = pay(api)
    deliveries = bank[0].wait_for_deliveries(2)
    assert [d.status_code for d in deliveries] == [200, 200]
    outcomes = sorted(WebhookEvent.objects.filter(payment__public_id=payment["id"]).values_list("outcome", flat=True))
    assert outcomes == [WebhookOutcome.DUPLICATE, WebhookOutcome.PROCESSED]
    assert AppliedWebhook.objects.count() == 1
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "succeeded"


def test_bad_signature_answers_401_and_changes_no_payment(api, bancox_account, bank):
    bank[0].arm_webhook(bad_signature=True)
    payment = pay(api)
    assert bank[0].wait_for_deliveries(1)[0].status_code == 401
    event = WebhookEvent.objects.get(connector_account=bancox_account)
    assert event.outcome == WebhookOutcome.REJECTED_SIGNATURE and event.signature_valid is False
    assert bytes(event.body)  # stored whatever its outcome
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "processing"


def test_wrong_amount_is_an_integrity_mismatch_never_a_success(api, bancox_account, bank):
    bank[0].arm_webhook(wrong_amount=True)
    payment = pay(api)
    bank[0].wait_for_deliveries(1)
    stored = PaymentOperation.objects.get(public_id=payment["id"])
    assert stored.status == "processing" and stored.integrity_mismatch is True
    assert WebhookEvent.objects.get(payment=stored).outcome == WebhookOutcome.INTEGRITY_MISMATCH
    assert api.get(f"/v1/payments/{payment['id']}").json()["integrity_mismatch"] is True


def test_reordered_events_do_not_undo_a_success(api, bancox_account, bank):
    bank[0].arm_webhook(reorder=True)
    payment = pay(api)
    bank[0].wait_for_deliveries(2)
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "succeeded"


def test_a_failure_after_a_success_is_flagged_not_applied(api, bancox_account, bank):
    bank[0].arm_webhook(conflicting=True)
    payment = pay(api)
    bank[0].wait_for_deliveries(2)
    assert PaymentOperation.objects.get(public_id=payment["id"]).status == "succeeded"
    outcomes = set(WebhookEvent.objects.filter(payment__public_id=payment["id"]).values_list("outcome", flat=True))
    assert outcomes == {WebhookOutcome.PROCESSED, WebhookOutcome.ILLEGAL_TRANSITION}


def test_a_webhook_that_never_comes_is_settled_by_sync(api, bancox_account, bank):
    bank[0].arm_webhook(suppress=True)
    payment = pay(api)
    bank[0].wait_for_settlement(PaymentOperation.objects.get(public_id=payment["id"]).attempts.get()
                                .connector_reference)
    synced = api.get(f"/v1/payments/{payment['id']}?force_sync=true").json()
    assert synced["status"] == "succeeded"
    assert WebhookEvent.objects.count() == 0


def test_event_for_an_unknown_reference_is_stored_and_answered_202(bancox_account, live_server):
    body = json.dumps({"id": "evt_unknown_1", "type": "payment.succeeded", "tx_id": "bx_nobody", "ref": "att_nobody",
                       "status": "succeeded", "amount": 100, "currency": "EUR"}).encode()
    headers = {"Content-Type": "application/json",
               "X-BancoX-Signature": webhook_signature_header(WEBHOOK_SECRET, body, int(time.time()))}
    response = requests.post(f"{live_server.url}{bancox_account.webhook_path}", data=body, headers=headers, timeout=5)
    assert response.status_code == 202
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.UNKNOWN_REFERENCE


def test_malformed_and_oversize_bodies_are_stored_and_refused(bancox_account, live_server):
    url = f"{live_server.url}{bancox_account.webhook_path}"
    body = b"{not json"
    headers = {"X-BancoX-Signature": webhook_signature_header(WEBHOOK_SECRET, body, int(time.time()))}
    assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 400
    huge = b"x" * (300 * 1024)
    assert requests.post(url, data=huge, timeout=5).status_code == 413
    assert sorted(WebhookEvent.objects.values_list("outcome", flat=True)) == [WebhookOutcome.MALFORMED,
                                                                             WebhookOutcome.TOO_LARGE]


def test_legacy_alias_routes_by_the_account_named_in_the_event(api, bancox_account, bank, live_server):
    payment = pay(api)
    bank[0].wait_for_deliveries(1)
    attempt = PaymentOperation.objects.get(public_id=payment["id"]).attempts.get()
    body = json.dumps({"id": "evt_alias_1", "type": "payment.succeeded", "account": bancox_account.public_id,
                       "tx_id": attempt.connector_reference, "ref": attempt.public_id, "status": "succeeded",
                       "amount": 2500, "currency": "EUR"}).encode()
    headers = {"Content-Type": "application/json",
               "X-BancoX-Signature": webhook_signature_header(WEBHOOK_SECRET, body, int(time.time()))}
    response = requests.post(f"{live_server.url}/webhooks/bancox", data=body, headers=headers, timeout=5)
    assert response.status_code == 200
    assert WebhookEvent.objects.get(event_id="evt_alias_1").connector_account == bancox_account


def test_refund_settles_by_webhook(api, bancox_account, bank):
    payment = pay(api)
    wait_for_status(payment["id"], {"succeeded"})
    refund = api.post("/v1/refunds", {"payment": payment["id"], "amount": 1000}, format="json").json()
    assert refund["status"] == "pending"
    deadline = time.monotonic() + 5
    while Refund.objects.get(public_id=refund["id"]).status == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Refund.objects.get(public_id=refund["id"]).status == "succeeded"
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_refunded == 1000


def test_capture_is_not_supported_by_this_connector(api, bancox_account):
    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "capture_method": "manual", "confirm": True,
                                         "payment_method_data": {"card": {"number": "4242424242424242",
                                                                          "exp_month": 12, "exp_year": 2034}}},
                        format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_eligible_connector"
    assert "banco_x does not support manual capture" in response.json()["error"]["message"]


def test_fifty_concurrent_deliveries_of_one_event_apply_exactly_once(api, bancox_account, bank, pagoflex_server):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row-level concurrency (SQLite serialises writers)")
    bank[0].arm_webhook(suppress=True)
    payment = pay(api)
    attempt = PaymentOperation.objects.get(public_id=payment["id"]).attempts.get()
    body = json.dumps({"id": "evt_storm_1", "type": "payment.succeeded", "tx_id": attempt.connector_reference,
                       "ref": attempt.public_id, "status": "succeeded", "amount": 2500,
                       "currency": "EUR"}).encode()
    headers = {"Content-Type": "application/json",
               "X-BancoX-Signature": webhook_signature_header(WEBHOOK_SECRET, body, int(time.time()))}
    barrier = threading.Barrier(50)
    codes = []

    def deliver():
        barrier.wait()
        codes.append(requests.post(f"{pagoflex_server.base_url}{bancox_account.webhook_path}", data=body,
                                   headers=headers, timeout=30).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 50
    outcomes = list(WebhookEvent.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 50  # every delivery is stored
    assert outcomes.count(WebhookOutcome.PROCESSED) == 1
    assert outcomes.count(WebhookOutcome.DUPLICATE) == 49
    payment_row = PaymentOperation.objects.get(public_id=payment["id"])
    assert payment_row.status == "succeeded" and payment_row.amount_captured == 2500
    assert payment_row.events.filter(kind="status_change", to_status="succeeded").count() == 1
