"""Twenty captures or refunds of one payment at once, from threads and from two gunicorn worker
processes: the row lock and the reservation keep every total within what the bank allowed."""

import pytest
import requests

from connectors.base import Card
from connectors.models import ConnectorCall
from payments import services
from payments.models import PaymentOperation, Refund
from payments.services.errors import PaymentError
from tests.faults.conftest import needs_postgres, run_together
from tests.helpers import APPROVED_CARD, payment_body

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT = 20


def authorized_payment(merchant, *, amount, capture_method):
    payment = services.create_payment(merchant=merchant, mode="test", amount=amount, currency="EUR",
                                      capture_method=capture_method)
    return services.confirm_payment(payment_pk=payment.pk, payment_method_type="card",
                                    card=Card(APPROVED_CARD, 12, 2034, "123"))


def bank_charge(sandbox, payment):
    reference = payment.attempts.get().connector_reference
    return sandbox.app.charges[reference]


def test_twenty_concurrent_captures_never_exceed_the_authorized_amount(merchant, sandbox_account, sandbox):
    needs_postgres()
    payment = authorized_payment(merchant, amount=1000, capture_method="manual")
    assert payment.status == "requires_capture"

    results = run_together(CONCURRENT, lambda _: services.capture_payment(payment_pk=payment.pk, amount=70))

    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, PaymentError)]
    assert not unexpected, unexpected
    captured = [r for r in results if isinstance(r, PaymentOperation)]
    refused = [r for r in results if isinstance(r, PaymentError)]
    assert len(captured) == 14 and all(r.code == "amount_too_large" for r in refused)
    payment.refresh_from_db()
    assert payment.amount_captured == 14 * 70 <= payment.amount_authorized
    assert payment.amount_capturing == 0
    assert bank_charge(sandbox, payment)["amount_captured"] == payment.amount_captured
    assert ConnectorCall.objects.filter(flow="capture").count() == 14


def test_twenty_concurrent_refunds_never_exceed_the_captured_amount(merchant, sandbox_account, sandbox):
    needs_postgres()
    payment = authorized_payment(merchant, amount=1000, capture_method="automatic")
    assert payment.status == "succeeded"

    results = run_together(CONCURRENT, lambda _: services.create_refund(payment_pk=payment.pk, amount=70))

    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, PaymentError)]
    assert not unexpected, unexpected
    assert sum(1 for r in results if isinstance(r, Refund)) == 14
    payment.refresh_from_db()
    assert payment.amount_refunded == 14 * 70 <= payment.amount_captured
    assert Refund.objects.filter(payment=payment, status="succeeded").count() == 14
    assert bank_charge(sandbox, payment)["amount_refunded"] == payment.amount_refunded


def test_captures_from_two_gunicorn_workers_never_exceed_the_authorization(gunicorn_server, merchant_and_key,
                                                                           sandbox_account, sandbox):
    needs_postgres()
    _, raw_key = merchant_and_key
    headers = {"Authorization": f"Bearer {raw_key}"}
    url = gunicorn_server.base_url
    created = requests.post(f"{url}/v1/payments", json=payment_body(1000, capture_method="manual"), headers=headers,
                            timeout=30)
    assert created.status_code == 201, created.text
    payment_id = created.json()["id"]

    def capture(index):
        return requests.post(f"{url}/v1/payments/{payment_id}/capture", json={"amount": 70},
                             headers={**headers, "Idempotency-Key": f"capture-{index}"}, timeout=60)

    answers = run_together(CONCURRENT, capture)

    assert all(isinstance(a, requests.Response) for a in answers), answers
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 14 + [400] * 6, [a.text for a in answers if a.status_code not in (200, 400)]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 400} == {"amount_too_large"}
    payment = PaymentOperation.objects.get(public_id=payment_id)
    assert payment.amount_captured == 980 and payment.amount_capturing == 0
    assert bank_charge(sandbox, payment)["amount_captured"] == 980
    assert len(set(gunicorn_server.children())) == 2


def test_ten_cancels_from_two_gunicorn_workers_send_one_void(gunicorn_server, merchant_and_key, sandbox_account,
                                                              sandbox):
    # Issue 15, input 9: a void in flight is reserved (cancelling), so the bank is asked once.
    needs_postgres()
    _, raw_key = merchant_and_key
    headers = {"Authorization": f"Bearer {raw_key}"}
    url = gunicorn_server.base_url
    created = requests.post(f"{url}/v1/payments", json=payment_body(3000, capture_method="manual"), headers=headers,
                            timeout=30)
    assert created.status_code == 201, created.text
    payment_id = created.json()["id"]
    sandbox.app.faults.arm(delay=0.5)  # a slow void: the other cancels arrive while it is out

    answers = run_together(10, lambda _: requests.post(f"{url}/v1/payments/{payment_id}/cancel", json={},
                                                       headers=headers, timeout=60))

    assert all(isinstance(a, requests.Response) for a in answers), answers
    assert sorted(a.status_code for a in answers) == [200] + [409] * 9, [a.text for a in answers]
    assert ConnectorCall.objects.filter(payment__public_id=payment_id, flow="void").count() == 1
    payment = PaymentOperation.objects.get(public_id=payment_id)
    assert (payment.status, payment.cancelling, payment.amount_capturable) == ("cancelled", False, 0)
    assert bank_charge(sandbox, payment)["status"] == "voided"
