import json

import pytest

from connectors.base import Flow
from connectors.errors import ConnectorBadRequest
from connectors.sandbox.tests.factories import MASTERCARD, VISA, card, payment
from payments.statuses import AttemptStatus

DECLINES = [
    ("4000000000000002", "insufficient_funds", False),
    ("4000000000009995", "card_not_supported", False),
    ("4000000000000069", "expired_card", False),
    ("4000000000000127", "incorrect_cvc", False),
    ("4000000000000119", "processing_error", True),
]


@pytest.mark.parametrize("number", [VISA, MASTERCARD])
def test_approving_cards_are_charged_at_once_with_automatic_capture(connector, number):
    result = connector.call(Flow.AUTHORIZE, payment(number))

    assert result.status == AttemptStatus.CHARGED
    assert result.connector_reference.startswith("ch_")
    assert (result.amount, result.currency, result.amount_captured) == (1050, "EUR", 1050)


def test_manual_capture_leaves_the_charge_authorized(connector):
    result = connector.call(Flow.AUTHORIZE, payment(manual=True))

    assert result.status == AttemptStatus.AUTHORIZED
    assert result.amount_captured == 0


@pytest.mark.parametrize(("number", "code", "soft"), DECLINES)
def test_decline_cards_fail_with_their_decline_code(connector, number, code, soft):
    result = connector.call(Flow.AUTHORIZE, payment(number))

    assert result.status == AttemptStatus.FAILURE
    assert result.code == code
    assert result.message
    assert result.retryable_elsewhere is soft
    assert result.connector_reference.startswith("ch_")


def test_card_with_an_expiry_in_the_past_is_declined_expired(connector):
    result = connector.call(Flow.AUTHORIZE, payment(card=card(VISA, exp_month=1, exp_year=2020)))

    assert (result.status, result.code) == (AttemptStatus.FAILURE, "expired_card")


def test_pending_card_answers_pending(connector):
    result = connector.call(Flow.AUTHORIZE, payment("4000000000000259"))

    assert result.status == AttemptStatus.PENDING
    assert result.next_action is None


def test_three_ds_card_asks_for_a_redirect_to_the_bank_page(connector, bank):
    result = connector.call(Flow.AUTHORIZE, payment("4000000000003220", return_url="https://shop.test/back"))

    assert result.status == AttemptStatus.AUTHENTICATION_PENDING
    assert result.next_action.type == "redirect_to_url"
    assert result.next_action.url == f"{bank.base_url}/3ds/{result.connector_reference}"


def test_three_ds_requested_by_the_payment_challenges_an_approving_card(connector):
    result = connector.call(Flow.AUTHORIZE, payment(VISA, three_ds=True))

    assert result.status == AttemptStatus.AUTHENTICATION_PENDING


@pytest.mark.parametrize(("currency", "amount"), [("JPY", 1500), ("KWD", 1234), ("EUR", 1)])
def test_amounts_travel_as_minor_unit_integers(connector, sim, currency, amount):
    result = connector.call(Flow.AUTHORIZE, payment(amount=amount, currency=currency))

    sent = json.loads(connector.calls[-1].request_body)
    assert sent["amount"] == amount and isinstance(sent["amount"], int)
    assert sim.charges[result.connector_reference]["amount"] == amount
    assert (result.amount, result.currency) == (amount, currency)


def test_luhn_invalid_number_is_refused_with_the_field(connector):
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.call(Flow.AUTHORIZE, payment(card=card("4242424242424241")))

    assert caught.value.connector_code == "invalid_number"
    assert caught.value.status_code == 400
    assert "card.number" in caught.value.message


def test_missing_card_field_is_refused_with_the_field(connector):
    data = payment()
    request = connector.build_request(Flow.AUTHORIZE, data)
    body = json.loads(request.body)
    del body["card"]["exp_month"]
    request.body = json.dumps(body).encode()

    response = connector.execute_request(request, Flow.AUTHORIZE)
    with pytest.raises(ConnectorBadRequest) as caught:
        connector.handle_response(Flow.AUTHORIZE, data, response)

    assert caught.value.connector_code == "parameter_missing"
    assert "card.exp_month" in caught.value.message


def test_repeating_an_attempt_reference_returns_the_same_charge(connector, sim):
    data = payment()
    first = connector.call(Flow.AUTHORIZE, data)
    second = connector.call(Flow.AUTHORIZE, data)

    assert second.connector_reference == first.connector_reference
    assert len(sim.charges) == 1


def test_a_payment_without_card_details_is_refused_before_anything_is_sent(connector):
    data = payment(card=None, payment_method_type="upi")

    with pytest.raises(ConnectorBadRequest):
        connector.call(Flow.AUTHORIZE, data)
    assert connector.calls == []
