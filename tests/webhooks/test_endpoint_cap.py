"""The cap on a merchant's webhook endpoints (webhooks/endpoints.py) holds under parallel creates,
even while each create waits on DNS for its URL (a name server the merchant chooses can be slow),
outside any lock and without a running slot."""

import threading
import time

import pytest
from django.db import connections

from webhooks import delivery_http, endpoints
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_creates_waiting_on_dns_do_not_pass_the_cap_together(monkeypatch, merchant):
    for number in range(endpoints.MAX_ENDPOINTS_PER_MERCHANT - 1):
        endpoints.create_endpoint(merchant=merchant, mode="test", url=f"https://hooks.example.com/{number}",
                                  enabled_events=["payment.succeeded"])

    def slow_name_server(url):
        time.sleep(0.3)  # every create has passed the first count before any has saved
        return url

    monkeypatch.setattr(delivery_http, "check_url", slow_name_server)
    outcomes = []

    def create(number):
        try:
            endpoints.create_endpoint(merchant=merchant, mode="test", url=f"https://slow.example.com/{number}",
                                      enabled_events=["payment.succeeded"])
            outcomes.append("created")
        except endpoints.PaymentError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    creators = [threading.Thread(target=create, args=(number,)) for number in range(8)]
    for creator in creators:
        creator.start()
    for creator in creators:
        creator.join()

    assert sorted(outcomes) == ["created"] + ["too_many_endpoints"] * 7
    assert WebhookEndpoint.objects.filter(merchant=merchant, mode="test").count() == endpoints.MAX_ENDPOINTS_PER_MERCHANT


def test_an_endpoint_deleted_while_its_new_url_was_checked_is_a_404_not_a_500(monkeypatch, merchant):
    from django.http import Http404

    endpoint, _ = endpoints.create_endpoint(merchant=merchant, mode="test", url="https://hooks.example.com/a",
                                            enabled_events=["payment.succeeded"])

    def deleted_meanwhile(url):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
        return url

    monkeypatch.setattr(delivery_http, "check_url", deleted_meanwhile)
    with pytest.raises(Http404):
        endpoints.update_endpoint(endpoint_pk=endpoint.pk, url="https://hooks.example.com/b")
