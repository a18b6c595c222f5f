"""Fixtures: a Banco X simulator and a webhook receiver, both on loopback over real HTTP."""

import threading

import pytest

from connectors.banco_x.adapter import BancoXConnector
from connectors.banco_x.simulator import BancoXSimulator
from connectors.base import Flow, PaymentData, RefundData
from connectors.testing.references import random_reference
from connectors.testing.simulator import SimulatorServer

API_KEY = "bx_key_merchant_0001"
SECRET = "bx_signing_secret_0001"
WEBHOOK_SECRET = "bx_webhook_secret_0001"
ACCOUNT_ID = "mca_bancox_0001"
CREDENTIALS = {"api_key": API_KEY, "secret": SECRET, "webhook_secret": WEBHOOK_SECRET}


class WebhookReceiver:
    """Pagoflex's callback endpoint reduced to the connector's part: verify, answer 200 or 401, keep it all."""

    def __init__(self, connector: BancoXConnector):
        self.connector = connector
        self.received: list[tuple[dict, bytes, bool]] = []
        self._lock = threading.Lock()

    path = f"/webhooks/banco_x/{ACCOUNT_ID}"

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ.get("PATH_INFO") != self.path:  # a stray request on a reused loopback port
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        verified = self.connector.verify_webhook(headers=headers, body=body)
        with self._lock:
            self.received.append((headers, body, verified))
        start_response(
            "200 OK" if verified else "401 Unauthorized",
            [("Content-Type", "application/json"), ("Content-Length", "2")],
        )
        return [b"{}"]

    def parsed(self):
        return [self.connector.parse_webhook(headers=h, body=b) for h, b, _ in self.received]


@pytest.fixture
def sim():
    simulator = BancoXSimulator(
        accounts={API_KEY: (SECRET, WEBHOOK_SECRET)}, webhook_delay=0.05, account_ids={API_KEY: ACCOUNT_ID}
    )
    yield simulator
    simulator.close()  # cancels the callbacks not yet due
    simulator.settle()  # and waits for those under way


def _stop_in_background(server: SimulatorServer) -> None:
    # stop() waits for the server loop's 0.5 s poll; each test has its own ports, so nobody waits for it.
    threading.Thread(target=server.stop, daemon=True).start()


@pytest.fixture
def bank_url(sim):
    server = SimulatorServer(sim).start()
    yield server.base_url
    _stop_in_background(server)


@pytest.fixture
def connector(bank_url):
    return BancoXConnector(credentials=CREDENTIALS, base_url=bank_url)


@pytest.fixture
def receiver(bank_url, sim):
    app = WebhookReceiver(BancoXConnector(credentials=CREDENTIALS, base_url=bank_url))
    server = SimulatorServer(app).start()
    app.url = f"{server.base_url}{app.path}"
    yield app
    sim.close()  # no callback may outlive the receiver and land on a port reused by a later test
    _stop_in_background(server)


@pytest.fixture
def make_payment(receiver):
    def make(amount: int = 1050, currency: str = "EUR", **fields) -> PaymentData:
        return PaymentData(
            payment_id=random_reference("pay"),
            attempt_reference=random_reference("att"),
            amount=amount,
            currency=currency,
            webhook_url=receiver.url,
            **fields,
        )

    return make


@pytest.fixture
def settled_payment(connector, sim, make_payment):
    """A payment Banco X has charged: its data, with the bank's id filled in as the orchestration would."""

    def settle(amount: int = 5000, currency: str = "EUR") -> PaymentData:
        data = make_payment(amount, currency)
        data.connector_reference = connector.call(Flow.AUTHORIZE, data).connector_reference
        assert sim.wait_for_settlement(data.connector_reference) == "succeeded"
        return data

    return settle


def bank_requests(sim, path_prefix: str = "/", method: str = "") -> list:
    """What this test sent to Banco X's API: loopback ports get reused, so a stray request may reach any server."""
    api = ("/pay", "/refunds")
    return [
        r
        for r in sim.requests_seen
        if r.path.startswith(api) and r.path.startswith(path_prefix) and method in ("", r.method)
    ]


def refund_data(payment: PaymentData, amount: int) -> RefundData:
    return RefundData(
        refund_id=random_reference("re"),
        payment_id=payment.payment_id,
        attempt_reference=payment.attempt_reference,
        connector_reference=payment.connector_reference,
        amount=amount,
        currency=payment.currency,
        payment_amount=payment.amount,
        webhook_url=payment.webhook_url,
    )
