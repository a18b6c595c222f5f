"""/v1/webhook_endpoints and /v1/events: the secret shown once, strict input, one error shape,
isolation between merchants, and resend."""

from rest_framework.test import APIClient

from tests.helpers import APPROVED_CARD, assert_error
from webhooks.models import WebhookDelivery, WebhookEndpoint

URL = "http://127.0.0.1:9/hooks"


def register(api, **body):
    return api.post("/v1/webhook_endpoints", {"url": URL, "enabled_events": ["payment.succeeded"], **body},
                    format="json")


def test_the_signing_secret_is_shown_once_and_stored_only_encrypted(api):
    created = register(api, description="shop")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["id"].startswith("we_") and body["secret"].startswith("whsec_") and body["status"] == "enabled"

    row = WebhookEndpoint.objects.get(public_id=body["id"])
    assert body["secret"] not in row.secret_encrypted and row.get_secret() == body["secret"]
    assert "secret" not in api.get(f"/v1/webhook_endpoints/{body['id']}").json()
    assert all("secret" not in e for e in api.get("/v1/webhook_endpoints").json()["data"])


def test_update_and_delete_an_endpoint(api):
    endpoint = register(api).json()

    updated = api.post(f"/v1/webhook_endpoints/{endpoint['id']}",
                       {"enabled_events": ["refund.failed", "payment.failed"], "disabled": True}, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["enabled_events"] == ["payment.failed", "refund.failed"]
    assert updated.json()["status"] == "disabled"

    deleted = api.delete(f"/v1/webhook_endpoints/{endpoint['id']}")
    assert deleted.json() == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    assert_error(api.get(f"/v1/webhook_endpoints/{endpoint['id']}"), 404, code="resource_missing")


def test_bad_input_is_refused_in_the_one_error_shape(api, settings):
    assert_error(register(api, enabled_events=["payment.exploded"]), 400, code="parameter_invalid",
                 param="enabled_events.0")
    assert_error(register(api, enabled_events=[]), 400, param="enabled_events")
    assert_error(register(api, url="ftp://shop.example/x"), 400, param="url")
    assert_error(register(api, secret="mine"), 400, code="parameter_unknown", param="secret")
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    assert_error(register(api), 400, code="url_invalid", param="url")  # plain http, loopback: not in production
    assert_error(register(api, url="https://127.0.0.1/hooks"), 400, code="url_invalid", param="url")


def test_another_merchant_sees_none_of_my_endpoints_or_events(api, make_merchant, pay):
    endpoint = register(api).json()
    payment = pay(APPROVED_CARD)
    event = api.get(f"/v1/events?payment={payment['id']}").json()["data"][0]
    _, other_key = make_merchant(name="Other")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")

    assert_error(other.get(f"/v1/webhook_endpoints/{endpoint['id']}"), 404)
    assert_error(other.delete(f"/v1/webhook_endpoints/{endpoint['id']}"), 404)
    assert_error(other.get(f"/v1/events/{event['id']}"), 404)
    assert_error(other.post(f"/v1/events/{event['id']}/resend", {}, format="json"), 404)
    assert other.get("/v1/events").json()["data"] == [] and other.get("/v1/webhook_endpoints").json()["data"] == []


def test_events_are_listed_newest_first_with_their_deliveries_and_can_be_resent(api, pay):
    endpoint = register(api).json()
    payment = pay(APPROVED_CARD, amount=1500)

    listed = api.get("/v1/events?type=payment.succeeded").json()
    [event] = listed["data"]
    assert event["type"] == "payment.succeeded" and event["data"]["object"]["id"] == payment["id"]
    assert [d["endpoint"] for d in event["deliveries"]] == [endpoint["id"]]
    assert event["deliveries"][0]["status"] == "pending"

    WebhookDelivery.objects.filter(event__public_id=event["id"]).update(status="failed", next_attempt_at=None)
    resent = api.post(f"/v1/events/{event['id']}/resend", {"endpoint": endpoint["id"]}, format="json")

    assert resent.status_code == 202, resent.content
    assert resent.json()["deliveries"][0]["status"] == "pending"
    assert resent.json()["deliveries"][0]["next_attempt_at"] is not None
    assert_error(api.post(f"/v1/events/{event['id']}/resend", {"endpoint": "we_nope"}, format="json"), 404)
