"""A merchant sees only its own objects; card data is never stored or logged."""

import logging

from django.core import serializers as django_serializers
from django.db import connection
from rest_framework.test import APIClient

from connectors.models import ConnectorAccount, ConnectorCall
from payments.models import ApiKey, PaymentEvent, PaymentOperation
from tests.helpers import payment_body


def _client(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_another_merchants_payment_answers_404_never_the_object(api, sandbox_account, make_merchant):
    payment = api.post("/v1/payments", payment_body(1000), format="json").json()
    _, other_key = make_merchant("Other shop")
    other = _client(other_key)
    for response in (other.get(f"/v1/payments/{payment['id']}"),
                     other.post(f"/v1/payments/{payment['id']}/capture", {}, format="json"),
                     other.post(f"/v1/payments/{payment['id']}/cancel", {}, format="json"),
                     other.post("/v1/refunds", {"payment": payment["id"]}, format="json")):
        assert response.status_code == 404
        assert payment["id"] not in response.content.decode()
    assert other.get("/v1/payments").json()["data"] == []


def test_a_live_key_does_not_see_test_payments(api, sandbox_account, merchant):
    payment = api.post("/v1/payments", payment_body(1000), format="json").json()
    _, live_key = ApiKey.issue(merchant, mode="live")
    live = _client(live_key)
    assert live.get(f"/v1/payments/{payment['id']}").status_code == 404


def test_another_merchants_connector_account_cannot_be_named(api, sandbox_account, make_merchant, make_account):
    other_merchant, _ = make_merchant("Other shop")
    foreign = make_account(other_merchant, credentials={"api_key": "x", "webhook_secret": "y"})
    response = api.post("/v1/payments", payment_body(1000, connector=foreign.public_id), format="json")
    assert response.status_code == 400 and response.json()["error"]["param"] == "connector"
    assert PaymentOperation.objects.count() == 0


def test_card_number_and_cvc_are_never_in_the_database_or_the_logs(api, sandbox_account, all_logs):
    api.post("/v1/payments", payment_body(1000, number="4000000000000002"), format="json")
    api.post("/v1/payments", payment_body(2000, capture_method="manual"), format="json")
    dump = django_serializers.serialize("json", [
        *PaymentOperation.objects.all(), *ConnectorCall.objects.all(), *PaymentEvent.objects.all(),
        *ConnectorAccount.objects.all()])
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM connectors_connectorcall")
        dump += repr(cursor.fetchall())
    logs = "\n".join(record.getMessage() for record in all_logs.records)
    assert all_logs.records, "the connector calls should have logged something"
    for secret in ("4242424242424242", "4000000000000002", '"cvc": "123"', '"cvc":"123"'):
        assert secret not in dump
        assert secret not in logs
    assert "4242" in dump  # the last four digits are kept
    logging.getLogger("test").info("done")
