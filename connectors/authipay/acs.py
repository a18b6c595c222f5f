"""The simulator's 3-D Secure pieces: the opaque challenge messages and the ACS's two pages.

A 3DS 2.x CReq/CRes is base64url JSON (EMV 3DS); the 3DS 1.0 PaReq/PaRes are opaque to the
merchant, so the simulator uses the same encoding for them. Only the ACS transaction id inside
matters: the gateway trusts the outcome the ACS recorded, never a status a browser posts.
"""

from __future__ import annotations

import base64
import binascii
import json
from html import escape

# The one-time code the simulated ACS accepts; anything else fails the challenge.
PASSING_CODE = "1234"


def encode(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode("utf-8")).decode("ascii").rstrip("=")


def decode(value: str) -> dict:
    """The JSON inside a CReq/CRes/PaReq/PaRes; an empty dict when it is not one."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def challenge_page(acs_id: str, amount_text: str, currency: str, last4: str) -> str:
    return f"""<!doctype html>
<html><head><title>Authipay ACS (simulator)</title></head>
<body>
<h1>Confirm your payment</h1>
<p>{escape(amount_text)} {escape(currency)} with the card ending {escape(last4)}.</p>
<form id="challenge" method="post" action="/acs/submit">
<input type="hidden" name="acs_transaction" value="{escape(acs_id)}">
<label>One-time code ({PASSING_CODE} passes) <input name="otp" value="" autocomplete="one-time-code"></label>
<button type="submit">Confirm</button>
</form>
</body></html>"""


def return_page(term_url: str, fields: dict[str, str]) -> str:
    """The page that sends the browser back to the merchant's term URL with the ACS's answer."""
    inputs = "\n".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    return f"""<!doctype html>
<html><head><title>Returning to the merchant</title></head>
<body onload="document.getElementById('return').submit()">
<form id="return" method="post" action="{escape(term_url)}">
{inputs}
<noscript><button type="submit">Continue</button></noscript>
</form>
</body></html>"""


def error_page(message: str) -> str:
    return f"<!doctype html><html><body><h1>Authentication error</h1><p>{escape(message)}</p></body></html>"
