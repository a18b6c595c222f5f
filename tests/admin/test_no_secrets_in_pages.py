"""No admin page shows a stored credential or a card number, to anyone, superusers included.

Every registered model's list, add, change and history pages, the overview, the action pages
and the connector chooser are fetched as a superuser, with accounts of every connector holding
recognisable secrets, and each page's HTML is searched for them.
"""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from conftest import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from connectors.models import ConnectorAccount
from connectors.registry import connector_keys
from connectors.services import check_connection
from connectors.testing.simulator import unused_port_url
from payments.admin.views import ACTIONS
from tests.admin.conftest import post_sandbox_webhook, sandbox_charge
from tests.helpers import APPROVED_CARD
from webhooks.endpoints import create_endpoint

OTHER_ACCOUNTS = {
    "paytm": {"merchant_id": "PAGOSCAN0000001", "merchant_key": "PaytmKeyScan1234", "website": "WEBSTAGING"},
    "authipay": {
        "api_key": "ak_scan_secret_4f9c2a",
        "api_secret": "as_scan_secret_8d31b6f0",
        "store_id": "12345500000",
    },
    "banco_x": {
        "api_key": "bx_scan_api_key_0001",
        "secret": "bx_scan_signing_0001",
        "webhook_secret": "bx_scan_webhook_0001",
    },
}


def secret_values(account: ConnectorAccount) -> list[str]:
    secret_names = {spec.name for spec in account.connector_class.credential_fields if spec.secret}
    return [value for name, value in account.get_credentials().items() if name in secret_names]


def admin_urls(objects_per_model: int = 5) -> list[str]:
    urls = [
        reverse("admin:index"),
        reverse("admin:payments_overview"),
        reverse("admin:connectors_connectoraccount_add"),
    ]
    urls += [f"{reverse('admin:connectors_connectoraccount_add')}?connector={key}" for key in connector_keys()]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        for obj in model_admin.get_queryset(_Request()).all()[:objects_per_model]:
            for view in ("change", "history"):
                try:
                    urls.append(reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[obj.pk]))
                except NoReverseMatch:
                    pass
    return urls


class _Request:
    """Enough of a request for ``ModelAdmin.get_queryset`` (which only reads the user)."""

    class user:
        is_superuser = True


def test_no_admin_page_shows_a_credential_or_a_card_number(
    admin_client, take_payment, api, client, sandbox, sandbox_account, make_account
):
    for connector, credentials in OTHER_ACCOUNTS.items():
        account = make_account(
            sandbox_account.merchant, connector=connector, credentials=credentials, base_url=unused_port_url()
        )
        check_connection(account=account, actor="staff:root")
    check_connection(account=sandbox_account, actor="staff:root")
    _, endpoint_secret = create_endpoint(
        merchant=sandbox_account.merchant, mode="test", url=f"{unused_port_url()}/hooks", enabled_events=["*"]
    )
    payment = take_payment(amount=4200)
    api.post("/v1/refunds", {"payment": payment.public_id, "amount": 1000}, format="json")
    post_sandbox_webhook(
        client,
        sandbox_account,
        {
            "id": "evt_scan",
            "type": "charge.succeeded",
            "data": sandbox_charge(sandbox, payment.attempts.get().connector_reference),
        },
    )
    secrets = [value for account in ConnectorAccount.objects.all() for value in secret_values(account)]
    assert SANDBOX_API_KEY in secrets and SANDBOX_WEBHOOK_SECRET in secrets and len(secrets) == 8
    secrets.append(endpoint_secret)  # a merchant endpoint's signing secret is never shown either
    urls = admin_urls() + [
        reverse("admin:payments_paymentoperation_action", args=[payment.pk, name]) for name in ACTIONS
    ]

    scanned = 0
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
        html = response.content.decode()
        for secret in secrets:
            assert secret not in html, f"{url} shows a stored secret"
        assert APPROVED_CARD not in html, f"{url} shows a card number"
        scanned += response.status_code == 200
    # The crawl really reached the pages that hold the evidence.
    assert scanned >= 30
    assert any("/connectors/connectoraccount/" in url and url.endswith("/change/") for url in urls)
    assert any("/connectors/connectorcall/" in url and url.endswith("/change/") for url in urls)
    assert any("/webhooks/webhookevent/" in url and url.endswith("/change/") for url in urls)
    assert any("/webhooks/webhookdelivery/" in url and url.endswith("/change/") for url in urls)
