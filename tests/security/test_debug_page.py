"""The DEBUG page shows no decrypted secret (issue 16, item 11).

A technical 500 report is rendered, as ``DEBUG=True`` would serve it, for exceptions raised
inside code that holds decrypted connector credentials: no credential, webhook signing secret,
keyring key or card number may appear in it, whatever the local variables are called.
"""

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, technical_500_response

from connectors import crypto
from connectors.base import Card
from tests.helpers import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET

PAN = "4111111111111111"
# Far from the raising code: a report quotes the source lines around each frame.
IN_THE_MIDDLE = "sbx_in_the_middle_0001"
POSTED = {"label": "EU", "credential_api_key": "sbx_posted_key_0001", "credential_webhook_secret": "whsec_posted_0001"}
BROKER_PASSWORD = "brokerpass1234"
BROKER_URL = f"redis://:{BROKER_PASSWORD}@127.0.0.1:6379/5"

pytestmark = pytest.mark.plants_secrets  # the report is built around secrets on purpose


def report_of(raising, *args, request=None) -> str:
    request = request or RequestFactory().get("/admin/")
    try:
        raising(*args)
    except Exception:
        exc_info = sys.exc_info()
    return technical_500_response(request, *exc_info).content.decode()


def assert_shows_no_secret(page: str, *extra: str) -> None:
    for secret in (SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET, PAN, *extra):
        assert secret not in page, f"{secret} is in the report"


def test_a_crash_while_holding_decrypted_credentials_shows_none_of_them(settings, sandbox_account):
    settings.DEBUG = True

    def check_then_crash(account):
        credentials = account.get_credentials()
        connector = account.build_connector()
        api_key = credentials["api_key"]  # noqa: F841 - a local the report shows
        raise RuntimeError(f"the bank refused the request of {connector.key}")

    page = report_of(check_then_crash, sandbox_account)

    assert "the bank refused the request of sandbox" in page and "check_then_crash" in page
    assert_shows_no_secret(page)


def test_a_secret_copied_into_an_innocent_name_is_masked_too(settings, sandbox_account):
    """The next member of the kind: nobody decorated this function and its names say nothing."""
    settings.DEBUG = True

    def innocent(account):
        holder = account.build_connector()
        first = list(holder.credentials.values())[0]
        label = f"using {first} for {account.label}"  # noqa: F841 - a local the report shows
        mapping = {"x": {"y": SANDBOX_WEBHOOK_SECRET}} if holder else {}  # noqa: F841 - a local the report shows
        card = Card(number=PAN, exp_month=12, exp_year=2034, cvc="737")  # noqa: F841 - a local the report shows
        note = f"customer card {PAN}"  # noqa: F841 - a local the report shows
        raise ValueError("unexpected answer")

    page = report_of(innocent, sandbox_account)

    assert "unexpected answer" in page and "innocent" in page
    assert_shows_no_secret(page)


def test_the_keyring_and_a_decryption_in_progress_show_nothing(settings):
    settings.DEBUG = True
    keyring = crypto.get_keyring()
    stored = crypto.encrypt_json({"api_key": IN_THE_MIDDLE}, "row")

    def decrypt_badly():
        value = crypto.decrypt_json(stored, "row")
        raise KeyError(f"no field in {len(value)} values")

    page = report_of(decrypt_badly)
    assert IN_THE_MIDDLE not in page
    for key in keyring.keys.values():
        assert repr(key) not in page and key.hex() not in page
    assert "keys=" not in repr(keyring)


def test_posted_credentials_and_url_passwords_are_hidden(settings):
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = BROKER_URL
    request = RequestFactory().post("/admin/connectors/connectoraccount/add/", POSTED)

    def fail():
        raise RuntimeError("form crashed")

    page = report_of(fail, request=request)
    assert "form crashed" in page
    for secret in (POSTED["credential_api_key"], POSTED["credential_webhook_secret"], BROKER_PASSWORD):
        assert secret not in page
    reporter_text = ExceptionReporter(request, RuntimeError, RuntimeError("x"), None).get_traceback_text()
    assert POSTED["credential_api_key"] not in reporter_text
