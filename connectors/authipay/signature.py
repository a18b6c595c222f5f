"""Authipay's request signature (spec 1.2 and 6.2).

Every call carries ``Api-Key``, ``Client-Request-Id``, ``Timestamp`` (epoch milliseconds) and
``Message-Signature`` = Base64(HMAC-SHA256(key = api secret,
message = api key + client request id + timestamp + exact request body text)). A GET has no
body, so its message ends with the timestamp. The gateway refuses a timestamp more than five
minutes away from its own clock.

Fiserv's documents disagree on what is Base64-encoded (SPEC.md, "Where the documents disagree"):
the EMEA specification this connector follows encodes the raw 32-byte digest (``raw``, the
default); Fiserv's North American "How to generate a message signature" page and its SDK samples
encode the 64-character hex text of the digest (``hex``). Each account says which its gateway
expects (the ``signature_encoding`` credential).
"""

from __future__ import annotations

import base64

from connectors.crypto import constant_time_equals, hmac_sha256_base64, hmac_sha256_hex

# How far the Timestamp header may be from the gateway's clock, either way.
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

RAW_DIGEST, HEX_DIGEST = "raw", "hex"
SIGNATURE_ENCODINGS = (RAW_DIGEST, HEX_DIGEST)
DEFAULT_SIGNATURE_ENCODING = RAW_DIGEST


def signing_message(api_key: str, client_request_id: str, timestamp: str, body_text: str) -> str:
    return f"{api_key}{client_request_id}{timestamp}{body_text}"


def sign(
    api_key: str,
    api_secret: str,
    client_request_id: str,
    timestamp: str,
    body_text: str,
    encoding: str = DEFAULT_SIGNATURE_ENCODING,
) -> str:
    """Base64 of the raw digest (``raw``) or of its hex text (``hex``); ValueError for another."""
    message = signing_message(api_key, client_request_id, timestamp, body_text)
    if encoding == RAW_DIGEST:
        return hmac_sha256_base64(api_secret, message)
    if encoding == HEX_DIGEST:
        return base64.b64encode(hmac_sha256_hex(api_secret, message).encode("ascii")).decode("ascii")
    raise ValueError(f"signature encoding must be one of {SIGNATURE_ENCODINGS}, not {encoding!r}")


def signature_matches(
    api_key: str,
    api_secret: str,
    client_request_id: str,
    timestamp: str,
    body_text: str,
    signature: str,
    encoding: str = DEFAULT_SIGNATURE_ENCODING,
) -> bool:
    """Constant-time check of a received signature (the simulator's side of the formula)."""
    expected = sign(api_key, api_secret, client_request_id, timestamp, body_text, encoding)
    return constant_time_equals(expected, signature)


def timestamp_is_fresh(timestamp: str, now_ms: int) -> bool:
    """False for a missing, malformed, stale (older than five minutes) or far-future timestamp."""
    if not timestamp.isdigit():
        return False
    return abs(now_ms - int(timestamp)) <= MAX_CLOCK_SKEW_MS
