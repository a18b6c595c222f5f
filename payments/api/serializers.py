"""Input serializers (parse and validate a request) and output serializers (render an object)."""

import re
from datetime import UTC, datetime

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connectors.base import Card, Upi
from connectors.masking import luhn_valid
from payments.api.fields import (
    AmountField,
    CurrencyField,
    MetadataField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)
from payments.api.pagination import CURSOR_PATTERN, MAX_LIMIT
from payments.models import PaymentAttempt, PaymentOperation, Refund, SavedPaymentMethod
from payments.statuses import CaptureMethod, PaymentMethodType

VPA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]{1,254}@[A-Za-z][A-Za-z0-9]{1,63}$")


# -- input ---------------------------------------------------------------------------------------

# 12 to 19 digits, a space or a dash allowed between two of them; the schema states the same.
CARD_NUMBER_PATTERN = r"^[0-9](?:[ -]?[0-9]){11,18}$"
CVC_PATTERN = r"^(?:[0-9]{3,4})?$"


@extend_schema_field({"type": "string", "pattern": CARD_NUMBER_PATTERN, "description": "Card number; never stored."})
class CardNumberField(StrictCharField):
    pass


@extend_schema_field({"type": "string", "pattern": CVC_PATTERN, "description": "Never stored."})
class CvcField(StrictCharField):
    pass


class CardInput(StrictSerializer):
    number = CardNumberField(max_length=37)
    exp_month = StrictIntegerField(min_value=1, max_value=12)
    exp_year = StrictIntegerField(min_value=2000, max_value=2100)
    cvc = CvcField(max_length=4, required=False, allow_blank=True)
    holder_name = StrictCharField(max_length=200, required=False, allow_blank=True)

    def validate_number(self, value):
        if not re.fullmatch(CARD_NUMBER_PATTERN, value):
            raise serializers.ValidationError("must be 12 to 19 digits", code="card_number_invalid")
        digits = re.sub(r"[ -]", "", value)
        if not luhn_valid(digits):  # a rule no schema states: answered with its own code
            raise serializers.ValidationError("is not a valid card number", code="card_number_invalid")
        return digits

    def validate_cvc(self, value):
        if not re.fullmatch(CVC_PATTERN, value):
            raise serializers.ValidationError("must be 3 or 4 digits", code="cvc_invalid")
        return value

    def validate(self, attrs):
        now = datetime.now(UTC)
        if (attrs["exp_year"], attrs["exp_month"]) < (now.year, now.month):
            raise serializers.ValidationError({"exp_year": [serializers.ErrorDetail("the card has expired",
                                                                                    code="card_expired")]})
        return attrs


class UpiInput(StrictSerializer):
    flow = serializers.ChoiceField(choices=["collect", "intent"])
    vpa = StrictCharField(max_length=255, required=False, allow_blank=True,
                          help_text="The payer's virtual payment address (handle@psp), for collect.")

    def validate_vpa(self, value):
        if value and not VPA_RE.fullmatch(value):
            raise serializers.ValidationError("is not a valid VPA (handle@psp: letters, digits, . - _ then @ and the "
                                              "PSP's letters and digits)", code="vpa_invalid")
        return value

    def validate(self, attrs):
        if attrs["flow"] == "collect" and not attrs.get("vpa"):
            raise serializers.ValidationError({"vpa": [serializers.ErrorDetail("is required for a collect payment",
                                                                               code="parameter_dependency")]})
        if attrs["flow"] == "intent" and attrs.get("vpa"):
            raise serializers.ValidationError({"vpa": [serializers.ErrorDetail("is not used by an intent payment",
                                                                               code="parameter_dependency")]})
        return attrs


class PaymentMethodDataInput(StrictSerializer):
    card = CardInput(required=False)
    upi = UpiInput(required=False)


class CustomerInput(StrictSerializer):
    id = StrictCharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    phone = StrictCharField(max_length=30, required=False, allow_blank=True)
    country = StrictCharField(max_length=2, min_length=2, required=False)


class PaymentMethodMixin:
    """Shared rules for the payment method of create and confirm."""

    def check_payment_method(self, attrs, *, required: bool):
        method_type = attrs.get("payment_method_type")
        data = attrs.get("payment_method_data")
        if attrs.get("payment_method"):
            if data is not None:
                raise serializers.ValidationError({"payment_method_data": [serializers.ErrorDetail(
                    "give either payment_method (a saved method) or payment_method_data, not both",
                    code="payment_method_conflict")]})
            if attrs.get("save_payment_method"):
                raise serializers.ValidationError({"save_payment_method": [serializers.ErrorDetail(
                    "this payment method is saved already", code="payment_method_conflict")]})
            return attrs
        if data is None:
            if required:
                raise serializers.ValidationError({"payment_method_data": [serializers.ErrorDetail(
                    "is required to confirm", code="payment_method_required")]})
            return attrs
        method_type = method_type or ("upi" if "upi" in data else "card")
        attrs["payment_method_type"] = method_type
        if method_type not in data or len(data) != 1:
            raise serializers.ValidationError({"payment_method_data": [serializers.ErrorDetail(
                f"must hold exactly one '{method_type}' object for payment_method_type {method_type}",
                code="parameter_dependency")]})
        if method_type == "card":
            card = data["card"]
            attrs["card"] = Card(number=card["number"], exp_month=card["exp_month"], exp_year=card["exp_year"],
                                 cvc=card.get("cvc", ""), holder_name=card.get("holder_name", ""))
        else:
            attrs["upi"] = Upi(flow=data["upi"]["flow"], vpa=data["upi"].get("vpa", ""))
        return attrs


class PaymentCreateInput(PaymentMethodMixin, StrictSerializer):
    amount = AmountField(help_text="Minor units of the currency: 1050 is 10.50 EUR, 500 is 500 JPY.")
    currency = CurrencyField()
    capture_method = serializers.ChoiceField(choices=CaptureMethod.choices, default=CaptureMethod.AUTOMATIC)
    confirm = StrictBooleanField(default=False)
    payment_method_type = serializers.ChoiceField(choices=PaymentMethodType.choices, required=False)
    payment_method_data = PaymentMethodDataInput(required=False)
    customer = CustomerInput(required=False)
    description = StrictCharField(max_length=1000, required=False, allow_blank=True)
    metadata = MetadataField(required=False)
    merchant_reference = StrictCharField(max_length=255, required=False, allow_blank=True)
    return_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    connector = StrictCharField(max_length=40, required=False,
                                help_text="A connector account id (mca_...) or connector key; overrides routing.")
    request_three_d_secure = StrictBooleanField(default=False)
    browser_info = serializers.DictField(required=False)
    payment_method = StrictCharField(max_length=40, required=False,
                                     help_text="A saved payment method (pm_...) to pay with, instead of card data.")
    save_payment_method = StrictBooleanField(default=False,
                                             help_text="Save the card at the gateway for the customer (needs customer.id).")
    scheduled_payment = StrictBooleanField(default=False,
                                           help_text="A payment with a saved method that is part of a schedule.")

    def validate(self, attrs):
        attrs = self.check_payment_method(attrs, required=attrs.get("confirm", False) and not attrs.get(
            "payment_method"))
        if attrs.get("payment_method_type") and "payment_method_data" not in attrs:
            raise serializers.ValidationError({"payment_method_data": [serializers.ErrorDetail(
                "is required with payment_method_type", code="parameter_dependency")]})
        return attrs


class PaymentConfirmInput(PaymentMethodMixin, StrictSerializer):
    payment_method_type = serializers.ChoiceField(choices=PaymentMethodType.choices, required=False)
    payment_method_data = PaymentMethodDataInput(required=False)
    payment_method = StrictCharField(max_length=40, required=False)
    scheduled_payment = StrictBooleanField(default=False)
    connector = StrictCharField(max_length=40, required=False)
    request_three_d_secure = StrictBooleanField(default=False)
    browser_info = serializers.DictField(required=False)

    def validate(self, attrs):
        return self.check_payment_method(attrs, required=False)


class PaymentMethodCreateInput(StrictSerializer):
    type = serializers.ChoiceField(choices=["card"], default="card")
    card = CardInput()
    customer_id = StrictCharField(max_length=100)
    connector = StrictCharField(max_length=40, help_text="The connector account (mca_...) or key that keeps the token.")
    verify = StrictBooleanField(default=False, help_text="Verify the card with its issuer, without charging, first.")
    currency = CurrencyField(required=False)


class PaymentMethodOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    type = serializers.CharField(source="payment_method_type")
    card = serializers.SerializerMethodField()
    connector_account = serializers.CharField(source="connector_account.public_id")
    created = serializers.DateTimeField(source="created_at")
    detached = serializers.SerializerMethodField()

    class Meta:
        model = SavedPaymentMethod
        fields = ["id", "object", "type", "customer_id", "card", "connector_account", "created", "detached"]

    def get_object(self, obj) -> str:
        return "payment_method"

    def get_card(self, obj) -> dict:
        return {"brand": obj.brand, "last4": obj.last4, "exp_month": obj.exp_month, "exp_year": obj.exp_year}

    def get_detached(self, obj) -> bool:
        return obj.detached_at is not None


class PaymentCaptureInput(StrictSerializer):
    amount = AmountField(required=False, help_text="Minor units; default: everything still capturable.")


class PaymentCancelInput(StrictSerializer):
    cancellation_reason = StrictCharField(max_length=500, required=False, allow_blank=True)


class RefundCreateInput(StrictSerializer):
    payment = StrictCharField(max_length=40, help_text="The payment's id (pay_...).")
    amount = AmountField(required=False, help_text="Minor units; default: everything still refundable.")
    reason = StrictCharField(max_length=500, required=False, allow_blank=True)
    metadata = MetadataField(required=False)


class ListParameters(StrictSerializer):
    """The query parameters of every list: its filters (in subclasses) and the page. Each list
    view validates its query with one, and the schema's parameters are generated from the same
    class, so the two cannot disagree (the page rules themselves live in ``pagination``)."""

    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False,
                                     help_text=f"Objects per page, 1 to {MAX_LIMIT} (default 10).")
    cursor = serializers.RegexField(CURSOR_PATTERN, required=False,
                                    help_text="The next_cursor of the previous page.")


class PaymentListFilters(ListParameters):
    status = serializers.ChoiceField(choices=[c for c, _ in PaymentOperation._meta.get_field("status").choices],
                                     required=False)
    created_gte = serializers.DateTimeField(required=False, help_text="ISO 8601 time")
    created_lte = serializers.DateTimeField(required=False, help_text="ISO 8601 time")


class RefundListFilters(ListParameters):
    payment = StrictCharField(max_length=40, required=False, help_text="Only the refunds of this payment (pay_...).")


class PaymentMethodListFilters(ListParameters):
    customer_id = StrictCharField(max_length=100, required=False)


# -- output --------------------------------------------------------------------------------------

class ErrorDetailOutput(serializers.Serializer):
    type = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    param = serializers.CharField(required=False)


class ErrorOutput(serializers.Serializer):
    error = ErrorDetailOutput()


_DATETIME_FIELD = serializers.DateTimeField()


def _datetime(value) -> str | None:
    return None if value is None else _DATETIME_FIELD.to_representation(value)


class AttemptOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    connector_account = serializers.CharField(source="connector_account.public_id")
    fallback = serializers.SerializerMethodField(
        help_text="True when this attempt was made because the previous one failed safely (see docs/routing.md).")
    routing_rule = serializers.SerializerMethodField(help_text="The routing rule that chose the account, if any.")
    created = serializers.DateTimeField(source="created_at")

    class Meta:
        model = PaymentAttempt
        fields = ["id", "connector", "connector_account", "status", "amount", "currency", "connector_reference",
                  "error_code", "error_message", "fallback", "routing_rule", "created"]

    def to_representation(self, obj) -> dict:
        # Hand-written for speed (every payment answer and event renders its attempts); the
        # declared fields above still describe it in the schema, and a test holds the two equal.
        return {
            "id": obj.public_id, "connector": obj.connector, "connector_account": obj.connector_account.public_id,
            "status": obj.status, "amount": obj.amount, "currency": obj.currency,
            "connector_reference": obj.connector_reference, "error_code": obj.error_code,
            "error_message": obj.error_message, "fallback": self.get_fallback(obj),
            "routing_rule": self.get_routing_rule(obj), "created": _datetime(obj.created_at),
        }

    def get_fallback(self, obj) -> bool:
        return bool((obj.routing_decision or {}).get("fallback_from"))

    def get_routing_rule(self, obj) -> str | None:
        return ((obj.routing_decision or {}).get("rule") or {}).get("name")

    def declared_representation(self, obj) -> dict:
        return super().to_representation(obj)


_ATTEMPT_OUTPUT = AttemptOutput()


class PaymentOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    livemode = serializers.SerializerMethodField()
    amount_capturable = serializers.IntegerField(read_only=True)
    payment_method = serializers.JSONField(source="payment_method_details")
    next_action = serializers.SerializerMethodField()
    last_payment_error = serializers.SerializerMethodField()
    connector = serializers.SerializerMethodField()
    connector_reference = serializers.SerializerMethodField()
    attempts = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")
    updated = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = PaymentOperation
        fields = ["id", "object", "livemode", "status", "amount", "currency", "capture_method", "amount_capturable",
                  "amount_captured", "amount_refunded", "payment_method_type", "payment_method", "customer",
                  "description", "metadata", "merchant_reference", "return_url", "next_action",
                  "last_payment_error", "integrity_mismatch", "late_success", "connector", "connector_reference",
                  "attempts", "created", "updated"]

    def to_representation(self, obj) -> dict:
        # Hand-written for speed: DRF builds (deep-copies) every declared field per instance, a
        # fifth of a payment request's CPU. The declared fields still describe the answer in the
        # schema, and tests/api/test_rendering.py holds the two renderings equal.
        return {
            "id": obj.public_id, "object": self.get_object(obj), "livemode": self.get_livemode(obj),
            "status": obj.status, "amount": obj.amount, "currency": obj.currency, "capture_method": obj.capture_method,
            "amount_capturable": obj.amount_capturable, "amount_captured": obj.amount_captured,
            "amount_refunded": obj.amount_refunded, "payment_method_type": obj.payment_method_type,
            "payment_method": obj.payment_method_details, "customer": obj.customer,
            "description": obj.description, "metadata": obj.metadata, "merchant_reference": obj.merchant_reference,
            "return_url": obj.return_url, "next_action": self.get_next_action(obj),
            "last_payment_error": self.get_last_payment_error(obj), "integrity_mismatch": obj.integrity_mismatch,
            "late_success": obj.late_success, "connector": self.get_connector(obj), "connector_reference": self.get_connector_reference(obj),
            "attempts": [_ATTEMPT_OUTPUT.to_representation(attempt) for attempt in self._attempts(obj)],
            "created": _datetime(obj.created_at), "updated": _datetime(obj.updated_at),
        }

    def declared_representation(self, obj) -> dict:
        """DRF's rendering from the declared fields: what ``to_representation`` must equal."""
        data = super().to_representation(obj)
        data["attempts"] = [AttemptOutput().declared_representation(a) for a in self._attempts(obj)]
        return data

    def get_object(self, obj) -> str:
        return "payment"

    def get_livemode(self, obj) -> bool:
        return obj.mode == "live"

    def _attempts(self, obj) -> list:
        cache = obj.remembered_attempts()
        if cache is None:
            cache = list(obj.attempts.select_related("connector_account").order_by("created_at", "id"))
            obj.remember_attempts(cache)
        return cache

    def get_next_action(self, obj) -> dict | None:
        action = obj.next_action
        if not action:
            return None
        action = dict(action)
        if action.get("type") == "redirect_to_url" and (action.get("data") or {}).get("form"):
            # The bank wants a form POST: the customer is sent to Pagoflex's page that submits it.
            action["url"] = settings.PAGOFLEX_PUBLIC_URL + reverse("payment-authenticate", args=[obj.public_id])
            action.pop("data", None)
        return action

    def get_last_payment_error(self, obj) -> dict | None:
        if not obj.error_code:
            return None
        return {"code": obj.error_code, "message": obj.error_message}

    def get_connector(self, obj) -> str | None:
        attempts = self._attempts(obj)
        return attempts[-1].connector if attempts else None

    def get_connector_reference(self, obj) -> str | None:
        attempts = self._attempts(obj)
        return (attempts[-1].connector_reference or None) if attempts else None

    def get_attempts(self, obj) -> list[dict]:
        return AttemptOutput(self._attempts(obj), many=True).data


class RefundOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    payment = serializers.CharField(source="payment.public_id")
    failure_code = serializers.CharField(source="error_code")
    failure_message = serializers.CharField(source="error_message")
    created = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Refund
        fields = ["id", "object", "payment", "amount", "currency", "status", "reason", "metadata", "failure_code",
                  "failure_message", "connector_reference", "created"]

    def to_representation(self, obj) -> dict:
        # Hand-written for speed, like PaymentOutput's; tests/api/test_rendering.py holds it equal.
        return {
            "id": obj.public_id, "object": self.get_object(obj), "payment": obj.payment.public_id, "amount": obj.amount,
            "currency": obj.currency, "status": obj.status, "reason": obj.reason, "metadata": obj.metadata,
            "failure_code": obj.error_code, "failure_message": obj.error_message,
            "connector_reference": obj.connector_reference, "created": _datetime(obj.created_at),
        }

    def declared_representation(self, obj) -> dict:
        return super().to_representation(obj)

    def get_object(self, obj) -> str:
        return "refund"
