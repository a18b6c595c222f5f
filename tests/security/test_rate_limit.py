"""Rate limiting per API key, counted in the shared cache: the request past the limit answers
429 in the error shape with Retry-After, changes nothing, and other keys are not affected."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from payments.models import ApiKey, PaymentOperation


@pytest.fixture
def three_per_minute(settings):
    # No clean-up needed: every test counts in a cache of its own (conftest.py), with new keys.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}


def _client(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_the_request_past_the_rate_limit_answers_429_with_retry_after(api, three_per_minute):
    for _ in range(3):
        assert api.get("/v1/payments").status_code == 200

    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR"}, format="json")

    assert response.status_code == 429
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert PaymentOperation.objects.count() == 0


def test_the_limit_is_counted_per_api_key(api, merchant, three_per_minute):
    for _ in range(3):
        api.get("/v1/payments")
    assert api.get("/v1/payments").status_code == 429

    _, second_key = ApiKey.issue(merchant)  # the same merchant's other key has its own budget
    assert _client(second_key).get("/v1/payments").status_code == 200


def test_the_count_lives_in_the_shared_cache_not_in_the_process(api, merchant, three_per_minute):
    for _ in range(3):
        api.get("/v1/payments")
    key = ApiKey.objects.get(merchant=merchant)
    history = cache.get(f"throttle:api_key:{key.key_hash[:32]}")
    assert history is not None and len(history) == 3


def test_requests_without_a_valid_key_are_refused_before_they_are_counted(client, db, three_per_minute):
    for _ in range(5):
        assert client.get("/v1/payments", HTTP_AUTHORIZATION="Bearer sk_test_nope").status_code == 401


@pytest.mark.parametrize("turn", ["first", "second"])
def test_every_test_starts_with_a_cache_of_its_own(turn):
    # Whichever of the two runs second finds nothing the other left: counts never leak between
    # tests (a shared file cache also culled a third of its files at random once full).
    assert cache.get("probe:left-by-another-test") is None
    cache.set("probe:left-by-another-test", turn, timeout=300)
