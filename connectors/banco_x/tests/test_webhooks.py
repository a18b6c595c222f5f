import hashlib
import hmac
import json
import time

import pytest

from connectors.banco_x.adapter import BancoXConnector
from connectors.banco_x.signature import webhook_signature_header
from connectors.base import Flow
from connectors.errors import ConnectorBadRequest
from payments.statuses import AttemptStatus

from .conftest import ACCOUNT_ID, CREDENTIALS, WEBHOOK_SECRET


def _authorize(connector, make_payment, amount=1050):
    data = make_payment(amount)
    return data, connector.call(Flow.AUTHORIZE, data)


def _signed(body: bytes, timestamp: int, secret: str = WEBHOOK_SECRET) -> dict:
    return {"x-bancox-signature": webhook_signature_header(secret, body, timestamp)}


def test_success_webhook_arrives_verifies_and_parses_to_charged(connector, sim, receiver, make_payment):
    data, result = _authorize(connector, make_payment, 1050)

    deliveries = sim.wait_for_deliveries(1)

    assert deliveries[0].status_code == 200
    [(headers, body, verified)] = receiver.received
    assert verified
    event = connector.parse_webhook(headers=headers, body=body)
    assert (event.event_type, event.status, event.raw_status) == (
        "payment.succeeded",
        AttemptStatus.CHARGED,
        "succeeded",
    )
    assert (event.connector_reference, event.attempt_reference) == (result.connector_reference, data.attempt_reference)
    assert (event.amount, event.currency, event.is_refund) == (1050, "EUR", False)
    assert event.event_id == deliveries[0].event_id


def test_webhook_signature_is_hmac_of_timestamp_and_raw_body(connector, sim, receiver, make_payment):
    _authorize(connector, make_payment)
    sim.wait_for_deliveries(1)

    headers, body, _ = receiver.received[0]
    fields = dict(part.split("=", 1) for part in headers["x-bancox-signature"].split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert fields["v1"] == expected
    assert abs(int(fields["t"]) - time.time()) < 5


def test_amount_ending_in_13_fails_by_webhook_with_insufficient_funds(connector, sim, receiver, make_payment):
    _, result = _authorize(connector, make_payment, 2013)
    assert result.status == AttemptStatus.PENDING

    sim.wait_for_deliveries(1)

    [event] = receiver.parsed()
    assert (event.event_type, event.status) == ("payment.failed", AttemptStatus.FAILURE)
    assert (event.code, event.message) == ("insufficient_funds", "Fondos insuficientes")


def test_duplicate_delivery_carries_the_same_event_id_and_body(connector, sim, receiver, make_payment):
    sim.arm_webhook(twice=True)
    _authorize(connector, make_payment)

    first, second = sim.wait_for_deliveries(2)

    assert first.event_id == second.event_id
    assert receiver.received[0][1] == receiver.received[1][1]
    assert all(verified for _, _, verified in receiver.received)


def test_bad_signature_is_rejected_by_the_receiver(connector, sim, receiver, make_payment):
    sim.arm_webhook(bad_signature=True)
    _authorize(connector, make_payment)

    [delivery] = sim.wait_for_deliveries(1)

    assert delivery.status_code == 401
    assert receiver.received[0][2] is False


def test_stale_signature_from_the_simulator_is_rejected(connector, sim, receiver, make_payment):
    sim.arm_webhook(stale_signature=True)
    _authorize(connector, make_payment)

    [delivery] = sim.wait_for_deliveries(1)

    assert delivery.status_code == 401


@pytest.mark.parametrize(
    ("age", "accepted"), [(0, True), (299, True), (300, True), (301, False), (-300, True), (-301, False)]
)
def test_signature_is_accepted_only_within_five_minutes(connector, age, accepted):
    # Received at a whole second, so each age is exact: with the clock read twice (signing, then
    # verifying) the ages were off by the time between, and 299 or -301 failed near a second's end.
    body, received_at = b'{"id":"evt_1"}', 1_764_460_800

    headers = _signed(body, received_at - age)
    assert connector.verify_webhook(headers=headers, body=body, received_at=received_at) is accepted


def test_signature_of_another_body_or_secret_is_rejected(connector):
    body, now = b'{"id":"evt_1","amount":100}', int(time.time())

    assert not connector.verify_webhook(headers=_signed(body, now), body=body.replace(b"100", b"900"))
    assert not connector.verify_webhook(headers=_signed(body, now, secret="another_webhook_secret"), body=body)


def test_any_matching_signature_is_accepted_during_a_secret_rotation(connector):
    body, now = b'{"id":"evt_1"}', int(time.time())
    old = _signed(body, now, secret="old_webhook_secret")["x-bancox-signature"]
    new_v1 = _signed(body, now)["x-bancox-signature"].split(",")[1]

    assert connector.verify_webhook(headers={"x-bancox-signature": f"{old},{new_v1}"}, body=body)


@pytest.mark.parametrize(
    "shape",
    [
        "v1={sig}",
        "t={t},t={t},v1={sig}",
        "t={t};v1={sig}",
        "t={t},v1=",
        "t={t}.0,v1={sig_float}",
        "{sig}",
        "t={t},v2={sig}",
    ],
)
def test_malformed_signature_header_is_rejected_even_with_the_right_hmac(connector, shape):
    body, now = b'{"id":"evt_1"}', int(time.time())
    sig = hmac.new(WEBHOOK_SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    sig_float = hmac.new(WEBHOOK_SECRET.encode(), f"{now}.0.".encode() + body, hashlib.sha256).hexdigest()
    header = shape.format(t=now, sig=sig, sig_float=sig_float)

    assert connector.verify_webhook(headers={"x-bancox-signature": header}, body=body) is False


def test_missing_signature_header_is_rejected(connector):
    assert connector.verify_webhook(headers={}, body=b'{"id":"evt_1"}') is False


def test_account_without_webhook_secret_verifies_nothing(bank_url):
    connector = BancoXConnector(credentials={**CREDENTIALS, "webhook_secret": ""}, base_url=bank_url)
    body = b"{}"

    assert connector.verify_webhook(headers=_signed(body, int(time.time()), secret=""), body=body) is False


def test_wrong_amount_webhook_reports_the_amount_the_bank_sent(connector, sim, receiver, make_payment):
    sim.arm_webhook(wrong_amount=True)
    _authorize(connector, make_payment, 1050)
    sim.wait_for_deliveries(1)

    [event] = receiver.parsed()

    assert receiver.received[0][2] is True  # correctly signed: only the amount betrays it
    assert event.status == AttemptStatus.CHARGED
    assert event.amount == 1150


def test_reordered_events_bring_the_earlier_processing_event_last(connector, sim, receiver, make_payment):
    sim.arm_webhook(reorder=True)
    _authorize(connector, make_payment)
    sim.wait_for_deliveries(2)

    final, late = receiver.parsed()
    bodies = [json.loads(body) for _, body, _ in receiver.received]

    assert (final.status, late.status) == (AttemptStatus.CHARGED, AttemptStatus.PENDING)
    assert late.event_type == "payment.processing" and late.event_id != final.event_id
    assert bodies[1]["created"] <= bodies[0]["created"]


def test_conflicting_second_event_contradicts_the_first(connector, sim, receiver, make_payment):
    sim.arm_webhook(conflicting=True)
    _authorize(connector, make_payment)
    sim.wait_for_deliveries(2)

    first, second = receiver.parsed()

    assert (first.status, second.status) == (AttemptStatus.CHARGED, AttemptStatus.FAILURE)
    assert first.connector_reference == second.connector_reference


def test_delay_switch_holds_the_webhook_back(connector, sim, make_payment):
    sim.arm_webhook(delay=0.4)
    started = time.monotonic()
    _authorize(connector, make_payment)

    sim.wait_for_deliveries(1)

    assert time.monotonic() - started >= 0.4


def test_account_id_comes_from_the_header_or_else_the_body(connector, sim, receiver, make_payment):
    _authorize(connector, make_payment)
    sim.wait_for_deliveries(1)
    headers, body, _ = receiver.received[0]

    assert headers["x-bancox-account"] == ACCOUNT_ID
    assert BancoXConnector.account_id_from_webhook(headers=headers, body=body) == ACCOUNT_ID
    assert BancoXConnector.account_id_from_webhook(headers={}, body=body) == ACCOUNT_ID
    assert BancoXConnector.account_id_from_webhook(headers={}, body=b'{"id":"evt_1"}') == ""
    assert BancoXConnector.account_id_from_webhook(headers={}, body=b"not json") == ""


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id":"evt_1","type":"payment.succeeded","status":"succeeded"}',
        b'{"id":"evt_1","type":"payment.succeeded","tx_id":"bx_1","status":"succeeded","amount":10.5,"currency":"EUR"}',
    ],
)
def test_body_that_is_not_a_banco_x_event_does_not_parse(connector, body):
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.parse_webhook(headers={}, body=body)

    assert caught.value.code == "invalid_webhook"


def test_event_with_a_status_pagoflex_does_not_know_parses_without_a_status(connector):
    body = b'{"id":"evt_1","type":"payment.disputed","tx_id":"bx_1","status":"disputed","amount":100,"currency":"EUR"}'

    event = connector.parse_webhook(headers={}, body=body)

    assert (event.status, event.raw_status, event.connector_reference) == (None, "disputed", "bx_1")
