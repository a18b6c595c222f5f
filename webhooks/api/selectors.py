"""Read queries: a merchant sees only its own endpoints and events, in its key's mode."""

from django.http import Http404

from webhooks.models import MerchantEvent, WebhookEndpoint


def endpoints_for(merchant, mode: str):
    return WebhookEndpoint.objects.filter(merchant=merchant, mode=mode)


def get_endpoint(merchant, mode: str, public_id: str) -> WebhookEndpoint:
    endpoint = endpoints_for(merchant, mode).filter(public_id=public_id).first()
    if endpoint is None:
        raise Http404
    return endpoint


def events_for(merchant, mode: str, *, type=None, payment=None):  # noqa: A002 - the API's parameter name
    queryset = MerchantEvent.objects.filter(merchant=merchant, mode=mode).prefetch_related("deliveries__endpoint")
    if type:
        queryset = queryset.filter(type=type)
    if payment:
        queryset = queryset.filter(payment__public_id=payment)
    return queryset


def get_event(merchant, mode: str, public_id: str) -> MerchantEvent:
    event = events_for(merchant, mode).filter(public_id=public_id).first()
    if event is None:
        raise Http404
    return event
