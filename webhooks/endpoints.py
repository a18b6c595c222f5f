"""Merchants' webhook endpoints: register, change, remove. The signing secret is returned once,
at creation, and stored only encrypted."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.http import Http404

from connectors.waiting import waiting_outside
from payments.models import Merchant
from payments.services.errors import PaymentError
from webhooks import delivery_http
from webhooks.models import ALL_EVENTS, EventType, WebhookEndpoint
from webhooks.outbound import close_deliveries_of_disabled_endpoint

MAX_ENDPOINTS_PER_MERCHANT = 16


def new_signing_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def check_events(enabled_events: list[str]) -> list[str]:
    known = set(EventType.values) | {ALL_EVENTS}
    unknown = [name for name in enabled_events if name not in known]
    if not enabled_events or unknown:
        raise PaymentError(f"enabled_events must list event types ({', '.join(EventType.values)}) or \"*\""
                           + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                           code="parameter_invalid", param="enabled_events")
    return sorted(set(enabled_events))


def check_url(url: str) -> str:
    """Plain http and loopback or private addresses only where ``WEBHOOK_ALLOW_PRIVATE_URLS``
    allows them (development): in production Pagoflex must not be made to call its own network.
    The rules live with the transport that enforces them again at every delivery
    (``webhooks/delivery_http.py``).

    The check resolves the URL's host: a wait on DNS, which a merchant can make as long as the
    resolver's timeout with a name server that never answers. It is waited on like a bank
    (``connectors/waiting.py``: no database connection, no running slot held), so it must not be
    called inside a transaction, where the slot would be kept."""
    try:
        with waiting_outside():
            return delivery_http.check_url(url)
    except delivery_http.UrlRefused as exc:
        raise PaymentError(str(exc), code="url_invalid", param="url") from None


def create_endpoint(*, merchant, mode: str, url: str, enabled_events: list[str],
                    description: str = "") -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its signing secret (shown to the merchant once)."""
    events = check_events(enabled_events)
    refuse_past_the_cap(merchant, mode)
    check_url(url)  # after the cheap refusals: it waits on DNS
    secret = new_signing_secret()
    endpoint = WebhookEndpoint(merchant=merchant, mode=mode, url=url, enabled_events=events, description=description)
    endpoint.set_secret(secret)
    with transaction.atomic():
        # Counted again under the merchant's row lock: creates that all passed the first count while
        # their URLs resolved (a slow name server is the merchant's to choose) are counted one by one.
        Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
        refuse_past_the_cap(merchant, mode)
        endpoint.save()
    return endpoint, secret


def refuse_past_the_cap(merchant, mode: str) -> None:
    if WebhookEndpoint.objects.filter(merchant=merchant, mode=mode).count() >= MAX_ENDPOINTS_PER_MERCHANT:
        raise PaymentError(f"at most {MAX_ENDPOINTS_PER_MERCHANT} webhook endpoints per mode",
                           code="too_many_endpoints")


def update_endpoint(*, endpoint_pk: int, url: str | None = None, enabled_events: list[str] | None = None,
                    description: str | None = None, disabled: bool | None = None) -> WebhookEndpoint:
    """Change what was given; deliveries already made keep their history."""
    events = check_events(enabled_events) if enabled_events is not None else None
    checked_url = check_url(url) if url is not None else None  # before the row lock: it waits on DNS
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_pk).first()
        if endpoint is None:  # deleted while its new URL was checked
            raise Http404
        if checked_url is not None:
            endpoint.url = checked_url
        if events is not None:
            endpoint.enabled_events = events
        if description is not None:
            endpoint.description = description
        if disabled is not None:
            endpoint.enabled = not disabled
        endpoint.save()
        if not endpoint.enabled:
            close_deliveries_of_disabled_endpoint(endpoint.pk)
    return endpoint


def delete_endpoint(*, endpoint_pk: int) -> None:
    """Remove an endpoint and its pending deliveries: nothing more is sent to it."""
    WebhookEndpoint.objects.filter(pk=endpoint_pk).delete()
