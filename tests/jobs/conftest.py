"""Fixtures for background jobs and merchant webhooks: a merchant's webhook endpoint served on a
loopback port (real HTTP), and builders for payments that need the sweep."""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import payment_body

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verifier():
    """The verification helper exactly as docs/webhooks.md ships it."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_pagoflex_signature"]


class MerchantServer:
    """A merchant's webhook endpoint. ``answers`` is a list of (status, delay seconds) used one
    per request, then 200 for the rest; every request is kept with its signature verdict."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[tuple[int, float]] = []
        self.secret = ""
        self.lock = threading.Lock()
        self.verify = documented_verifier()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    status, delay = server.answers.pop(0) if server.answers else (200, 0.0)
                    signature = self.headers.get("Pagoflex-Signature", "")
                    server.received.append({"body": body, "json": json.loads(body), "signature": signature,
                                            "verified": server.verify(body, signature, server.secret)})
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(f"merchant says {status}".encode())
                except OSError:
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/pagoflex/events"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def events(self, event_type: str | None = None) -> list[dict]:
        with self.lock:
            return [r for r in self.received if event_type is None or r["json"]["type"] == event_type]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def allow_loopback_endpoints(settings):
    """The merchant's test endpoints live on loopback, which production refuses."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def merchant_server():
    server = MerchantServer()
    yield server
    server.stop()


@pytest.fixture
def endpoint(merchant, merchant_server):
    """An endpoint of the test merchant, for every event type, pointing at the merchant server."""
    from webhooks.endpoints import create_endpoint

    created, secret = create_endpoint(merchant=merchant, mode="test", url=merchant_server.url, enabled_events=["*"])
    merchant_server.secret = secret
    return created


@pytest.fixture
def pay(api, sandbox_account):
    """Create and confirm a payment over the API; returns the answer's JSON."""

    def make(number, amount=1050, **extra):
        response = api.post("/v1/payments", payment_body(amount, number=number, **extra), format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return make
