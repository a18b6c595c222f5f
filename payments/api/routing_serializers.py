"""The routing configuration document as the API shows it.

Input is validated by the service (``payments/routing/definition.py``), the one validator the
API and the admin share, so every error names its field the same way (``rules[0].outcome...``);
these serializers render the stored document and describe it in the OpenAPI schema.
"""

from rest_framework import serializers

from payments.routing.definition import CARD_BRANDS, OUTCOME_TYPES, STRATEGIES
from payments.statuses import PaymentMethodType


class SplitShareSerializer(serializers.Serializer):
    connector = serializers.CharField(help_text="A connector account id (mca_...).")
    percentage = serializers.IntegerField(min_value=1, max_value=100)


class OutcomeSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=OUTCOME_TYPES)
    connectors = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="priority: connector account ids, tried in this order."
    )
    split = SplitShareSerializer(
        many=True, required=False, help_text="volume_split: shares adding up to 100, fixed per payment id."
    )


class ConditionsSerializer(serializers.Serializer):
    payment_method_type = serializers.ListField(
        child=serializers.ChoiceField(choices=PaymentMethodType.values), required=False
    )
    currency = serializers.ListField(child=serializers.CharField(min_length=3, max_length=3), required=False)
    amount_min = serializers.IntegerField(required=False, help_text="Minor units, inclusive.")
    amount_max = serializers.IntegerField(required=False, help_text="Minor units, inclusive.")
    card_brand = serializers.ListField(child=serializers.ChoiceField(choices=CARD_BRANDS), required=False)
    customer_country = serializers.ListField(
        child=serializers.CharField(min_length=2, max_length=2), required=False, help_text="ISO 3166 two-letter codes."
    )
    metadata = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Every key must equal its value in the payment's metadata.",
    )


class RuleSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    conditions = ConditionsSerializer(required=False, help_text="All must hold; none: the rule always matches.")
    outcome = OutcomeSerializer()


class RoutingInput(serializers.Serializer):
    strategy = serializers.ChoiceField(
        choices=STRATEGIES,
        required=False,
        default="priority",
        help_text="success_rate orders priority outcomes by recent authorization "
        "success, trying another account first for a small share.",
    )
    exploration_percent = serializers.IntegerField(min_value=0, max_value=50, required=False, default=5)
    rules = RuleSerializer(many=True, required=False, help_text="Tried in order; the first that matches decides.")
    default = OutcomeSerializer(
        required=False, allow_null=True, help_text="When no rule matches; null: every eligible account by its priority."
    )


class RoutingOutput(RoutingInput):
    object = serializers.SerializerMethodField()
    livemode = serializers.SerializerMethodField()
    updated = serializers.DateTimeField(allow_null=True)

    def get_object(self, obj) -> str:
        return "routing_configuration"

    def get_livemode(self, obj) -> bool:
        return obj["mode"] == "live"


def routing_output(definition: dict, configuration, mode: str) -> dict:
    """The configuration as the API answers it (the empty one when never set)."""
    return RoutingOutput(
        {**definition, "mode": mode, "updated": configuration.updated_at if configuration is not None else None}
    ).data


def describe_routing_input(result, generator, request, public):
    """drf-spectacular postprocessing hook: the routing document's request schema states the rules
    of ``payments.routing.definition`` that the serializers above cannot: an outcome is either a
    priority list or a volume split (never both), lists are non-empty, ids unique, amounts in range.
    What no schema can state (shares adding up to 100, ids that exist) keeps its own error code."""
    from connectors import amounts
    from payments.api.fields import CURRENCY_CODES
    from payments.routing.definition import MAX_CONNECTORS_PER_OUTCOME, MAX_RULES

    schemas = result.get("components", {}).get("schemas", {})
    if "OutcomeRequest" not in schemas:
        return result
    account_ids = {"type": "string", "minLength": 1, "description": "A connector account id (mca_...)."}
    schemas["OutcomeRequest"] = {"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["type", "connectors"], "properties": {
            "type": {"type": "string", "enum": ["priority"]},
            "connectors": {"type": "array", "items": account_ids, "minItems": 1,
                           "maxItems": MAX_CONNECTORS_PER_OUTCOME, "uniqueItems": True,
                           "description": "Connector account ids, tried in this order."}}},
        {"type": "object", "additionalProperties": False, "required": ["type", "split"], "properties": {
            "type": {"type": "string", "enum": ["volume_split"]},
            "split": {"type": "array", "items": {"$ref": "#/components/schemas/SplitShareRequest"}, "minItems": 1,
                      "maxItems": MAX_CONNECTORS_PER_OUTCOME,
                      "description": "Shares adding up to 100, fixed per payment id."}}},
    ]}
    conditions = schemas.get("ConditionsRequest", {}).get("properties", {})
    for name in ("payment_method_type", "currency", "card_brand", "customer_country"):
        if name in conditions:
            conditions[name]["minItems"] = 1
    if "currency" in conditions:
        conditions["currency"]["items"] = {"type": "string", "enum": CURRENCY_CODES}
    if "customer_country" in conditions:
        conditions["customer_country"]["items"] = {"type": "string", "pattern": "^[A-Z]{2}$"}
    for name in ("amount_min", "amount_max"):
        if name in conditions:
            conditions[name].update({"minimum": 0, "maximum": amounts.MAX_AMOUNT})
    if "metadata" in conditions:
        conditions["metadata"]["minProperties"] = 1
    rules = schemas.get("RoutingInputRequest", {}).get("properties", {}).get("rules")
    if rules is not None:
        rules["maxItems"] = MAX_RULES
    return result
