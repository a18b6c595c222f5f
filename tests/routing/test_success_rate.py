"""The success-rate strategy: a sliding window per (account, payment method, currency) orders
the candidates, and a small, deterministic exploration share keeps trying the others."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.testing.simulator import unused_port_url
from payments.models import RoutingWindowBucket
from payments.routing import window
from payments.routing.decision import decide, load_context
from payments.services import routing
from tests.helpers import payment_body
from tests.routing.conftest import SANDBOX_CREDENTIALS, priority
from tests.routing.test_decision import unsaved_payment


def record(account, successes, failures, *, currency="EUR", at=None):
    for status in ["charged"] * successes + ["failure"] * failures:
        window.record_result(account_id=account.pk, payment_method_type="card", currency=currency, status=status, at=at)


@pytest.fixture
def two_accounts(merchant, make_account):
    return make_account(merchant, label="bank a", priority=20), make_account(merchant, label="bank b", priority=10)


def configure(merchant, document):
    routing.set_routing_configuration(merchant=merchant, mode="test", document=document)


def test_the_account_with_the_better_recent_rate_goes_first(merchant, two_accounts):
    a, b = two_accounts
    configure(merchant, {"strategy": "success_rate", "exploration_percent": 0, "default": priority(a, b)})
    record(a, successes=2, failures=8)
    record(b, successes=9, failures=1)

    decision = routing.plan_route(unsaved_payment(merchant)).decision

    assert decision["candidates"] == [b.public_id, a.public_id]
    assert decision["success_rates"] == {
        a.public_id: {"attempts": 10, "successes": 2},
        b.public_id: {"attempts": 10, "successes": 9},
    }
    assert decision["explored"] is False


def test_the_window_is_per_currency_and_forgets_old_minutes(merchant, two_accounts):
    a, b = two_accounts
    configure(merchant, {"strategy": "success_rate", "exploration_percent": 0, "default": priority(a, b)})
    record(a, successes=0, failures=10, currency="USD")  # another currency: does not count for EUR
    record(a, successes=0, failures=10, at=timezone.now() - window.WINDOW - timedelta(minutes=1))  # too old
    record(b, successes=3, failures=3)

    assert routing.plan_route(unsaved_payment(merchant)).decision["candidates"] == [a.public_id, b.public_id]
    assert routing.plan_route(unsaved_payment(merchant, currency="USD")).decision["candidates"] == [
        b.public_id,
        a.public_id,
    ]


def test_priority_strategy_ignores_the_window(merchant, two_accounts):
    a, b = two_accounts
    configure(merchant, {"default": priority(a, b)})
    record(a, successes=0, failures=10)
    decision = routing.plan_route(unsaved_payment(merchant)).decision
    assert decision["candidates"] == [a.public_id, b.public_id] and "success_rates" not in decision


def test_a_small_share_explores_another_account_deterministically(merchant, two_accounts):
    a, b = two_accounts
    configure(merchant, {"strategy": "success_rate", "exploration_percent": 10, "default": priority(a, b)})
    record(a, successes=0, failures=20)  # a was down
    record(b, successes=20, failures=0)
    context = load_context(unsaved_payment(merchant))

    plans = [
        decide(unsaved_payment(merchant, f"pay_explore_{i:04d}"), context, routing.is_eligible) for i in range(2000)
    ]

    explored = [plan for plan in plans if plan.decision["explored"]]
    assert 7 <= 100 * len(explored) / 2000 <= 13
    assert {plan.candidates[0].public_id for plan in explored} == {a.public_id}
    assert all(plan.candidates[0] == b for plan in plans if not plan.decision["explored"])
    # The same payment id explores (or not) the same way every time it is routed.
    index = plans.index(explored[0])
    again = decide(unsaved_payment(merchant, f"pay_explore_{index:04d}"), context, routing.is_eligible)
    assert again.decision == explored[0].decision


def test_confirmations_feed_the_window_and_the_admin_figures(api, merchant, make_account, account_b, put_routing):
    down = make_account(merchant, base_url=unused_port_url(), credentials=SANDBOX_CREDENTIALS, label="down bank")
    put_routing({"strategy": "success_rate", "exploration_percent": 0, "default": priority(down, account_b)})

    first = api.post("/v1/payments", payment_body(), format="json").json()
    second = api.post("/v1/payments", payment_body(), format="json").json()

    # The first payment found the down bank first and fell back; by the second, the window had
    # ranked the down bank last, so the second payment went straight to the bank that works.
    assert [a["connector_account"] for a in first["attempts"]] == [down.public_id, account_b.public_id]
    assert [a["connector_account"] for a in second["attempts"]] == [account_b.public_id]
    figures = {(row.connector_account, row.currency): row for row in window.window_figures(merchant=merchant)}
    assert figures[(down.public_id, "EUR")].attempts == 1 and figures[(down.public_id, "EUR")].success_rate == 0
    assert figures[(account_b.public_id, "EUR")].attempts == 2 and figures[(account_b.public_id, "EUR")].successes == 2
    assert figures[(account_b.public_id, "EUR")].label == "bank B"


def test_pending_answers_are_not_counted_and_old_buckets_are_dropped(merchant, two_accounts):
    a, _ = two_accounts
    assert window.record_result(account_id=a.pk, payment_method_type="card", currency="EUR", status="pending") is False
    long_ago = timezone.now() - 3 * window.WINDOW
    record(a, successes=1, failures=0, at=long_ago)
    record(a, successes=1, failures=0)
    assert list(RoutingWindowBucket.objects.filter(connector_account=a).values_list("attempts", flat=True)) == [1]


def test_the_context_query_agrees_with_the_orm_on_order_configuration_and_window(merchant, make_account,
                                                                                  monkeypatch):
    """``load_context`` is written in SQL for speed: it must say what the ORM says."""
    from django.db.models import Sum

    from connectors.models import ConnectorAccount

    # One moment for the whole test: a minute that turned between the buckets being recorded and
    # the context being read would move the window by one bucket (a flake under load).
    moment = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: moment)
    accounts = [make_account(merchant, label=f"bank {i}", priority=p) for i, p in enumerate([5, 30, 5, 10])]
    configure(merchant, {"strategy": "success_rate", "default": priority(accounts[1], accounts[3])})
    since = window.window_since()
    record(accounts[0], successes=3, failures=1, at=since)  # the oldest minute still in the window
    record(accounts[0], successes=5, failures=0, at=since - timedelta(seconds=1))  # just outside it
    record(accounts[1], successes=1, failures=6)
    record(accounts[2], successes=2, failures=0, currency="USD")

    context = load_context(unsaved_payment(merchant))

    expected_order = list(ConnectorAccount.objects.filter(merchant=merchant, mode="test"))
    assert [a.pk for a in context.accounts] == [a.pk for a in expected_order]
    assert context.definition["strategy"] == "success_rate" and context.max_fallback_attempts == (
        merchant.max_fallback_attempts)
    for account in context.accounts:
        totals = RoutingWindowBucket.objects.filter(
            connector_account=account, payment_method_type="card", currency="EUR", bucket_start__gte=since
        ).aggregate(attempts=Sum("attempts"), successes=Sum("successes"))
        assert (account.window_attempts, account.window_successes) == (totals["attempts"], totals["successes"])
    assert (context.accounts[0].window_attempts, context.accounts[0].window_successes) == (7, 1)  # priority 30 first
