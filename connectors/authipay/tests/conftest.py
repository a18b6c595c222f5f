"""Fixtures: a fresh simulator on a loopback port per test, and a connector pointed at it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.authipay.adapter import AuthipayConnector
from connectors.authipay.published_api import API
from connectors.authipay.simulator import AuthipaySimulator
from connectors.base import Card, PaymentData, RefundData
from connectors.testing.contract import observe
from connectors.testing.simulator import SimulatorServer

CREDENTIALS = {"api_key": "ak_test_4f9c2a7e1b", "api_secret": "as_test_8d31b6f0c2e94a57", "store_id": "12345500000"}
SUCCESS_CARD = "4111111111111111"


@dataclass
class Gateway:
    app: AuthipaySimulator
    base_url: str

    def transactions(self, kind: str) -> list:
        return [tx for tx in self.app.transactions.values() if tx.kind == kind]


class _CurrentApp:
    """One loopback server per module; each test gets a fresh simulator behind it."""

    app: AuthipaySimulator | None = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def _server():
    current = _CurrentApp()
    server = SimulatorServer(current).start()
    yield current, server.base_url
    server.stop()


@pytest.fixture
def gateway(_server):
    """A fresh simulator; every request sent to it and every answer it gives during the test
    must follow Fiserv's published API description (published_api.py)."""
    current, base_url = _server
    current.app = AuthipaySimulator(
        stores={CREDENTIALS["api_key"]: (CREDENTIALS["api_secret"], CREDENTIALS["store_id"])}
    )
    contract = observe(current.app, API)
    yield Gateway(current.app, base_url)
    current.app.settle()  # the test's requests end with it, every one of them observed
    contract.assert_followed()


@pytest.fixture
def connector(gateway):
    return AuthipayConnector(credentials=CREDENTIALS, base_url=gateway.base_url)


_counter = iter(range(1, 1_000_000))


def payment(amount: int = 1204, currency: str = "EUR", card: str | None = SUCCESS_CARD, **fields) -> PaymentData:
    n = next(_counter)
    defaults = {
        "payment_id": f"pay_{n:06d}",
        "attempt_reference": f"att_8f3K{n:06d}",
        "card": Card(number=card, exp_month=12, exp_year=2031, cvc="977", holder_name="Ada Lovelace") if card else None,
    }
    return PaymentData(amount=amount, currency=currency, **{**defaults, **fields})


def refund(paid: PaymentData, reference: str, amount: int, **fields) -> RefundData:
    n = next(_counter)
    return RefundData(
        refund_id=f"re_{n:06d}",
        payment_id=paid.payment_id,
        attempt_reference=paid.attempt_reference,
        connector_reference=reference,
        amount=amount,
        currency=paid.currency,
        payment_amount=paid.amount,
        **fields,
    )


def after(data: PaymentData, result, **fields) -> PaymentData:
    """What the orchestration hands a later flow: the reference and the merged metadata."""
    data.connector_reference = result.connector_reference or data.connector_reference
    data.connector_metadata = {**data.connector_metadata, **result.connector_metadata}
    for name, value in fields.items():
        setattr(data, name, value)
    return data
