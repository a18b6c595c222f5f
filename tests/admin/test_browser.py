"""The back office in a real browser: Debian's headless Chromium driven by Playwright against a
live Pagoflex server and the sandbox bank simulator (both on loopback).

One journey, as a member of staff lives it: log in, add a connector account and see its secret
masked, take a payment through the API, find it by its last four digits, read its timeline,
refund it from the admin, and look at the overview charts. Screenshots go to tests/artifacts/.
"""

import importlib
import os
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group, Permission, User
from django.db import connections

from conftest import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from payments.models import PaymentEvent, PaymentOperation, Refund
from tests.helpers import payment_body

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "browser-test-password-1"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent: .ci/run installs Debian's chromium package"
)


@pytest.fixture
def page(live_server):
    """A fresh headless Chromium page on the live server. It depends on live_server, so it closes
    before the test database is flushed."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; the test's own ORM calls are
    # plain synchronous ones, which Django's async-safety guess would otherwise refuse.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            yield context.new_page()
            context.close()
            browser.close()
            # The ORM calls made while Playwright's loop ran used a connection of their own
            # context; closed here, it cannot outlive the test database.
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def take_payment(live_server, raw_key: str, **body) -> dict:
    """The merchant's API call, over HTTP to the live server."""
    # Closed after the call: a kept-alive connection would hold a server thread (and its database
    # connection) open past the test.
    with requests.Session() as session:
        session.trust_env = False
        answer = session.post(
            f"{live_server.url}/v1/payments",
            json=payment_body(**body),
            headers={"Authorization": f"Bearer {raw_key}", "Connection": "close"},
            timeout=30,
        )
    assert answer.status_code == 201, answer.text
    return answer.json()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def log_in(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_staff_journey_from_connector_setup_to_refund_and_overview(page, live_server, make_merchant, sandbox):
    User.objects.create_superuser("admin", "admin@example.test", PASSWORD)
    merchant, raw_key = make_merchant("Browser Shop")
    log_in(page, "admin")
    shot(page, "01-index")

    # Add a sandbox account: the connector's declared fields, secrets typed once, then masked.
    page.goto("/admin/connectors/connectoraccount/add/")
    page.click("text=Sandbox bank")
    page.select_option("#id_merchant", label=str(merchant))
    page.fill("#id_label", "Sandbox (browser)")
    page.fill("#id_base_url_override", sandbox.base_url)
    page.fill("#id_credential_api_key", SANDBOX_API_KEY)
    page.fill("#id_credential_webhook_secret", SANDBOX_WEBHOOK_SECRET)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert page.get_attribute("#id_credential_api_key", "placeholder") == "••••••••6789"
    assert page.input_value("#id_credential_api_key") == ""
    html = page.content()
    assert SANDBOX_API_KEY not in html and SANDBOX_WEBHOOK_SECRET not in html
    assert page.input_value("#webhook-url").endswith(
        "/webhooks/sandbox/" + page.inner_text(".field-public_id .readonly") + "/"
    )
    page.click("button.pf-check-connection")
    assert "connection OK" in page.inner_text(".messagelist")
    shot(page, "02-connector-account")

    # A payment taken through the API, over HTTP, by the merchant.
    taken = take_payment(live_server, raw_key, amount=2500)
    payment_id = taken["id"]
    assert taken["status"] == "succeeded"

    # Found by its last four digits, then opened.
    page.goto("/admin/payments/paymentoperation/")
    page.fill("#searchbar", "4242")
    page.press("#searchbar", "Enter")
    page.wait_for_selector(f"text={payment_id}")
    assert "25.00 EUR" in page.inner_text("#result_list")
    shot(page, "03-search-last-four")
    page.click(f"#result_list >> text={payment_id}")
    page.wait_for_selector("#timeline li.pf-entry")
    entries = page.locator("#timeline li.pf-entry")
    kinds = [entries.nth(i).get_attribute("data-kind") for i in range(entries.count())]
    assert {"event", "attempt", "call"} <= set(kinds)
    page.click("#timeline li.pf-kind-call summary >> text=Request body")
    request_body = page.inner_text("#timeline li.pf-kind-call pre >> nth=1")
    assert "************4242" in request_body and "4242424242424242" not in page.content()
    shot(page, "04-payment-timeline")

    # Refund from the admin, after confirmation, as the staff user.
    page.click("a[data-action=refund]")
    page.fill("#id_amount", "5.00")
    page.fill("#id_reason", "refunded from the browser test")
    shot(page, "05-refund-confirmation")
    page.click("input[name=confirm]")
    page.wait_for_selector(".messagelist .success")
    assert "of 5.00 EUR: succeeded" in page.inner_text(".messagelist")
    assert page.locator("#timeline li.pf-kind-refund").count() == 1
    shot(page, "06-after-refund")
    payment = PaymentOperation.objects.get(public_id=payment_id)
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.reason, refund.status) == (500, "refunded from the browser test", "succeeded")
    assert PaymentEvent.objects.get(payment=payment, kind="refund_created").actor == "staff:admin"

    # The overview's charts are drawn (server-side SVG, no script needed).
    page.goto("/admin/payments/paymentoperation/")
    page.click(".object-tools >> text=Overview")
    page.wait_for_selector("svg.pagoflex-chart")
    assert page.locator("svg.pagoflex-chart").count() >= 4
    bars = page.locator("#chart-count rect.bar")
    assert bars.count() == 14
    assert max(bars.nth(i).bounding_box()["height"] for i in range(bars.count())) > 10
    shot(page, "07-overview")


def test_support_user_sees_no_refund_button_and_is_refused_the_credentials_page(
    page, live_server, make_merchant, make_account, sandbox
):
    # Transactional tests start from an emptied database: the role is rebuilt from the migration's list.
    roles = importlib.import_module("payments.migrations.0003_staff_roles")
    support = Group.objects.get_or_create(name=roles.SUPPORT)[0]
    # By codename: a model may have changed app since the migration listed it (MerchantEvent
    # moved from webhooks to payments, and its permission with it).
    support.permissions.set([Permission.objects.get(codename=codename) for _, codename in roles.SUPPORT_PERMISSIONS])
    User.objects.create_user("sam", password=PASSWORD, is_staff=True).groups.add(support)
    merchant, raw_key = make_merchant("Support Shop")
    account = make_account(
        merchant,
        base_url=sandbox.base_url,
        credentials={"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET},
    )
    payment = PaymentOperation.objects.get(public_id=take_payment(live_server, raw_key, amount=1200)["id"])
    log_in(page, "sam")

    page.goto(f"/admin/payments/paymentoperation/{payment.pk}/change/")
    assert page.locator("a[data-action=sync]").count() == 1
    assert page.locator("a[data-action=refund]").count() == 0
    shot(page, "08-support-payment")
    assert page.goto(f"/admin/connectors/connectoraccount/{account.pk}/change/").status == 403
    assert page.goto(f"/admin/payments/paymentoperation/{payment.pk}/action/refund/").status == 403
    assert not Refund.objects.exists()
