"""Inbound webhook URLs cannot be used to fill the disk (issue 16, item 8).

Known accounts keep store-first: every event is committed before anything else. A post to a
URL no account owns (an unknown account, an unknown connector, a connector mismatch) keeps at
most a bounded summary, no body and no arbitrary headers, and at most a budget of them a minute.
"""

import itertools

import pytest
from django.core.cache import cache

from webhooks import inbound
from webhooks.models import WebhookEvent, WebhookOutcome

BIG = b'{"filler": "' + b"x" * (200 * 1024) + b'"}'
minutes = itertools.count(29_000_000)


@pytest.fixture
def fresh_minute(monkeypatch):
    """A clock minute no other test has counted in."""
    minute = next(minutes)
    monkeypatch.setattr(inbound, "clock", lambda: minute * 60 + 1.0)
    cache.delete(f"webhooks:unknown:{minute}")
    return minute


@pytest.mark.parametrize("path", ["/webhooks/sandbox/mca_doesnotexist/", "/webhooks/nobank/mca_x/",
                                  "/webhooks/paytm/{sandbox_account}/"])
def test_a_post_for_no_account_keeps_only_a_bounded_summary(path, client, sandbox_account, fresh_minute):
    url = path.format(sandbox_account=sandbox_account.public_id)
    response = client.post(url, BIG, content_type="application/json", HTTP_X_FILLER="y" * 4000,
                           HTTP_USER_AGENT="curl/8")

    assert response.status_code == 404 and response.json()["outcome"] == "unknown_account"
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == b"" and event.outcome == WebhookOutcome.UNKNOWN_ACCOUNT
    assert set(event.headers) <= set(inbound.UNKNOWN_SUMMARY_HEADERS) and event.headers["user-agent"] == "curl/8"
    assert str(len(BIG)) in event.outcome_detail and event.connector_account is None


def test_summaries_of_posts_for_no_account_are_limited_per_minute(client, db, settings, fresh_minute):
    settings.WEBHOOK_UNKNOWN_EVENTS_PER_MINUTE = 3
    answers = [client.post(f"/webhooks/sandbox/mca_nope{n}/", b"{}", content_type="application/json")
               for n in range(10)]

    assert {answer.status_code for answer in answers} == {404}
    assert WebhookEvent.objects.count() == 3


def test_a_known_accounts_event_is_still_stored_first_with_its_headers(client, sandbox_account, settings,
                                                                       fresh_minute):
    settings.WEBHOOK_UNKNOWN_EVENTS_PER_MINUTE = 0  # the budget of unknown posts does not apply
    body = b'{"id": "evt_1", "type": "charge.succeeded"}'
    response = client.post(f"/webhooks/sandbox/{sandbox_account.public_id}/", body,
                           content_type="application/json", HTTP_SANDBOX_SIGNATURE="t=1,v1=bad")

    assert response.status_code == 401
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body and event.headers["sandbox-signature"] == "t=1,v1=bad"
    assert event.connector_account == sandbox_account


def test_an_oversize_body_for_a_known_account_keeps_only_its_beginning(client, sandbox_account, fresh_minute):
    huge = b"x" * (300 * 1024)
    response = client.post(f"/webhooks/sandbox/{sandbox_account.public_id}/", huge,
                           content_type="application/json")

    assert response.status_code == 413
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookOutcome.TOO_LARGE and len(bytes(event.body)) == inbound.TOO_LARGE_KEPT_BYTES
