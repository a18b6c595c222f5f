"""Banco X's request and answer shapes, and their mapping to Pagoflex's types (SPEC.md §3-§7).

Amounts stay as Banco X wrote them here (integer minor units, SPEC.md §2); the adapter turns them
into platform amounts with ``Connector.from_connector_amount``, which refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import PaymentData, RefundData
from connectors.statuses import AttemptStatus, RefundStatus

# The one status table. Payment answers and payment webhooks share the vocabulary; "ok" is the
# acknowledgement of POST /pay (SPEC.md §3): accepted, outcome still to come.
PAYMENT_STATUSES: dict[str, AttemptStatus] = {
    "ok": AttemptStatus.PENDING,
    "pending": AttemptStatus.PENDING,
    "processing": AttemptStatus.PENDING,
    "succeeded": AttemptStatus.CHARGED,  # Banco X captures automatically
    "failed": AttemptStatus.FAILURE,
    "rejected": AttemptStatus.FAILURE,
}
REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
}
PAY_ACCEPTED = "ok"
REFUND_EVENT_PREFIX = "refund."


class MalformedPayload(ValueError):
    """A Banco X body lacks a field or has one of the wrong type."""


def payment_status(raw: str) -> AttemptStatus | None:
    return PAYMENT_STATUSES.get((raw or "").lower())


def refund_status(raw: str) -> RefundStatus | None:
    return REFUND_STATUSES.get((raw or "").lower())


# -- requests ----------------------------------------------------------------------------------


def pay_request(data: PaymentData, amount: int) -> dict:
    """SPEC.md §3. No payment method data: Banco X deals with the customer itself."""
    return {
        "amount": amount,
        "currency": data.currency,
        "ref": data.attempt_reference,
        "callback_url": data.webhook_url,
    }


def refund_request(data: RefundData, amount: int) -> dict:
    """SPEC.md §5. Our refund id is the ``ref`` so Banco X replays a retried refund instead of paying twice."""
    return {"amount": amount, "currency": data.currency, "ref": data.refund_id, "callback_url": data.webhook_url}


# -- answers and events ------------------------------------------------------------------------


@dataclass
class BancoXPayment:
    """POST /pay (SPEC.md §3) and GET /pay/{id} (§4) answers."""

    id: str
    status: str
    ref: str
    amount: Any
    currency: str
    code: str
    message: str

    @classmethod
    def from_json(cls, body) -> BancoXPayment:
        body = _object(body)
        status = _text(body, "status", required=True)
        # A refusal may come without an id (nothing was created); an acceptance never does.
        refused = status.lower() in ("rejected", "failed")
        return cls(
            id=_text(body, "id", required=not refused),
            status=status,
            ref=_text(body, "ref"),
            amount=body.get("amount"),
            currency=_text(body, "currency"),
            code=_text(body, "code"),
            message=_text(body, "message"),
        )


@dataclass
class BancoXRefund:
    """POST /pay/{id}/refunds (SPEC.md §5) and GET /refunds/{id} (§6) answers."""

    id: str
    tx_id: str
    status: str
    ref: str
    amount: Any
    currency: str
    code: str
    message: str

    @classmethod
    def from_json(cls, body) -> BancoXRefund:
        body = _object(body)
        return cls(
            id=_text(body, "id", required=True),
            tx_id=_text(body, "tx_id"),
            status=_text(body, "status", required=True),
            ref=_text(body, "ref"),
            amount=body.get("amount"),
            currency=_text(body, "currency"),
            code=_text(body, "code"),
            message=_text(body, "message"),
        )


@dataclass
class BancoXEvent:
    """A webhook body (SPEC.md §7)."""

    id: str
    type: str
    created: int | None
    account: str
    tx_id: str
    ref: str
    status: str
    amount: Any
    currency: str
    code: str
    message: str
    refund_id: str
    refund_ref: str

    @property
    def is_refund(self) -> bool:
        return self.type.startswith(REFUND_EVENT_PREFIX)

    @property
    def platform_status(self) -> AttemptStatus | RefundStatus | None:
        """None for a status Pagoflex does not know: the event is kept, not applied."""
        return refund_status(self.status) if self.is_refund else payment_status(self.status)

    @classmethod
    def from_json(cls, body) -> BancoXEvent:
        body = _object(body)
        created = body.get("created")
        if created is not None and (isinstance(created, bool) or not isinstance(created, int)):
            raise MalformedPayload("created must be a unix timestamp")
        return cls(
            id=_text(body, "id", required=True),
            type=_text(body, "type", required=True),
            created=created,
            account=_text(body, "account"),
            tx_id=_text(body, "tx_id", required=True),
            ref=_text(body, "ref"),
            status=_text(body, "status", required=True),
            amount=body.get("amount"),
            currency=_text(body, "currency"),
            code=_text(body, "code"),
            message=_text(body, "message"),
            refund_id=_text(body, "refund_id"),
            refund_ref=_text(body, "refund_ref"),
        )


def _object(body) -> dict:
    if not isinstance(body, dict):
        raise MalformedPayload("the body is not a JSON object")
    return body


def _text(body: dict, name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise MalformedPayload(f"{name} is missing")
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{name} must be text")
    return value
