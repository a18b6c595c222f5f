import base64

import pytest
from django.core.management import call_command
from django.db import connection

from connectors.crypto import DecryptionError, Keyring, KeyringError


def _key(fill: bytes) -> str:
    return base64.b64encode(fill * 32).decode()


def test_ciphertext_carries_version_and_key_id_and_round_trips():
    keyring = Keyring.parse(f"k1:{_key(b'a')}")
    stored = keyring.encrypt(b"secret", b"row-1")
    assert stored.startswith("v1:k1:")
    assert b"secret" not in base64.b64decode(stored.split(":")[2])
    assert keyring.decrypt(stored, b"row-1") == b"secret"


def test_each_encryption_uses_a_fresh_nonce():
    keyring = Keyring.parse(f"k1:{_key(b'a')}")
    assert keyring.encrypt(b"same", b"ad") != keyring.encrypt(b"same", b"ad")


def test_ciphertext_bound_to_another_row_fails_to_decrypt():
    keyring = Keyring.parse(f"k1:{_key(b'a')}")
    stored = keyring.encrypt(b"secret", b"row-1")
    with pytest.raises(DecryptionError):
        keyring.decrypt(stored, b"row-2")


def test_tampered_ciphertext_fails_to_decrypt():
    keyring = Keyring.parse(f"k1:{_key(b'a')}")
    version, key_id, payload = keyring.encrypt(b"secret", b"ad").split(":")
    raw = bytearray(base64.b64decode(payload))
    raw[15] ^= 1
    with pytest.raises(DecryptionError):
        keyring.decrypt(f"{version}:{key_id}:{base64.b64encode(bytes(raw)).decode()}", b"ad")


def test_first_key_encrypts_and_every_key_decrypts():
    old = Keyring.parse(f"old:{_key(b'o')}")
    stored_old = old.encrypt(b"x", b"ad")
    rotated = Keyring.parse(f"new:{_key(b'n')},old:{_key(b'o')}")
    assert rotated.decrypt(stored_old, b"ad") == b"x"
    assert rotated.encrypt(b"x", b"ad").startswith("v1:new:")


@pytest.mark.parametrize("text", ["", "nokey", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}",
                                  f"k1:{_key(b'a')},k1:{_key(b'b')}"])
def test_malformed_keyring_is_refused(text):
    with pytest.raises(KeyringError):
        Keyring.parse(text)


def test_raw_credentials_column_never_holds_a_credential_in_clear(merchant, make_account):
    account = make_account(merchant, credentials={"api_key": "sk_sandbox_VERYSECRET", "webhook_secret": "whsec_ZZZ999"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials_encrypted FROM connectors_connectoraccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("v1:")
    assert "VERYSECRET" not in raw and "ZZZ999" not in raw
    assert account.get_credentials()["api_key"] == "sk_sandbox_VERYSECRET"


def test_credentials_copied_to_another_account_row_do_not_decrypt(merchant, make_account):
    first = make_account(merchant, credentials={"api_key": "k1"})
    second = make_account(merchant, credentials={"api_key": "k2"})
    second.credentials_encrypted = first.credentials_encrypted
    with pytest.raises(DecryptionError):
        second.get_credentials()


def test_rotation_command_reencrypts_every_account_under_the_new_key(merchant, make_account, settings):
    old_ring = f"old:{_key(b'o')}"
    settings.PAGOFLEX_KEYRING = old_ring
    account = make_account(merchant, credentials={"api_key": "rotate-me"})
    assert account.credentials_encrypted.startswith("v1:old:")
    settings.PAGOFLEX_KEYRING = f"new:{_key(b'n')},{old_ring}"
    call_command("rotate_credentials_key", stdout=open("/dev/null", "w"))
    account.refresh_from_db()
    assert account.credentials_encrypted.startswith("v1:new:")
    settings.PAGOFLEX_KEYRING = f"new:{_key(b'n')}"  # the old key can now be dropped
    assert account.get_credentials() == {"api_key": "rotate-me"}
