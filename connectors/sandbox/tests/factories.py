"""Builders shared by the sandbox tests: platform inputs with unique references."""

from __future__ import annotations

import time

from connectors.base import Card, ConnectorResponse, PaymentData, RefundData
from connectors.testing.references import random_reference

API_KEY = "sk_sandbox_test_5f0c2e9a71"
WEBHOOK_SECRET = "whsec_sandbox_test_c81d3b"
OTHER_API_KEY = "sk_sandbox_other_93be1d04"
OTHER_WEBHOOK_SECRET = "whsec_sandbox_other_0a7e"

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
CVC = "987"


def card(number: str = VISA, *, exp_month: int = 12, exp_year: int | None = None, cvc: str = CVC) -> Card:
    return Card(
        number=number,
        exp_month=exp_month,
        exp_year=exp_year or time.gmtime().tm_year + 3,
        cvc=cvc,
        holder_name="Ada Lovelace",
    )


def payment(
    number: str = VISA, *, amount: int = 1050, currency: str = "EUR", manual: bool = False, **fields
) -> PaymentData:
    fields.setdefault("card", card(number))
    return PaymentData(
        payment_id=random_reference("pay"),
        attempt_reference=random_reference("att", 16),
        amount=amount,
        currency=currency,
        capture_method="manual" if manual else "automatic",
        **fields,
    )


def follow_up(data: PaymentData, result: ConnectorResponse, **changes) -> PaymentData:
    """The PaymentData the orchestration hands to capture/void/psync after ``result``."""
    data.connector_reference = result.connector_reference
    data.connector_metadata = {**data.connector_metadata, **result.connector_metadata}
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def refund(data: PaymentData, amount: int, **fields) -> RefundData:
    return RefundData(
        refund_id=random_reference("re", 16),
        payment_id=data.payment_id,
        attempt_reference=data.attempt_reference,
        connector_reference=data.connector_reference,
        amount=amount,
        currency=data.currency,
        payment_amount=data.amount,
        **fields,
    )


def wait_for(predicate, timeout: float = 5.0):
    """Poll until ``predicate()`` is truthy (for webhooks the bank sends from another thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
