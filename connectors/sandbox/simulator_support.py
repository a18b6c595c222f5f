"""Plumbing of the sandbox simulator: its error answer, request validation, and a SimulatorApp
base that works around the framework's route scan. Kept apart so simulator.py reads as the bank."""

from __future__ import annotations

import datetime
import secrets

from connectors import amounts
from connectors.base import card_brand
from connectors.masking import luhn_valid
from connectors.testing.simulator import Response, json_response


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def response(self) -> Response:
        error = {"code": self.code, "message": self.message, **({"field": self.field} if self.field else {})}
        return json_response({"error": error}, status=self.status)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def minor_amount(value, field: str, *, required: bool = True) -> int | None:
    if value is None:
        if required:
            raise ApiError(400, "parameter_missing", "amount is required", field)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= amounts.MAX_AMOUNT:
        raise ApiError(400, "invalid_amount", "amount must be a positive integer of minor units", field)
    return value


def text_field(body: dict, name: str, *, field: str = "", required: bool = True, limit: int = 255) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, "parameter_missing", f"{name} is required", field or name)
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(400, "invalid_parameter", f"{name} must be text of at most {limit} characters", field or name)
    return value


def url_field(body: dict, name: str) -> str:
    value = text_field(body, name, required=False, limit=2048)
    if value and not value.startswith(("http://", "https://")):
        raise ApiError(400, "invalid_url", f"{name} must be an http(s) URL", name)
    return value


def read_card(card) -> dict:
    """Validate the card and return what the bank keeps of it: never the number or the CVC."""
    if not isinstance(card, dict):
        raise ApiError(400, "parameter_missing", "card is required", "card")
    number = card.get("number")
    if not number:
        raise ApiError(400, "parameter_missing", "card.number is required", "card.number")
    if not isinstance(number, str) or not luhn_valid(number):
        raise ApiError(400, "invalid_number", "the card number is not a valid card number", "card.number")
    month, year = card.get("exp_month"), card.get("exp_year")
    for name, value in (("exp_month", month), ("exp_year", year)):
        if value is None:
            raise ApiError(400, "parameter_missing", f"card.{name} is required", f"card.{name}")
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ApiError(400, "invalid_expiry_month", "exp_month must be 1 to 12", "card.exp_month")
    if isinstance(year, bool) or not isinstance(year, int) or not 1000 <= year <= 9999:
        raise ApiError(400, "invalid_expiry_year", "exp_year must have four digits", "card.exp_year")
    cvc = card.get("cvc") or ""
    if not isinstance(cvc, str) or (cvc and not (cvc.isdigit() and len(cvc) in (3, 4))):
        raise ApiError(400, "invalid_cvc", "cvc must be 3 or 4 digits", "card.cvc")
    today = datetime.datetime.now(datetime.UTC).date()
    return {
        "last4": number[-4:],
        "brand": card_brand(number),
        "exp_month": month,
        "exp_year": year,
        "expired": (year, month) < (today.year, today.month),
    }


