"""Prometheus metrics: API requests by route and status, connector calls by connector, flow and
outcome, and the backlog gauges; guarded by a token outside development."""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from payments.models import PaymentAttempt
from tests.helpers import payment_body
from webhooks.models import WebhookDelivery


def sample(text: str, name: str, **labels) -> float:
    """The value of one series in an exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def scrape(settings):
    settings.METRICS_TOKEN = "metrics-token-for-tests"

    def get() -> str:
        response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-for-tests")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    return get


def test_a_connector_call_increments_its_series(api, sandbox_account, scrape):
    before = scrape()
    labels = {"connector": "sandbox", "flow": "authorize", "outcome": "ok"}
    assert api.post("/v1/payments", payment_body(), format="json").status_code == 201
    after = scrape()
    assert sample(after, "pagoflex_connector_calls_total", **labels) == sample(
        before, "pagoflex_connector_calls_total", **labels) + 1
    assert sample(after, "pagoflex_connector_call_duration_seconds_count", connector="sandbox", flow="authorize") \
        == sample(before, "pagoflex_connector_call_duration_seconds_count", connector="sandbox", flow="authorize") + 1
    route = {"route": "v1/payments", "method": "POST", "status": "201"}
    assert sample(after, "pagoflex_http_requests_total", **route) == sample(
        before, "pagoflex_http_requests_total", **route) + 1


def test_a_bank_error_is_counted_by_its_outcome(api, sandbox_account, sandbox, scrape):
    labels = {"connector": "sandbox", "flow": "authorize", "outcome": "error_5xx"}
    before = sample(scrape(), "pagoflex_connector_calls_total", **labels)
    sandbox.app.faults.arm(status=500)
    api.post("/v1/payments", payment_body(), format="json")
    assert sample(scrape(), "pagoflex_connector_calls_total", **labels) == before + 1


def test_routes_are_the_url_patterns_never_the_raw_paths(api, sandbox_account, scrape):
    payment_id = api.post("/v1/payments", payment_body(), format="json").json()["id"]
    assert api.get(f"/v1/payments/{payment_id}").status_code == 200
    text = scrape()
    assert payment_id not in text
    assert sample(text, "pagoflex_http_requests_total", route="v1/payments/<str:payment_id>", method="GET",
                  status="200") >= 1


def test_the_backlog_gauges_show_an_unresolved_payment_and_the_sync_lag(api, sandbox_account, sandbox, scrape):
    sandbox.app.faults.arm(truncate=True)  # the bank acted; its answer is lost
    payment_id = api.post("/v1/payments", payment_body(), format="json").json()["id"]
    attempt = PaymentAttempt.objects.get(payment__public_id=payment_id)
    assert attempt.status == "pending"
    PaymentAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - timedelta(minutes=10),
                                                        next_sync_at=timezone.now() - timedelta(seconds=90))
    text = scrape()
    assert sample(text, "pagoflex_unresolved_attempts") >= 1
    assert sample(text, "pagoflex_unresolved_oldest_age_seconds") >= 600
    assert 90 <= sample(text, "pagoflex_sync_lag_seconds") < 200
    assert sample(text, "pagoflex_backlog_up") == 1


def test_metrics_need_the_token_outside_development(db, settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "s3cret-token"
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def label_values(text: str, name: str, label: str) -> set[str]:
    return set(re.findall(rf'^{name}{{[^}}]*\b{label}="([^"]*)"', text, re.MULTILINE))


def test_made_up_methods_and_paths_add_no_series(db, scrape):
    client = Client()
    for index in range(40):
        client.generic(f"BREW{index}", "/v1/payments")
        client.get(f"/no-such-page-{index}")
    text = scrape()
    assert label_values(text, "pagoflex_http_requests_total", "method") <= HTTP_METHODS
    assert label_values(text, "pagoflex_http_request_duration_seconds_count", "method") <= HTTP_METHODS
    assert sample(text, "pagoflex_http_requests_total", route="v1/payments", method="other") >= 40
    assert "no-such-page" not in text
    assert sample(text, "pagoflex_http_requests_total", route="unmatched", method="GET", status="404") >= 40


def test_a_status_outside_http_is_one_series(db, scrape):
    from observability.metrics import observe_request

    for status in (0, 99, 600, 1000, 2**40):
        observe_request(route="v1/payments", method="GET", status=status, seconds=0.01)
    text = scrape()
    assert label_values(text, "pagoflex_http_requests_total", "status") <= {str(code) for code in range(100, 600)} | {
        "other"}
    assert sample(text, "pagoflex_http_requests_total", route="v1/payments", method="GET", status="other") >= 5


def test_metrics_are_served_to_a_scrape_by_ip_address_in_plain_http(db, settings):
    settings.ALLOWED_HOSTS = ["pagoflex.example"]
    settings.SECURE_SSL_REDIRECT = True
    settings.DEBUG = False
    settings.METRICS_TOKEN = "s3cret-token"
    response = Client().get("/metrics", HTTP_HOST="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    assert b"pagoflex_http_requests_total" in response.content
    refused = Client().get("/metrics", HTTP_HOST="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong")
    assert refused.status_code == 404 and refused.content == b""


def test_a_scrape_answers_without_the_backlog_when_no_pooled_connection_is_free(pooled_database, scrape):
    held = pooled_database.getconn()
    try:
        started = time.monotonic()
        text = scrape()
        seconds = time.monotonic() - started
    finally:
        pooled_database.putconn(held)
    assert seconds < 3, f"{seconds:.1f} s (the pool's own wait is 30 s)"
    assert_backlog_skipped(text)


def test_a_scrape_answers_without_the_backlog_when_its_queries_are_stuck(db, settings):
    """A migration (or anything) holding a lock on a backlog table: the scrape waits a bounded
    time, then answers without the backlog."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statement_timeout")
    settings.METRICS_TOKEN = "metrics-token-for-tests"
    locker = connections.create_connection("default")
    locker.connect()
    locker.connection.autocommit = False
    locker.connection.execute(f"LOCK TABLE {WebhookDelivery._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    answer = []

    def scrape_in_a_thread():  # its own connection, which the lock blocks
        try:
            answer.append(Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-for-tests"))
        finally:
            connections.close_all()  # this thread's own (the test client leaves them open)

    thread = threading.Thread(target=scrape_in_a_thread, daemon=True)
    started = time.monotonic()
    try:
        thread.start()
        thread.join(10)
        seconds = time.monotonic() - started
    finally:
        locker.connection.rollback()
        locker.close()
        thread.join(10)
    assert seconds < 5, f"{seconds:.1f} s"
    assert answer[0].status_code == 200
    assert_backlog_skipped(answer[0].content.decode())


def assert_backlog_skipped(text: str) -> None:
    assert "pagoflex_backlog_up 0.0" in text.splitlines()
    for name in ("pagoflex_webhook_delivery_backlog", "pagoflex_sync_lag_seconds", "pagoflex_unresolved_attempts"):
        assert name not in text
    assert "# TYPE pagoflex_connector_calls_total counter" in text.splitlines()  # the rest is there
