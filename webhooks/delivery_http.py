"""The HTTP transport of merchant webhooks, guarded against server-side request forgery.

A merchant chooses the URL Pagoflex posts to, so the URL is an attacker's input. Two guards:

- ``check_url`` (at registration and change) reads the URL with the parser the HTTP client
  itself uses (``requests`` prepares it with urllib3's ``parse_url``), and refuses a URL that
  other parsers would read differently (``\\``, user info: ``https://127.0.0.1:8299\\@93.184.216.34/``
  is host 127.0.0.1 for urllib3 and 93.184.216.34 for ``urllib.parse``);
- every connection a delivery or a resend opens goes through ``GuardedAdapter``: the host name is
  resolved once, every address it resolves to must be public, and the socket connects to that
  checked address (no second lookup a DNS rebinding could answer differently). Redirects are
  not followed and no proxy from the environment is used, so the checked peer is the peer.

Loopback, private, link-local, shared (100.64/10), multicast, reserved and unspecified addresses
are refused unless ``WEBHOOK_ALLOW_PRIVATE_URLS`` (development, tests) allows them. A refused or
failed connection is reported to the merchant in words that do not tell an open port from a
closed one.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationParseError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection
from urllib3.util import parse_url

EXCERPT_BYTES = 1000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressNotAllowed(Exception):
    """The URL's host is, or resolves to, an address webhooks may not be sent to.

    Deliberately not an ``OSError``: urllib3 and requests let it through unchanged, so it is
    never mistaken for (or retried as) a network failure."""


class UrlRefused(ValueError):
    """A URL that may not be registered; the message is safe to show the merchant."""


def address_allowed(address: str) -> bool:
    """True for an address on the public internet (or any address when private URLs are allowed)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return True
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6 and ip in _NAT64:  # 64:ff9b::a.b.c.d reaches a.b.c.d through a NAT64 gateway
        ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    elif ip.version == 6 and (ip.ipv4_mapped or ip.sixtofour):
        ip = ip.ipv4_mapped or ip.sixtofour
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


def resolve_allowed(host: str, port: int) -> list[tuple]:
    """``getaddrinfo`` results for host:port; ``AddressNotAllowed`` if any address is not allowed
    (a name with one private address is refused whole: no guessing which one a client uses)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    refused = [info[4][0] for info in infos if not address_allowed(info[4][0])]
    if refused or not infos:
        raise AddressNotAllowed(f"{host} resolves to an address webhooks may not be sent to")
    return infos


def check_url(url: str) -> str:
    """The URL if an endpoint may use it, else ``UrlRefused`` saying why.

    https only unless ``WEBHOOK_ALLOW_PRIVATE_URLS``; the host as the HTTP client reads it must
    resolve to allowed addresses only (see the module docstring)."""
    if not isinstance(url, str) or "\\" in url or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UrlRefused("url must be an http(s) URL without spaces, control characters or backslashes")
    try:
        prepared = requests.Request("POST", url).prepare()
        parsed = parse_url(prepared.url)
    except (requests.RequestException, LocationParseError, ValueError):
        raise UrlRefused("url must be an http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UrlRefused("url must be an http(s) URL")
    if parsed.auth or "@" in (urlsplit(url).netloc or ""):
        raise UrlRefused("url must not contain a user name or password")
    other_reading = (urlsplit(url).hostname or "").strip("[]").lower()
    if other_reading != parsed.host.strip("[]").lower():
        raise UrlRefused("url is ambiguous: parsers disagree on its host")
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return url
    if parsed.scheme != "https":
        raise UrlRefused("url must use https")
    try:
        resolve_allowed(parsed.host.strip("[]"), parsed.port or 443)
    except AddressNotAllowed:
        raise UrlRefused("url must point to a public address") from None
    except (OSError, UnicodeError):
        raise UrlRefused("url's host name does not resolve") from None
    return url


# -- the guarded transport -----------------------------------------------------------------------

class _GuardedConnectionMixin:
    """Connect only to a checked address: resolve, check every address, connect to the checked one."""

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.strip("[]")
        try:
            infos = resolve_allowed(host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for _family, _type, _proto, _name, sockaddr in infos:
            try:
                return urllib3_connection.create_connection(
                    (sockaddr[0], self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every new connection is checked (``_GuardedConnectionMixin``)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPConnectionPool,
                                                   "https": _GuardedHTTPSConnectionPool}

    def proxy_manager_for(self, *args, **kwargs):  # a proxy would be the peer we never checked
        raise AddressNotAllowed("webhooks are not sent through a proxy")


_local = threading.local()


def session() -> requests.Session:
    """One guarded session per thread (connection pooling, no proxy from the environment)."""
    current = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        current.trust_env = False
        adapter = GuardedAdapter(pool_connections=8, pool_maxsize=8, max_retries=0)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        _local.session = current
    return current


def post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str, int]:
    """POST one event: (status code, response excerpt, error, latency in ms).

    The whole exchange must end within ``WEBHOOK_DELIVERY_TIMEOUT``; redirects are not followed
    (a 3xx is not a delivery). Errors are told in a few fixed words: a refused address, a
    connection that failed (refused, reset or unreachable alike), a TLS failure, a timeout."""
    timeout = settings.WEBHOOK_DELIVERY_TIMEOUT
    started = time.monotonic()
    try:
        check_url(url)
        with session().post(url, data=body, headers=headers, timeout=(min(timeout, 5.0), timeout),
                            allow_redirects=False, stream=True) as response:
            excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
            status_code = response.status_code
    except (UrlRefused, AddressNotAllowed):
        return None, "", "not sent: the endpoint's address is not allowed", _ms_since(started)
    except requests.Timeout:
        return None, "", f"timeout after {timeout:g} s", _ms_since(started)
    except requests.exceptions.SSLError:
        return None, "", "TLS handshake with the endpoint failed", _ms_since(started)
    except requests.RequestException:
        return None, "", "could not connect to the endpoint", _ms_since(started)
    latency_ms = _ms_since(started)
    error = f"answered after {latency_ms} ms, over the {timeout:g} s limit" if latency_ms > timeout * 1000 else ""
    return status_code, excerpt.decode("utf-8", errors="replace"), error, latency_ms


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
