from django.utils import timezone

from payments.models import ApiKey, hash_api_key
from tests.helpers import assert_error


def test_requests_without_a_key_get_401_in_the_error_shape(client, db):
    error = assert_error(client.get("/v1/payments"), 401, code="api_key_missing")
    assert error["type"] == "authentication_error"


def test_an_unknown_key_is_refused(client, db):
    response = client.get("/v1/payments", HTTP_AUTHORIZATION="Bearer sk_test_doesnotexist")
    assert_error(response, 401, code="api_key_invalid")


def test_a_malformed_authorization_header_is_refused(client, merchant_and_key):
    response = client.get("/v1/payments", HTTP_AUTHORIZATION=f"Token {merchant_and_key[1]}")
    assert_error(response, 401, code="api_key_invalid")


def test_a_revoked_key_is_refused(client, merchant_and_key):
    merchant, raw_key = merchant_and_key
    ApiKey.objects.filter(merchant=merchant).update(revoked_at=timezone.now())
    response = client.get("/v1/payments", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert_error(response, 401, code="api_key_revoked")


def test_keys_are_stored_only_as_a_hash_with_a_short_prefix(merchant_and_key):
    merchant, raw_key = merchant_and_key
    stored = ApiKey.objects.get(merchant=merchant)
    assert raw_key.startswith("sk_test_") and len(raw_key) > 30
    assert stored.key_hash == hash_api_key(raw_key) and raw_key not in stored.key_hash
    assert raw_key.startswith(stored.prefix) and len(stored.prefix) < len(raw_key) / 2


def test_using_a_key_records_last_used_at(api, merchant):
    assert ApiKey.objects.get(merchant=merchant).last_used_at is None
    assert api.get("/v1/payments").status_code == 200
    assert ApiKey.objects.get(merchant=merchant).last_used_at is not None
