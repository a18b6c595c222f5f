"""Issue 16, item 12: no money-moving service sends a zero (or negative, or fractional) amount
to the bank, whoever calls it: the API checks its input, but the admin's form let ``0`` and
``0.00`` through to a refund (tests/admin/test_payment_actions.py). Each service refuses it
itself, and nothing changes."""

from decimal import Decimal

import pytest

from connectors.models import ConnectorCall
from payments import services
from payments.models import PaymentEvent, PaymentOperation, Refund
from payments.services.errors import PaymentError
from tests.helpers import card, payment_body

BAD_AMOUNTS = [0, -1, -(10**12), True, Decimal("1.5"), 1.0]


def _state():
    return (PaymentOperation.objects.count(), Refund.objects.count(), ConnectorCall.objects.count(),
            PaymentEvent.objects.count(),
            sorted(PaymentOperation.objects.values_list("amount_captured", "amount_capturing", "amount_refunded")))


@pytest.fixture
def captured(api, sandbox_account):
    return api.post("/v1/payments", payment_body(2500), format="json").json()


@pytest.fixture
def authorized(api, sandbox_account):
    return api.post("/v1/payments", payment_body(2500, capture_method="manual"), format="json").json()


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=repr)
def test_every_money_moving_service_refuses_an_amount_below_one_minor_unit(merchant, sandbox_account, captured,
                                                                            authorized, amount):
    from connectors.base import Card

    number = card()
    calls = [
        lambda: services.create_refund(payment_pk=PaymentOperation.objects.get(public_id=captured["id"]).pk,
                                       amount=amount),
        lambda: services.capture_payment(payment_pk=PaymentOperation.objects.get(public_id=authorized["id"]).pk,
                                         amount=amount),
        lambda: services.create_payment(merchant=merchant, mode="test", amount=amount, currency="EUR",
                                        capture_method="automatic", payment_method_type="card",
                                        card=Card(number=number["number"], exp_month=12, exp_year=2034,
                                                  cvc=number["cvc"])),
    ]
    for call in calls:
        before = _state()
        with pytest.raises(PaymentError) as refused:
            call()
        assert refused.value.param == "amount" and refused.value.code == "amount_invalid"
        assert _state() == before
