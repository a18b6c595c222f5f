"""What the Banco X simulator remembers, how it decides outcomes, and the webhook events it writes.

Pure data and rules, no HTTP: ``simulator.py`` serves them. Outcomes follow SPEC.md §9; events
follow SPEC.md §7.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

# A test switch reports this many minor units more than the truth (answers and webhooks alike).
WRONG_AMOUNT_SHIFT = 100
OUTCOMES = ("succeeded", "failed", "rejected")
WEBHOOK_SWITCHES = (
    "twice",  # the same event (same id, same body) delivered twice
    "reorder",  # the final event, then the earlier processing/pending one
    "conflicting",  # the final event, then the opposite final event for the same transaction
    "bad_signature",  # signed with another secret
    "stale_signature",  # signed with a timestamp ten minutes old
    "wrong_amount",  # the final event reports WRONG_AMOUNT_SHIFT more
    "suppress",  # settle but send nothing: only psync/rsync tell
    "delay",  # seconds before settling, instead of the simulator's webhook_delay
)


@dataclass
class Outcome:
    status: str  # "succeeded" | "failed" | "rejected" (refused at once, no webhook)
    code: str = ""
    message: str = ""


def outcome_for_amount(amount: int) -> Outcome:
    """SPEC.md §9: the last two digits of the minor-unit amount choose a payment's outcome."""
    if amount % 100 == 13:
        return Outcome("failed", "insufficient_funds", "Fondos insuficientes")
    if amount % 100 == 66:
        return Outcome("rejected", "risk_rejected", "Operación rechazada por riesgo")
    return Outcome("succeeded")


def refund_outcome_for_amount(amount: int) -> Outcome:
    if amount % 100 == 13:
        return Outcome("failed", "refund_declined", "Devolución denegada")
    return Outcome("succeeded")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass
class SimPayment:
    id: str
    api_key: str
    ref: str
    amount: int
    currency: str
    callback_url: str
    outcome: Outcome
    created: int
    status: str = "pending"
    refunded: int = 0  # pending and succeeded refunds: what can no longer be refunded

    def as_json(self, shift: int = 0) -> dict:
        """GET /pay/{id} (SPEC.md §4)."""
        failed = self.status == "failed"
        return {
            "id": self.id,
            "ref": self.ref,
            "status": self.status,
            "amount": self.amount + shift,
            "currency": self.currency,
            "code": self.outcome.code if failed else "",
            "message": self.outcome.message if failed else "",
            "refunded_amount": self.refunded,
        }


@dataclass
class SimRefund:
    id: str
    payment: SimPayment
    ref: str
    amount: int
    callback_url: str
    outcome: Outcome
    created: int
    status: str = "pending"

    def as_json(self, shift: int = 0) -> dict:
        """POST /pay/{id}/refunds and GET /refunds/{id} (SPEC.md §5, §6)."""
        failed = self.status == "failed"
        return {
            "id": self.id,
            "tx_id": self.payment.id,
            "ref": self.ref,
            "status": self.status,
            "amount": self.amount + shift,
            "currency": self.payment.currency,
            "code": self.outcome.code if failed else "",
            "message": self.outcome.message if failed else "",
        }


@dataclass
class Delivery:
    """One attempt to deliver one webhook, as the receiver answered it."""

    event_id: str
    event_type: str
    tx_id: str
    url: str
    attempt: int
    status_code: int | None  # None: no HTTP answer (see error)
    error: str = ""


def settlement_events(plan: dict, subject: SimPayment | SimRefund, account_id: str) -> list[dict]:
    """The events a settled payment or refund sends, in sending order, shaped by the webhook switches."""
    kind, earlier = ("payment", "processing") if isinstance(subject, SimPayment) else ("refund", "pending")
    now = int(time.time())
    shift = WRONG_AMOUNT_SHIFT if plan.get("wrong_amount") else 0
    final = _event(subject, kind, subject.status, now, shift, account_id)
    events = [final] * (2 if plan.get("twice") else 1)
    if plan.get("reorder"):
        events.append(_event(subject, kind, earlier, subject.created, 0, account_id))
    if plan.get("conflicting"):
        opposite = "failed" if subject.status == "succeeded" else "succeeded"
        events.append(_event(subject, kind, opposite, now + 1, 0, account_id))
    return events


def _event(subject, kind: str, status: str, created: int, shift: int, account_id: str) -> dict:
    payment = subject if kind == "payment" else subject.payment
    failed = status == "failed"
    event = {"id": new_id("evt"), "type": f"{kind}.{status}", "created": created}
    if account_id:
        event["account"] = account_id
    event.update(
        {
            "tx_id": payment.id,
            "ref": payment.ref,
            "status": status,
            "amount": subject.amount + shift,
            "currency": payment.currency,
            "code": subject.outcome.code if failed else "",
            "message": subject.outcome.message if failed else "",
        }
    )
    if kind == "refund":
        event.update({"refund_id": subject.id, "refund_ref": subject.ref})
    return event
