"""End to end under the production server configuration (pagoflex/gunicorn.conf.py, as shipped
but for its address and sizes): payments over real HTTP to the sandbox bank, the pool given back
while a bank is slow, honest keep-alive after a refused large body, metrics added up across
worker processes, health and readiness."""

import base64
import http.client
import json
import re
import secrets
import socket
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
from conftest import SANDBOX_WEBHOOK_SECRET
from connectors.sandbox import signature
from payments.models import PaymentOperation
from tests.helpers import payment_body
from webhooks.models import WebhookEvent, WebhookOutcome

pytestmark = pytest.mark.django_db(transaction=True)
METRICS_TOKEN = "production-test-metrics-token"


# The shipped configuration runs one request per process at a time (REQUESTS_RUNNING_PER_PROCESS=1,
# connectors/waiting.py): the bank call and the body must be waited on without the process's only
# slot, or the requests would take turns. Tests marked with EVERY_THREAD_RUNNING also run the same
# requests with the bound off (0), the configuration's other setting.
RUNNING_SLOTS = {"as shipped": {}, "every thread running": {"REQUESTS_RUNNING_PER_PROCESS": "0"}}
EVERY_THREAD_RUNNING = pytest.mark.parametrize("production_server", list(RUNNING_SLOTS), indirect=True)


@pytest.fixture
def production_server(request, transactional_db, tmp_path, sandbox):
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
        **RUNNING_SLOTS[getattr(request, "param", "as shipped")],
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


@EVERY_THREAD_RUNNING
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


@EVERY_THREAD_RUNNING
def test_clients_that_do_not_read_a_large_answer_hold_no_database_connection(
        production_server, merchant_and_key, sandbox_account):
    """Both pooled connections (the fixture's pool of 2) would be held by two clients that asked
    for a 15 MB list and never read it, if the connection went back only when the answer was sent:
    the next requests would wait the pool's timeout and be answered 503."""
    base, headers = production_server.base_url, {"Authorization": f"Bearer {merchant_and_key[1]}"}
    # Control characters are escaped six bytes each in JSON: 25 kB of metadata is a 150 kB payment.
    metadata = {f"note_{i:02d}": "\x01" * 500 for i in range(50)}
    with requests.Session() as session:
        for _ in range(100):
            created = session.post(f"{base}/v1/payments", json=payment_body(confirm=False, metadata=metadata),
                                   headers=headers, timeout=30)
            assert created.status_code == 201, created.text
    target = urlsplit(base)
    stalled = []
    for _ in range(2):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never read: the server's send blocks
        sock.connect((target.hostname, target.port))
        sock.sendall(f"GET /v1/payments?limit=100 HTTP/1.1\r\nHost: {target.hostname}\r\n"
                     f"Authorization: {headers['Authorization']}\r\n\r\n".encode())
        stalled.append(sock)
    try:
        time.sleep(2)  # both answers built and stuck in the send
        answers = []

        def list_one():
            started = time.monotonic()
            answer = requests.get(f"{base}/v1/payments?limit=1", headers=headers, timeout=30)
            answers.append((answer.status_code, time.monotonic() - started))

        callers = [threading.Thread(target=list_one) for _ in range(4)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        # The pool's timeout is 10 s: an answer within it was not waiting for a connection.
        assert [status for status, _ in answers] == [200] * 4, answers
        assert max(seconds for _, seconds in answers) < 8, answers
    finally:
        for sock in stalled:
            sock.close()


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


def test_a_kept_alive_connection_is_served_whether_its_next_request_comes_soon_or_late(production_server):
    """The thread that answered waits up to GUNICORN_NEXT_REQUEST_WAIT (1 s as shipped) for the
    client's next request (pagoflex/gunicorn_worker.py): one sent at once, two pipelined in one
    write, and one sent after the wait (by then the event loop holds the connection) are all
    answered on the same connection."""
    target = urlsplit(production_server.base_url)
    with socket.create_connection((target.hostname, target.port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def answer_status() -> int:
            status = int(reader.readline().split()[1])
            headers = []
            while (line := reader.readline().lower()) not in (b"\r\n", b""):
                headers.append(line)
            assert b"connection: keep-alive\r\n" in headers, headers
            if b"transfer-encoding: chunked\r\n" in headers:
                while size := int(reader.readline(), 16):
                    reader.read(size + 2)  # the chunk and its CRLF
                reader.readline()  # the CRLF after the last chunk
            else:
                reader.read(next(int(h.split(b":")[1]) for h in headers if h.startswith(b"content-length:")))
            return status

        probe = f"GET /healthz HTTP/1.1\r\nHost: {target.hostname}\r\n\r\n".encode()
        sock.sendall(probe)
        assert answer_status() == 200
        sock.sendall(probe)  # at once: the same thread serves it
        assert answer_status() == 200
        sock.sendall(probe + probe)  # pipelined: the second is already read when the first is answered
        assert [answer_status(), answer_status()] == [200, 200]
        time.sleep(1.5)  # past the wait: the connection is back with the event loop
        sock.sendall(probe)
        assert answer_status() == 200


@EVERY_THREAD_RUNNING
def test_slow_clients_hold_neither_the_event_loop_nor_a_database_connection(
        production_server, merchant_and_key, sandbox_account):
    """Refused slow clients (a body over the API's limit, or no good API key: answered before the
    body is read) are let go by their own thread: gunicorn's stock gthread worker lingers 2 s on
    each of them on the event loop, so four of them held every new request of the process for
    about 8 s; and twenty of them, more than the process's 16 threads, do not keep a thread each
    (reading an anonymous body first did). Accepted slow clients (a good key, their body read to
    the end) hold a thread, not one of the pool's two database connections: the connection used
    for the key lookup goes back to the pool before the body is read."""
    key = merchant_and_key[1]
    stop = threading.Event()
    refused = [{"body_bytes": 1_000_000}] * 4 + [{"authorization": "Bearer sk_test_not_a_key"}] * 10 + [{}] * 10
    accepted = [{"authorization": f"Bearer {key}"}] * 3
    slow = [threading.Thread(target=trickle, args=(production_server.base_url, "/v1/payments", stop), daemon=True,
                             kwargs=kwargs) for kwargs in refused + accepted]
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
        assert sum(thread.is_alive() for thread in slow[len(refused):]) == 3  # still being read, not refused
    finally:
        stop.set()


@EVERY_THREAD_RUNNING
def test_health_readiness_and_metrics_across_the_workers(production_server, merchant_and_key, sandbox_account,
                                                         request):
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
    # Each payment asked for a running slot when it came in, and again after its body and after its
    # bank call.
    slot_waits = {when: float(count) for when, count in re.findall(
        r'^pagoflex_running_slot_wait_seconds_count\{when="(\w+)"\} (\S+)$', text, re.MULTILINE)}
    if RUNNING_SLOTS[request.node.callspec.params["production_server"]].get("REQUESTS_RUNNING_PER_PROCESS") != "0":
        assert slot_waits["on_arrival"] >= 3 and slot_waits["after_waiting"] >= 2 * 3, slot_waits
    else:
        assert slot_waits == {}


def raw_exchange(server, request: bytes, *, half_close: bool = False) -> bytes:
    """Send bytes as they are on a new connection; the answer's bytes until the server closes."""
    target = urlsplit(server.base_url)
    with socket.create_connection((target.hostname, target.port), timeout=20) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and not half_close:
                head, _, rest = answer.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(rest) >= length:
                    break
        return answer


def test_a_chunked_api_body_is_refused_not_read_as_empty(production_server, merchant_and_key, sandbox_account):
    """Django reads no body without a Content-Length: a chunked ``{"amount": 2000}`` on a capture
    was read as no amount, and captured the whole 2500. Now: 411, nothing captured."""
    base, key = production_server.base_url, merchant_and_key[1]
    headers = {"Authorization": f"Bearer {key}"}
    created = requests.post(f"{base}/v1/payments", json=payment_body(amount=2500, capture_method="manual"),
                            headers=headers, timeout=30).json()
    assert created["status"] == "requires_capture", created
    body = json.dumps({"amount": 2000}).encode()
    answer = raw_exchange(production_server, (
        f"POST /v1/payments/{created['id']}/capture HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        f"{len(body):x}\r\n").encode() + body + b"\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411"), answer[:300]
    assert b'"length_required"' in answer
    after = requests.get(f"{base}/v1/payments/{created['id']}", headers=headers, timeout=30).json()
    assert after["status"] == "requires_capture" and after["amount_captured"] == 0, after


def test_a_body_cut_short_of_its_content_length_is_refused(production_server, merchant_and_key, sandbox_account):
    """A client that announces 500 bytes, sends a whole JSON object of 60 and closes its side
    must not have that prefix taken for its request."""
    key = merchant_and_key[1]
    body = json.dumps({"amount": 1000, "currency": "EUR"}).encode()
    answer = raw_exchange(production_server, (
        f"POST /v1/payments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n").encode() + body, half_close=True)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"Content-Length" in answer
    assert not PaymentOperation.objects.exists()


def test_a_chunked_bank_webhook_is_stored_whole_and_verified(production_server, sandbox_account):
    """Banks' HTTP clients may send events chunked; the event must be stored as sent and its
    signature checked on those bytes, not on an empty body."""
    event = {"id": "evt_chunked_1", "type": "charge.succeeded",
             "data": {"object": "charge", "id": "ch_nobody_knows", "reference": "pay_nobody_knows",
                      "status": "captured", "amount": 1050, "currency": "EUR"}}
    body = json.dumps(event).encode()
    header = signature.sign(SANDBOX_WEBHOOK_SECRET, body)
    half = len(body) // 2
    answer = raw_exchange(production_server, (
        f"POST /webhooks/sandbox/{sandbox_account.public_id}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\n{signature.HEADER}: {header}\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n").encode()
        + f"{half:x}\r\n".encode() + body[:half] + f"\r\n{len(body) - half:x}\r\n".encode() + body[half:]
        + b"\r\n0\r\n\r\n")
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 202 Accepted"), answer[-300:]
    stored = WebhookEvent.objects.get()
    assert bytes(stored.body) == body
    assert stored.outcome == WebhookOutcome.UNKNOWN_REFERENCE, stored.outcome


@pytest.mark.parametrize("chunks", [b"zz\r\nabc\r\n0\r\n\r\n", b"5\r\n{\"a\":xx\r\n0\r\n\r\n"],
                         ids=["bad chunk size", "missing chunk terminator"])
def test_a_malformed_chunked_webhook_is_a_400_not_a_500(production_server, sandbox_account, chunks):
    answer = raw_exchange(production_server, (
        f"POST /webhooks/sandbox/{sandbox_account.public_id}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
        + chunks)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b'"malformed"' in answer


def test_a_request_held_by_a_lock_it_cannot_get_is_answered_503_and_retried_safely(
        production_server, merchant_and_key, sandbox_account):
    """A session outside Pagoflex (a migration, a psql session left in a transaction) holds the
    tables' locks. With one running slot, a request waiting on such a lock would stop its whole
    process: PostgreSQL gives up after DATABASE_LOCK_TIMEOUT (3 s as shipped), the request is
    answered 503 with nothing half-done, and its retry, once the lock is gone, counts once."""
    base, key = production_server.base_url, merchant_and_key[1]
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"locked-{secrets.token_hex(6)}"}
    warm = requests.post(f"{base}/v1/payments", json=payment_body(), headers={"Authorization": f"Bearer {key}"},
                         timeout=30)
    assert warm.status_code == 201
    event = {"id": "evt_locked_1", "type": "charge.succeeded",
             "data": {"object": "charge", "id": "ch_locked", "reference": "pay_locked", "status": "captured",
                      "amount": 1050, "currency": "EUR"}}
    webhook_body = json.dumps(event).encode()
    webhook_headers = {"Content-Type": "application/json",
                       signature.HEADER: signature.sign(SANDBOX_WEBHOOK_SECRET, webhook_body)}
    webhook_url = f"{base}/webhooks/sandbox/{sandbox_account.public_id}/"
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("host", "port", "user", "password")},
                         dbname=connection.settings_dict["NAME"]) as blocker:
        blocker.execute("LOCK TABLE payments_paymentoperation, webhooks_webhookevent IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        api = requests.post(f"{base}/v1/payments", json=payment_body(), headers=headers, timeout=30)
        api_seconds = time.monotonic() - started
        page = requests.get(f"{base}/payments/{warm.json()['id']}/return/", allow_redirects=False, timeout=30)
        webhook = requests.post(webhook_url, data=webhook_body, headers=webhook_headers, timeout=30)
        blocker.rollback()
    assert api.status_code == 503, api.content[:300]
    assert api.json()["error"]["code"] == "service_unavailable" and api.headers["Retry-After"] == "1"
    assert 2.5 < api_seconds < 8, f"{api_seconds:.1f} s"  # the lock timeout, not the client's 30 s
    # Outside the API's own error handler too: the customer's page and the bank's webhook.
    assert page.status_code == 503 and page.headers["Retry-After"] == "1", page.content[:300]
    assert page.headers["Content-Type"].startswith("text/plain")
    assert webhook.status_code == 503 and webhook.json()["error"]["code"] == "service_unavailable"

    retried = requests.post(f"{base}/v1/payments", json=payment_body(), headers=headers, timeout=30)
    assert retried.status_code == 201, retried.content[:300]
    assert PaymentOperation.objects.count() == 2  # the warm-up and the retried one, once
    assert requests.post(webhook_url, data=webhook_body, headers=webhook_headers, timeout=30).status_code in (200, 202)
    assert WebhookEvent.objects.count() == 1  # the bank's retry was stored
