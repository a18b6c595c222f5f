"""A bank that misbehaves: every fault ends in a defined state with a clear error on the attempt,
and the payment is never called a success on an answer that does not prove it.

The bank is the sandbox simulator with two more ways to misbehave than its fault switches have
(a 200 that carries an error, and an answer about another transaction), served on loopback.
"""

import pytest

from conftest import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from connectors.models import ConnectorCall
from connectors.sandbox.simulator import SandboxSimulator
from connectors.testing.simulator import SimulatorServer, json_response
from payments import services
from payments.models import PaymentAttempt, PaymentOperation
from tests.helpers import payment_body

pytestmark = pytest.mark.django_db(transaction=True)


class MisbehavingSandbox(SandboxSimulator):
    """One more fault switch, ``answer_instead``, for charge requests: "error_in_200" answers 200
    with an error object; "other_transaction" handles the request, then answers with another
    charge of the same amount (a bank mixing up its replies). Like every switch it is taken by
    the request that arrives next, when it arrives (``request.fault``): a request still asleep in
    a "hang" fault can never take the answer a later case arms."""

    EXTRA_FAULTS = ("answer_instead",)

    def _dispatch(self, request):
        response = super()._dispatch(request)
        mode = request.fault.get("answer_instead", "")
        if not request.path.startswith("/v1/charges") or not mode:
            return response
        if mode == "error_in_200":
            return json_response({"error": {"code": "processing_error", "message": "try again later"}}, status=200)
        with self.lock:
            others = [c for c in self.charges.values() if c["id"] not in response.body.decode()]
        return json_response(self._charge_view(others[-1]), status=200)


@pytest.fixture(scope="module")
def _bank_server():
    app = MisbehavingSandbox(accounts={SANDBOX_API_KEY: SANDBOX_WEBHOOK_SECRET})
    server = SimulatorServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def bank(_bank_server):
    """The module's bank, settled after each case: the case's requests have ended (a "hang"
    leaves one asleep past the client's timeout), and nothing it armed is left for the next."""
    yield _bank_server
    _bank_server.app.settle()


@pytest.fixture
def bank_account(merchant, make_account, bank, settings):
    settings.CONNECTOR_READ_TIMEOUT = 0.5  # the "hang" fault sleeps past it
    return make_account(merchant, base_url=bank.base_url,
                        credentials={"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET})


FAULTS = [
    # name, how to arm it, the attempt's error code, does the bank hold a charge afterwards
    ("hang past the read timeout", {"delay": 1.5}, "connector_timeout", True),
    ("connection reset", {"reset": True}, "connector_unknown_outcome", False),
    ("HTTP 500", {"status": 500}, "connector_unknown_outcome", False),
    ("HTTP 502", {"status": 502}, "connector_unknown_outcome", False),
    ("HTML instead of JSON", {"garbage": True}, "invalid_connector_response", False),
    ("truncated JSON", {"truncate": True}, "invalid_connector_response", True),
    ("200 with an error inside", "error_in_200", "invalid_connector_response", True),
    ("an answer about another transaction", "other_transaction", "integrity_mismatch", True),
]


@pytest.mark.parametrize("name, fault, error_code, charged", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_faulty_bank_answer_leaves_the_payment_processing_with_the_error_on_the_attempt(
        api, bank_account, bank, settings, name, fault, error_code, charged):
    if error_code != "connector_timeout":
        # Only the hang is meant to outlast the read timeout; under load a busy machine can keep
        # any other answer waiting half a second, and the case would see a timeout instead.
        settings.CONNECTOR_READ_TIMEOUT = 10
    if fault == "other_transaction":
        # The bank's mixed-up answer needs another charge of the same amount to point at.
        assert api.post("/v1/payments", payment_body(1000), format="json").json()["status"] == "succeeded"
    if isinstance(fault, dict):
        bank.app.faults.arm(**fault)
    else:
        bank.app.faults.arm(answer_instead=fault)

    response = api.post("/v1/payments", payment_body(1000), format="json")

    # The outcome is unknown, not failed: the merchant sees a payment still processing.
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "processing"
    attempt = PaymentAttempt.objects.get(payment__public_id=body["id"])
    assert attempt.status == "pending"
    assert attempt.error_code == error_code
    assert len(attempt.error_message) > 10
    assert attempt.next_sync_at is not None or error_code == "integrity_mismatch"
    payment = PaymentOperation.objects.get(pk=attempt.payment_id)
    assert payment.amount_captured == 0
    assert payment.integrity_mismatch == (error_code == "integrity_mismatch")
    call = ConnectorCall.objects.get(attempt=attempt)
    assert call.error or call.status_code in (200, 201, 500, 502)
    # The hung request goes on at the bank after Pagoflex gave up: wait for it to end.
    assert bank.app.wait_idle(timeout=10), bank.app.in_flight()
    assert any(c["reference"] == attempt.reference for c in bank.app.charges.values()) == charged


def test_a_request_left_asleep_by_a_hang_cannot_take_the_answer_the_next_case_arms(api, bank_account, bank):
    """Issue 19 made deterministic: a "hang" case leaves its request asleep at the bank after
    Pagoflex gave up; the next case begins and arms its answer while it sleeps; then it wakes and
    is handled. The armed answer must still go to the next case's own charge."""
    bank.app.faults.arm(delay=3.0)
    hung = api.post("/v1/payments", payment_body(1000), format="json").json()
    assert hung["status"] == "processing"
    assert bank.app.in_flight() == ["POST /v1/charges"], "the hung request must still be asleep at the bank"
    # The next case begins now (what settle() does when a request outlives its wait) and arms.
    bank.app.faults.new_generation()
    bank.app.faults.arm(answer_instead="error_in_200")
    assert bank.app.wait_idle(timeout=10), bank.app.in_flight()  # the sleeper wakes and is answered

    body = api.post("/v1/payments", payment_body(1000), format="json").json()

    assert body["status"] == "processing"
    attempt = PaymentAttempt.objects.get(payment__public_id=body["id"])
    assert attempt.error_code == "invalid_connector_response"


@pytest.mark.parametrize("name, fault", [("HTTP 500", {"status": 500}), ("truncated JSON", {"truncate": True}),
                                         ("connection reset", {"reset": True})])
def test_sync_after_a_fault_settles_the_payment_without_a_second_charge(api, bank_account, bank, name, fault):
    bank.app.faults.arm(**fault)
    body = api.post("/v1/payments", payment_body(1000), format="json").json()
    attempt = PaymentAttempt.objects.get(payment__public_id=body["id"])

    services.sync_attempt(attempt_pk=attempt.pk)

    attempt.refresh_from_db()
    charges = [c for c in bank.app.charges.values() if c["reference"] == attempt.reference]
    if charges:  # the bank did charge: sync finds it by our reference
        assert attempt.status == "charged" and attempt.payment.status == "succeeded"
        assert attempt.connector_reference == charges[0]["id"] and len(charges) == 1
    else:  # the request never reached the bank's logic: nothing to find, still pending, sync later
        assert attempt.status == "pending" and attempt.payment.status == "processing"
        assert attempt.next_sync_at is not None
    assert ConnectorCall.objects.filter(attempt=attempt, flow="authorize").count() == 1
