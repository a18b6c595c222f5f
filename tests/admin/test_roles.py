"""The roles the data migration creates: Support investigates, Operations acts; nobody sees a secret."""

from django.contrib.auth.models import Group
from django.urls import reverse

from conftest import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from payments.models import Refund
from webhooks.models import WebhookEvent


def test_migration_creates_support_and_operations_groups(db):
    support = {p.codename for p in Group.objects.get(name="Support").permissions.all()}
    operations = {p.codename for p in Group.objects.get(name="Operations").permissions.all()}

    assert {"view_paymentoperation", "view_paymentevent", "view_webhookevent", "sync_payment"} <= support
    assert not support & {
        "refund_payment",
        "capture_payment",
        "cancel_payment",
        "view_connectoraccount",
        "change_connectoraccount",
    }
    assert {"refund_payment", "capture_payment", "cancel_payment", "change_connectoraccount"} <= operations
    assert not {codename for codename in operations if codename.endswith(("_user", "_group", "_permission"))}


def test_support_sees_the_payment_and_sync_but_no_refund_capture_or_cancel(support_client, paid):
    response = support_client.get(reverse("admin:payments_paymentoperation_change", args=[paid.pk]))
    page = response.content.decode()

    assert response.status_code == 200
    assert paid.public_id in page and "Timeline" in page
    assert [action.name for action, _ in response.context["payment_actions"]] == ["sync"]
    assert 'data-action="refund"' not in page


def test_support_cannot_refund_even_by_posting_directly(support_client, paid):
    url = reverse("admin:payments_paymentoperation_action", args=[paid.pk, "refund"])

    assert support_client.get(url).status_code == 403
    assert support_client.post(url, {"amount": "1.00"}).status_code == 403
    for action in ("capture", "cancel"):
        url = reverse("admin:payments_paymentoperation_action", args=[paid.pk, action])
        assert support_client.post(url, {}).status_code == 403
    assert not Refund.objects.exists()


def test_support_can_run_sync(support_client, paid):
    url = reverse("admin:payments_paymentoperation_action", args=[paid.pk, "sync"])

    assert support_client.post(url).status_code == 302


def test_support_cannot_open_connector_accounts(support_client, sandbox_account):
    urls = [
        reverse("admin:connectors_connectoraccount_changelist"),
        reverse("admin:connectors_connectoraccount_change", args=[sandbox_account.pk]),
        reverse("admin:connectors_connectoraccount_add") + "?connector=sandbox",
        reverse("admin:connectors_connectoraccount_add"),
        reverse("admin:connectors_connectoraccount_check_connection", args=[sandbox_account.pk]),
    ]
    for url in urls:
        response = support_client.get(url)
        assert response.status_code in (403, 405), url
        assert SANDBOX_API_KEY not in response.content.decode()
    assert support_client.post(urls[-1]).status_code == 403


def test_support_views_webhook_events_but_cannot_reprocess(support_client, sandbox_account):
    event = WebhookEvent.objects.create(connector="sandbox", connector_account=sandbox_account, body=b"{}")

    assert support_client.get(reverse("admin:webhooks_webhookevent_change", args=[event.pk])).status_code == 200
    url = reverse("admin:webhooks_webhookevent_reprocess", args=[event.pk])
    assert support_client.post(url).status_code == 403
    event.refresh_from_db()
    assert event.processing_count == 0


def test_operations_can_refund_and_configure_accounts_without_seeing_secrets(operations_client, paid, sandbox_account):
    url = reverse("admin:payments_paymentoperation_action", args=[paid.pk, "refund"])
    assert operations_client.post(url, {"amount": "2.00"}).status_code == 302
    assert Refund.objects.get(payment=paid).amount == 200

    page = operations_client.get(reverse("admin:connectors_connectoraccount_change", args=[sandbox_account.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert SANDBOX_API_KEY not in html and SANDBOX_WEBHOOK_SECRET not in html
    assert "••••••••6789" in html  # the API key's last four, masked
