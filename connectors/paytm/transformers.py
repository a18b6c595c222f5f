"""Paytm's request and answer shapes, and their mapping to and from Pagoflex's types.

Amounts travel as major-unit strings with two decimals ("10.50"), made exactly from minor
units with ``connectors.amounts`` and read back the same way; nothing goes through float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from connectors import amounts
from connectors.base import PaymentData
from connectors.errors import ConnectorBadRequest, ConnectorUnknownOutcome
from connectors.statuses import AttemptStatus, RefundStatus

# Paytm order ids: alphanumeric plus "@" "-" "_" ".", at most 50 characters (Initiate Transaction API).
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9@\-_.]{1,50}$")
# custId: alphanumeric plus "@" "!" "_" "$" "." (Initiate Transaction API, userInfo).
CUST_ID_RE = re.compile(r"^[A-Za-z0-9@!_$.]{1,64}$")
VPA_RE = re.compile(r"^[A-Za-z0-9.\-_]{2,256}@[A-Za-z0-9]{2,64}$")

# The one status table: Paytm's resultStatus (status, refund and S2S APIs) in platform terms.
STATUS_TABLE: dict[str, tuple[AttemptStatus, RefundStatus]] = {
    "TXN_SUCCESS": (AttemptStatus.CHARGED, RefundStatus.SUCCEEDED),
    "TXN_FAILURE": (AttemptStatus.FAILURE, RefundStatus.FAILED),
    "PENDING": (AttemptStatus.PENDING, RefundStatus.PENDING),
}

# resultCode of the Theia APIs (initiate/process): 0000 success, 0002 idempotent repeat of
# the same order, which Paytm answers with the order's existing txnToken.
THEIA_OK_CODES = {"0000", "0002"}
# Paytm rejected our checksum or does not know the mid: nothing happened at Paytm, and it
# could not sign the answer with a key it did not use.
AUTH_FAILURE_CODES = {"2005", "2006", "330"}

UPI_CHANNELS = {"intent": "UPIPUSH", "collect": "UPI"}
UPI_PAYMENT_MODES = {"intent": "UPI_INTENT", "collect": "UPI"}


def attempt_status(paytm_status: str) -> AttemptStatus:
    try:
        return STATUS_TABLE[paytm_status][0]
    except KeyError:
        raise ConnectorUnknownOutcome(
            f"Paytm reported an unknown status {paytm_status!r}", code="invalid_connector_response"
        ) from None


def refund_status(paytm_status: str) -> RefundStatus:
    try:
        return STATUS_TABLE[paytm_status][1]
    except KeyError:
        raise ConnectorUnknownOutcome(
            f"Paytm reported an unknown refund status {paytm_status!r}", code="invalid_connector_response"
        ) from None


# -- reading answers ------------------------------------------------------------------------------


@dataclass
class ResultInfo:
    status: str
    code: str
    message: str

    @classmethod
    def of(cls, body: dict) -> ResultInfo:
        info = body.get("resultInfo") if isinstance(body, dict) else None
        if not isinstance(info, dict):
            raise ConnectorUnknownOutcome("Paytm's answer has no resultInfo", code="invalid_connector_response")
        return cls(str(info.get("resultStatus", "")), str(info.get("resultCode", "")), str(info.get("resultMsg", "")))


def major_to_minor(value, currency: str) -> int:
    """A Paytm amount ("10.50", Decimal or int) in minor units; anything else is an unreadable answer."""
    if value is None or isinstance(value, float):
        raise ConnectorUnknownOutcome(f"Paytm sent an unreadable amount {value!r}", code="invalid_connector_response")
    try:
        return amounts.to_minor(value, currency)
    except amounts.AmountError as exc:
        raise ConnectorUnknownOutcome(str(exc), code="invalid_connector_response") from None


def deep_link_amount(deep_link: str) -> tuple[int | None, str | None]:
    """The amount and currency a upi://pay link asks the customer for (``am``/``cu``), if present."""
    query = parse_qs(urlsplit(deep_link).query)
    currency = (query.get("cu") or [None])[0]
    amount = (query.get("am") or [None])[0]
    if amount is None or currency is None:
        return None, currency
    return major_to_minor(amount, currency), currency


# -- building requests ----------------------------------------------------------------------------


def order_id(data) -> str:
    """Paytm's orderId: the attempt reference, unique per attempt and traceable to the payment."""
    reference = data.attempt_reference
    if not ORDER_ID_RE.match(reference or ""):
        raise ConnectorBadRequest(
            f"attempt reference {reference!r} is not a valid Paytm order id "
            "(letters, digits, @ - _ . and at most 50 characters)"
        )
    return reference


def upi_flow(data: PaymentData) -> str:
    if data.payment_method_type != "upi" or data.upi is None:
        raise ConnectorBadRequest("Paytm accepts UPI payments only")
    if data.upi.flow not in UPI_PAYMENT_MODES:
        raise ConnectorBadRequest(f"unknown UPI flow {data.upi.flow!r}; use 'collect' or 'intent'")
    if data.upi.flow == "collect" and not VPA_RE.match(data.upi.vpa or ""):
        raise ConnectorBadRequest("a UPI collect payment needs a VPA like name@bank")
    return data.upi.flow


def txn_amount(amount_minor: int, currency: str) -> dict:
    if currency != "INR":
        raise ConnectorBadRequest(f"Paytm accepts INR only, not {currency}")
    return {"value": amounts.format_major(amount_minor, currency), "currency": currency}


def _mobile(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 12 and digits.startswith("91"):
        digits = digits[2:]
    return digits if len(digits) == 10 else ""


def user_info(data: PaymentData) -> dict:
    customer = data.customer
    info = {"custId": customer.id if CUST_ID_RE.match(customer.id or "") else data.payment_id}
    if customer.email:
        info["email"] = customer.email
    if mobile := _mobile(customer.phone):
        info["mobile"] = mobile
    if customer.name:
        info["firstName"] = customer.name
    return info


def initiate_body(data: PaymentData, credentials: dict) -> dict:
    """Initiate Transaction API body; only the chosen UPI channel is enabled on the order."""
    flow = upi_flow(data)
    return {
        "requestType": "Payment",
        "mid": credentials["merchant_id"],
        "websiteName": credentials["website"],
        "orderId": order_id(data),
        "txnAmount": txn_amount(data.amount, data.currency),
        "userInfo": user_info(data),
        "enablePaymentMode": [{"mode": "UPI", "channels": [UPI_CHANNELS[flow]]}],
        "callbackUrl": data.return_url,
    }


def process_body(data: PaymentData, credentials: dict) -> dict:
    """Process Transaction API body: UPI_INTENT asks for a deep link, UPI with payerAccount sends a collect."""
    flow = upi_flow(data)
    body = {
        "requestType": "NATIVE",
        "mid": credentials["merchant_id"],
        "orderId": order_id(data),
        "paymentMode": UPI_PAYMENT_MODES[flow],
    }
    if flow == "collect":
        body["payerAccount"] = data.upi.vpa
    return body
