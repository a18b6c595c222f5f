"""Credential encryption (AES-256-GCM) and the signature helpers connectors share.

Stored format: ``v1:<key id>:<base64(nonce || ciphertext || tag)>``. The key id says which
key of ``PAGOFLEX_KEYRING`` encrypted the value, so keys can be rotated: the first key of
the keyring encrypts, every key decrypts. The associated data binds a ciphertext to the row
and field it belongs to, so a value copied to another row fails to decrypt.
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field

from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes
from django.views.decorators.debug import sensitive_variables

FORMAT_VERSION = "v1"
NONCE_BYTES = 12  # 96-bit nonce, the size GCM is designed for


class DecryptionError(Exception):
    """The value was tampered with, belongs to another row, or its key is not in the keyring."""


class KeyringError(Exception):
    """PAGOFLEX_KEYRING is malformed."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes] = field(repr=False)  # never in a repr, an error report or a log
    current_key_id: str

    @classmethod
    def parse(cls, text: str) -> "Keyring":
        """Parse ``"kid:base64key,kid2:base64key"``; the first key is the one that encrypts."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for entry in filter(None, (part.strip() for part in text.split(","))):
            key_id, sep, encoded = entry.partition(":")
            if not sep or not key_id or ":" in encoded:
                raise KeyringError("each PAGOFLEX_KEYRING entry is <key id>:<base64 key>")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"PAGOFLEX_KEYRING key {key_id!r} is not valid base64") from None
            if len(key) != 32:
                raise KeyringError(f"PAGOFLEX_KEYRING key {key_id!r} must be 32 bytes (AES-256)")
            if key_id in keys:
                raise KeyringError(f"PAGOFLEX_KEYRING has key id {key_id!r} twice")
            keys[key_id] = key
            order.append(key_id)
        if not order:
            raise KeyringError("PAGOFLEX_KEYRING holds no key")
        return cls(keys=keys, current_key_id=order[0])

    @sensitive_variables()
    def encrypt(self, plaintext: bytes, associated_data: bytes) -> str:
        nonce = get_random_bytes(NONCE_BYTES)
        cipher = AES.new(self.keys[self.current_key_id], AES.MODE_GCM, nonce=nonce)
        cipher.update(associated_data)
        ciphertext, tag = cipher.encrypt_and_digest(plaintext)
        payload = base64.b64encode(nonce + ciphertext + tag).decode("ascii")
        return f"{FORMAT_VERSION}:{self.current_key_id}:{payload}"

    @sensitive_variables()
    def decrypt(self, stored: str, associated_data: bytes) -> bytes:
        version, key_id, payload = _split_stored(stored)
        if version != FORMAT_VERSION:
            raise DecryptionError(f"unknown ciphertext format {version!r}")
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(f"key {key_id!r} is not in PAGOFLEX_KEYRING")
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptionError("ciphertext is not valid base64") from None
        if len(raw) < NONCE_BYTES + 16:
            raise DecryptionError("ciphertext is truncated")
        nonce, body, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-16], raw[-16:]
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
        cipher.update(associated_data)
        try:
            return cipher.decrypt_and_verify(body, tag)
        except ValueError:
            raise DecryptionError("ciphertext failed authentication") from None

    def key_id_of(self, stored: str) -> str:
        return _split_stored(stored)[1]


def _split_stored(stored: str) -> tuple[str, str, str]:
    parts = (stored or "").split(":")
    if len(parts) != 3:
        raise DecryptionError("not a Pagoflex ciphertext")
    return parts[0], parts[1], parts[2]


_keyring_cache: dict[str, Keyring] = {}


def get_keyring() -> Keyring:
    """The keyring configured in settings (parsed once per distinct value)."""
    from django.conf import settings

    text = settings.PAGOFLEX_KEYRING
    if text not in _keyring_cache:
        _keyring_cache[text] = Keyring.parse(text)
    return _keyring_cache[text]


@sensitive_variables("value", "plaintext")
def encrypt_json(value: dict, associated_data: str) -> str:
    plaintext = json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return get_keyring().encrypt(plaintext, associated_data.encode("utf-8"))


def decrypt_json(stored: str, associated_data: str) -> dict:
    return json.loads(get_keyring().decrypt(stored, associated_data.encode("utf-8")))


def _row_associated_data(instance, field: str) -> str:
    # Binds a ciphertext to its model, row and field: copied to another row, it fails to decrypt.
    return f"{instance._meta.label}:{instance.public_id}:{field}"


@sensitive_variables("value")
def encrypt_for_row(instance, field: str, value: dict) -> str:
    """Encrypt a JSON value for one field of one row (the row's ``public_id`` is bound in)."""
    return encrypt_json(value, _row_associated_data(instance, field))


def decrypt_for_row(instance, field: str, stored: str) -> dict:
    return decrypt_json(stored, _row_associated_data(instance, field))


def hmac_sha256_hex(secret: str | bytes, message: str | bytes) -> str:
    secret_bytes = secret.encode("utf-8") if isinstance(secret, str) else secret
    message_bytes = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(secret_bytes, message_bytes, hashlib.sha256).hexdigest()


def hmac_sha256_base64(secret: str | bytes, message: str | bytes) -> str:
    secret_bytes = secret.encode("utf-8") if isinstance(secret, str) else secret
    message_bytes = message.encode("utf-8") if isinstance(message, str) else message
    return base64.b64encode(hmac.new(secret_bytes, message_bytes, hashlib.sha256).digest()).decode("ascii")


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode("utf-8") if isinstance(a, str) else a
    b_bytes = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)
