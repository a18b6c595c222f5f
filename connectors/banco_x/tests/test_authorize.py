import hashlib
import hmac
import json

import pytest

from connectors.banco_x.adapter import BancoXConnector
from connectors.base import Card, Flow
from connectors.errors import ConnectorBadRequest, IntegrityMismatch
from connectors.masking import mask_card_number
from connectors.testing.json_values import json_leaves
from payments.statuses import AttemptStatus

from .conftest import API_KEY, SECRET, bank_requests


def test_accepted_payment_is_pending_with_the_banks_id(connector, sim, make_payment):
    data = make_payment(1050, "EUR")

    result = connector.call(Flow.AUTHORIZE, data)

    assert result.status == AttemptStatus.PENDING
    assert result.connector_reference in sim.payments
    assert (result.amount, result.currency, result.raw_status) == (1050, "EUR", "OK")
    stored = sim.payments[result.connector_reference]
    assert (stored.ref, stored.callback_url, stored.amount) == (data.attempt_reference, data.webhook_url, 1050)


def test_pay_body_is_minor_units_with_our_reference_and_callback(connector, sim, make_payment):
    data = make_payment(1000, "CLP")

    connector.call(Flow.AUTHORIZE, data)

    body = json.loads(bank_requests(sim, "/pay", "POST")[-1].body)
    assert body == {"amount": 1000, "currency": "CLP", "ref": data.attempt_reference, "callback_url": data.webhook_url}


def test_request_is_signed_with_the_secret_over_timestamp_method_path_and_body(connector, sim, make_payment):
    connector.call(Flow.AUTHORIZE, make_payment())

    seen = bank_requests(sim, "/pay", "POST")[-1]
    scheme, _, params = seen.header("authorization").partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(","))
    message = f"{fields['t']}\nPOST\n/pay\n".encode() + seen.body
    assert scheme == "BancoX-HMAC-SHA256"
    assert fields["key"] == API_KEY
    assert fields["sig"] == hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def test_card_data_is_neither_sent_nor_logged(connector, sim, make_payment):
    data = make_payment(card=Card(number="4111111111111111", exp_month=12, exp_year=2030, cvc="737"))

    connector.call(Flow.AUTHORIZE, data)

    assert b"4111111111111111" not in bank_requests(sim, "/pay", "POST")[-1].body
    record = connector.calls[-1]
    assert record.request_headers["Authorization"] == "********"
    assert "4111111111111111" not in record.request_body
    # Value by value, not as a substring of the whole body: the callback URL's port is an
    # ephemeral one, and 1 in 500 of those holds the CVC's digits.
    logged = [str(value) for value in json_leaves(json.loads(record.request_body))]
    masked_card = mask_card_number("4111111111111111")  # how the call log would show it
    assert "737" not in logged
    assert not any("4111111111111111" in value or masked_card in value for value in logged)


def test_refusal_at_once_fails_with_the_banks_code_and_message(connector, make_payment):
    result = connector.call(Flow.AUTHORIZE, make_payment(2066))

    assert result.status == AttemptStatus.FAILURE
    assert result.code == "risk_rejected"
    assert result.message == "Operación rechazada por riesgo"
    assert result.raw_status == "REJECTED"
    assert result.connector_reference.startswith("bx_")


def test_forced_rejection_overrides_the_amount_rule(connector, sim, make_payment):
    sim.set_outcome("rejected", code="limit_exceeded", message="Límite superado")

    result = connector.call(Flow.AUTHORIZE, make_payment(1000))

    assert (result.status, result.code, result.message) == (AttemptStatus.FAILURE, "limit_exceeded", "Límite superado")


def test_same_reference_twice_answers_the_first_payment(connector, sim, make_payment):
    data = make_payment(1200)

    first = connector.call(Flow.AUTHORIZE, data)
    second = connector.call(Flow.AUTHORIZE, data)

    assert second.connector_reference == first.connector_reference
    assert len(sim.payments) == 1


def test_same_reference_with_another_amount_is_refused(connector, make_payment):
    data = make_payment(1200)
    connector.call(Flow.AUTHORIZE, data)
    data.amount = 1300

    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.AUTHORIZE, data)

    assert (caught.value.status_code, caught.value.connector_code) == (409, "duplicate_ref")


def test_currency_banco_x_does_not_take_is_refused_by_the_bank(connector, make_payment):
    assert not BancoXConnector.supports_currency("JPY")
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.AUTHORIZE, make_payment(500, "JPY"))

    assert caught.value.connector_code == "currency_not_supported"


def test_answer_reporting_another_amount_is_an_integrity_mismatch(connector, sim, make_payment):
    sim.faults.arm(wrong_amount=True)

    with pytest.raises(IntegrityMismatch) as caught:
        connector.call(Flow.AUTHORIZE, make_payment(1050))

    assert caught.value.mismatches == {"amount": (1050, 1150)}
