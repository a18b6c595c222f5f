"""The routing decision itself: rules, volume split, eligibility, and what it costs in queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.models import PaymentOperation
from payments.routing.decision import decide, load_context, split_order
from payments.services import routing
from payments.services.errors import PaymentError
from tests.routing.conftest import priority


def unsaved_payment(
    merchant,
    public_id="pay_test",
    *,
    amount=1050,
    currency="EUR",
    brand="visa",
    country="",
    metadata=None,
    capture_method="automatic",
    payment_method_type="card",
):
    """A payment as confirm sees it when routing runs (never saved: routing reads, never writes)."""
    return PaymentOperation(
        public_id=public_id,
        merchant=merchant,
        mode="test",
        amount=amount,
        currency=currency,
        capture_method=capture_method,
        payment_method_type=payment_method_type,
        payment_method_details={"brand": brand, "last4": "4242"} if brand else {},
        customer={"country": country} if country else {},
        metadata=metadata or {},
    )


@pytest.fixture
def three_accounts(merchant, make_account):
    return [
        make_account(merchant, label=f"bank {name}", priority=priority_)
        for name, priority_ in (("a", 30), ("b", 20), ("c", 10))
    ]


@pytest.fixture
def configure(merchant):
    def configure(document):
        return routing.set_routing_configuration(merchant=merchant, mode="test", document=document)

    return configure


def candidates(merchant, **payment):
    return routing.plan_route(unsaved_payment(merchant, **payment)).decision


def test_first_matching_rule_decides_and_is_recorded(merchant, three_accounts, configure):
    a, b, c = three_accounts
    configure(
        {
            "rules": [
                {
                    "name": "big euro",
                    "conditions": {"currency": ["EUR"], "amount_min": 10_000},
                    "outcome": priority(c, a),
                },
                {"name": "mastercard", "conditions": {"card_brand": ["mastercard"]}, "outcome": priority(b)},
                {
                    "name": "german web",
                    "conditions": {"customer_country": ["DE"], "metadata": {"channel": "web"}},
                    "outcome": priority(b, c),
                },
                {
                    "name": "usd range",
                    "conditions": {"currency": ["USD"], "amount_min": 100, "amount_max": 200},
                    "outcome": priority(a),
                },
            ],
            "default": priority(c),
        }
    )

    big_euro = candidates(merchant, amount=10_000)
    assert big_euro["rule"] == {"index": 0, "name": "big euro"}
    assert big_euro["candidates"] == [c.public_id, a.public_id]
    assert candidates(merchant, amount=9_999, brand="mastercard")["rule"]["name"] == "mastercard"
    assert candidates(merchant, country="DE", metadata={"channel": "web"})["candidates"] == [b.public_id, c.public_id]
    assert candidates(merchant, country="DE", metadata={"channel": "app"})["outcome"] == "default"
    assert candidates(merchant, currency="USD", amount=200)["rule"]["name"] == "usd range"
    unmatched = candidates(merchant, currency="USD", amount=201)
    assert unmatched["rule"] is None and unmatched["candidates"] == [c.public_id]


def test_without_configuration_every_eligible_account_is_tried_by_its_priority(merchant, three_accounts):
    decision = candidates(merchant)
    assert decision["outcome"] == "all_accounts"
    assert decision["candidates"] == [account.public_id for account in three_accounts]


def test_ineligible_accounts_are_skipped_with_the_reason(merchant, three_accounts, make_account, configure):
    a, b, c = three_accounts
    b.enabled = False
    b.save()
    paytm = make_account(merchant, connector="paytm", label="upi bank")
    configure({"default": priority(paytm, b, c)})

    decision = candidates(merchant, capture_method="manual")

    assert decision["candidates"] == [c.public_id]
    assert decision["skipped"] == [
        {"connector_account": paytm.public_id, "reason": "paytm does not take card payments"},
        {"connector_account": b.public_id, "reason": "the account is disabled"},
    ]


def test_no_eligible_account_is_refused_with_the_reasons(merchant, three_accounts, configure):
    configure({"default": priority(three_accounts[0])})
    three_accounts[0].enabled = False
    three_accounts[0].save()
    with pytest.raises(PaymentError) as error:
        candidates(merchant)
    assert error.value.code == "no_eligible_connector" and "the account is disabled" in error.value.message


def test_volume_split_holds_within_three_points_over_2000_payments(merchant, three_accounts, configure):
    a, b, c = three_accounts
    configure(
        {
            "default": {
                "type": "volume_split",
                "split": [
                    {"connector": a.public_id, "percentage": 70},
                    {"connector": b.public_id, "percentage": 20},
                    {"connector": c.public_id, "percentage": 10},
                ],
            }
        }
    )
    context = load_context(unsaved_payment(merchant))

    counts = {a.public_id: 0, b.public_id: 0, c.public_id: 0}
    for index in range(2000):
        plan = decide(unsaved_payment(merchant, f"pay_split_{index:05d}"), context, routing.is_eligible)
        counts[plan.candidates[0].public_id] += 1

    shares = {account: 100 * count / 2000 for account, count in counts.items()}
    assert abs(shares[a.public_id] - 70) <= 3, shares
    assert abs(shares[b.public_id] - 20) <= 3, shares
    assert abs(shares[c.public_id] - 10) <= 3, shares


def test_volume_split_is_fixed_per_payment_id_and_keeps_the_others_as_fallbacks():
    split = [
        {"connector": "mca_a", "percentage": 50},
        {"connector": "mca_b", "percentage": 30},
        {"connector": "mca_c", "percentage": 20},
    ]
    first, bucket = split_order("pay_same", split)
    assert split_order("pay_same", split) == (first, bucket)
    assert sorted(first) == ["mca_a", "mca_b", "mca_c"]
    # The others follow by share, largest first.
    rest = [share["connector"] for share in split if share["connector"] != first[0]]
    assert first[1:] == rest
    chosen_for = {split_order(f"pay_{i}", split)[0][0] for i in range(50)}
    assert chosen_for == {"mca_a", "mca_b", "mca_c"}


def test_the_decision_reads_the_configuration_in_one_query_and_decides_with_none(merchant, three_accounts, configure):
    a, b, c = three_accounts
    configure(
        {
            "strategy": "success_rate",
            "rules": [{"name": "euro", "conditions": {"currency": ["EUR"]}, "outcome": priority(b, a)}],
            "default": priority(c),
        }
    )
    payment = unsaved_payment(merchant)

    with CaptureQueriesContext(connection) as reading:
        context = load_context(payment)
    with CaptureQueriesContext(connection) as deciding:
        plans = [decide(unsaved_payment(merchant, f"pay_q_{i}"), context, routing.is_eligible) for i in range(50)]

    assert len(reading.captured_queries) == 1
    assert len(deciding.captured_queries) == 0
    assert {plan.decision["rule"]["name"] for plan in plans} == {"euro"}


def test_planning_a_payments_route_costs_one_query(merchant, three_accounts, configure, django_assert_num_queries):
    configure({"default": priority(*three_accounts)})
    payment = unsaved_payment(merchant)
    with django_assert_num_queries(1):
        plan = routing.plan_route(payment)
    assert [account.public_id for account in plan.candidates] == [account.public_id for account in three_accounts]
    assert plan.max_attempts == 1 + merchant.max_fallback_attempts


def test_a_requested_account_costs_no_query_and_allows_no_fallback(merchant, three_accounts, django_assert_num_queries):
    with django_assert_num_queries(0):
        plan = routing.plan_route(unsaved_payment(merchant), requested=three_accounts[2])
    assert plan.candidates == [three_accounts[2]] and plan.next_candidate(0) is None


def test_another_mode_or_merchants_configuration_is_not_used(
    merchant, three_accounts, configure, make_merchant, make_account
):
    configure({"default": priority(three_accounts[2])})
    other, _ = make_merchant("Other Store")
    other_account = make_account(other, label="other bank")
    decision = routing.plan_route(unsaved_payment(other)).decision
    assert decision["outcome"] == "all_accounts" and decision["candidates"] == [other_account.public_id]
