"""Configuring connector accounts: declared credential fields, validation, write-only secrets,
the connection check, list editing, the HTTPS warning and the webhook URL."""

from django.conf import settings
from django.urls import reverse

from connectors.models import ConnectorAccount, ConnectorCall
from tests.helpers import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET

ADD = "/admin/connectors/connectoraccount/add/"
CHANGELIST = "/admin/connectors/connectoraccount/"


def add_form(merchant, **overrides) -> dict:
    data = {
        "merchant": merchant.pk,
        "connector": "sandbox",
        "label": "Sandbox EU",
        "mode": "test",
        "enabled": "on",
        "priority": "5",
        "base_url_override": "",
        "credential_api_key": SANDBOX_API_KEY,
        "credential_webhook_secret": SANDBOX_WEBHOOK_SECRET,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def change_url(account) -> str:
    return reverse("admin:connectors_connectoraccount_change", args=[account.pk])


def test_add_asks_for_the_connector_then_shows_its_declared_credential_fields(admin_client, db):
    chooser = admin_client.get(ADD).content.decode()
    assert "?connector=sandbox" in chooser and "?connector=paytm" in chooser

    page = admin_client.get(ADD, {"connector": "paytm"}).content.decode()

    assert "Merchant ID (MID)" in page and "Merchant key" in page
    assert "The signing key from the Paytm dashboard" in page
    assert 'type="password" name="credential_merchant_key"' in page
    assert 'type="text" name="credential_merchant_id"' in page  # not a secret: a plain field


def test_missing_secret_is_a_validation_error_and_nothing_is_saved(admin_client, merchant):
    response = admin_client.post(f"{ADD}?connector=sandbox", add_form(merchant, credential_webhook_secret=""))

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ConnectorAccount.objects.exists()


def test_connector_rules_are_validated_paytm_key_length(admin_client, merchant):
    response = admin_client.post(
        f"{ADD}?connector=paytm",
        add_form(
            merchant,
            connector="paytm",
            credential_api_key=None,
            credential_webhook_secret=None,
            credential_merchant_id="MID123",
            credential_merchant_key="too-short",
            credential_website="WEBSTAGING",
        ),
    )

    assert "Merchant key must be 16, 24, 32 characters long" in response.content.decode()
    assert not ConnectorAccount.objects.exists()


def test_added_account_stores_credentials_encrypted_and_shows_them_masked(admin_client, merchant):
    response = admin_client.post(f"{ADD}?connector=sandbox", add_form(merchant))
    assert response.status_code == 302, response.content.decode()[-2000:]

    account = ConnectorAccount.objects.get()
    assert SANDBOX_API_KEY not in account.credentials_encrypted
    assert account.get_credentials() == {"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET}
    page = admin_client.get(change_url(account)).content.decode()
    assert SANDBOX_API_KEY not in page and SANDBOX_WEBHOOK_SECRET not in page
    assert 'placeholder="••••••••6789"' in page
    assert "Leave empty to keep the stored value." in page


def test_empty_secret_keeps_the_stored_value_and_a_new_one_replaces_it(admin_client, sandbox_account):
    data = add_form(
        sandbox_account.merchant,
        credential_api_key="",
        credential_webhook_secret="",
        base_url_override=sandbox_account.base_url_override,
        label="Renamed",
    )
    assert admin_client.post(change_url(sandbox_account), data).status_code == 302
    sandbox_account.refresh_from_db()
    assert sandbox_account.label == "Renamed"
    assert sandbox_account.get_credentials()["api_key"] == SANDBOX_API_KEY

    data["credential_api_key"] = "sbx_rotated_key_99999999"
    assert admin_client.post(change_url(sandbox_account), data).status_code == 302
    sandbox_account.refresh_from_db()
    assert sandbox_account.get_credentials() == {
        "api_key": "sbx_rotated_key_99999999",
        "webhook_secret": SANDBOX_WEBHOOK_SECRET,
    }


def test_check_connection_reports_ok_and_logs_the_masked_call(admin_client, sandbox_account):
    url = reverse("admin:connectors_connectoraccount_check_connection", args=[sandbox_account.pk])

    response = admin_client.post(url, follow=True)

    page = response.content.decode()
    assert "connection OK (HTTP 200" in page and "API key accepted" in page
    call = ConnectorCall.objects.get(connector_account=sandbox_account, flow="check_connection")
    assert call.payment is None and call.status_code == 200
    assert SANDBOX_API_KEY not in str(call.request_headers)


def test_check_connection_with_a_refused_key_says_so(admin_client, make_account, merchant, sandbox):
    account = make_account(
        merchant,
        base_url=sandbox.base_url,
        credentials={"api_key": "sbx_wrong_key_000000", "webhook_secret": SANDBOX_WEBHOOK_SECRET},
    )
    url = reverse("admin:connectors_connectoraccount_check_connection", args=[account.pk])

    page = admin_client.post(url, follow=True).content.decode()

    assert "connection failed (HTTP 401" in page and "ConnectorAuthenticationFailed" in page
    assert "sbx_wrong_key_000000" not in page


def test_check_connection_is_a_post_only_action(admin_client, sandbox_account):
    url = reverse("admin:connectors_connectoraccount_check_connection", args=[sandbox_account.pk])

    assert admin_client.get(url).status_code == 405
    assert not ConnectorCall.objects.exists()


def test_check_connection_list_action_checks_each_selected_account(admin_client, make_account, merchant, sandbox):
    good = make_account(
        merchant,
        base_url=sandbox.base_url,
        label="Primary sandbox",
        credentials={"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET},
    )
    down = make_account(
        merchant,
        base_url="http://127.0.0.1:9",
        label="Unreachable bank",
        credentials={"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET},
    )

    page = admin_client.post(
        CHANGELIST, {"action": "check_connection_action", "_selected_action": [good.pk, down.pk]}, follow=True
    ).content.decode()

    assert "Primary sandbox: connection OK" in page
    assert "Unreachable bank: connection failed (no answer): ConnectorUnavailable" in page


def test_enabled_and_priority_are_editable_from_the_list(admin_client, sandbox_account):
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(sandbox_account.pk),
        "form-0-priority": "42",
        "_save": "Save",
    }  # "form-0-enabled" left out: the checkbox is unticked

    response = admin_client.post(CHANGELIST, data)

    assert response.status_code == 302
    sandbox_account.refresh_from_db()
    assert (sandbox_account.enabled, sandbox_account.priority) == (False, 42)
    assert sandbox_account.get_credentials()["api_key"] == SANDBOX_API_KEY


def test_live_account_on_plain_http_is_saved_with_a_warning(admin_client, merchant):
    response = admin_client.post(
        f"{ADD}?connector=sandbox",
        add_form(merchant, mode="live", base_url_override="http://bank.example.test"),
        follow=True,
    )

    account = ConnectorAccount.objects.get()
    assert "is not HTTPS" in response.content.decode()
    page = admin_client.get(change_url(account)).content.decode()
    assert "Warning: a live account must use HTTPS." in page
    assert "⚠ http://bank.example.test" in admin_client.get(CHANGELIST).content.decode()


def test_live_account_on_https_and_test_account_on_http_have_no_warning(admin_client, make_account, merchant):
    live = make_account(merchant, mode="live", base_url="https://bank.example.test", credentials={})
    test = make_account(merchant, mode="test", base_url="http://127.0.0.1:8001", credentials={})

    for account in (live, test):
        assert "must use HTTPS" not in admin_client.get(change_url(account)).content.decode()


def test_account_page_shows_the_webhook_url_ready_to_copy(admin_client, sandbox_account):
    page = admin_client.get(change_url(sandbox_account)).content.decode()

    url = f"{settings.PAGOFLEX_PUBLIC_URL}/webhooks/sandbox/{sandbox_account.public_id}/"
    assert f'id="webhook-url" readonly value="{url}"' in page
    assert 'data-copy-target="webhook-url"' in page
    assert "pagoflex/admin/backoffice.js" in page
