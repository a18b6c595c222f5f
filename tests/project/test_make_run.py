"""``make run`` as a newcomer meets it: ``scripts/run-dev.sh`` in a fresh copy of the repository
(no database, no var/), on free loopback ports, then every curl line it prints, run as printed.

The copy keeps the developer's own database, logs and Celery queue out of it; ``.venv`` points
at the interpreter running the suite."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTS = ("PORT", "SANDBOX_PORT", "PAYTM_PORT", "AUTHIPAY_PORT", "BANCOX_PORT")
# Settings a developer or CI may have exported that would point the copy at shared services.
INHERITED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PAGOFLEX_PUBLIC_URL", "DJANGO_SETTINGS_MODULE")

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the printed lines are curl commands")


@pytest.fixture
def fresh_copy(tmp_path):
    copy = tmp_path / "pagoflex"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "var", "*.sqlite3", "__pycache__",
                                                               "artifacts", "results"))
    (copy / ".venv").symlink_to(Path(sys.prefix))
    return copy


def free_ports(count: int) -> list[str]:
    """``count`` different free loopback ports: each socket stays bound until all are chosen (ports
    picked one at a time, each freed at once, sometimes came out the same, and one service could
    not start)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [str(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def make_run(fresh_copy):
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    env = {key: value for key, value in os.environ.items() if key not in INHERITED}
    env.update(ports, BANCOX_WEBHOOK_DELAY="1")
    process = subprocess.Popen(["bash", "scripts/run-dev.sh"], cwd=fresh_copy, env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield process, ports
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def printed_block(process, timeout=180.0) -> list[str]:
    """The lines the script prints, up to the end of its block of curl lines."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("run-dev.sh stopped:\n" + "".join(lines))
        lines.append(line.rstrip("\n"))
        if "/v1/payments?limit=1" in line:
            # Keep reading what the servers log afterwards, so a full pipe never blocks them.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return lines
    raise AssertionError("run-dev.sh printed no curl lines in time:\n" + "\n".join(lines))


def curl_commands(lines: list[str]) -> list[str]:
    """Each printed curl command, its continuation line joined (as a shell would)."""
    commands = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("curl "):
            commands.append(stripped)
        elif stripped.startswith("-d ") and commands and commands[-1].endswith("\\"):
            commands[-1] = commands[-1][:-1] + stripped
    return commands


def run(command: str) -> dict:
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (command, result.stderr)
    return json.loads(result.stdout)


def test_make_run_serves_every_connector_and_each_printed_curl_line_works(make_run):
    process, ports = make_run
    lines = printed_block(process)
    assert any(re.search(r"every server answered \d+\.\d s after start", line) for line in lines)
    card, upi, pay_upi, authipay, bancox, newest = curl_commands(lines)

    answer = run(card)
    assert (answer["status"], answer["connector"]) == ("succeeded", "sandbox")

    answer = run(upi)
    assert (answer["status"], answer["connector"]) == ("requires_customer_action", "paytm")
    assert answer["next_action"]["url"].startswith("upi://pay?")
    assert f":{ports['PAYTM_PORT']}/" in pay_upi
    assert run(pay_upi.replace("ATTEMPT_ID", answer["attempts"][0]["id"]))["status"] == "TXN_SUCCESS"
    upi_id = answer["id"]

    answer = run(authipay)
    assert (answer["status"], answer["connector"]) == ("succeeded", "authipay")

    answer = run(bancox)
    assert (answer["status"], answer["connector"]) == ("processing", "banco_x")
    deadline = time.monotonic() + 30
    while (latest := run(newest)["data"][0])["status"] == "processing" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (latest["id"], latest["status"]) == (answer["id"], "succeeded")

    # The Paytm notification reached Pagoflex too: the UPI payment succeeded without a sync.
    key = re.search(r"Bearer (sk_test_\w+)", card).group(1)
    url = f"http://127.0.0.1:{ports['PORT']}/v1/payments/{upi_id}"
    assert run(f'curl -s {url} -H "Authorization: Bearer {key}"')["status"] == "succeeded"
