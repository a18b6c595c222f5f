"""The parts the conformance suite is built from: test inputs, the simulated bank and the
webhook catcher, and the loops that wait for a bank's late decision.

Kept apart from ``conformance.py`` so that module reads as the list of scenarios.
"""

from __future__ import annotations

import datetime
import threading
import time
from dataclasses import dataclass

import requests

from connectors.base import Card, Upi
from connectors.testing.simulator import Request, SimulatorApp, json_response, route
from payments.models import PaymentOperation, Refund
from payments.services import sync_attempt, sync_refund
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES
from payments.statuses import AttemptStatus, RefundStatus

# How long the suite waits for a bank's late decision, and how often it asks meanwhile.
SETTLE_TIMEOUT = 5.0
SETTLE_POLL = 0.05
MAX_POLLS = int(SETTLE_TIMEOUT / SETTLE_POLL) + 1


@dataclass(frozen=True)
class PaymentInput:
    """A payment method (and, for banks that decide by amount, an amount) that the simulator
    answers in a known way: it approves, declines or leaves the payment pending."""

    payment_method_type: str = "card"
    card_number: str = ""
    upi_flow: str = ""
    vpa: str = ""
    amount: int | None = None

    def card(self) -> Card | None:
        if not self.card_number:
            return None
        # Always a future expiry: an expired card is a decline of its own.
        return Card(
            number=self.card_number,
            exp_month=12,
            exp_year=datetime.date.today().year + 3,
            cvc="123",
            holder_name="Ada Lovelace",
        )

    def upi(self) -> Upi | None:
        return Upi(flow=self.upi_flow, vpa=self.vpa) if self.upi_flow else None


def card_input(number: str, *, amount: int | None = None) -> PaymentInput:
    return PaymentInput(payment_method_type="card", card_number=number, amount=amount)


def upi_collect_input(vpa: str, *, amount: int | None = None) -> PaymentInput:
    return PaymentInput(payment_method_type="upi", upi_flow="collect", vpa=vpa, amount=amount)


@dataclass(frozen=True)
class Ledger:
    """A payment's money as one side sees it, in platform terms: the payment status
    (``PaymentStatus``) and minor-unit amounts captured, refunded (succeeded refunds only) and
    still capturable. The recovery matrix compares Pagoflex's with the simulator's."""

    status: str
    captured: int
    refunded: int
    capturable: int

    @classmethod
    def of(cls, status: str, *, amount: int, captured: int, refunded: int) -> Ledger:
        """What a bank holding ``amount`` reads as: capturable is what an open authorization
        has left, nothing once the payment is settled, cancelled or failed."""
        open_ = status in ("requires_capture", "partially_captured")
        return cls(status=status, captured=captured, refunded=refunded, capturable=amount - captured if open_ else 0)


class Switchboard:
    """One loopback server per connector class; each test installs a fresh simulator behind it
    (starting and stopping a server per test would cost a poll interval each time)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class Bank:
    """The simulator a test talks to, and where it listens."""

    app: SimulatorApp
    base_url: str

    def api_requests(self) -> int:
        """How many requests reached the bank's API (test controls and fault switches not counted)."""
        return len(self.app.requests_seen)

    def control(self, path: str, payload: dict | None = None) -> dict:
        """POST a simulator control (``/__control__/<path>``); it never uses up an armed fault."""
        answer = requests.post(f"{self.base_url}/__control__/{path}", json=payload or {}, timeout=5)
        assert answer.ok, f"simulator control {path} answered {answer.status_code}: {answer.text}"
        return answer.json()


@dataclass
class CaughtWebhook:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookCatcher(SimulatorApp):
    """Stands in for Pagoflex's webhook endpoint: keeps what the bank sends and answers 200, so a
    test can hand the exact bytes to ``webhooks.inbound.receive``."""

    def __init__(self):
        super().__init__()
        self.arrived = threading.Condition(self.lock)
        self.caught: list[CaughtWebhook] = []
        # Only webhooks to this path are kept: a late one from an earlier test's bank (another
        # account) must never pass for this test's.
        self.path_prefix = ""

    @route("POST", "/webhooks/{connector}/{account}/")
    def account_webhook(self, request: Request):
        return self._keep(request)

    @route("POST", "/webhooks/{connector}")
    def shared_webhook(self, request: Request):
        return self._keep(request)

    def _keep(self, request: Request):
        with self.arrived:
            if not request.path.startswith(self.path_prefix):
                return json_response({"received": True, "kept": False})
            self.caught.append(CaughtWebhook(request.path, dict(request.headers), request.body))
            self.arrived.notify_all()
        return json_response({"received": True})

    def clear(self, path_prefix: str = "") -> None:
        with self.lock:
            self.caught.clear()
            self.path_prefix = path_prefix

    def wait_for(self, count: int, timeout: float = SETTLE_TIMEOUT, *, about: str = "") -> list[CaughtWebhook]:
        """The first ``count`` webhooks caught, only those whose body mentions ``about`` when given
        (a bank that settles by itself may still post an earlier test's event to the catcher)."""
        def matching():
            return [hook for hook in self.caught if about.encode() in hook.body]

        with self.arrived:
            if not self.arrived.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"{len(matching())} of {count} webhooks arrived in {timeout}s")
            return matching()


def settle_payment(payment: PaymentOperation) -> PaymentOperation:
    """Ask the bank (psync) until the latest attempt leaves started/pending, the way the platform
    learns a late outcome; bounded in count and time. Customer action is not waited for."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    for poll in range(MAX_POLLS):
        attempt = payment.latest_attempt
        if attempt.status not in UNSETTLED_ATTEMPT_STATUSES or attempt.status == AttemptStatus.AUTHENTICATION_PENDING:
            break
        if time.monotonic() > deadline:
            break
        if poll:
            time.sleep(SETTLE_POLL)
        sync_attempt(attempt_pk=attempt.pk)
    return PaymentOperation.objects.get(pk=payment.pk)


def settle_refund(refund: Refund) -> Refund:
    """Ask the bank (rsync) until the refund leaves pending; bounded in count and time."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    for poll in range(MAX_POLLS):
        refund = Refund.objects.get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING or time.monotonic() > deadline:
            break
        if poll:
            time.sleep(SETTLE_POLL)
        sync_refund(refund_pk=refund.pk)
    return Refund.objects.get(pk=refund.pk)


def describe(payment: PaymentOperation) -> str:
    """The payment and its latest attempt in one line, for assertion messages."""
    attempt = payment.latest_attempt
    if attempt is None:
        return f"payment {payment.status} without attempts"
    return (
        f"payment {payment.status}, attempt {attempt.status} "
        f"({attempt.error_code or 'no error code'}: {attempt.error_message or 'no message'})"
    )
