"""The routing decision: from a payment and its merchant's configuration to an ordered list of
connector accounts (the first takes the attempt, the next ones take fallback attempts).

``load_context`` reads everything a decision needs in one query (the merchant's accounts in the
payment's mode, annotated with the routing configuration, the fallback limit and each account's
success-rate window); ``decide`` is then pure: no query, the same answer for the same payment.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

from django.db import connection

from connectors.models import ConnectorAccount
from payments.errors import PaymentError
from payments.models import Merchant, RoutingConfiguration, RoutingWindowBucket
from payments.routing import window
from payments.routing.definition import EMPTY_DEFINITION

SPLIT_BUCKETS = 10_000  # volume split resolution: 0.01 percentage point


@dataclass
class RoutingContext:
    """The merchant's side of a decision, read once per confirmation."""

    accounts: list  # ConnectorAccount, in account priority order, with window_attempts/window_successes
    definition: dict
    max_fallback_attempts: int


@dataclass
class RoutePlan:
    """The accounts a payment may try, in order, and why (recorded on each attempt)."""

    candidates: list
    decision: dict
    max_attempts: int
    fallback: bool = True  # False when the request named its connector: no other account is tried

    def decision_for(self, position: int, fallback_from: str = "") -> dict:
        return {**self.decision, "position": position, **({"fallback_from": fallback_from} if fallback_from else {})}

    def next_candidate(self, position: int):
        """The account for the attempt after the one at ``position``, or None when the plan or
        the merchant's fallback limit is exhausted."""
        following = position + 1
        if not self.fallback or following >= min(len(self.candidates), self.max_attempts):
            return None
        return self.candidates[following]


def load_context(payment) -> RoutingContext:
    """One query: the accounts of the payment's merchant and mode, each carrying the routing
    configuration, the merchant's fallback limit and the account's window for this payment's
    method and currency.

    Written in SQL, not built with the ORM: it runs for every payment, and compiling its
    subqueries cost a fifth of a payment request's CPU (docs/performance.md)."""
    since = connection.ops.adapt_datetimefield_value(window.window_since())
    bucket_filter = [payment.payment_method_type or "card", payment.currency, since]
    accounts = list(ConnectorAccount.objects.raw(
        _context_sql(), [*bucket_filter, *bucket_filter, payment.merchant_id, payment.mode]))
    for account in accounts:
        if isinstance(account.routing_definition, (str, bytes)):
            account.routing_definition = json.loads(account.routing_definition)
    definition = (accounts[0].routing_definition if accounts else None) or EMPTY_DEFINITION
    max_fallback = accounts[0].merchant_max_fallback_attempts if accounts else 0
    return RoutingContext(accounts=accounts, definition=definition, max_fallback_attempts=max_fallback)


@functools.cache
def _context_sql() -> str:
    account, merchant = ConnectorAccount._meta.db_table, Merchant._meta.db_table
    configuration, bucket = RoutingConfiguration._meta.db_table, RoutingWindowBucket._meta.db_table
    window_sum = (f"(SELECT SUM(b.{{field}}) FROM {bucket} b WHERE b.connector_account_id = a.id"
                  " AND b.payment_method_type = %s AND b.currency = %s AND b.bucket_start >= %s)")
    # ORDER BY is ConnectorAccount's own ordering: priority first (tests hold the two equal).
    return (
        f"SELECT a.*, m.max_fallback_attempts AS merchant_max_fallback_attempts,"
        f" (SELECT c.definition FROM {configuration} c WHERE c.merchant_id = a.merchant_id AND c.mode = a.mode)"
        f" AS routing_definition,"
        f" {window_sum.format(field='attempts')} AS window_attempts,"
        f" {window_sum.format(field='successes')} AS window_successes"
        f" FROM {account} a INNER JOIN {merchant} m ON m.id = a.merchant_id"
        f" WHERE a.merchant_id = %s AND a.mode = %s ORDER BY a.priority DESC, a.id ASC"
    )


def hash_bucket(payment_id: str, purpose: str, buckets: int) -> int:
    """A number in [0, buckets) fixed by the payment id: retries of a payment land the same way."""
    digest = hashlib.sha256(f"{purpose}:{payment_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def split_order(payment_id: str, split: list[dict]) -> tuple[list[str], int]:
    """The split's accounts with the one this payment's share falls on first (the rest by
    percentage, largest first, as fallbacks), and the payment's bucket."""
    bucket = hash_bucket(payment_id, "split", SPLIT_BUCKETS)
    threshold = 0
    chosen = split[-1]["connector"]
    for share in split:
        threshold += share["percentage"] * SPLIT_BUCKETS // 100
        if bucket < threshold:
            chosen = share["connector"]
            break
    rest = sorted((s for s in split if s["connector"] != chosen), key=lambda s: -s["percentage"])
    return [chosen, *(s["connector"] for s in rest)], bucket


def rule_matches(conditions: dict, payment) -> bool:
    """True when the payment meets every condition of the rule (no condition: always)."""
    method_type = payment.payment_method_type or "card"
    if "payment_method_type" in conditions and method_type not in conditions["payment_method_type"]:
        return False
    if "currency" in conditions and payment.currency not in conditions["currency"]:
        return False
    if "amount_min" in conditions and payment.amount < conditions["amount_min"]:
        return False
    if "amount_max" in conditions and payment.amount > conditions["amount_max"]:
        return False
    if (
        "card_brand" in conditions
        and (payment.payment_method_details or {}).get("brand") not in conditions["card_brand"]
    ):
        return False
    country = str((payment.customer or {}).get("country", "")).upper()
    if "customer_country" in conditions and country not in conditions["customer_country"]:
        return False
    metadata = payment.metadata or {}
    return all(metadata.get(key) == value for key, value in conditions.get("metadata", {}).items())


def _order_by_success_rate(payment, candidates: list, exploration_percent: int) -> tuple[list, dict, bool]:
    rates = {a.public_id: window.smoothed_rate(a.window_successes or 0, a.window_attempts or 0) for a in candidates}
    # Stable sort: equal rates keep the configured order.
    ordered = sorted(candidates, key=lambda a: -rates[a.public_id])
    explored = False
    if len(ordered) > 1 and hash_bucket(payment.public_id, "explore", 100) < exploration_percent:
        # A small share goes to another account first, so a recovered connector earns new
        # results and climbs back instead of being judged forever on its bad minutes.
        pick = 1 + hash_bucket(payment.public_id, "explore-pick", len(ordered) - 1)
        ordered.insert(0, ordered.pop(pick))
        explored = True
    figures = {
        a.public_id: {"attempts": a.window_attempts or 0, "successes": a.window_successes or 0} for a in candidates
    }
    return ordered, figures, explored


def decide(payment, context: RoutingContext, is_eligible) -> RoutePlan:
    """The plan for this payment; ``is_eligible(account, payment) -> (bool, reason)`` filters
    accounts that cannot take it. Raises ``PaymentError`` when no account can."""
    definition = context.definition
    by_id = {account.public_id: account for account in context.accounts}
    decision: dict = {"strategy": definition["strategy"], "rule": None}
    outcome = None
    for index, rule in enumerate(definition["rules"]):
        if rule_matches(rule["conditions"], payment):
            decision["rule"] = {"index": index, "name": rule["name"]}
            outcome = rule["outcome"]
            break
    if outcome is None:
        outcome = definition.get("default")
        decision["outcome"] = "default" if outcome else "all_accounts"
    else:
        decision["outcome"] = outcome["type"]

    if outcome is None:
        ordered_ids = [account.public_id for account in context.accounts]
    elif outcome["type"] == "volume_split":
        ordered_ids, decision["split_bucket"] = split_order(payment.public_id, outcome["split"])
    else:
        ordered_ids = list(outcome["connectors"])

    candidates, skipped = [], []
    for account_id in ordered_ids:
        account = by_id.get(account_id)
        eligible, reason = is_eligible(account, payment) if account is not None else (False, "the account is gone")
        if eligible:
            candidates.append(account)
        else:
            skipped.append({"connector_account": account_id, "reason": reason})
    if not candidates:
        detail = (
            "; ".join(f"{s['connector_account']}: {s['reason']}" for s in skipped)
            or f"no {payment.mode} connector account"
        )
        raise PaymentError(
            "no connector account can take this payment "
            f"({payment.payment_method_type or 'card'}, {payment.currency}, {payment.capture_method}): "
            f"{detail}",
            code="no_eligible_connector",
            http_status=400,
        )

    if definition["strategy"] == "success_rate" and (outcome is None or outcome["type"] == "priority"):
        candidates, decision["success_rates"], decision["explored"] = _order_by_success_rate(
            payment, candidates, definition["exploration_percent"]
        )
    decision["candidates"] = [account.public_id for account in candidates]
    if skipped:
        decision["skipped"] = skipped
    return RoutePlan(candidates=candidates, decision=decision, max_attempts=1 + context.max_fallback_attempts)


def requested_plan(account) -> RoutePlan:
    """The request (or its saved payment method) named the account: routing steps aside."""
    return RoutePlan(
        candidates=[account],
        decision={"outcome": "requested", "rule": None, "candidates": [account.public_id]},
        max_attempts=1,
        fallback=False,
    )
