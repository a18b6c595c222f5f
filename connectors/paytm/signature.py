"""Paytm's checksum ("signature") scheme, exactly as Paytm publishes it (Checksum logic page).

    hash      = hex(SHA-256(UTF-8(signed_string + "|" + salt))) + salt
    signature = Base64(AES-CBC(key=merchant key, IV="@@@@&&&&####$$$$", PKCS#7)(hash))

The salt is 4 random characters from [A-Za-z0-9]; the key's length (16/24/32) picks
AES-128/192/256. Verifying decrypts, takes the last 4 characters as the salt and recomputes.

What is signed:
- JSON APIs: the exact text of the ``body`` member as it travels (requests and answers);
- form posts (S2S notification, the customer's return to callbackUrl): the values of every
  field except CHECKSUMHASH, ordered by field name, joined with "|" ("null"/missing = "").

This module needs neither Django nor the network, so the simulator and tests use it as is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import string
from collections.abc import Mapping

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad

from connectors.crypto import constant_time_equals

IV = b"@@@@&&&&####$$$$"
SALT_LENGTH = 4
SALT_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTHS = (16, 24, 32)
CHECKSUM_FIELD = "CHECKSUMHASH"


class SignatureKeyError(ValueError):
    """The merchant key cannot be an AES key (Paytm issues 16, 24 or 32 ASCII characters)."""


def generate_salt() -> str:
    return "".join(secrets.choice(SALT_ALPHABET) for _ in range(SALT_LENGTH))


def _aes_key(merchant_key: str) -> bytes:
    key = merchant_key.encode("utf-8") if isinstance(merchant_key, str) else b""
    if len(key) not in KEY_LENGTHS:
        raise SignatureKeyError("the Paytm merchant key must be 16, 24 or 32 ASCII characters")
    return key


def _salted_hash(message: str, salt: str) -> str:
    return hashlib.sha256(f"{message}|{salt}".encode()).hexdigest() + salt


def generate_signature(message: str, merchant_key: str, *, salt: str | None = None) -> str:
    """Sign ``message`` (the exact text sent). ``salt`` is injectable so tests are repeatable."""
    salt = generate_salt() if salt is None else salt
    if len(salt) != SALT_LENGTH or any(c not in SALT_ALPHABET for c in salt):
        raise ValueError("a Paytm salt is 4 characters from [A-Za-z0-9]")
    cipher = AES.new(_aes_key(merchant_key), AES.MODE_CBC, iv=IV)
    encrypted = cipher.encrypt(pad(_salted_hash(message, salt).encode("ascii"), AES.block_size))
    return base64.b64encode(encrypted).decode("ascii")


def verify_signature(message: str, merchant_key: str, signature: str) -> bool:
    """True when ``signature`` was made over ``message`` with this key; never raises on bad input."""
    key = _aes_key(merchant_key)
    try:
        encrypted = base64.b64decode(signature or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        return False
    if not encrypted or len(encrypted) % AES.block_size:
        return False
    try:
        decrypted = unpad(AES.new(key, AES.MODE_CBC, iv=IV).decrypt(encrypted), AES.block_size).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return False
    if len(decrypted) <= SALT_LENGTH:
        return False
    salt = decrypted[-SALT_LENGTH:]
    return constant_time_equals(decrypted, _salted_hash(message, salt))


# -- form posts -----------------------------------------------------------------------------------


def form_signing_string(fields: Mapping[str, object]) -> str:
    """Values of every field but CHECKSUMHASH, by field name, joined with "|"."""
    values = []
    for name in sorted(k for k in fields if k != CHECKSUM_FIELD):
        value = fields[name]
        text = "" if value is None else str(value)
        values.append("" if text.lower() == "null" else text)
    return "|".join(values)


def generate_form_checksum(fields: Mapping[str, object], merchant_key: str, *, salt: str | None = None) -> str:
    return generate_signature(form_signing_string(fields), merchant_key, salt=salt)


def verify_form_checksum(fields: Mapping[str, object], merchant_key: str) -> bool:
    """Verify a form post (S2S notification or the customer's return) by its CHECKSUMHASH field."""
    checksum = fields.get(CHECKSUM_FIELD)
    if not checksum or not isinstance(checksum, str):
        return False
    return verify_signature(form_signing_string(fields), merchant_key, checksum)


# -- the exact text of a JSON member --------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def raw_json_member(text: str, name: str) -> str | None:
    """The exact source text of a top-level member of a JSON object, or None.

    Paytm signs the ``body`` text as it was written, so a verifier must hash those very
    characters, not a re-serialisation (key order, spacing and escapes would differ).
    """
    index = _skip(text, 0)
    if not text.startswith("{", index):
        return None
    index = _skip(text, index + 1)
    found = None
    while index < len(text) and text[index] != "}":
        try:
            key, index = _DECODER.raw_decode(text, index)
            index = _skip(text, index)
            if not text.startswith(":", index):
                return None
            start = _skip(text, index + 1)
            _, end = _DECODER.raw_decode(text, start)
        except ValueError:
            return None
        if key == name:
            if found is not None:
                return None  # a repeated member is ambiguous: refuse rather than guess which was signed
            found = text[start:end]
        index = _skip(text, end)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
        elif not text.startswith("}", index):
            return None
    return found
