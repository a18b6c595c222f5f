"""/healthz and /readyz: answered without authentication, before host validation and the HTTPS
redirect, and telling a stranger nothing but which dependency is down."""

import threading
import time

import pytest
from django.db import connections
from django.test import Client

from pagoflex import health


@pytest.fixture
def client():
    return Client()


def test_healthz_answers_ok_without_a_key(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_healthz_is_answered_for_a_probe_by_ip_address_and_in_plain_http(client, db, settings):
    settings.ALLOWED_HOSTS = ["pagoflex.example"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3").status_code == 200
    # Everything else still goes through host validation and the redirect.
    assert client.get("/v1/payments", HTTP_HOST="10.1.2.3").status_code == 400


def test_readyz_checks_the_database_the_cache_and_the_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


def test_readyz_names_a_broken_cache_and_nothing_more(client, db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0", "KEY_PREFIX": "readyz-test"}}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body == {"status": "not_ready", "checks": {"database": "ok", "cache": "unavailable", "broker": "ok"}}
    assert b"127.0.0.1" not in response.content and b"Error" not in response.content


def test_a_post_to_healthz_is_not_a_health_check(client, db):
    assert client.post("/healthz").status_code == 404


# A dependency that accepts connections and never answers: every probe must still be answered
# within a few seconds, name the check and hold nothing (a thread, a database connection) for long.
PROBE_DEADLINE = 10.0  # seconds a test waits for an answer before calling the probe hung


@pytest.fixture(autouse=True)
def _a_fresh_readiness():
    """Each test evaluates readiness itself: no answer kept from an earlier test's dependencies."""
    health.READINESS.forget()
    yield
    health.READINESS.forget()


@pytest.fixture
def hung_cache(settings, hung_server):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{hung_server}/0", "KEY_PREFIX": "readyz-test"}}


@pytest.fixture
def hung_broker(monkeypatch, hung_server):
    from pagoflex.celery import app

    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{hung_server}/0")
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)


def probes(count: int, path: str = "/readyz") -> list[tuple[float, object]]:
    """``count`` concurrent GETs of ``path``, each in its own thread: (seconds, response) each, or
    (seconds, None) for one still unanswered after PROBE_DEADLINE."""
    results = [None] * count
    started = time.monotonic()

    def probe(index):
        try:
            response = Client().get(path)
            results[index] = (time.monotonic() - started, response)
        finally:
            connections.close_all()  # this thread's own (the test client leaves them open)

    threads = [threading.Thread(target=probe, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, PROBE_DEADLINE - (time.monotonic() - started)))
    return [result or (time.monotonic() - started, None) for result in results]


def test_readyz_names_a_hung_cache_within_seconds(db, hung_cache):
    [(seconds, response)] = probes(1)
    assert response is not None, "the probe hung"
    assert seconds < 4, f"{seconds:.1f} s"
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready",
                               "checks": {"database": "ok", "cache": "unavailable", "broker": "ok"}}


def test_readyz_names_a_hung_broker_within_seconds(db, hung_broker):
    [(seconds, response)] = probes(1)
    assert response is not None, "the probe hung"
    assert seconds < 4, f"{seconds:.1f} s"
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready",
                               "checks": {"database": "ok", "cache": "ok", "broker": "unavailable"}}
    assert b"127.0.0.1" not in response.content


def test_concurrent_probes_share_one_evaluation_and_never_wait_for_it(db, hung_cache, hung_broker, monkeypatch):
    evaluations = []
    database_check = health.CHECKS["database"]
    monkeypatch.setitem(health.CHECKS, "database", lambda: evaluations.append(1) or database_check())
    for _wave in range(2):  # the second after the first's answer has gone stale
        answers = probes(8)
        assert all(response is not None for _, response in answers), "a probe hung"
        assert max(seconds for seconds, _ in answers) < 5, [round(seconds, 1) for seconds, _ in answers]
        assert {response.status_code for _, response in answers} == {503}
        bodies = [response.json() for _, response in answers]
        assert {"status": "not_ready", "checks": {"database": "ok", "cache": "unavailable",
                                                  "broker": "unavailable"}} in bodies
        assert all(body["status"] == "not_ready" and set(body["checks"]) == {"database", "cache", "broker"}
                   for body in bodies), bodies
        time.sleep(health.READINESS.fresh_for + 0.1)
    # One evaluation per wave at most: the others answered with its result, or "checking" meanwhile.
    assert len(evaluations) <= 2, len(evaluations)


def test_readyz_names_the_database_when_no_pooled_connection_is_free_within_seconds(client, pooled_database):
    held = pooled_database.getconn()
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        seconds = time.monotonic() - started
    finally:
        pooled_database.putconn(held)
    assert seconds < 3, f"{seconds:.1f} s (the pool's own wait is 30 s)"
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"


def test_the_database_connection_is_given_back_before_the_cache_and_the_broker_are_asked(
        client, pooled_database, monkeypatch):
    free_during = []

    def check_cache():  # the pool has one connection: taking it shows the database check gave it back
        free_during.append(pooled_database.getconn(timeout=0.5))
        pooled_database.putconn(free_during[-1])

    monkeypatch.setitem(health.CHECKS, "cache", check_cache)
    response = client.get("/readyz")
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
    assert len(free_during) == 1


def test_the_api_takes_payments_while_the_shared_cache_hangs(settings, hung_server, api, sandbox_account, caplog):
    """The rate limit's cache calls give up after a second and let the request through: a stuck
    Redis holds no money state and must not stop payments (nor hold them for minutes)."""
    from tests.helpers import payment_body

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{hung_server}/0",
                                   "OPTIONS": settings.REDIS_CACHE_OPTIONS}}
    started = time.monotonic()
    response = api.post("/v1/payments", payment_body(), format="json")
    first = time.monotonic() - started
    assert response.status_code == 201, response.content[:300]
    assert first < 5, f"{first:.1f} s"  # a read or two of one second each, not minutes
    assert "rate limit not applied" in caplog.text
    # The next requests do not wait on the cache again for a while.
    started = time.monotonic()
    for _ in range(3):
        assert api.get("/v1/payments").status_code == 200
    assert time.monotonic() - started < 0.9, "each request waited for the stuck cache again"
