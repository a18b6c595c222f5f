"""Merchant webhook URLs cannot make Pagoflex connect to its own network (issue 16, item 2).

A real TCP listener on 127.0.0.1 counts the connections it accepts: with private URLs
disallowed, no URL spelling, redirect, host name or resend may reach it. The positive control
(private URLs allowed) shows the same listener is reachable, so a zero means a refusal.
"""

import socket
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import assert_error
from webhooks import delivery_http, outbound
from webhooks.models import MerchantEvent, WebhookDelivery, WebhookEndpoint

BACKSLASH_AT = "https://127.0.0.1:{port}\\@93.184.216.34/hook"


class Listener:
    """Accepts TCP connections on loopback, counts them, answers each with ``answer``."""

    def __init__(self, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"):
        self.answer = answer
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def stop(self):
        self.stopped.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.fixture
def private_urls_disallowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


def stored_endpoint(merchant, url: str) -> WebhookEndpoint:
    """An endpoint as the database may hold it: registered before a rule existed, or whose
    name resolved to a public address at registration and to loopback now (DNS rebinding)."""
    endpoint = WebhookEndpoint(merchant=merchant, mode="test", url=url, enabled_events=["*"])
    endpoint.set_secret("whsec_test")
    endpoint.save()
    return endpoint


def pending_delivery(merchant, endpoint) -> WebhookDelivery:
    event = MerchantEvent.objects.create(merchant=merchant, mode="test", type="payment.succeeded", data={})
    return WebhookDelivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=timezone.now(),
                                          give_up_at=timezone.now() + timedelta(days=3))


def test_the_backslash_at_url_is_refused_at_registration(api, private_urls_disallowed):
    response = api.post("/v1/webhook_endpoints", {"url": BACKSLASH_AT.format(port=8299),
                                                  "enabled_events": ["*"]}, format="json")
    assert_error(response, 400, code="url_invalid", param="url")
    assert not WebhookEndpoint.objects.exists()


def test_a_delivery_to_the_backslash_at_url_opens_no_connection_nor_after_a_resend(
        merchant, listener, private_urls_disallowed):
    endpoint = stored_endpoint(merchant, BACKSLASH_AT.format(port=listener.port))
    delivery = pending_delivery(merchant, endpoint)

    outbound.deliver(delivery_pk=delivery.pk)
    outbound.resend_event(event=delivery.event, endpoint=endpoint)
    outbound.deliver(delivery_pk=delivery.pk)

    assert listener.accepted == 0
    delivery.refresh_from_db()
    assert delivery.attempt_count == 2 and delivery.status == "pending"
    assert delivery.last_error == "not sent: the endpoint's address is not allowed"


def test_a_name_that_resolves_to_loopback_is_refused_at_every_delivery(merchant, listener, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    endpoint = stored_endpoint(merchant, f"https://localhost:{listener.port}/hook")

    outbound.deliver(delivery_pk=pending_delivery(merchant, endpoint).pk)
    # Below the URL check: the transport itself refuses the resolved address (a name that
    # passed the check and resolves to loopback a moment later is stopped here).
    for url in (f"https://localhost:{listener.port}/hook", f"http://localhost:{listener.port}/hook"):
        with pytest.raises(delivery_http.AddressNotAllowed):
            delivery_http.session().post(url, data=b"{}", timeout=2)

    assert listener.accepted == 0


def test_a_redirect_to_loopback_is_not_followed(merchant, listener, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the first hop is on loopback too: the test's own
    redirecting = Listener(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{listener.port}/"
                           f"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    try:
        delivery = pending_delivery(merchant, stored_endpoint(merchant, f"http://127.0.0.1:{redirecting.port}/"))
        outbound.deliver(delivery_pk=delivery.pk)
    finally:
        redirecting.stop()

    delivery.refresh_from_db()
    assert redirecting.accepted == 1 and listener.accepted == 0
    assert (delivery.last_status_code, delivery.status) == (307, "pending")


def test_the_listener_is_reachable_when_private_urls_are_allowed(merchant, listener, settings):
    """The control: the zeros above are refusals, not an unreachable listener."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    delivery = pending_delivery(merchant, stored_endpoint(merchant, f"http://127.0.0.1:{listener.port}/hook"))

    outbound.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    assert listener.accepted == 1 and delivery.status == "succeeded"


# The next members of the kind: other spellings of loopback, and parser confusions.
LOOPBACK_SPELLINGS = [
    "https://127.0.0.1:{port}/",
    "https://127.1:{port}/",
    "https://2130706433:{port}/",
    "https://0x7f000001:{port}/",
    "https://[::1]:{port}/",
    "https://[::ffff:127.0.0.1]:{port}/",
    "https://0.0.0.0:{port}/",
    "https://user@127.0.0.1:{port}/",
    "https://127.0.0.1:{port}/\\@93.184.216.34/",
    "https://127.0.0.1:{port}%2f@93.184.216.34/",
    "https://127.0.0.1:{port}\t@93.184.216.34/",
    "https://localhost.:{port}/",
]


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_no_spelling_of_loopback_reaches_the_listener(spelling, merchant, listener, private_urls_disallowed):
    url = spelling.format(port=listener.port)
    with pytest.raises(delivery_http.UrlRefused):
        delivery_http.check_url(url)
    outbound.deliver(delivery_pk=pending_delivery(merchant, stored_endpoint(merchant, url)).pk)
    try:
        delivery_http.session().post(url, data=b"{}", timeout=2)
    except Exception:  # noqa: BLE001 - refused or unparsable: either way, nothing may connect
        pass
    assert listener.accepted == 0


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
])
def test_private_and_special_addresses_are_not_allowed(address, private_urls_disallowed):
    assert delivery_http.address_allowed(address) is False


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_are_allowed(address, private_urls_disallowed):
    assert delivery_http.address_allowed(address) is True


def test_last_error_does_not_tell_an_open_port_from_a_closed_one(merchant, listener, private_urls_disallowed):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    errors = []
    for port in (listener.port, closed_port):
        delivery = pending_delivery(merchant, stored_endpoint(merchant, f"https://127.0.0.1:{port}/hook"))
        outbound.deliver(delivery_pk=delivery.pk)
        delivery.refresh_from_db()
        errors.append(delivery.last_error)
    assert errors[0] == errors[1] and str(listener.port) not in errors[0]


def test_connection_failures_are_reported_in_fixed_words(merchant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    delivery = pending_delivery(merchant, stored_endpoint(merchant, f"http://127.0.0.1:{port}/hook"))

    outbound.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.last_error == "could not connect to the endpoint"


def test_an_https_delivery_goes_through_the_guarded_connection_to_the_checked_address(merchant, listener,
                                                                                     settings):
    """https connects through the same guard (then TLS is attempted with the URL's host name):
    the plain listener is reached once, and the TLS failure is told in fixed words."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    delivery = pending_delivery(merchant, stored_endpoint(merchant, f"https://localhost:{listener.port}/hook"))

    outbound.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    assert listener.accepted == 1
    assert delivery.last_error == "TLS handshake with the endpoint failed"
