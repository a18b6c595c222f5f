"""Paytm's checksum, checked against the published formula computed step by step here."""

import base64
import hashlib

import pytest
from Crypto.Cipher import AES

from connectors.paytm.signature import (
    SALT_ALPHABET,
    SignatureKeyError,
    form_signing_string,
    generate_form_checksum,
    generate_signature,
    raw_json_member,
    verify_form_checksum,
    verify_signature,
)

PUBLISHED_IV = b"@@@@&&&&####$$$$"
KEYS = {16: "kbzk1DSbJiV_O3p5", 24: "Q2w3E4r5T6y7U8i9O0p1A2s3", 32: "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd"}


def expected_signature(message: str, key: str, salt: str) -> str:
    """The published recipe, independently: SHA-256 hex of message|salt, plus salt, AES-CBC, base64."""
    hashed = hashlib.sha256((message + "|" + salt).encode("utf-8")).hexdigest() + salt
    plain = hashed.encode("ascii")
    padding = 16 - len(plain) % 16
    plain += bytes([padding]) * padding
    cipher = AES.new(key.encode("ascii"), AES.MODE_CBC, iv=PUBLISHED_IV)
    return base64.b64encode(cipher.encrypt(plain)).decode("ascii")


@pytest.mark.parametrize("length", [16, 24, 32])
def test_signature_with_fixed_salt_matches_the_published_formula_for_each_key_length(length):
    body = '{"mid":"PAGOFL77690893XX","orderId":"att_1","txnAmount":{"value":"10.50","currency":"INR"}}'
    assert generate_signature(body, KEYS[length], salt="aB3x") == expected_signature(body, KEYS[length], "aB3x")


@pytest.mark.parametrize("length", [16, 24, 32])
def test_key_length_selects_the_aes_variant_so_other_keys_cannot_read_the_signature(length):
    signature = generate_signature("{}", KEYS[length], salt="Zz09")
    assert verify_signature("{}", KEYS[length], signature)
    for other_length, other_key in KEYS.items():
        if other_length != length:
            assert not verify_signature("{}", other_key, signature)


def test_non_ascii_body_is_hashed_as_utf8_text():
    body = '{"firstName":"Renée राज","note":"₹ 10.50 — धन्यवाद"}'
    signature = generate_signature(body, KEYS[32], salt="q1W2")
    assert signature == expected_signature(body, KEYS[32], "q1W2")
    assert verify_signature(body, KEYS[32], signature)
    assert not verify_signature(body.replace("राज", "राम"), KEYS[32], signature)


def test_decrypted_signature_is_sha256_hex_followed_by_the_salt():
    signature = generate_signature("hello", KEYS[16], salt="s4Lt")
    raw = AES.new(KEYS[16].encode(), AES.MODE_CBC, iv=PUBLISHED_IV).decrypt(base64.b64decode(signature))
    text = raw[: -raw[-1]].decode("ascii")
    assert text == hashlib.sha256(b"hello|s4Lt").hexdigest() + "s4Lt"
    assert len(signature) == 108  # Paytm documents signature as string(108)


def test_random_salts_differ_and_still_verify():
    signatures = {generate_signature("same body", KEYS[16]) for _ in range(5)}
    assert len(signatures) == 5
    assert all(verify_signature("same body", KEYS[16], s) for s in signatures)


def test_salt_outside_the_alphabet_is_refused():
    assert set(SALT_ALPHABET) == set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    with pytest.raises(ValueError):
        generate_signature("x", KEYS[16], salt="ab+/")


def test_key_of_another_length_is_refused():
    with pytest.raises(SignatureKeyError):
        generate_signature("x", "short-key")


@pytest.mark.parametrize(
    "signature", ["", "not base64!", base64.b64encode(b"0123456789").decode(), base64.b64encode(bytes(32)).decode()]
)
def test_malformed_signatures_do_not_verify(signature):
    assert not verify_signature("{}", KEYS[16], signature)


def test_form_signing_string_orders_by_name_skips_checksum_and_blanks_null():
    fields = {
        "TXNID": "T1",
        "BANKNAME": "null",
        "MID": "M1",
        "CHECKSUMHASH": "ignored",
        "BANKTXNID": None,
        "ORDERID": "att_1",
    }
    assert form_signing_string(fields) == "||M1|att_1|T1"


def test_form_checksum_matches_the_published_formula_and_detects_a_changed_field():
    fields = {"ORDERID": "att_1", "MID": "M1", "STATUS": "TXN_SUCCESS", "TXNAMOUNT": "10.50", "RESPMSG": "Txn Success"}
    checksum = generate_form_checksum(fields, KEYS[24], salt="F0rm")
    assert checksum == expected_signature("M1|att_1|Txn Success|TXN_SUCCESS|10.50", KEYS[24], "F0rm")
    assert verify_form_checksum({**fields, "CHECKSUMHASH": checksum}, KEYS[24])
    assert not verify_form_checksum({**fields, "TXNAMOUNT": "1050.00", "CHECKSUMHASH": checksum}, KEYS[24])
    assert not verify_form_checksum(fields, KEYS[24])  # no CHECKSUMHASH at all


def test_raw_json_member_returns_the_exact_text_that_was_signed():
    text = '{ "head" : {"signature":"x"} , "body" : {"b":1.50, "a":"\\u20b9", "n":[1, 2]} }'
    assert raw_json_member(text, "body") == '{"b":1.50, "a":"\\u20b9", "n":[1, 2]}'
    assert raw_json_member(text, "missing") is None
    assert raw_json_member('{"body":{},"body":{}}', "body") is None
    assert raw_json_member("[1]", "body") is None
