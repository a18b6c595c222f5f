"""Strict input fields: JSON types are checked, not coerced ("100" is not an amount)."""


from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connectors import amounts


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "must be an integer (minor units, e.g. 1050 for 10.50)"}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "must be a string"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


# The schema lists the codes the API takes, upper or lower case (Stripe's clients send "eur").
CURRENCY_CODES = sorted(amounts.CURRENCY_EXPONENTS) + sorted(code.lower() for code in amounts.CURRENCY_EXPONENTS)


@extend_schema_field({"type": "string", "enum": CURRENCY_CODES})
class CurrencyField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(min_length=3, max_length=3, **kwargs)

    def to_internal_value(self, data):
        raw = super().to_internal_value(data)
        value = raw.upper()
        if raw not in CURRENCY_CODES or not amounts.is_supported_currency(value):
            raise serializers.ValidationError(f"{data!r} is not a supported ISO 4217 currency code",
                                              code="currency_invalid")
        return value


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": amounts.MAX_AMOUNT})
class AmountField(StrictIntegerField):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value <= 0:
            raise serializers.ValidationError("must be a positive integer of minor units", code="amount_invalid")
        if value > amounts.MAX_AMOUNT:
            raise serializers.ValidationError(f"must be at most {amounts.MAX_AMOUNT}", code="amount_too_large")
        return value


@extend_schema_field({"type": "object", "maxProperties": 50,
                     "additionalProperties": {"type": "string", "maxLength": 500}})
class MetadataField(serializers.Field):
    """Up to 50 string keys (40 chars) with string values (500 chars), as merchants know it."""

    default_error_messages = {"invalid": "must be an object of string keys and string values"}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        if len(data) > 50:
            raise serializers.ValidationError("at most 50 keys", code="metadata_invalid")
        for key, value in data.items():
            if not 1 <= len(key) <= 40:
                raise serializers.ValidationError(f"key {key[:40]!r}: keys are 1-40 characters",
                                                  code="metadata_key_invalid")
            if not isinstance(value, str) or len(value) > 500:
                raise serializers.ValidationError(
                    f"key {key[:40]!r}: keys are 1-40 characters and values strings of at most 500",
                    code="metadata_invalid")
        return data

    def to_representation(self, value):
        return value


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, naming the first one."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = [name for name in data if name not in self.fields or self.fields[name].read_only]
            if unknown:
                raise serializers.ValidationError({unknown[0]: [serializers.ErrorDetail(
                    "unknown parameter", code="parameter_unknown")]})
        return super().to_internal_value(data)
