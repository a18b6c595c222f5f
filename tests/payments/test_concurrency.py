"""Money safety under concurrency (PostgreSQL): row locks, not luck, keep payments single."""

import threading

import pytest
from django.db import connection

from connectors.base import Card
from connectors.models import ConnectorCall
from payments import services
from payments.services.errors import PaymentError
from tests.helpers import APPROVED_CARD

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(count, func):
    barrier = threading.Barrier(count)
    results = []

    def worker():
        barrier.wait()
        try:
            results.append(func())
        except PaymentError as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_confirms_of_one_payment_make_one_connector_call(merchant, sandbox_account, sandbox):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks (SQLite serialises whole transactions)")
    payment = services.create_payment(merchant=merchant, mode="test", amount=1000, currency="EUR",
                                      capture_method="automatic")
    sandbox.app.faults.arm(count=1, delay=0.3)

    def confirm():
        return services.confirm_payment(payment_pk=payment.pk, payment_method_type="card",
                                        card=Card(APPROVED_CARD, 12, 2034, "123"))

    results = run_concurrently(6, confirm)
    refused = [r for r in results if isinstance(r, PaymentError)]
    assert len(refused) == 5 and all(r.code == "payment_unexpected_state" for r in refused)
    assert ConnectorCall.objects.filter(flow="authorize").count() == 1
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.attempts.count() == 1


def test_concurrent_captures_never_exceed_the_authorization(merchant, sandbox_account):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks")
    payment = services.create_payment(merchant=merchant, mode="test", amount=1000, currency="EUR",
                                      capture_method="manual")
    services.confirm_payment(payment_pk=payment.pk, payment_method_type="card",
                             card=Card(APPROVED_CARD, 12, 2034, "123"))
    results = run_concurrently(10, lambda: services.capture_payment(payment_pk=payment.pk, amount=300))
    payment.refresh_from_db()
    assert payment.amount_captured == 900 and payment.amount_capturing == 0
    assert sum(1 for r in results if not isinstance(r, PaymentError)) == 3


def test_concurrent_refunds_never_exceed_what_was_captured(merchant, sandbox_account):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks")
    payment = services.create_payment(merchant=merchant, mode="test", amount=1000, currency="EUR",
                                      capture_method="automatic")
    services.confirm_payment(payment_pk=payment.pk, payment_method_type="card",
                             card=Card(APPROVED_CARD, 12, 2034, "123"))
    results = run_concurrently(10, lambda: services.create_refund(payment_pk=payment.pk, amount=400))
    payment.refresh_from_db()
    assert payment.amount_refunded == 800
    assert sum(1 for r in results if not isinstance(r, PaymentError)) == 2
