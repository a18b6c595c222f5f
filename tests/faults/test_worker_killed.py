"""A gunicorn worker killed (SIGKILL) while its connector call is in flight: the attempt it
committed before calling stays unsettled, a retry of the request charges nothing more, and the
next sync sweep settles the payment from what the bank did."""

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from payments.models import PaymentAttempt, PaymentOperation
from payments.services import sweeps
from tests.helpers import payment_body

pytestmark = pytest.mark.django_db(transaction=True)


def worker_talking_to(server, port: int) -> int:
    """The gunicorn worker with an open connection to ``port`` (the bank), from /proc."""
    wanted = f"{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2].endswith(f":{wanted}") and fields[3] == "01":  # remote port, ESTABLISHED
            inodes.add(fields[9])
    for pid in server.children():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    raise AssertionError("no worker holds a connection to the bank")


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_worker_killed_mid_call_leaves_the_attempt_started_and_the_sweep_settles_it_once(
        gunicorn_server, merchant_and_key, sandbox_account, sandbox):
    _, raw_key = merchant_and_key
    headers = {"Authorization": f"Bearer {raw_key}", "Idempotency-Key": "order-1"}
    sandbox.app.faults.arm(delay=1.5)  # the bank takes its time: the call is in flight
    charges_before = len(sandbox.app.charges)

    def in_flight():
        return PaymentAttempt.objects.filter(status="started").first()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(requests.post, f"{gunicorn_server.base_url}/v1/payments", json=payment_body(1000),
                             headers=headers, timeout=30)
        attempt = wait_for(in_flight, what="the attempt to be committed as started")
        victim = wait_for(lambda: _try(worker_talking_to, gunicorn_server, sandbox.port), what="the busy worker")
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(requests.ConnectionError):
            answer.result(timeout=30)

    # The bank finishes the charge it was handed; Pagoflex never heard the answer.
    wait_for(lambda: any(c["reference"] == attempt.reference for c in sandbox.app.charges.values()),
             what="the bank to finish the charge")
    attempt.refresh_from_db()
    assert attempt.status == "started" and attempt.payment.status == "processing"
    # The victim gone and the process count back to two. (Not "one pid more than before": the
    # server answers as soon as its first worker is up, so the second one may still be booting
    # when the test starts; a flake on an idle machine, seed 2777939150.)
    wait_for(lambda: victim not in gunicorn_server.children() and len(gunicorn_server.children()) == 2,
             what="gunicorn to replace the worker")

    # The merchant retries with the same key: told it is in progress, no second payment or charge.
    retry = requests.post(f"{gunicorn_server.base_url}/v1/payments", json=payment_body(1000), headers=headers,
                          timeout=30)
    assert retry.status_code == 409 and retry.json()["error"]["code"] == "idempotency_request_in_progress"

    # The sweep, once the in-flight grace has passed, finds the charge by our reference.
    later = timezone.now() + timedelta(minutes=5)
    swept = sweeps.sweep_due_attempts(now=later, enqueue=lambda pk, token: sweeps.sync_claimed_attempt(
        attempt_pk=pk, token=token))
    assert swept == 1
    attempt.refresh_from_db()
    assert attempt.status == "charged" and attempt.payment.status == "succeeded"
    assert PaymentOperation.objects.count() == 1 and PaymentAttempt.objects.count() == 1
    assert [c["reference"] for c in sandbox.app.charges.values()].count(attempt.reference) == 1
    assert len(sandbox.app.charges) == charges_before + 1


def _try(func, *args):
    try:
        return func(*args)
    except AssertionError:
        return None
