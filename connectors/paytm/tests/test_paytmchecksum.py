"""Paytm's own checksum library (``paytmchecksum`` 1.7.0, pinned) is the reference for signatures,
both ways: what Pagoflex and the simulator sign verifies with it, and what it signs verifies in
Pagoflex and is accepted by the simulator."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import requests

paytmchecksum = pytest.importorskip("paytmchecksum", reason="paytmchecksum is pinned in requirements.txt")

from connectors.base import Flow  # noqa: E402
from connectors.paytm.signature import (  # noqa: E402
    generate_form_checksum,
    generate_signature,
    raw_json_member,
    verify_form_checksum,
    verify_signature,
)
from connectors.paytm.simulator import PaytmSimulator  # noqa: E402

from .conftest import KEY, MID, authorize, control, payment, refund_data  # noqa: E402

KEYS = {16: KEY, 24: "Q2w3E4r5T6y7U8i9O0p1A2s3", 32: "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd"}


def signed_parts(text: str) -> tuple[str, str]:
    """(the exact body text, head.signature) of a Paytm JSON envelope."""
    return raw_json_member(text, "body"), json.loads(text)["head"].get("signature", "")


def test_every_request_pagoflex_signs_verifies_with_paytmchecksum(connector, sim):
    # The call log masks signatures, so each request is checked as the adapter builds it.
    def verified(flow, data):
        body, signature = signed_parts(connector.build_request(flow, data).body.decode())
        assert paytmchecksum.verifySignature(body, KEY, signature), flow
        return connector.call(flow, data)

    data = payment("collect", vpa="success@paytm")
    verified(Flow.SESSION_TOKEN, data)
    authorize(connector, data)
    data.connector_reference = verified(Flow.PSYNC, data).connector_reference
    refund = refund_data(data, 500)
    assert verified(Flow.REFUND, refund).status == "pending"
    assert verified(Flow.RSYNC, refund).status == "succeeded"


def test_every_answer_the_simulator_signs_verifies_with_paytmchecksum(connector, sim):
    # The call log masks signatures, so the adapter's own requests are sent here as they are.
    def answer_to(flow, data) -> str:
        request = connector.build_request(flow, data)
        return requests.post(request.url, data=request.body, headers=request.headers, timeout=5).text

    data = payment("collect", vpa="success@paytm")
    initiated = answer_to(Flow.SESSION_TOKEN, data)
    authorize(connector, data)
    for text in (initiated, answer_to(Flow.PSYNC, data)):
        body, signature = signed_parts(text)
        assert signature and paytmchecksum.verifySignature(body, KEY, signature)
        assert not paytmchecksum.verifySignature(body + " ", KEY, signature)


@pytest.mark.parametrize("length", [16, 24, 32])
def test_signatures_made_by_paytmchecksum_verify_in_pagoflex(length):
    body = '{"mid":"PAGOFL77690893XX","orderId":"att_1","txnAmount":{"value":"10.50","currency":"INR"}}'
    signature = paytmchecksum.generateSignature(body, KEYS[length])
    assert verify_signature(body, KEYS[length], signature)
    assert not verify_signature(body.replace("10.50", "105.0"), KEYS[length], signature)


@pytest.mark.parametrize("length", [16, 24, 32])
def test_pagoflex_signatures_verify_in_paytmchecksum_for_each_key_length(length):
    body = '{"mid":"PAGOFL77690893XX","orderId":"att_2","refId":"re_1"}'
    assert paytmchecksum.verifySignature(body, KEYS[length], generate_signature(body, KEYS[length]))


def test_the_simulator_accepts_a_request_signed_by_paytmchecksum_and_refuses_a_forged_one(sim):
    body = json.dumps({"mid": MID, "orderId": "PAGOFLEX-UNKNOWN-ORDER"}, separators=(",", ":"))

    def status(signature: str) -> dict:
        text = '{"head":{"signature":"' + signature + '"},"body":' + body + "}"
        return requests.post(f"{sim.base_url}/v3/order/status", data=text, timeout=5).json()["body"]["resultInfo"]

    assert status(paytmchecksum.generateSignature(body, KEY))["resultCode"] == "334"  # signature taken
    assert status(paytmchecksum.generateSignature(body, KEY[::-1]))["resultCode"] == "330"  # checksum mismatch


def test_form_checksums_agree_both_ways_with_paytmchecksum(connector, sim):
    data = payment("intent")
    authorize(connector, data)
    fields = control(sim, f"orders/{data.attempt_reference}/pay")["callback"]["fields"]
    checksum = fields["CHECKSUMHASH"]
    # The library deletes CHECKSUMHASH from the dict it is given: hand it a copy.
    assert paytmchecksum.verifySignature(dict(fields), KEY, checksum)
    unsigned = {name: value for name, value in fields.items() if name != "CHECKSUMHASH"}
    theirs = paytmchecksum.generateSignature(dict(unsigned), KEY)
    assert verify_form_checksum({**unsigned, "CHECKSUMHASH": theirs}, KEY)
    assert connector.verify_webhook(headers={}, body=_form_bytes({**unsigned, "CHECKSUMHASH": theirs}))
    assert paytmchecksum.verifySignature(dict(unsigned), KEY, generate_form_checksum(unsigned, KEY))


def test_simulator_answers_for_another_merchant_key_do_not_verify():
    other = PaytmSimulator({MID: KEYS[24]})
    answer = other._answer({"resultInfo": {"resultStatus": "S", "resultCode": "0000", "resultMsg": "ok"}}, MID)
    body, signature = signed_parts(answer.body.decode())
    assert paytmchecksum.verifySignature(body, KEYS[24], signature)
    assert not verify_signature(body, KEY, signature)


def _form_bytes(fields: dict) -> bytes:
    return urlencode(fields).encode()
