"""/healthz and /readyz: answered without authentication, before host validation and the HTTPS
redirect, and telling a stranger nothing but which dependency is down."""

import pytest
from django.test import Client


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
