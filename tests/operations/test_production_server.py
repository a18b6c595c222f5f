"""End to end under the production server configuration (pagoflex/gunicorn.conf.py, as shipped
but for its address and sizes): payments over real HTTP to the sandbox bank, the pool given back
while a bank is slow, honest keep-alive after a refused large body, metrics added up across
worker processes, health and readiness."""

import base64
import http.client
import secrets
import threading
import time
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection

from bench.servers import database_url, gunicorn_production
from bench.serving import trickle
from payments.models import PaymentOperation
from tests.helpers import payment_body

pytestmark = pytest.mark.django_db(transaction=True)
METRICS_TOKEN = "production-test-metrics-token"


@pytest.fixture
def production_server(transactional_db, tmp_path, sandbox):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the connection pool is PostgreSQL's (psycopg_pool)")
    url = database_url(connection.settings_dict) + "?application_name=pagoflex-production-test"
    # One process with a pool of two connections: if a thread kept its connection while the bank
    # is slow, the third concurrent payment would have to wait for one of the first two to end.
    server = gunicorn_production(database=url, log_path=tmp_path / "gunicorn.log", extra_env={
        "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "16", "GUNICORN_DB_POOL_SIZE": "2",
        "DATABASE_POOL_MIN_SIZE": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "METRICS_TOKEN": METRICS_TOKEN, "API_RATE_LIMIT": "10000/s", "LOG_LEVEL": "WARNING",
        # Production settings; the test's own key stays second, so the server decrypts the
        # credentials the test wrote.
        "DEBUG": "False", "SECRET_KEY": secrets.token_urlsafe(40),
        "PAGOFLEX_KEYRING": f"prod1:{base64.b64encode(secrets.token_bytes(32)).decode()},{settings.PAGOFLEX_KEYRING}",
    }).start(timeout=60)
    yield server
    server.stop()


def postgres_connections(application_name: str) -> int:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("host", "port", "user", "password")},
                         dbname=connection.settings_dict["NAME"], autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            [application_name]).fetchone()[0]


def test_payments_under_a_slow_bank_do_not_wait_for_database_connections(
        production_server, merchant_and_key, sandbox_account, sandbox):
    headers = {"Authorization": f"Bearer {merchant_and_key[1]}"}
    assert requests.post(f"{production_server.base_url}/v1/payments", json=payment_body(), headers=headers,
                         timeout=30).status_code == 201  # warm: the pool is open
    concurrent, bank_seconds = 8, 1.5
    sandbox.app.faults.arm(count=concurrent, delay=bank_seconds)
    answers, peak = [None] * concurrent, [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], postgres_connections("pagoflex-production-test"))
            time.sleep(0.05)

    def pay(index):
        answers[index] = requests.post(f"{production_server.base_url}/v1/payments", json=payment_body(),
                                       headers=headers, timeout=30)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    threads = [threading.Thread(target=pay, args=(i,)) for i in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started
    done.set()
    watcher.join(5)
    assert [a.status_code for a in answers] == [201] * concurrent, [a.content[:200] for a in answers]
    assert {a.json()["status"] for a in answers} == {"succeeded"}
    # Eight payments, each 1.5 s at the bank, through two connections: together, not in four
    # rounds of two (6 s), because no thread holds a connection while it waits on the bank.
    assert elapsed < 2 * bank_seconds + 1.5, f"{elapsed:.1f} s"
    assert peak[0] <= 2
    assert PaymentOperation.objects.filter(status="succeeded").count() == concurrent + 1


def test_a_refused_large_body_closes_the_connection_honestly(production_server):
    target = urlsplit(production_server.base_url)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    large = b'{"amount": "' + b"9" * 300_000 + b'"}'
    conn.request("POST", "/v1/payments", body=large, headers={"Content-Type": "application/json",
                                                              "Authorization": "Bearer nope"})
    response = conn.getresponse()
    response.read()
    assert response.status == 401
    assert response.getheader("Connection") == "close"
    conn.close()
    # A small refused body is drained and the connection kept: the next request uses it.
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    conn.request("POST", "/v1/payments", body=b'{"amount": 1}', headers={"Content-Type": "application/json",
                                                                       "Authorization": "Bearer nope"})
    response = conn.getresponse()
    response.read()
    assert response.status == 401 and response.getheader("Connection") == "keep-alive"
    sock = conn.sock
    conn.request("GET", "/healthz")
    second = conn.getresponse()
    assert second.status == 200 and conn.sock is sock
    conn.close()


def test_slow_clients_hold_neither_the_event_loop_nor_a_database_connection(
        production_server, merchant_and_key, sandbox_account):
    """Refused slow clients (a body over the API's limit, answered before it is read) are let go
    by their own thread: gunicorn's stock gthread worker lingers 2 s on each of them on the event
    loop, so four of them held every new request of the process for about 8 s. Accepted slow
    clients (authenticated, their body read to the end) hold a thread, not one of the pool's two
    database connections: their body is read before the API key is looked up."""
    key = merchant_and_key[1]
    stop = threading.Event()
    slow = [threading.Thread(target=trickle, args=(production_server.base_url, "/v1/payments", stop), daemon=True,
                             kwargs={"body_bytes": 1_000_000} if i < 4 else {"authorization": f"Bearer {key}"})
            for i in range(7)]
    try:
        for thread in slow:
            thread.start()
        time.sleep(0.5)  # the refused ones are answered and being let go; the others are being read
        started = time.monotonic()
        health = requests.get(f"{production_server.base_url}/healthz", timeout=30)
        health_seconds = time.monotonic() - started
        answer = requests.post(f"{production_server.base_url}/v1/payments", json=payment_body(),
                               headers={"Authorization": f"Bearer {key}"}, timeout=30)
        payment_seconds = time.monotonic() - started - health_seconds
        assert health.status_code == 200
        assert health_seconds < 3, f"a new connection waited {health_seconds:.1f} s for the event loop"
        assert answer.status_code == 201, answer.content[:200]
        assert payment_seconds < 5, f"the payment waited {payment_seconds:.1f} s (for a database connection?)"
        assert postgres_connections("pagoflex-production-test") <= 2
        assert sum(thread.is_alive() for thread in slow[4:]) == 3  # still being read: they were not refused
    finally:
        stop.set()


def test_health_readiness_and_metrics_across_the_workers(production_server, merchant_and_key, sandbox_account):
    base = production_server.base_url
    assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    headers = {"Authorization": f"Bearer {merchant_and_key[1]}"}
    for _ in range(3):
        answer = requests.post(f"{base}/v1/payments", json=payment_body(), headers=headers, timeout=30)
        assert answer.status_code == 201
        assert answer.headers["Request-Id"].startswith("req_")
    assert requests.get(f"{base}/metrics", timeout=10).status_code == 404  # DEBUG is off: the token is needed
    text = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text
    assert 'pagoflex_connector_calls_total{connector="sandbox",flow="authorize",outcome="ok"} 3.0' in text
    assert 'pagoflex_http_requests_total{method="POST",route="v1/payments",status="201"} 3.0' in text
