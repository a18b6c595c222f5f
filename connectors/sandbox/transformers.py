"""The sandbox bank's request and response shapes, and their mapping to platform types.

Wire amounts are integers of minor units (SPEC.md §1), so no conversion happens here beyond
refusing anything that is not an int. All status mapping lives in the two tables below.
"""

from __future__ import annotations

from connectors.base import ConnectorResponse, IncomingWebhook, NextAction, PaymentData, RefundData
from connectors.errors import ConnectorBadRequest, ConnectorUnknownOutcome
from connectors.statuses import AttemptStatus, RefundStatus

# SPEC.md §3 (charge statuses) and §4 (refund statuses): the one place statuses are mapped.
CHARGE_STATUSES: dict[str, AttemptStatus] = {
    "pending": AttemptStatus.PENDING,
    "requires_action": AttemptStatus.AUTHENTICATION_PENDING,
    "authorized": AttemptStatus.AUTHORIZED,
    # Some of the authorization is captured and more captures are possible.
    "partially_captured": AttemptStatus.PARTIALLY_CHARGED,
    "captured": AttemptStatus.CHARGED,
    "voided": AttemptStatus.VOIDED,
    "declined": AttemptStatus.FAILURE,
}
REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
}

# Declines caused by the path to the issuer rather than the card: another bank may approve.
SOFT_DECLINE_CODES = frozenset({"processing_error", "issuer_unavailable"})


# -- requests --------------------------------------------------------------------------------


def charge_request(data: PaymentData) -> dict:
    """POST /v1/charges body (SPEC.md §3.1). The card goes only into this dict, never into a log."""
    if data.payment_method_type != "card" or data.card is None:
        # Refused before sending: the sandbox only knows raw card details.
        raise ConnectorBadRequest("the sandbox bank needs card details", code="payment_method_not_supported")
    card = data.card
    body = {
        "amount": data.amount,
        "currency": data.currency.upper(),
        "capture": data.capture_method != "manual",
        "reference": data.attempt_reference,
        "card": {
            "number": card.number,
            "exp_month": card.exp_month,
            # The sandbox wants four digits; a two-digit year is read as this century's.
            "exp_year": card.exp_year if card.exp_year >= 100 else 2000 + card.exp_year,
            "cvc": card.cvc,
            "holder_name": card.holder_name,
        },
        "three_d_secure": bool(data.three_ds),
        "description": data.description or f"Pagoflex payment {data.payment_id}",
    }
    if data.return_url:
        body["return_url"] = data.return_url
    if data.webhook_url:
        body["webhook_url"] = data.webhook_url
    return body


def capture_amount(data: PaymentData) -> int:
    """What this capture takes: the asked amount, else everything not captured yet."""
    if data.amount_to_capture is not None:
        return data.amount_to_capture
    return data.amount - data.amount_captured


def refund_request(data: RefundData) -> dict:
    """POST /v1/charges/{id}/refunds body (SPEC.md §4.1); the reference makes retries idempotent."""
    body = {"amount": data.amount, "reference": data.refund_id}
    if data.reason:
        body["reason"] = data.reason
    if data.webhook_url:
        body["webhook_url"] = data.webhook_url
    return body


# -- responses -------------------------------------------------------------------------------


def _invalid(what: str) -> ConnectorUnknownOutcome:
    return ConnectorUnknownOutcome(f"sandbox answered an unreadable {what}", code="invalid_connector_response")


def _minor(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{what} amount {value!r}")
    return value


def _checked(obj, kind: str, statuses: dict) -> dict:
    """The object when it has the fields every answer of this kind must carry."""
    if not isinstance(obj, dict) or obj.get("object") != kind or not isinstance(obj.get("id"), str):
        raise _invalid(kind)
    if obj.get("status") not in statuses:
        raise _invalid(f"{kind} status {obj.get('status')!r}")
    if not isinstance(obj.get("currency"), str):
        raise _invalid(f"{kind} currency")
    return obj


def charge_response(obj, *, amount_field: str = "amount") -> ConnectorResponse:
    """A charge object (SPEC.md §3) in platform terms. ``amount_field`` names the amount the
    integrity check compares: the charge amount, or ``last_capture_amount`` after a capture."""
    charge = _checked(obj, "charge", CHARGE_STATUSES)
    raw_status = charge["status"]
    status = CHARGE_STATUSES[raw_status]
    result = ConnectorResponse(
        status=status,
        connector_reference=charge["id"],
        raw_status=raw_status,
        amount=_minor(charge.get(amount_field), "charge"),
        currency=charge["currency"],
        amount_captured=_minor(charge.get("amount_captured", 0), "captured"),
    )
    if status == AttemptStatus.FAILURE:
        result.code = str(charge.get("decline_code") or "card_declined")
        result.message = str(charge.get("message") or "the card was declined")
        result.retryable_elsewhere = result.code in SOFT_DECLINE_CODES
    elif status == AttemptStatus.AUTHENTICATION_PENDING:
        redirect_url = charge.get("redirect_url")
        if not isinstance(redirect_url, str) or not redirect_url:
            raise _invalid("charge that requires action but has no redirect_url")
        result.next_action = NextAction(type="redirect_to_url", url=redirect_url)
    return result


def refund_response(obj) -> ConnectorResponse:
    """A refund object (SPEC.md §4) in platform terms."""
    refund = _checked(obj, "refund", REFUND_STATUSES)
    result = ConnectorResponse(
        status=REFUND_STATUSES[refund["status"]],
        connector_reference=refund["id"],
        raw_status=refund["status"],
        amount=_minor(refund.get("amount"), "refund"),
        currency=refund["currency"],
    )
    if result.status == RefundStatus.FAILED:
        result.code = str(refund.get("failure_code") or "refund_failed")
        result.message = str(refund.get("message") or "the refund failed")
    return result


def webhook_to_incoming(event) -> IncomingWebhook:
    """A webhook event (SPEC.md §6) as an IncomingWebhook. For a refund event the connector
    reference is the refund's id (``rf_...``), like ``RefundData.refund_connector_reference``."""
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise ConnectorBadRequest("not a sandbox webhook event", code="invalid_webhook")
    obj = event.get("data")
    kind = obj.get("object") if isinstance(obj, dict) else None
    try:
        if kind == "refund":
            parsed = refund_response(obj)
            references = {"refund_reference": str(obj.get("reference") or ""),
                          "attempt_reference": str(obj.get("charge_reference") or "")}
        elif kind == "charge":
            parsed = charge_response(obj)
            references = {"attempt_reference": str(obj.get("reference") or "")}
        else:
            raise ConnectorBadRequest(f"webhook {event['id']} carries no charge or refund", code="invalid_webhook")
    except ConnectorUnknownOutcome as exc:
        raise ConnectorBadRequest(f"webhook {event['id']}: {exc.message}", code="invalid_webhook") from None
    return IncomingWebhook(
        event_id=event["id"],
        event_type=event["type"],
        connector_reference=parsed.connector_reference,
        status=parsed.status,
        amount=parsed.amount,
        currency=parsed.currency,
        is_refund=kind == "refund",
        code=parsed.code,
        message=parsed.message,
        raw_status=parsed.raw_status,
        **references,
    )
