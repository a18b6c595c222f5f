"""A merchant's routing configuration: its shape, and the checks it must pass before it is saved.

The document (what ``GET/PUT /v1/routing`` shows and takes)::

    {"strategy": "priority" | "success_rate",
     "exploration_percent": 5,
     "rules": [{"name": "big EUR cards",
                "conditions": {"payment_method_type": ["card"], "currency": ["EUR"],
                               "amount_min": 10000, "amount_max": 500000, "card_brand": ["visa"],
                               "customer_country": ["DE"], "metadata": {"channel": "web"}},
                "outcome": {"type": "priority", "connectors": ["mca_...", "mca_..."]}},
               {"name": "split", "conditions": {},
                "outcome": {"type": "volume_split", "split": [{"connector": "mca_...", "percentage": 70},
                                                             {"connector": "mca_...", "percentage": 30}]}}],
     "default": {"type": "priority", "connectors": ["mca_..."]} | null}

Every error names the field it is about (``rules[1].outcome.split[0].percentage``) so the API's
one error shape can say which part of the document is wrong.
"""

from __future__ import annotations

import re

from connectors import amounts
from connectors.registry import UnknownConnector
from payments.errors import PaymentError
from payments.statuses import PaymentMethodType

STRATEGIES = ("priority", "success_rate")
OUTCOME_TYPES = ("priority", "volume_split")
CARD_BRANDS = ("visa", "mastercard", "amex", "discover", "jcb", "unknown")
CONDITION_KEYS = (
    "payment_method_type",
    "currency",
    "amount_min",
    "amount_max",
    "card_brand",
    "customer_country",
    "metadata",
)
DEFAULT_EXPLORATION_PERCENT = 5
MAX_EXPLORATION_PERCENT = 50
MAX_RULES = 100
MAX_CONNECTORS_PER_OUTCOME = 20
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")

EMPTY_DEFINITION = {
    "strategy": "priority",
    "exploration_percent": DEFAULT_EXPLORATION_PERCENT,
    "rules": [],
    "default": None,
}


def _invalid(param: str, message: str, code: str = "parameter_invalid") -> PaymentError:
    if not param:
        return PaymentError(f"the routing configuration {message}", code=code)
    return PaymentError(f"{param}: {message}", code=code, param=param)


def _object(value, param: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise _invalid(param, "must be an object")
    for key in value:
        if key not in allowed:
            raise _invalid(f"{param}.{key}" if param else key, "is not a known field")
    for key in required:
        if key not in value:
            raise _invalid(f"{param}.{key}" if param else key, "is required", code="parameter_missing")
    return value


def _int(value, param: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(param, "must be an integer")
    if not minimum <= value <= maximum:
        raise _invalid(param, f"must be between {minimum} and {maximum}")
    return value


def _string_list(value, param: str, check, what: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _invalid(param, "must be a non-empty list")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not check(item):
            raise _invalid(f"{param}[{index}]", f"{item!r} is not {what}")
        if item not in result:
            result.append(item)
    return result


def _conditions(value, param: str) -> dict:
    conditions = _object(value, param, CONDITION_KEYS)
    result: dict = {}
    if "payment_method_type" in conditions:
        result["payment_method_type"] = _string_list(
            conditions["payment_method_type"],
            f"{param}.payment_method_type",
            lambda v: v in PaymentMethodType.values,
            "a payment method type",
        )
    if "currency" in conditions:
        upper = (
            [c.upper() if isinstance(c, str) else c for c in conditions["currency"]]
            if isinstance(conditions["currency"], list)
            else conditions["currency"]
        )
        result["currency"] = _string_list(
            upper, f"{param}.currency", amounts.is_supported_currency, "a supported ISO 4217 currency"
        )
    for key in ("amount_min", "amount_max"):
        if key in conditions:
            result[key] = _int(conditions[key], f"{param}.{key}", minimum=0, maximum=amounts.MAX_AMOUNT)
    if "amount_min" in result and "amount_max" in result and result["amount_min"] > result["amount_max"]:
        raise _invalid(f"{param}.amount_max", "must not be below amount_min", code="parameter_dependency")
    if "card_brand" in conditions:
        result["card_brand"] = _string_list(
            conditions["card_brand"],
            f"{param}.card_brand",
            lambda v: v in CARD_BRANDS,
            f"a card brand ({', '.join(CARD_BRANDS)})",
        )
    if "customer_country" in conditions:
        result["customer_country"] = _string_list(
            conditions["customer_country"],
            f"{param}.customer_country",
            COUNTRY_RE.fullmatch,
            "an ISO 3166 two-letter country code",
        )
    if "metadata" in conditions:
        metadata = conditions["metadata"]
        if not isinstance(metadata, dict) or not metadata:
            raise _invalid(f"{param}.metadata", "must be a non-empty object of key: value")
        for key, expected in metadata.items():
            if not key:
                raise _invalid(f"{param}.metadata", "keys must not be empty", code="metadata_key_invalid")
            if not isinstance(expected, str):
                raise _invalid(f"{param}.metadata.{key}", "must be a string value")
        result["metadata"] = dict(metadata)
    return result


def _account(value, param: str, accounts: dict, method_types: list[str] | None):
    if not isinstance(value, str):
        raise _invalid(param, "must be a connector account id (mca_...)")
    account = accounts.get(value)
    if account is None:
        raise _invalid(
            param, f"no connector account {value!r} for this merchant in this mode", code="routing_connector_unknown"
        )
    try:
        connector = account.connector_class
    except UnknownConnector:
        raise _invalid(
            param, f"connector {account.connector!r} is not installed", code="routing_connector_incapable"
        ) from None
    for method_type in method_types or ():
        if method_type not in connector.payment_method_types:
            raise _invalid(
                param,
                f"{value} ({connector.key}) cannot take {method_type} payments",
                code="routing_connector_incapable",
            )
    return value


def _outcome(value, param: str, accounts: dict, method_types: list[str] | None) -> dict:
    outcome = _object(value, param, ("type", "connectors", "split"), required=("type",))
    if outcome["type"] not in OUTCOME_TYPES:
        raise _invalid(f"{param}.type", f"must be one of {', '.join(OUTCOME_TYPES)}")
    if outcome["type"] == "priority":
        _object(outcome, param, ("type", "connectors"), required=("connectors",))
        connectors = outcome["connectors"]
        if not isinstance(connectors, list) or not 1 <= len(connectors) <= MAX_CONNECTORS_PER_OUTCOME:
            raise _invalid(f"{param}.connectors", f"must list 1 to {MAX_CONNECTORS_PER_OUTCOME} connector accounts")
        ids = [_account(item, f"{param}.connectors[{i}]", accounts, method_types) for i, item in enumerate(connectors)]
        if len(set(ids)) != len(ids):
            raise _invalid(f"{param}.connectors", "names a connector account twice")
        return {"type": "priority", "connectors": ids}
    _object(outcome, param, ("type", "split"), required=("split",))
    split = outcome["split"]
    if not isinstance(split, list) or not 1 <= len(split) <= MAX_CONNECTORS_PER_OUTCOME:
        raise _invalid(f"{param}.split", f"must list 1 to {MAX_CONNECTORS_PER_OUTCOME} shares")
    shares = []
    for index, share in enumerate(split):
        share_param = f"{param}.split[{index}]"
        _object(share, share_param, ("connector", "percentage"), required=("connector", "percentage"))
        shares.append(
            {
                "connector": _account(share["connector"], f"{share_param}.connector", accounts, method_types),
                "percentage": _int(share["percentage"], f"{share_param}.percentage", minimum=1, maximum=100),
            }
        )
    if len({s["connector"] for s in shares}) != len(shares):
        raise _invalid(f"{param}.split", "names a connector account twice", code="routing_split_invalid")
    total = sum(s["percentage"] for s in shares)
    if total != 100:
        raise _invalid(
            f"{param}.split", f"percentages must add up to 100 (they add up to {total})", code="routing_split_invalid"
        )
    return {"type": "volume_split", "split": shares}


def validate_definition(document, accounts: dict) -> dict:
    """The normalized configuration, or a ``PaymentError`` naming the faulty field.

    ``accounts`` maps the public ids of the merchant's connector accounts in the configuration's
    mode to the accounts: any other id is unknown.
    """
    document = _object(document, "", ("strategy", "exploration_percent", "rules", "default"))
    strategy = document.get("strategy", "priority")
    if strategy not in STRATEGIES:
        raise _invalid("strategy", f"must be one of {', '.join(STRATEGIES)}")
    exploration = _int(
        document.get("exploration_percent", DEFAULT_EXPLORATION_PERCENT),
        "exploration_percent",
        minimum=0,
        maximum=MAX_EXPLORATION_PERCENT,
    )
    rules_in = document.get("rules", [])
    if not isinstance(rules_in, list) or len(rules_in) > MAX_RULES:
        raise _invalid("rules", f"must be a list of at most {MAX_RULES} rules")
    rules = []
    for index, rule in enumerate(rules_in):
        param = f"rules[{index}]"
        _object(rule, param, ("name", "conditions", "outcome"), required=("outcome",))
        name = rule.get("name", f"rule {index + 1}")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise _invalid(f"{param}.name", "must be a string of 1 to 100 characters")
        conditions = _conditions(rule.get("conditions", {}), f"{param}.conditions")
        outcome = _outcome(rule["outcome"], f"{param}.outcome", accounts, conditions.get("payment_method_type"))
        rules.append({"name": name, "conditions": conditions, "outcome": outcome})
    default = document.get("default")
    if default is not None:
        default = _outcome(default, "default", accounts, None)
    return {"strategy": strategy, "exploration_percent": exploration, "rules": rules, "default": default}
