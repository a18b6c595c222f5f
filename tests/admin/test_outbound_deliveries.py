"""Outbound merchant events in the back office: on the payment's timeline, each delivery with its
tries, and a resend through the outbound service; the endpoint's signing secret never shows."""

from django.urls import reverse

from connectors.testing.simulator import unused_port_url
from webhooks import outbound
from webhooks.endpoints import create_endpoint
from webhooks.models import DeliveryStatus, MerchantEvent, WebhookDelivery


def endpoint_for(merchant):
    return create_endpoint(merchant=merchant, mode="test", url=f"{unused_port_url()}/hooks", enabled_events=["*"])


def test_timeline_shows_the_event_sent_to_the_merchant_and_each_delivery_try(admin_client, merchant, take_payment):
    endpoint, secret = endpoint_for(merchant)
    payment = take_payment(amount=1500)
    delivery = WebhookDelivery.objects.get(event__payment=payment, event__type="payment.succeeded")
    outbound.deliver(delivery_pk=delivery.pk)  # the endpoint's port is closed: a failed try

    response = admin_client.get(reverse("admin:payments_paymentoperation_change", args=[payment.pk]))
    page = response.content.decode()

    outbound_titles = [entry.title for entry in response.context["timeline"] if entry.kind == "outbound"]
    assert f"Event payment.succeeded to the merchant ({delivery.event.public_id})" in outbound_titles
    assert f"Delivery of payment.succeeded to {endpoint.url}" in outbound_titles
    assert "no answer" in page
    assert secret not in page


def test_delivery_page_lists_tries_and_never_the_signing_secret(admin_client, merchant, take_payment):
    endpoint, secret = endpoint_for(merchant)
    payment = take_payment()
    delivery = WebhookDelivery.objects.get(event__payment=payment, event__type="payment.succeeded")
    outbound.deliver(delivery_pk=delivery.pk)

    pages = [
        admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])),
        admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])),
        admin_client.get(reverse("admin:payments_merchantevent_change", args=[delivery.event.pk])),
        admin_client.get(reverse("admin:webhooks_webhookdelivery_changelist")),
    ]

    assert all(page.status_code == 200 for page in pages)
    assert "could not connect to the endpoint" in pages[0].content.decode()
    assert all(secret not in page.content.decode() for page in pages)


def test_resend_reopens_a_failed_delivery_through_the_outbound_service(admin_client, merchant, take_payment):
    endpoint, _ = endpoint_for(merchant)
    payment = take_payment()
    delivery = WebhookDelivery.objects.get(event__payment=payment, event__type="payment.succeeded")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)

    page = admin_client.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "resend_action", "_selected_action": [delivery.pk]},
        follow=True,
    )

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    assert f"queued again by staff:root: {endpoint.url}" in page.content.decode()


def test_support_cannot_resend(support_client, merchant, take_payment):
    endpoint_for(merchant)
    payment = take_payment()
    event = MerchantEvent.objects.get(payment=payment, type="payment.succeeded")
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)

    listing = support_client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    support_client.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "resend_action", "_selected_action": [delivery.pk]},
    )

    assert listing.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
