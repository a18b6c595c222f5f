"""Authipay's request signature (spec 1.2 and 6.2).

Every call carries ``Api-Key``, ``Client-Request-Id``, ``Timestamp`` (epoch milliseconds) and
``Message-Signature`` = Base64(HMAC-SHA256(key = api secret,
message = api key + client request id + timestamp + exact request body text)). A GET has no
body, so its message ends with the timestamp. The gateway refuses a timestamp more than five
minutes away from its own clock.
"""

from __future__ import annotations

from connectors.crypto import constant_time_equals, hmac_sha256_base64

# How far the Timestamp header may be from the gateway's clock, either way.
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000


def signing_message(api_key: str, client_request_id: str, timestamp: str, body_text: str) -> str:
    return f"{api_key}{client_request_id}{timestamp}{body_text}"


def sign(api_key: str, api_secret: str, client_request_id: str, timestamp: str, body_text: str) -> str:
    return hmac_sha256_base64(api_secret, signing_message(api_key, client_request_id, timestamp, body_text))


def signature_matches(
    api_key: str, api_secret: str, client_request_id: str, timestamp: str, body_text: str, signature: str
) -> bool:
    """Constant-time check of a received signature (the simulator's side of the formula)."""
    return constant_time_equals(sign(api_key, api_secret, client_request_id, timestamp, body_text), signature)


def timestamp_is_fresh(timestamp: str, now_ms: int) -> bool:
    """False for a missing, malformed, stale (older than five minutes) or far-future timestamp."""
    if not timestamp.isdigit():
        return False
    return abs(now_ms - int(timestamp)) <= MAX_CLOCK_SKEW_MS
