"""Banco X signatures, shared by the adapter (signs requests, checks webhooks) and the simulator.

Requests (SPEC.md §2): ``Authorization: BancoX-HMAC-SHA256 key=<api_key>,t=<unix>,sig=<hex>`` with
``sig = HMAC-SHA256(secret, "<t>\\n<METHOD>\\n<path>\\n" + raw body)``.
Webhooks (SPEC.md §7): ``X-BancoX-Signature: t=<unix>,v1=<hex>`` with
``v1 = HMAC-SHA256(webhook_secret, "<t>." + raw body)``.
The timestamp is inside the signed text so a captured message cannot be replayed later than the
tolerance with a fresh ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.crypto import constant_time_equals, hmac_sha256_hex

AUTH_SCHEME = "BancoX-HMAC-SHA256"
SIGNATURE_HEADER = "X-BancoX-Signature"
TOLERANCE_SECONDS = 300


def request_signature(secret: str, timestamp: int, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + (body or b"")
    return hmac_sha256_hex(secret, message)


def authorization_header(api_key: str, secret: str, method: str, path: str, body: bytes, timestamp: int) -> str:
    signature = request_signature(secret, timestamp, method, path, body)
    return f"{AUTH_SCHEME} key={api_key},t={timestamp},sig={signature}"


@dataclass(frozen=True)
class Authorization:
    api_key: str
    timestamp: int
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    """The parts of an Authorization header, or None when it is not a well-formed Banco X one."""
    scheme, _, params = (value or "").partition(" ")
    pairs = _pairs(params)
    if scheme != AUTH_SCHEME or pairs is None:
        return None
    if any(len(pairs.get(name, ())) != 1 for name in ("key", "t", "sig")):
        return None
    timestamp = _unix(pairs["t"][0])
    if timestamp is None:
        return None
    return Authorization(api_key=pairs["key"][0], timestamp=timestamp, signature=pairs["sig"][0])


def request_signature_matches(secret: str, auth: Authorization, method: str, path: str, body: bytes) -> bool:
    expected = request_signature(secret, auth.timestamp, method, path, body)
    return constant_time_equals(auth.signature, expected)


def webhook_signature(webhook_secret: str, timestamp: int, body: bytes) -> str:
    return hmac_sha256_hex(webhook_secret, f"{timestamp}.".encode() + body)


def webhook_signature_header(webhook_secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={webhook_signature(webhook_secret, timestamp, body)}"


def verify_webhook_signature(
    webhook_secret: str, header: str, body: bytes, *, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """True when one ``v1`` matches and ``t`` is within ``tolerance`` seconds of ``now`` (either side:
    a timestamp from the future is as suspect as a stale one)."""
    pairs = _pairs(header)
    if not webhook_secret or pairs is None or len(pairs.get("t", ())) != 1 or not pairs.get("v1"):
        return False
    timestamp = _unix(pairs["t"][0])
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = webhook_signature(webhook_secret, timestamp, body)
    # Compare every candidate so the time taken does not tell which one (if any) matched.
    results = [constant_time_equals(candidate, expected) for candidate in pairs["v1"]]
    return any(results)


def _pairs(text: str) -> dict[str, list[str]] | None:
    """``"a=1,b=2,b=3"`` -> ``{"a": ["1"], "b": ["2", "3"]}``; None when any part is not ``name=value``."""
    pairs: dict[str, list[str]] = {}
    for part in (text or "").split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not name or not value:
            return None
        pairs.setdefault(name, []).append(value)
    return pairs


def _unix(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
