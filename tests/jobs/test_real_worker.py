"""A real Celery worker and beat, as subprocesses, against the real Redis broker (never eager
mode), the Django live server, the sandbox bank simulator and a merchant's loopback endpoint."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from connectors.testing.simulator import unused_port_url
from payments.models import PaymentAttempt, PaymentEvent, PaymentOperation
from tests.helpers import PENDING_CARD, payment_body
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 45


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis reachable at {url} ({exc}); CI starts one (.ci/run)")
    return url


def _database_url() -> str:
    """The test database this process uses, for the worker processes to share."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'] or '', safe='')}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_processes(tmp_path):
    """Start ``celery worker`` and ``celery beat`` on a queue of their own; stop them after."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker processes need a database they can share with the test: PostgreSQL "
                    "(SQLite's test database lives in this process's memory); CI runs PostgreSQL")
    broker = _redis_url()
    queue = f"pagoflex-test-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pagoflex.settings", "DATABASE_URL": _database_url(),
           "CELERY_BROKER_URL": broker, "CELERY_TASK_DEFAULT_QUEUE": queue,
           "PAGOFLEX_KEYRING": django_settings.PAGOFLEX_KEYRING, "PYTHONPATH": str(REPO),
           # The sandbox's own webhook must not settle the payment: the sweep has to.
           "PAGOFLEX_PUBLIC_URL": unused_port_url(), "LOG_LEVEL": "INFO"}
    celery = [sys.executable, "-m", "celery", "-A", "pagoflex"]
    commands = {
        "worker": [*celery, "worker", "--pool=threads", "--concurrency=4", "--without-mingle", "--without-gossip",
                   "--without-heartbeat", "-Q", queue, "-n", f"{queue}@%h", "--loglevel=INFO"],
        "beat": [*celery, "beat", "--max-interval=1", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
    }
    processes = {}
    for name, command in commands.items():
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
        processes[name] = (subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True), log)
    yield {name: tmp_path / f"{name}.log" for name in commands}
    for process, _log in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process, log in processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()
    import redis

    redis.Redis.from_url(broker).delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def _every_second(name: str, task: str):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    interval, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def test_a_worker_and_beat_on_redis_settle_a_pending_payment_and_deliver_a_signed_webhook(
        live_server, merchant_and_key, sandbox_account, merchant_server, settings, celery_processes):
    settings.PAGOFLEX_PUBLIC_URL = unused_port_url()
    # Short intervals so the test takes seconds; the migration's schedule is 10 s for both.
    _every_second("payment sync sweep", "payments.sweep_payment_syncs")
    _every_second("webhook delivery retries", "webhooks.retry_deliveries")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {merchant_and_key[1]}"
    registered = api.post(f"{live_server.url}/v1/webhook_endpoints", timeout=10,
                          json={"url": merchant_server.url, "enabled_events": ["payment.succeeded"]})
    assert registered.status_code == 201, registered.text
    merchant_server.secret = registered.json()["secret"]
    created = api.post(f"{live_server.url}/v1/payments", json=payment_body(2750, number=PENDING_CARD), timeout=10)
    assert created.status_code == 201 and created.json()["status"] == "processing", created.text
    payment_id = created.json()["id"]
    # Its first sync is 30 s away: bring it to now rather than make the test wait.
    PaymentAttempt.objects.filter(payment__public_id=payment_id).update(next_sync_at=timezone.now())

    deadline = time.monotonic() + DEADLINE_SECONDS
    while not merchant_server.events("payment.succeeded") and time.monotonic() < deadline:
        time.sleep(0.2)

    logs = {name: path.read_text(errors="replace")[-3000:] for name, path in celery_processes.items()}
    received_events = merchant_server.events("payment.succeeded")
    assert len(received_events) == 1, logs
    received = received_events[0]
    assert received["verified"] is True
    assert received["json"]["data"]["object"]["id"] == payment_id
    assert received["json"]["data"]["object"]["status"] == "succeeded"
    payment = PaymentOperation.objects.get(public_id=payment_id)
    assert payment.status == "succeeded" and payment.amount_captured == 2750
    settled = PaymentEvent.objects.get(payment=payment, kind="status_change", to_status="succeeded")
    assert settled.actor == "sync"  # the sweep settled it, not a bank webhook nor the API
    # The merchant's server has the event as soon as the worker sent it; the worker records the
    # answer a moment later, in its own process (a flake under load when read at once).
    delivery = WebhookDelivery.objects.get(event__payment=payment)
    while delivery.status == "pending" and time.monotonic() < deadline + 10:
        time.sleep(0.1)
        delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts.get().status_code == 200
    # Whole logs: beat schedules two tasks a second, so under load the lines sought can scroll out
    # of the tail kept above for failure messages.
    whole = {name: path.read_text(errors="replace") for name, path in celery_processes.items()}
    assert "payments.sync_attempt" in whole["worker"] and "webhooks.deliver" in whole["worker"], logs
    assert "payments.sweep_payment_syncs" in whole["beat"], logs
