"""Issue 15: the bank's truth always wins. Each test is one of the issue's failing inputs, played
with the simulators' own fault switches over loopback HTTP, through the merchant API.

1 Authipay lost capture answer: sync brings the gateway's captured amount, not the authorized one,
  and without the order's id it assumes nothing until the next sync asks for the order.
2 Sandbox lost capture answer: the reservation goes when sync brings the bank's word.
3 Banco X lost refund answer: the webhook, or rsync by our refund id, gives the refund its own id.
4 Banco X lost ``POST /pay`` answer, webhook suppressed: psync finds the payment by our reference.
8 A cancelled payment has nothing left to capture.
9 Concurrent cancels: one void reaches the bank, the others are refused with 409.
12 The bank never received the authorization: after the connector's grace it fails, never charged.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.authipay.simulator import AuthipaySimulator
from connectors.banco_x.simulator import BancoXSimulator
from connectors.base import Card
from connectors.models import ConnectorCall
from connectors.testing.simulator import SimulatorServer
from payments import services
from payments.models import MerchantEvent, PaymentAttempt, PaymentEvent, PaymentOperation, Refund
from payments.services import sweeps
from payments.services.errors import PaymentError
from payments.services.unresolved import escalate_after, escalate_unresolved, unresolved_queue
from tests.faults.conftest import needs_postgres, run_together
from tests.helpers import payment_body

AUTHIPAY_KEY, AUTHIPAY_SECRET, STORE_ID = "ak_truth_4f9c2a7e1b", "as_truth_8d31b6f0c2e94a57", "12345500000"
BANCOX_KEY, BANCOX_SECRET, BANCOX_WEBHOOK_SECRET = "bx_truth_api_key_01", "bx_truth_secret_01", "bx_truth_whsec_0001"


@pytest.fixture
def authipay_gateway():
    simulator = AuthipaySimulator(stores={AUTHIPAY_KEY: (AUTHIPAY_SECRET, STORE_ID)})
    server = SimulatorServer(simulator).start()
    yield simulator, server.base_url
    server.stop()


@pytest.fixture
def authipay_account(merchant, make_account, authipay_gateway):
    return make_account(merchant, connector="authipay", base_url=authipay_gateway[1],
                        credentials={"api_key": AUTHIPAY_KEY, "api_secret": AUTHIPAY_SECRET, "store_id": STORE_ID})


@pytest.fixture
def banco_x():
    simulator = BancoXSimulator(accounts={BANCOX_KEY: (BANCOX_SECRET, BANCOX_WEBHOOK_SECRET)}, webhook_delay=0.05)
    server = SimulatorServer(simulator).start()
    yield simulator, server.base_url
    server.stop()
    simulator.close()


@pytest.fixture
def bancox_account(merchant, make_account, banco_x, pagoflex_server):
    # The bank's webhooks reach Pagoflex's own server (pagoflex_server sets the public URL).
    return make_account(merchant, connector="banco_x", base_url=banco_x[1],
                        credentials={"api_key": BANCOX_KEY, "secret": BANCOX_SECRET,
                                     "webhook_secret": BANCOX_WEBHOOK_SECRET})


def create(api, **body):
    response = api.post("/v1/payments", payment_body(**body), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def force_sync(api, payment_id):
    response = api.get(f"/v1/payments/{payment_id}?force_sync=true")
    assert response.status_code == 200, response.content
    return response.json()


def lost_capture_then_sync(api, bank_faults, payment_id, amount, authorized=2500):
    bank_faults.arm(truncate=True)  # the bank captures, its answer is cut in half
    lost = api.post(f"/v1/payments/{payment_id}/capture", {"amount": amount}, format="json")
    assert lost.status_code == 502, lost.content
    held = api.get(f"/v1/payments/{payment_id}").json()
    assert held["amount_capturable"] == authorized - amount, "a capture whose answer was lost stays reserved"
    return force_sync(api, payment_id)


# -- 1, 2: a capture whose answer was lost -------------------------------------------------------


def test_authipay_lost_capture_answer_syncs_to_the_captured_amount_not_the_authorized_one(
        api, authipay_account, authipay_gateway):
    gateway = authipay_gateway[0]
    payment = create(api, amount=2500, capture_method="manual")
    assert payment["status"] == "requires_capture"

    synced = lost_capture_then_sync(api, gateway.faults, payment["id"], 2000)

    assert (synced["status"], synced["amount_captured"], synced["amount_capturable"]) == (
        "partially_captured", 2000, 500)
    preauth = gateway.transactions[synced["connector_reference"]]
    assert preauth.captured == 2000
    # Pagoflex now agrees with the gateway: more than was captured cannot be refunded.
    too_much = api.post("/v1/refunds", {"payment": payment["id"], "amount": 2500}, format="json")
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "amount_too_large"
    assert not Refund.objects.filter(payment__public_id=payment["id"]).exists()
    rest = api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 500}, format="json")
    assert rest.status_code == 200 and rest.json()["amount_captured"] == 2500 == preauth.captured


def test_authipay_lost_capture_answer_synced_without_the_order_never_assumes_the_whole_amount(
        api, authipay_account, authipay_gateway):
    """A pre-auth reads CAPTURED after any capture, of any amount; only the order inquiry adds the
    captures up. Without the order's id (an authorize answer that did not give it), the sync
    asks for the pre-auth itself: it must not take "captured" for "captured in full", or the
    whole amount would become refundable."""
    gateway = authipay_gateway[0]
    payment = create(api, amount=2500, capture_method="manual")
    attempt = PaymentAttempt.objects.get(payment__public_id=payment["id"])
    attempt.connector_metadata.pop("order_id")
    attempt.save(update_fields=["connector_metadata"])

    synced = lost_capture_then_sync(api, gateway.faults, payment["id"], 2000)

    assert gateway.transactions[synced["connector_reference"]].captured == 2000
    assert synced["amount_captured"] == 0, "the whole amount was assumed captured"
    assert synced["status"] == "requires_capture", "captured in full was assumed"
    assert synced["amount_capturable"] == 500, "the lost capture stays reserved until the bank's figure"
    too_much = api.post("/v1/refunds", {"payment": payment["id"], "amount": 2500}, format="json")
    assert too_much.status_code == 409, too_much.content  # nothing is refundable before a capture is known
    assert not Refund.objects.filter(payment__public_id=payment["id"]).exists()
    # That answer named the order: the next sync asks for it and settles the capture.
    settled = force_sync(api, payment["id"])
    assert (settled["status"], settled["amount_captured"], settled["amount_capturable"]) == (
        "partially_captured", 2000, 500)


def test_a_capture_whose_figure_never_comes_is_escalated_once_and_listed_for_staff(
        api, authipay_account, authipay_gateway):
    """The gateway names the order nowhere, so no sync can ever give the captured total: the
    capture stays in doubt (nothing assumed), the sweep keeps asking, and past
    UNRESOLVED_ESCALATE_AFTER staff and the merchant are told once, like any unknown outcome."""
    gateway = authipay_gateway[0]
    payment = create(api, amount=2500, capture_method="manual")
    attempt = PaymentAttempt.objects.get(payment__public_id=payment["id"])
    attempt.connector_metadata.pop("order_id")
    attempt.save(update_fields=["connector_metadata"])
    gateway.transactions[attempt.connector_reference].order_id = ""  # in no answer of the gateway either
    synced = lost_capture_then_sync(api, gateway.faults, payment["id"], 2000)
    assert (synced["amount_captured"], synced["amount_capturable"]) == (0, 500)

    attempt.refresh_from_db()
    now = attempt.next_sync_at
    for _ in range(5):  # the sweep keeps asking, and learns nothing new
        assert sweeps.sweep_due_attempts(enqueue=lambda pk, token: sweeps.sync_claimed_attempt(
            attempt_pk=pk, token=token), now=now) == 1
        attempt.refresh_from_db()
        now = attempt.next_sync_at + timedelta(seconds=1)
    stored = PaymentOperation.objects.get(public_id=payment["id"])
    assert (stored.amount_captured, stored.amount_capture_unknown) == (0, 2000)

    assert escalate_unresolved(now=timezone.now()) == 0  # not yet past UNRESOLVED_ESCALATE_AFTER
    listed = [item for item in unresolved_queue()[0] if item.payment_pk == stored.pk]
    assert [(item.kind, item.pk, item.status, item.amount) for item in listed] == [
        ("payment", attempt.pk, "capture_unknown", 2000)]
    later = timezone.now() + escalate_after() + timedelta(seconds=1)
    assert escalate_unresolved(now=later) == 1
    assert escalate_unresolved(now=later) == 0  # once
    escalation = PaymentEvent.objects.get(payment=stored, kind="escalated")
    assert "capture of 2000 EUR is in doubt" in escalation.message
    told = MerchantEvent.objects.get(payment=stored, type="payment.outcome_unresolved")
    assert told.data["unresolved"]["capture_in_doubt"] == 2000
    assert unresolved_queue()[0][0].escalated_at is not None


def test_sandbox_lost_capture_answer_releases_the_reservation_once_synced(api, sandbox_account, sandbox):
    payment = create(api, amount=2500, capture_method="manual")

    synced = lost_capture_then_sync(api, sandbox.app.faults, payment["id"], 2000)

    assert (synced["status"], synced["amount_captured"], synced["amount_capturable"]) == (
        "partially_captured", 2000, 500)
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_capturing == 0
    rest = api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 500}, format="json")
    assert rest.status_code == 200, rest.content
    assert (rest.json()["status"], rest.json()["amount_captured"]) == ("succeeded", 2500)
    assert sandbox.app.charges[synced["connector_reference"]]["amount_captured"] == 2500


def test_the_sweep_settles_a_lost_capture_and_a_lost_void_without_anyone_asking(api, sandbox_account, sandbox):
    capture_lost = create(api, amount=2500, capture_method="manual")
    void_lost = create(api, amount=2500, capture_method="manual")
    sandbox.app.faults.arm(truncate=True)
    assert api.post(f"/v1/payments/{capture_lost['id']}/capture", {"amount": 2000}, format="json").status_code == 502
    sandbox.app.faults.arm(truncate=True)
    assert api.post(f"/v1/payments/{void_lost['id']}/cancel", {}, format="json").status_code == 502
    due = max(PaymentAttempt.objects.filter(payment__public_id__in=[capture_lost["id"], void_lost["id"]])
              .values_list("next_sync_at", flat=True))

    results = []
    sweeps.sweep_due_attempts(
        enqueue=lambda pk, token: results.append(sweeps.sync_claimed_attempt(attempt_pk=pk, token=token)), now=due)

    assert results == ["synced", "synced"]
    captured = PaymentOperation.objects.get(public_id=capture_lost["id"])
    assert (captured.status, captured.amount_captured, captured.amount_capturable) == ("partially_captured", 2000, 500)
    assert PaymentOperation.objects.get(public_id=void_lost["id"]).status == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_a_sync_while_a_capture_is_answered_slowly_never_counts_it_twice(merchant, sandbox_account, sandbox):
    needs_postgres()
    payment = services.create_payment(merchant=merchant, mode="test", amount=2500, currency="EUR",
                                      capture_method="manual")
    payment = services.confirm_payment(payment_pk=payment.pk, payment_method_type="card",
                                       card=Card("4242424242424242", 12, 2034, "123"))
    sandbox.app.faults.arm(delay_after=1.0)  # the bank captures at once and answers a second later

    def capture_or_sync(index):
        if index == 0:
            return services.capture_payment(payment_pk=payment.pk, amount=2000)
        import time

        time.sleep(0.4)  # the capture is at the bank, its answer on the way
        return services.sync_payment(payment_pk=payment.pk)

    run_together(2, capture_or_sync)

    payment.refresh_from_db()
    assert (payment.amount_captured, payment.amount_capturing, payment.amount_capturable) == (2000, 0, 500)
    assert services.sync_payment(payment_pk=payment.pk).amount_captured == 2000


def test_capture_reset_before_the_bank_acted_is_released_by_sync(api, sandbox_account, sandbox):
    payment = create(api, amount=2500, capture_method="manual")
    sandbox.app.faults.arm(reset=True)  # the connection drops before the bank captures anything
    assert api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 2000}, format="json").status_code == 502

    synced = force_sync(api, payment["id"])

    assert (synced["status"], synced["amount_captured"], synced["amount_capturable"]) == ("requires_capture", 0, 2500)


# -- 3, 4: Banco X answers lost ------------------------------------------------------------------


def wait_until(predicate, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


def settled_bancox_payment(api, bank):
    payment = create(api, amount=2500)
    wait_until(lambda: PaymentOperation.objects.filter(public_id=payment["id"], status="succeeded").exists())
    return payment


@pytest.mark.django_db(transaction=True)
def test_bancox_lost_refund_answer_then_webhook_keeps_the_refunds_own_id(api, bancox_account, banco_x):
    bank = banco_x[0]
    payment = settled_bancox_payment(api, bank)
    bank.faults.arm(truncate=True)  # Banco X creates the refund; its answer is cut

    created = api.post("/v1/refunds", {"payment": payment["id"], "amount": 300}, format="json").json()
    assert created["status"] == "pending"

    refund = wait_until(lambda: Refund.objects.filter(public_id=created["id"], status="succeeded").first())
    bank_refund = next(r for r in bank.refunds.values() if r.ref == created["id"])
    assert refund.connector_reference == bank_refund.id != bank_refund.payment.id
    assert PaymentOperation.objects.get(public_id=payment["id"]).amount_refunded == 300


@pytest.mark.django_db(transaction=True)
def test_bancox_lost_refund_answer_without_webhook_is_found_by_rsync_with_our_refund_id(
        api, bancox_account, banco_x):
    bank = banco_x[0]
    payment = settled_bancox_payment(api, bank)
    bank.arm_webhook(suppress=True)
    bank.faults.arm(truncate=True)
    created = api.post("/v1/refunds", {"payment": payment["id"], "amount": 300}, format="json").json()
    bank_refund = next(r for r in bank.refunds.values() if r.ref == created["id"])
    bank.wait_for_settlement(bank_refund.id)

    synced = api.get(f"/v1/refunds/{created['id']}?force_sync=true").json()

    assert synced["status"] == "succeeded", synced
    refund = Refund.objects.get(public_id=created["id"])
    assert (refund.connector_reference, refund.error_code) == (bank_refund.id, "")


@pytest.mark.django_db(transaction=True)
def test_bancox_lost_pay_answer_without_webhook_is_found_by_our_reference(api, bancox_account, banco_x):
    bank = banco_x[0]
    bank.arm_webhook(suppress=True)
    bank.faults.arm(truncate=True)  # Banco X accepts the payment; its "OK" is cut
    payment = create(api, amount=2500)
    assert payment["status"] == "processing"
    bank_payment = next(iter(bank.payments.values()))
    assert bank.wait_for_settlement(bank_payment.id) == "succeeded"

    synced = force_sync(api, payment["id"])

    assert (synced["status"], synced["amount_captured"]) == ("succeeded", 2500), synced
    attempt = PaymentAttempt.objects.get(payment__public_id=payment["id"])
    assert attempt.connector_reference == bank_payment.id


# -- 8, 9: voids -------------------------------------------------------------------------------


def test_cancelled_payment_has_nothing_left_to_capture(api, sandbox_account):
    payment = create(api, amount=3000, capture_method="manual")
    assert payment["amount_capturable"] == 3000

    cancelled = api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json").json()

    assert (cancelled["status"], cancelled["amount_capturable"]) == ("cancelled", 0)


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_cancels_send_one_void_and_refuse_the_rest_with_409(merchant, sandbox_account, sandbox):
    needs_postgres()
    payment = services.create_payment(merchant=merchant, mode="test", amount=3000, currency="EUR",
                                      capture_method="manual")
    payment = services.confirm_payment(payment_pk=payment.pk, payment_method_type="card",
                                       card=Card("4242424242424242", 12, 2034, "123"))
    sandbox.app.faults.arm(delay=0.5)  # the void is slow: every other cancel arrives while it is out

    results = run_together(10, lambda _: services.cancel_payment(payment_pk=payment.pk))

    cancelled = [r for r in results if isinstance(r, PaymentOperation)]
    refused = [r for r in results if isinstance(r, PaymentError)]
    assert len(cancelled) == 1 and len(refused) == 9, results
    assert {(r.http_status, r.code) for r in refused} == {(409, "payment_unexpected_state")}
    assert ConnectorCall.objects.filter(payment=payment, flow="void").count() == 1
    payment.refresh_from_db()
    assert (payment.status, payment.cancelling, payment.amount_capturable) == ("cancelled", False, 0)


def test_void_whose_answer_was_lost_holds_the_payment_until_sync(api, sandbox_account, sandbox):
    payment = create(api, amount=3000, capture_method="manual")
    sandbox.app.faults.arm(truncate=True)  # the bank voids; its answer is cut
    assert api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json").status_code == 502
    again = api.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json")
    assert again.status_code == 409, "a void whose outcome is unknown is not sent twice"
    assert api.post(f"/v1/payments/{payment['id']}/capture", {}, format="json").status_code == 409

    synced = force_sync(api, payment["id"])

    assert (synced["status"], synced["amount_capturable"]) == ("cancelled", 0)
    assert ConnectorCall.objects.filter(payment__public_id=payment["id"], flow="void").count() == 1


# -- 12: the bank never received it ------------------------------------------------------------


@pytest.mark.parametrize("fault", [{"status": 500}, {"garbage": True}, {"reset": True}])
def test_authorization_the_bank_never_received_fails_after_the_grace_period(api, sandbox_account, sandbox, fault):
    sandbox.app.faults.arm(**fault)  # the simulator answers this before it creates any charge
    payment = create(api, amount=1050)
    assert payment["status"] == "processing"

    within_grace = force_sync(api, payment["id"])
    assert within_grace["status"] == "processing", "a slow bank gets its grace period"

    grace = sandbox_account.connector_class.recovery.not_found_grace
    PaymentAttempt.objects.filter(payment__public_id=payment["id"]).update(
        created_at=timezone.now() - grace - timedelta(seconds=1))
    failed = force_sync(api, payment["id"])

    assert failed["status"] == "failed", failed
    assert failed["last_payment_error"]["code"] == failed["attempts"][0]["error_code"] == "never_reached_bank"
    assert not sandbox.app.charges or all(
        c["reference"] != failed["attempts"][0]["id"] for c in sandbox.app.charges.values())
