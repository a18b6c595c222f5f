"""Merchant events are written in the same transaction as the change that causes them."""

import pytest
import requests
from django.db import transaction

from payments.models import PaymentOperation, Refund
from payments.services.outcomes import move_payment
from tests.helpers import APPROVED_CARD, DECLINED_CARD, PENDING_REFUND_CARD, payment_body
from webhooks.endpoints import create_endpoint
from webhooks.models import MerchantEvent, WebhookDelivery


def event_types(payment_id: str) -> list[str]:
    return list(MerchantEvent.objects.filter(payment__public_id=payment_id).order_by("created_at", "id")
                .values_list("type", flat=True))


def test_a_change_that_rolls_back_leaves_no_event_and_one_that_commits_has_exactly_one(api, sandbox_account):
    created = api.post("/v1/payments", {"amount": 700, "currency": "EUR"}, format="json").json()

    with pytest.raises(RuntimeError), transaction.atomic():
        payment = PaymentOperation.objects.select_for_update().get(public_id=created["id"])
        move_payment(payment, "cancelled", actor="test")
        payment.save()
        raise RuntimeError("the process dies before the commit")

    assert PaymentOperation.objects.get(public_id=created["id"]).status == "requires_payment_method"
    assert event_types(created["id"]) == []
    assert api.post(f"/v1/payments/{created['id']}/cancel", {}, format="json").status_code == 200
    assert event_types(created["id"]) == ["payment.cancelled"]


def test_a_declined_payment_has_its_failure_in_the_event(pay):
    payment = pay(DECLINED_CARD)

    event = MerchantEvent.objects.get(payment__public_id=payment["id"])

    assert event.type == "payment.failed"
    assert event.data["object"]["status"] == "failed"
    assert event.data["object"]["last_payment_error"]["code"] == "insufficient_funds"


def test_manual_capture_sends_requires_capture_then_each_capture_then_succeeded(api, pay):
    payment = pay(APPROVED_CARD, amount=1000, capture_method="manual")
    assert api.post(f"/v1/payments/{payment['id']}/capture", {"amount": 400}, format="json").status_code == 200
    assert api.post(f"/v1/payments/{payment['id']}/capture", {}, format="json").status_code == 200

    events = list(MerchantEvent.objects.filter(payment__public_id=payment["id"]).order_by("created_at", "id"))

    assert [e.type for e in events] == ["payment.requires_capture", "payment.captured", "payment.succeeded",
                                        "payment.captured"]
    first, partial, _, last = events
    # Each event shows the payment as it was at that moment, not as it is now.
    assert first.data["object"]["status"] == "requires_capture" and first.data["object"]["amount_captured"] == 0
    assert (partial.data["capture_amount"], partial.data["object"]["status"],
            partial.data["object"]["amount_captured"]) == (400, "partially_captured", 400)
    assert (last.data["capture_amount"], last.data["object"]["status"]) == (600, "succeeded")


def test_refunds_send_refund_succeeded_and_refund_failed(api, pay, sandbox):
    payment = pay(PENDING_REFUND_CARD, amount=2000)
    settled = api.post("/v1/refunds", {"payment": payment["id"], "amount": 500}, format="json").json()
    refused = api.post("/v1/refunds", {"payment": payment["id"], "amount": 700}, format="json").json()
    for refund, outcome in ((settled, "succeeded"), (refused, "failed")):
        bank_id = Refund.objects.get(public_id=refund["id"]).connector_reference
        assert requests.post(f"{sandbox.base_url}/__control__/refunds/{bank_id}/settle", json={"outcome": outcome},
                             timeout=5).status_code == 200
        assert api.get(f"/v1/refunds/{refund['id']}?force_sync=true").json()["status"] == outcome

    events = {e.data["object"]["id"]: e for e in MerchantEvent.objects.filter(type__startswith="refund.")}

    assert events[settled["id"]].type == "refund.succeeded" and events[settled["id"]].data["object"]["amount"] == 500
    assert events[refused["id"]].type == "refund.failed"
    assert events[refused["id"]].data["object"]["failure_code"] == "refund_declined"


def test_an_integrity_mismatch_is_an_event_never_a_success(api, sandbox_account, sandbox):
    sandbox.app.faults.arm(wrong_amount=True)

    payment = api.post("/v1/payments", payment_body(1200), format="json").json()

    assert event_types(payment["id"]) == ["payment.integrity_mismatch"]
    event = MerchantEvent.objects.get(payment__public_id=payment["id"])
    assert event.data["object"]["integrity_mismatch"] is True and event.data["object"]["status"] != "succeeded"
    assert "amount" in event.data["integrity_mismatch"]


def test_events_are_queued_only_for_enabled_endpoints_of_the_same_mode_that_want_them(merchant, pay):
    wants_all, _ = create_endpoint(merchant=merchant, mode="test", url="http://127.0.0.1:9/all", enabled_events=["*"])
    wants_refunds, _ = create_endpoint(merchant=merchant, mode="test", url="http://127.0.0.1:9/r",
                                       enabled_events=["refund.succeeded"])
    disabled, _ = create_endpoint(merchant=merchant, mode="test", url="http://127.0.0.1:9/off",
                                  enabled_events=["*"])
    disabled.enabled = False
    disabled.save()
    live, _ = create_endpoint(merchant=merchant, mode="live", url="http://127.0.0.1:9/live", enabled_events=["*"])

    payment = pay(APPROVED_CARD)

    deliveries = WebhookDelivery.objects.filter(event__payment__public_id=payment["id"])
    assert [(d.event.type, d.endpoint_id) for d in deliveries] == [("payment.succeeded", wants_all.pk)]
    assert deliveries[0].status == "pending" and deliveries[0].next_attempt_at > deliveries[0].event.created_at


def test_the_merchant_row_knows_whether_it_has_endpoints_and_events_skip_the_lookup_when_not(
        merchant, pay):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments.models import Merchant
    from webhooks.endpoints import delete_endpoint
    from webhooks.models import WebhookEndpoint

    def flag() -> bool:
        return Merchant.objects.get(pk=merchant.pk).has_webhook_endpoints

    def endpoint_lookups(payment_call) -> int:
        with CaptureQueriesContext(connection) as queries:
            payment_call()
        return sum('FROM "webhooks_webhookendpoint"' in q["sql"] for q in queries.captured_queries)

    assert flag() is False
    assert endpoint_lookups(lambda: pay(APPROVED_CARD)) == 0

    first, _ = create_endpoint(merchant=merchant, mode="live", url="http://127.0.0.1:9/a", enabled_events=["*"])
    second = WebhookEndpoint(merchant=merchant, mode="test", url="http://127.0.0.1:9/b", enabled_events=["*"])
    second.set_secret("whsec_from_a_shell")
    second.save()  # as the admin or a shell would: the signal keeps the flag, not the service
    assert flag() is True
    assert endpoint_lookups(lambda: pay(APPROVED_CARD)) == 1
    assert WebhookDelivery.objects.filter(endpoint=second).count() == 1

    delete_endpoint(endpoint_pk=first.pk)
    assert flag() is True  # one is left
    second.delete()
    assert flag() is False
    assert endpoint_lookups(lambda: pay(APPROVED_CARD)) == 0


def test_a_nested_state_change_that_rolls_back_takes_its_events_with_it(api, sandbox_account):
    from payments.models import PaymentEvent
    from payments.services.outcomes import record_event, state_change

    created = api.post("/v1/payments", {"amount": 700, "currency": "EUR"}, format="json").json()
    payment = PaymentOperation.objects.get(public_id=created["id"])
    events_before = PaymentEvent.objects.filter(payment=payment).count()

    with state_change():
        record_event(payment, "kept", actor="test")
        with pytest.raises(RuntimeError), state_change():
            locked = PaymentOperation.objects.select_for_update().get(pk=payment.pk)
            move_payment(locked, "cancelled", actor="test")
            locked.save()
            raise RuntimeError("the inner change fails; the outer goes on")

    kinds = list(PaymentEvent.objects.filter(payment=payment).values_list("kind", flat=True))
    assert kinds[events_before:] == ["kept"]
    assert PaymentOperation.objects.get(pk=payment.pk).status == "requires_payment_method"
    assert event_types(created["id"]) == []
