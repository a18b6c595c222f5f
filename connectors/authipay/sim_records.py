"""What the simulated Authipay gateway keeps and how it writes it: test cards, transactions,
refusals, the transaction answer (spec 3.2) and the amount and card checks."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from connectors import amounts
from connectors.authipay import acs
from connectors.base import card_brand
from connectors.masking import luhn_valid

# Test cards and what the gateway does with them. The first three are the spec's (7.1); any
# other Luhn-valid number approves; an expiry date in the past is declined (54).
CARDS = {
    "4111111111111111": "approve",
    "5424180279791732": "approve",
    "371449635398431": "approve",
    "4000000000000002": "decline",  # 422, processor 05 DO NOT HONOUR
    "4000000000009995": "insufficient_funds",  # 422, processor 51
    "4000000000000259": "gateway_decline",  # 409, the gateway's own fraud rules
    "4000000000000119": "server_error",  # 500 after the payment was approved
    "4000000000000200": "communication_error",  # 502 after the payment was approved
    "4000000000003220": "challenge_2",  # issuer requires a 3DS 2.1 challenge
    "4000000000003063": "challenge_1",  # issuer requires a 3DS 1.0 challenge
}

# transactionType on the wire: a card verification is a zero-amount pre-authorization.
WIRE_TYPES = {"VERIFICATION": "PREAUTH"}

PRIMARY_TYPES = {
    "PaymentCardSaleTransaction": ("SALE", "card"),
    "PaymentCardPreAuthTransaction": ("PREAUTH", "card"),
    "PaymentTokenSaleTransaction": ("SALE", "token"),
    "PaymentTokenPreAuthTransaction": ("PREAUTH", "token"),
}


class Reject(Exception):
    """An answer other than 200: HTTP status, error code/message, optionally the transaction."""

    def __init__(self, status: int, code: str, message: str, *details: str, tx: Transaction | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.tx = status, code, message, details, tx


@dataclass
class Transaction:
    id: str
    kind: str  # SALE, PREAUTH, POSTAUTH, VOID, RETURN, VERIFICATION (on the wire: WIRE_TYPES)
    store_id: str
    amount: int
    currency: str
    card: dict  # last4, brand, month, year: never the number or the security code
    status: str = "APPROVED"
    state: str = ""
    order_id: str = ""
    parent: str = ""
    merchant_id: str = ""
    captured: int = 0
    refunded: int = 0
    approval_code: str = ""
    response: tuple[str, str] = ("00", "APPROVED")
    three_ds: dict = field(default_factory=dict)
    time_seconds: int = 0  # transactionTime: the published unit is epoch seconds


@dataclass
class Call:
    store_id: str
    client_request_id: str
    payload: dict
    host: str


def envelope(crid: str) -> dict:
    return {"clientRequestId": crid, "apiTraceId": f"rrt-{secrets.token_hex(8)}"}


def read_card(card) -> tuple[str, dict]:
    """The card's test profile and what may be kept of it (last four, brand, expiry)."""
    if not isinstance(card, dict):
        raise Reject(400, "invalid_request", "Invalid request", "paymentCard is missing")
    number = str(card.get("number", ""))
    expiry = card.get("expiryDate") or {}
    month, year = str(expiry.get("month", "")), str(expiry.get("year", ""))
    if not luhn_valid(number):
        raise Reject(400, "invalid_request", "Invalid card number", "Card number is not valid")
    if not (month.isdigit() and 1 <= int(month) <= 12 and len(year) == 2 and year.isdigit()):
        raise Reject(400, "invalid_request", "Invalid expiry date", "expiryDate needs month 1-12 and a 2-digit year")
    return CARDS.get(number, "approve"), {
        "last4": number[-4:],
        "brand": card_brand(number),
        "month": month,
        "year": year,
    }


def transaction_body(tx: Transaction, crid: str, *, skew: bool = False) -> dict:
    amount = {"total": amounts.to_major(tx.amount + (1 if skew else 0), tx.currency), "currency": tx.currency}
    body = {
        **envelope(crid),
        "ipgTransactionId": tx.id,
        "orderId": tx.order_id,
        "transactionType": WIRE_TYPES.get(tx.kind, tx.kind),
        "transactionTime": tx.time_seconds,
        "transactionStatus": tx.status,
        "transactionState": tx.state,
        "transactionOrigin": "ECOM",
        "paymentMethodDetails": {
            "paymentMethodType": "PAYMENT_CARD",
            "paymentCard": {
                "last4": tx.card["last4"],
                "brand": tx.card["brand"].upper(),
                "expiryDate": {"month": tx.card["month"], "year": tx.card["year"]},
            },
        },
        "transactionAmount": amount,
        "processor": {"responseCode": tx.response[0], "responseMessage": tx.response[1]},
    }
    if tx.status == "APPROVED":
        body["approvedAmount"] = amount
        body["approvalCode"] = tx.approval_code
    if tx.merchant_id:
        body["merchantTransactionId"] = tx.merchant_id
    if tx.status == "WAITING":
        body["authenticationResponse"] = challenge_params(tx)
    return body


def challenge_params(tx: Transaction) -> dict:
    three_ds = tx.three_ds
    message = acs.encode(
        {
            "acsTransID": three_ds["acs_id"],
            "threeDSServerTransID": tx.id,
            "messageType": "CReq",
            "messageVersion": EMV_MESSAGE_VERSIONS[three_ds["version"]],
            "challengeWindowSize": "05",
        }
    )
    if three_ds["version"].startswith("2"):
        params = {
            "acsURL": three_ds["acs_url"],
            "termURL": three_ds["term_url"],
            "cReq": message,
            "sessionData": three_ds["session"],
        }
    else:
        params = {
            "acsURL": three_ds["acs_url"],
            "termURL": three_ds["term_url"],
            "payerAuthenticationRequest": message,
            "merchantData": three_ds["session"],
        }
    return {"type": "3D_SECURE", "version": three_ds["version"], "params": params}


# Secure3DAuthenticationResponse.version: the published values name the protocol ("1.0", "2.1"),
# not the EMV message version inside the CReq ("2.1.0").
THREE_DS_VERSIONS = {"challenge_1": "1.0", "challenge_2": "2.1"}
EMV_MESSAGE_VERSIONS = {"1.0": "1.0.2", "2.1": "2.1.0"}


def money(value) -> tuple[int, str]:
    """transactionAmount as minor units: a JSON number with at most the currency's decimals."""
    if not isinstance(value, dict):
        raise Reject(400, "invalid_request", "Invalid request", "transactionAmount is missing")
    total, currency = value.get("total"), str(value.get("currency", ""))
    if isinstance(total, bool) or not isinstance(total, (int, Decimal)):
        raise Reject(400, "invalid_request", "Invalid request", "transactionAmount.total must be a JSON number")
    try:
        minor = amounts.to_minor(total, currency)
    except amounts.AmountError as exc:
        raise Reject(400, "invalid_request", "Invalid amount", str(exc)) from None
    if minor <= 0:
        raise Reject(400, "invalid_request", "Invalid amount", "transactionAmount.total must be positive")
    return minor, currency.upper()


def card_expired(card: dict) -> bool:
    today = datetime.date.today()
    return (2000 + int(card["year"]), int(card["month"])) < (today.year, today.month)
