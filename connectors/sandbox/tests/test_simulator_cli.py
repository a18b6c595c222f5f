import os
import subprocess
import sys
from pathlib import Path

import requests

from connectors.base import Flow
from connectors.sandbox.adapter import SandboxConnector
from connectors.sandbox.tests.factories import payment, wait_for
from connectors.testing.simulator import unused_port_url
from payments.statuses import AttemptStatus

REPO = Path(__file__).resolve().parents[3]


def _ping(url: str, key: str):
    try:
        return requests.get(f"{url}/v1/ping", headers={"Authorization": f"Bearer {key}"}, timeout=1).status_code
    except requests.ConnectionError:
        return None


def test_simulator_runs_as_its_own_process_with_credentials_from_the_environment():
    url = unused_port_url()
    port = url.rsplit(":", 1)[1]
    env = {**os.environ, "SANDBOX_API_KEY": "sk_cli_env_key", "SANDBOX_WEBHOOK_SECRET": "whsec_cli_env"}
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.sandbox.simulator", "--port", port, "--host", "127.0.0.1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Generous: a cold Python start importing Django can take many seconds on a loaded machine.
        assert wait_for(lambda: _ping(url, "sk_cli_env_key"), timeout=60) == 200
        assert _ping(url, "sk_wrong") == 401
        connector = SandboxConnector(
            credentials={"api_key": "sk_cli_env_key", "webhook_secret": "whsec_cli_env"}, base_url=url
        )
        assert connector.call(Flow.AUTHORIZE, payment()).status == AttemptStatus.CHARGED
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_simulator_refuses_to_start_without_credentials():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    result = subprocess.run(
        [sys.executable, "-m", "connectors.sandbox.simulator", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 2
    assert "--api-key" in result.stderr
