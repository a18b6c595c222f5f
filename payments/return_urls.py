"""Where a payment may send the customer back: each merchant's allow-list of return hosts.

``Merchant.return_url_hosts`` lists what a ``return_url`` may point to:

- ``shop.example``: https URLs on that host, any port;
- ``*.shop.example``: https URLs on any subdomain of it (not the apex: list it too);
- ``http://localhost:3000``: exactly that origin (scheme, host and port), for development.

An empty list keeps the behaviour merchants had before the list existed: any http(s) URL. A
list is recommended: with a leaked API key, a payment could otherwise send customers anywhere
from Pagoflex's own return page. Whatever the list, a URL that parsers can read differently
(a backslash, user info, control characters) is refused: the host checked must be the host the
browser goes to. The check runs when the payment is created and again at the redirect, so a
host removed from the list stops redirects at once.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

_HOST_RE = re.compile(r"^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


class ReturnUrlRefused(ValueError):
    """The message names what is wrong, for the API's error on ``return_url``."""


def validate_allow_list(entries) -> None:
    """A Merchant field validator: a list of host names, ``*.`` wildcards or http(s) origins."""
    if not isinstance(entries, list):
        raise ValidationError("a list of host names, e.g. [\"shop.example\", \"*.shop.example\"]")
    for entry in entries:
        if not isinstance(entry, str) or not _entry_is_valid(entry):
            raise ValidationError(f"{entry!r} is not a host name, a *.host wildcard or an http(s)://host[:port] origin")


def _entry_is_valid(entry: str) -> bool:
    if "://" in entry:
        parts = urlsplit(entry)
        return (parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/")
                and not parts.query and not parts.username and "\\" not in entry)
    return bool(_HOST_RE.match(entry.lower()))


def check_return_url(url: str, allowed_hosts: list[str]) -> str:
    """The URL if the merchant's list allows it, else ``ReturnUrlRefused`` saying why."""
    if not url:
        return url
    if "\\" in url or any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise ReturnUrlRefused("return_url must not contain spaces, control characters or backslashes")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReturnUrlRefused("return_url must be an http(s) URL")
    if "@" in parts.netloc:
        raise ReturnUrlRefused("return_url must not contain a user name or password")
    if not allowed_hosts:
        return url
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        raise ReturnUrlRefused("return_url has an invalid port") from None
    for entry in allowed_hosts:
        if _matches(entry.lower(), parts.scheme, host, port):
            return url
    raise ReturnUrlRefused(f"return_url's host {host} is not in this merchant's allowed return hosts "
                           f"({', '.join(allowed_hosts)})")


def _matches(entry: str, scheme: str, host: str, port: int | None) -> bool:
    if "://" in entry:
        origin = urlsplit(entry)
        default = 443 if origin.scheme == "https" else 80
        return (scheme, host, port or (443 if scheme == "https" else 80)) == (
            origin.scheme, origin.hostname, origin.port or default)
    if scheme != "https":
        return False
    if entry.startswith("*."):
        return host.endswith(entry[1:]) and host != entry[2:]
    return host == entry


def return_url_allowed(url: str, allowed_hosts: list[str]) -> bool:
    try:
        check_return_url(url, allowed_hosts)
    except ReturnUrlRefused:
        return False
    return True
