"""The end-of-suite secrets scan (tests/security/plugin.py) catches what it must: a test card
number, a CVV value or a connector secret written to the database or logged, from any thread."""

import logging
import threading

import pytest

from conftest import SANDBOX_API_KEY
from payments.models import PaymentOperation
from tests.helpers import APPROVED_CARD
from tests.security.plugin import expected_findings, scan

logger = logging.getLogger("pagoflex.test")


def test_a_logged_card_number_is_found(db):
    with expected_findings() as found:
        logger.warning("charging card %s", APPROVED_CARD)
    assert len(found) == 1 and "card number" in found[0] and "4242" in found[0]
    assert APPROVED_CARD not in found[0]  # the report itself shows only the last four


def test_a_logged_cvv_field_is_found(db):
    with expected_findings() as found:
        logger.info('request body {"card": {"cvc": "737"}}')
    assert len(found) == 1 and "CVV value" in found[0]


def test_a_card_number_written_to_the_database_is_found_even_if_rolled_back(merchant):
    with expected_findings() as found:
        PaymentOperation.objects.create(merchant=merchant, amount=100, currency="EUR", status="requires_payment_method",
                                        description=f"card {APPROVED_CARD}")
    assert len(found) == 1 and "payments_paymentoperation" in found[0]


@pytest.mark.django_db(transaction=True)
def test_a_connector_secret_written_from_another_thread_is_found(merchant, sandbox_account):
    assert SANDBOX_API_KEY in scan().secrets  # learnt when the account's credentials were set

    def leak():
        from django.db import connection

        PaymentOperation.objects.create(merchant=merchant, amount=100, currency="EUR",
                                        status="requires_payment_method", metadata={"key": SANDBOX_API_KEY})
        connection.close()

    with expected_findings() as found:
        thread = threading.Thread(target=leak)
        thread.start()
        thread.join(10)
    assert len(found) == 1 and "connector secret" in found[0]


def test_masked_values_and_last_four_digits_are_not_findings(db):
    with expected_findings() as found:
        logger.info('card ************4242 {"cvc": "********"} key sbx_…6789')
    assert found == []
