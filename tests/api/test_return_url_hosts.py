"""Each merchant's allow-list of return hosts (issue 16, item 15): a return_url outside it is
refused with a clear error naming ``return_url`` and nothing is created; an empty list keeps the
earlier behaviour (any http(s) URL); the redirect checks the list again."""

import pytest

from payments.models import PaymentOperation
from tests.admin.conftest import logged_in, make_staff
from tests.helpers import THREE_DS_CARD, assert_error, payment_body


@pytest.fixture
def allow_shop(merchant):
    merchant.return_url_hosts = ["shop.example", "*.shop.example", "http://localhost:3000"]
    merchant.save()
    return merchant


@pytest.mark.parametrize("url", ["https://shop.example/done", "https://shop.example:8443/done",
                                 "https://eu.shop.example/back?x=1", "http://localhost:3000/return"])
def test_a_return_url_on_an_allowed_host_is_accepted(api, allow_shop, url):
    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "return_url": url}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["return_url"] == url


@pytest.mark.parametrize("url", [
    "https://evil.example/phish",
    "http://shop.example/done",                  # https only for a bare host entry
    "https://shop.example.evil.example/",        # a suffix is not the host
    "https://evilshop.example/",                 # nor is a longer name that ends like it
    "http://localhost:3001/return",              # an origin is exact, port included
    "https://localhost:3000/return",
])
def test_a_return_url_outside_the_list_is_refused_naming_return_url(api, allow_shop, url):
    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "return_url": url}, format="json")
    assert_error(response, 400, code="return_url_not_allowed", param="return_url")
    assert "allowed return hosts" in response.json()["error"]["message"]
    assert PaymentOperation.objects.count() == 0


@pytest.mark.parametrize("url", [
    "https://shop.example\\@evil.example/",      # parsers disagree on the host
    "https://shop.example@evil.example/",        # user info
    "https://user:pw@shop.example/",
])
def test_a_return_url_that_parsers_read_differently_is_refused_whatever_the_list(api, merchant, url):
    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "return_url": url}, format="json")
    assert_error(response, 400, param="return_url")
    assert PaymentOperation.objects.count() == 0


def test_an_empty_list_keeps_accepting_any_http_url(api, merchant):
    assert merchant.return_url_hosts == []
    response = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "return_url": "http://anywhere.example/"},
                        format="json")
    assert response.status_code == 201, response.content


def test_a_host_removed_from_the_list_stops_the_redirect(api, sandbox_account, merchant, client):
    created = api.post("/v1/payments", payment_body(2500, number=THREE_DS_CARD, return_url="https://old.example/done"),
                       format="json").json()
    assert client.get(f"/payments/{created['id']}/return/").status_code == 302

    merchant.return_url_hosts = ["shop.example"]
    merchant.save()
    response = client.get(f"/payments/{created['id']}/return/")
    assert response.status_code == 200 and "old.example" not in response.get("Location", "")


def test_staff_edit_the_list_in_the_admin_and_bad_entries_are_refused(merchant, db):
    client = logged_in(make_staff("root", superuser=True))
    url = f"/admin/payments/merchant/{merchant.pk}/change/"
    assert "return_url_hosts" in client.get(url).content.decode()

    bad = client.post(url, {"name": merchant.name, "max_fallback_attempts": 2, "late_success_policy": "notify",
                            "return_url_hosts": '["shop.example/path"]',
                            "api_keys-TOTAL_FORMS": 0, "api_keys-INITIAL_FORMS": 0})
    assert bad.status_code == 200 and "is not a host name" in bad.content.decode()
    good = client.post(url, {"name": merchant.name, "max_fallback_attempts": 2, "late_success_policy": "notify",
                             "return_url_hosts": '["shop.example", "*.shop.example"]',
                             "api_keys-TOTAL_FORMS": 0, "api_keys-INITIAL_FORMS": 0})
    assert good.status_code == 302, good.content.decode()[-3000:]
    merchant.refresh_from_db()
    assert merchant.return_url_hosts == ["shop.example", "*.shop.example"]
