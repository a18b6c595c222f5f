"""``GET/PUT /v1/routing``: the configuration round trip and the refusals that name the field."""

import pytest
from rest_framework.test import APIClient

from payments.models import ApiKey, RoutingConfiguration
from tests.helpers import assert_error
from tests.routing.conftest import priority


@pytest.fixture
def accounts(merchant, make_account):
    return make_account(merchant, label="bank a"), make_account(merchant, label="bank b")


def test_an_unset_configuration_reads_as_the_empty_one(api, accounts):
    body = api.get("/v1/routing").json()
    assert body == {
        "object": "routing_configuration",
        "livemode": False,
        "strategy": "priority",
        "exploration_percent": 5,
        "rules": [],
        "default": None,
        "updated": None,
    }


def test_a_configuration_is_saved_and_read_back(api, accounts, put_routing):
    a, b = accounts
    document = {
        "strategy": "success_rate",
        "exploration_percent": 3,
        "rules": [
            {
                "name": "big euro",
                "conditions": {
                    "currency": ["eur"],
                    "amount_min": 10000,
                    "card_brand": ["visa"],
                    "customer_country": ["DE"],
                    "metadata": {"channel": "web"},
                },
                "outcome": {
                    "type": "volume_split",
                    "split": [
                        {"connector": a.public_id, "percentage": 60},
                        {"connector": b.public_id, "percentage": 40},
                    ],
                },
            },
        ],
        "default": priority(b, a),
    }

    saved = put_routing(document)

    assert saved.status_code == 200, saved.content
    assert saved.json()["rules"][0]["conditions"]["currency"] == ["EUR"]
    read = api.get("/v1/routing").json()
    assert read["strategy"] == "success_rate" and read["exploration_percent"] == 3
    assert read["rules"][0]["outcome"]["split"][1] == {"connector": b.public_id, "percentage": 40}
    assert read["default"] == {"type": "priority", "connectors": [b.public_id, a.public_id]}
    assert read["updated"] is not None
    # A second PUT replaces the whole document.
    assert put_routing({"default": priority(a)}).json()["rules"] == []
    assert RoutingConfiguration.objects.get().definition["default"]["connectors"] == [a.public_id]


@pytest.mark.parametrize(
    "document, param, code",
    [
        (
            {"default": {"type": "priority", "connectors": ["mca_nope"]}},
            "default.connectors[0]",
            "routing_connector_unknown",
        ),
        (
            {"rules": [{"outcome": {"type": "volume_split", "split": "A"}}]},
            "rules[0].outcome.split",
            "parameter_invalid",
        ),
        (
            {"rules": [{"conditions": {"amount_min": 500, "amount_max": 100}, "outcome": "OUTCOME"}]},
            "rules[0].conditions.amount_max",
            "parameter_dependency",  # a rule between two fields: its own code (issue 16, item 16)
        ),
        (
            {"rules": [{"conditions": {"currency": ["EURO"]}, "outcome": "OUTCOME"}]},
            "rules[0].conditions.currency[0]",
            "parameter_invalid",
        ),
        (
            {"rules": [{"conditions": {"colour": "red"}, "outcome": "OUTCOME"}]},
            "rules[0].conditions.colour",
            "parameter_invalid",
        ),
        ({"rules": [{"name": "x"}]}, "rules[0].outcome", "parameter_missing"),
        ({"strategy": "cheapest"}, "strategy", "parameter_invalid"),
        ({"exploration_percent": 80}, "exploration_percent", "parameter_invalid"),
        ({"default": {"type": "priority", "connectors": ["A", "A"]}}, "default.connectors", "parameter_invalid"),
    ],
)
def test_invalid_configurations_are_refused_naming_the_field(api, accounts, put_routing, document, param, code):
    def with_ids(value):  # "A": the first account's id; "OUTCOME": a valid outcome
        if value == "OUTCOME":
            return priority(accounts[0])
        if isinstance(value, dict):
            return {k: with_ids(v) for k, v in value.items()}
        if isinstance(value, list):
            return [with_ids(v) for v in value]
        return accounts[0].public_id if value == "A" else value

    assert_error(put_routing(with_ids(document)), 400, code=code, param=param)
    assert not RoutingConfiguration.objects.exists()


def test_split_percentages_must_add_up_to_100(accounts, put_routing):
    a, b = accounts
    error = assert_error(
        put_routing(
            {
                "default": {
                    "type": "volume_split",
                    "split": [
                        {"connector": a.public_id, "percentage": 60},
                        {"connector": b.public_id, "percentage": 30},
                    ],
                }
            }
        ),
        400,
        code="routing_split_invalid",
        param="default.split",
    )
    assert "add up to 90" in error["message"]


def test_an_account_that_cannot_take_the_rules_payment_method_is_refused(merchant, make_account, accounts, put_routing):
    paytm = make_account(merchant, connector="paytm", label="upi bank")
    response = put_routing(
        {"rules": [{"conditions": {"payment_method_type": ["card"]}, "outcome": priority(accounts[0], paytm)}]}
    )
    assert_error(response, 400, code="routing_connector_incapable", param="rules[0].outcome.connectors[1]")


def test_accounts_of_the_other_mode_or_merchant_are_unknown(merchant, make_merchant, make_account, put_routing):
    live = make_account(merchant, label="live bank", mode="live")
    other, _ = make_merchant("Other Store")
    foreign = make_account(other, label="foreign bank")
    assert_error(
        put_routing({"default": priority(live)}), 400, code="routing_connector_unknown", param="default.connectors[0]"
    )
    assert_error(
        put_routing({"default": priority(foreign)}),
        400,
        code="routing_connector_unknown",
        param="default.connectors[0]",
    )


def test_each_mode_has_its_own_configuration(merchant, make_account, accounts, put_routing):
    live = make_account(merchant, label="live bank", mode="live")
    _, live_key = ApiKey.issue(merchant, mode="live")
    live_api = APIClient()
    live_api.credentials(HTTP_AUTHORIZATION=f"Bearer {live_key}")

    assert live_api.put("/v1/routing", {"default": priority(live)}, format="json").status_code == 200
    assert put_routing({"default": priority(accounts[1])}).status_code == 200

    assert live_api.get("/v1/routing").json()["default"]["connectors"] == [live.public_id]
    assert live_api.get("/v1/routing").json()["livemode"] is True


def test_the_body_must_be_an_object_and_the_key_is_required(api, put_routing):
    assert_error(api.put("/v1/routing", [1, 2], format="json"), 400, code="parameter_invalid")
    assert_error(APIClient().get("/v1/routing"), 401)
