"""The simulator's own controls, over HTTP as the end-to-end tests use them (and as anyone can on the
Banco X that ``make run`` serves)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from connectors.banco_x.adapter import BancoXConnector
from connectors.banco_x.simulator import BancoXSimulator
from connectors.base import Flow
from connectors.errors import ConnectorUnavailable, ConnectorUnknownOutcome
from connectors.testing.simulator import SimulatorServer, unused_port_url
from payments.statuses import AttemptStatus

from .conftest import API_KEY, CREDENTIALS

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_control_requests_do_not_consume_an_armed_fault(connector, sim, bank_url, make_payment):
    requests.post(f"{bank_url}/__faults__", json={"status": 500}, timeout=5)
    requests.get(f"{bank_url}/__control__/deliveries", timeout=5)
    requests.post(f"{bank_url}/__control__/webhooks", json={"twice": True}, timeout=5)

    with pytest.raises(ConnectorUnknownOutcome) as caught:
        connector.call(Flow.AUTHORIZE, make_payment())

    assert caught.value.status_code == 500


def test_webhook_switches_and_deliveries_over_http(connector, sim, bank_url, make_payment):
    armed = requests.post(f"{bank_url}/__control__/webhooks", json={"bad_signature": True, "count": 2}, timeout=5)
    assert armed.status_code == 200
    connector.call(Flow.AUTHORIZE, make_payment())
    connector.call(Flow.AUTHORIZE, make_payment())
    sim.wait_for_deliveries(2)

    listed = requests.get(f"{bank_url}/__control__/deliveries", timeout=5).json()

    assert listed["count"] == 2
    assert [d["status_code"] for d in listed["deliveries"]] == [401, 401]


def test_unknown_webhook_switch_is_refused(bank_url):
    answer = requests.post(f"{bank_url}/__control__/webhooks", json={"teleport": True}, timeout=5)

    assert answer.status_code == 400


def test_outcome_over_http_fails_the_next_payment_only(connector, sim, receiver, bank_url, make_payment):
    requests.post(f"{bank_url}/__control__/outcome", json={"status": "failed", "code": "card_expired"}, timeout=5)
    connector.call(Flow.AUTHORIZE, make_payment(1000))
    connector.call(Flow.AUTHORIZE, make_payment(1000))
    sim.wait_for_deliveries(2)

    statuses = sorted((e.status, e.code) for e in receiver.parsed())

    assert statuses == sorted([(AttemptStatus.FAILURE, "card_expired"), (AttemptStatus.CHARGED, "")])


def test_account_added_over_http_can_pay_and_is_named_in_its_webhooks(sim, receiver, bank_url, make_payment):
    requests.post(
        f"{bank_url}/__control__/accounts",
        timeout=5,
        json={
            "api_key": "bx_key_second_account",
            "secret": "second_signing_secret",
            "webhook_secret": "second_webhook_secret",
            "account_id": "mca_second",
        },
    )
    second = BancoXConnector(
        credentials={
            "api_key": "bx_key_second_account",
            "secret": "second_signing_secret",
            "webhook_secret": "second_webhook_secret",
        },
        base_url=bank_url,
    )

    second.call(Flow.AUTHORIZE, make_payment())
    sim.wait_for_deliveries(1)
    headers, body, verified_with_first_account = receiver.received[0]

    assert verified_with_first_account is False  # signed with the second account's webhook secret
    assert second.verify_webhook(headers=headers, body=body)
    assert BancoXConnector.account_id_from_webhook(headers=headers, body=body) == "mca_second"


def test_failed_delivery_is_retried_when_attempts_allow(make_payment):
    sim = BancoXSimulator(
        accounts={API_KEY: (CREDENTIALS["secret"], CREDENTIALS["webhook_secret"])},
        webhook_delay=0.01,
        webhook_attempts=2,
    )
    with SimulatorServer(sim) as bank_url:
        connector = BancoXConnector(credentials=CREDENTIALS, base_url=bank_url)
        data = make_payment()
        data.webhook_url = unused_port_url()  # nobody listens: both attempts fail to connect
        connector.call(Flow.AUTHORIZE, data)

        deliveries = sim.wait_for_deliveries(2)
        sim.close()

    assert [(d.attempt, d.status_code) for d in deliveries] == [(1, None), (2, None)]
    assert deliveries[0].error


def test_runs_as_its_own_process_with_credentials_from_flags(make_payment):
    base_url = unused_port_url()
    port = base_url.rsplit(":", 1)[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.banco_x.simulator",
            "--port",
            port,
            "--api-key",
            "bx_key_cli_account",
            "--secret",
            "cli_signing_secret",
            "--webhook-secret",
            "cli_webhook_secret",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        connector = BancoXConnector(
            credentials={
                "api_key": "bx_key_cli_account",
                "secret": "cli_signing_secret",
                "webhook_secret": "cli_webhook_secret",
            },
            base_url=base_url,
        )
        result = _call_when_listening(connector, make_payment())
        assert result.status == AttemptStatus.PENDING
    finally:
        process.terminate()
        process.wait(timeout=5)


def _call_when_listening(connector, data, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connector.call(Flow.AUTHORIZE, data)
        except ConnectorUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
