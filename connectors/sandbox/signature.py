"""Sandbox webhook signatures (sandbox API spec §6, "Webhooks").

Every webhook carries ``Sandbox-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256 keyed with the account's webhook secret over ``f"{t}.{body}"`` (the exact body
bytes). The timestamp is inside the signed text so a captured webhook cannot be replayed
later with a fresh timestamp; receivers refuse timestamps more than five minutes away.
Shared by the simulator (which signs) and the adapter (which verifies), so both sides can
never drift apart.
"""

from __future__ import annotations

import time

from connectors.crypto import constant_time_equals, hmac_sha256_hex

HEADER = "Sandbox-Signature"
TOLERANCE_SECONDS = 300


def compute(secret: str, timestamp: int, body: bytes) -> str:
    return hmac_sha256_hex(secret, f"{timestamp}.".encode() + body)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body``, signed now unless a timestamp is given."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={compute(secret, timestamp, body)}"


def parse(header: str) -> tuple[int | None, list[str]]:
    """(timestamp, v1 signatures) from a header; several v1 entries are allowed so a bank can
    sign with an old and a new secret while a merchant rotates it."""
    timestamp = None
    signatures = []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def verify(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """True when one v1 signature matches and the timestamp is within ``tolerance`` of now
    (either side: a timestamp far in the future is as suspicious as a stale one)."""
    if not secret:
        return False
    timestamp, signatures = parse(header)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = compute(secret, timestamp, body)
    # Compare against every candidate without stopping early, so timing says nothing.
    matches = [constant_time_equals(expected, candidate) for candidate in signatures]
    return any(matches)
