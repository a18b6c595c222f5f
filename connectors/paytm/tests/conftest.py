"""Fixtures: a Paytm simulator on a loopback port and a connector pointed at it."""

from __future__ import annotations

import threading

import pytest
import requests

from connectors.base import Customer, Flow, PaymentData, RefundData, Upi
from connectors.paytm.adapter import PaytmConnector
from connectors.paytm.published_api import API
from connectors.paytm.simulator import PaytmSimulator
from connectors.testing.contract import observe
from connectors.testing.references import random_reference
from connectors.testing.simulator import SimulatorApp, SimulatorServer, route
from connectors.testing.simulator import json_response as sim_json

MID = "PAGOFL77690893XX"
KEY = "kbzk1DSbJiV_O3p5"  # 16 characters: AES-128


@pytest.fixture
def sim():
    """A fresh simulator; every request sent to it and every answer it gives during the test
    must follow Paytm's published API description (published_api.py)."""
    app = PaytmSimulator({MID: KEY})
    contract = observe(app, API)
    server = SimulatorServer(app).start()
    yield server
    server.stop()
    contract.assert_followed()


@pytest.fixture
def connector(sim):
    return PaytmConnector(
        credentials={"merchant_id": MID, "merchant_key": KEY, "website": "WEBSTAGING"}, base_url=sim.base_url
    )


def payment(flow: str = "intent", vpa: str = "", amount: int = 1050, **extra) -> PaymentData:
    return PaymentData(
        payment_id=random_reference("pay"),
        attempt_reference=random_reference("att", 16),
        amount=amount,
        currency="INR",
        payment_method_type="upi",
        upi=Upi(flow=flow, vpa=vpa),
        customer=Customer(id="cus_42", email="asha@example.in", name="Asha", phone="+91 98765 43210"),
        return_url="https://pagoflex.test/pay/return",
        webhook_url="https://pagoflex.test/webhooks/paytm",
        **extra,
    )


def authorize(connector: PaytmConnector, data: PaymentData):
    """What the orchestration does: the pre-authorize flows first, their results in data.session."""
    for flow in connector.pre_authorize_flows:
        result = connector.call(flow, data)
        data.session[flow] = result
        data.connector_metadata.update(result.connector_metadata)
    result = connector.call(Flow.AUTHORIZE, data)
    data.connector_metadata.update(result.connector_metadata)
    data.connector_reference = result.connector_reference or data.connector_reference
    return result


def refund_data(data: PaymentData, amount: int) -> RefundData:
    return RefundData(
        refund_id=random_reference("re"),
        payment_id=data.payment_id,
        attempt_reference=data.attempt_reference,
        connector_reference=data.connector_reference,
        amount=amount,
        currency="INR",
        payment_amount=data.amount,
        connector_metadata=dict(data.connector_metadata),
    )


def control(sim: SimulatorServer, path: str, payload: dict | None = None) -> dict:
    answer = requests.post(f"{sim.base_url}/__control__/{path}", json=payload or {}, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


class Receiver(SimulatorApp):
    """A stand-in for Pagoflex's webhook endpoint: keeps what arrives."""

    def __init__(self):
        super().__init__()
        self.arrived = threading.Event()
        self.received = []

    @route("POST", "/webhooks/paytm")
    def receive(self, request):
        self.received.append(request)
        self.arrived.set()
        return sim_json({"ok": True})


@pytest.fixture
def receiver():
    server = SimulatorServer(Receiver()).start()
    yield server
    server.stop()
