"""The demo ``make run`` sets up: ``setup_demo`` gives the demo merchant one working account per
bundled simulator and a routing configuration that sends each demo payment to its connector.

The simulators are the ones ``scripts/run-dev.sh`` starts, served here on loopback port 0 and
started with the credentials ``setup_demo`` stores; Pagoflex itself is served over real HTTP so
the Paytm notification and the Banco X webhook arrive as they do under ``make run``."""

import io
import os
import time

import pytest
import requests
from django.core.management import call_command

from connectors.authipay.simulator import AuthipaySimulator
from connectors.banco_x.simulator import BancoXSimulator
from connectors.models import ConnectorAccount
from connectors.paytm.simulator import PaytmSimulator
from connectors.sandbox.simulator import SandboxSimulator
from connectors.testing.simulator import SimulatorServer
from payments.management.commands.setup_demo import DEMO_ACCOUNTS, DEMO_MERCHANT
from payments.models import RoutingConfiguration

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def demo_credentials(connector):
    return next(demo for demo in DEMO_ACCOUNTS if demo.connector == connector).credentials_from(os.environ)


@pytest.fixture
def simulators():
    sandbox, paytm = demo_credentials("sandbox"), demo_credentials("paytm")
    authipay, bancox = demo_credentials("authipay"), demo_credentials("banco_x")
    apps = {
        "sandbox": SandboxSimulator(accounts={sandbox["api_key"]: sandbox["webhook_secret"]}),
        "paytm": PaytmSimulator({paytm["merchant_id"]: paytm["merchant_key"]}),
        "authipay": AuthipaySimulator(stores={authipay["api_key"]: (authipay["api_secret"], authipay["store_id"])}),
        "banco_x": BancoXSimulator(accounts={bancox["api_key"]: (bancox["secret"], bancox["webhook_secret"])},
                                   webhook_delay=0.2),
    }
    servers = {key: SimulatorServer(app).start() for key, app in apps.items()}
    yield servers
    apps["banco_x"].close()
    for server in servers.values():
        server.stop()


def setup_demo(servers) -> dict:
    """Run the command as the script does; its lines by first word."""
    out = io.StringIO()
    call_command("setup_demo", sandbox_url=servers["sandbox"].base_url, paytm_url=servers["paytm"].base_url,
                 authipay_url=servers["authipay"].base_url, bancox_url=servers["banco_x"].base_url, stdout=out)
    return {line.split()[0]: line.split() for line in out.getvalue().splitlines() if line.strip()}


def wait_for_status(session, url, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payment = session.get(url, timeout=10).json()
        if payment["status"] == status:
            return payment
        time.sleep(0.1)
    raise AssertionError(f"{url} stayed {payment['status']}")


def test_each_demo_account_takes_its_payment_through_its_simulator(simulators, pagoflex_server):
    lines = setup_demo(simulators)
    # The script hands the Paytm account's webhook URL to the Paytm simulator it starts.
    simulators["paytm"].app.notification_url = lines["paytm"][-1]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {lines['api'][-1]}"
    payments_url = f"{pagoflex_server.base_url}/v1/payments"

    def pay(currency, amount, method="card", data=None):
        body = {"amount": amount, "currency": currency, "confirm": True, "payment_method_type": method,
                "payment_method_data": data or {"card": CARD}}
        response = session.post(payments_url, json=body, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()

    card = pay("EUR", 1050)
    assert (card["status"], card["connector"]) == ("succeeded", "sandbox")

    upi = pay("INR", 49900, "upi", {"upi": {"flow": "intent"}})
    assert (upi["status"], upi["connector"]) == ("requires_customer_action", "paytm")
    assert upi["next_action"]["url"].startswith("upi://pay?") and "am=499.00" in upi["next_action"]["url"]
    order = upi["attempts"][0]["id"]
    requests.post(f"{simulators['paytm'].base_url}/__control__/orders/{order}/pay", timeout=10).raise_for_status()
    wait_for_status(session, f"{payments_url}/{upi['id']}", "succeeded")

    authipay = pay("GBP", 2500, data={"card": {**CARD, "number": "4111111111111111"}})
    assert (authipay["status"], authipay["connector"]) == ("succeeded", "authipay")

    bancox = pay("MXN", 25000)
    assert (bancox["status"], bancox["connector"]) == ("processing", "banco_x")
    # Nobody asks Banco X: its webhook settles the payment.
    wait_for_status(session, f"{payments_url}/{bancox['id']}", "succeeded")
    delivery = simulators["banco_x"].app.deliveries[-1]
    assert delivery.event_type == "payment.succeeded" and delivery.status_code == 200
    assert delivery.url == lines["banco_x"][-1]


def test_running_it_again_reuses_the_accounts_follows_moved_urls_and_keeps_a_changed_routing(simulators):
    first = setup_demo(simulators)
    moved = dict(simulators, sandbox=SimulatorServer(SandboxSimulator(accounts={})).start())
    try:
        second = setup_demo(moved)
    finally:
        moved["sandbox"].stop()
    assert ConnectorAccount.objects.filter(merchant__name=DEMO_MERCHANT).count() == len(DEMO_ACCOUNTS)
    for demo in DEMO_ACCOUNTS:
        assert second[demo.connector][1] == first[demo.connector][1]
    assert ConnectorAccount.objects.get(public_id=second["sandbox"][1]).base_url == moved["sandbox"].base_url
    assert first["api"][-1] != second["api"][-1]

    configuration = RoutingConfiguration.objects.get(merchant__name=DEMO_MERCHANT)
    configuration.definition = {**configuration.definition, "rules": []}
    configuration.updated_by = "api"
    configuration.save()
    third = setup_demo(simulators)
    assert " ".join(third["routing"]) == "routing kept (last changed by api)"
    assert RoutingConfiguration.objects.get(merchant__name=DEMO_MERCHANT).definition["rules"] == []
