"""Input and output serializers for webhook endpoints and events."""

from rest_framework import serializers

from payments.api.fields import StrictBooleanField, StrictCharField, StrictSerializer
from payments.api.serializers import ListParameters
from webhooks.models import ALL_EVENTS, EventType, MerchantEvent, WebhookDelivery, WebhookEndpoint

EVENT_CHOICES = [*EventType.values, ALL_EVENTS]


# -- input ---------------------------------------------------------------------------------------

class EndpointCreateInput(StrictSerializer):
    url = serializers.URLField(max_length=2000, help_text="Where events are POSTed.")
    enabled_events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1,
                                           max_length=len(EVENT_CHOICES),
                                           help_text='Event types to send, or ["*"] for every type.')
    description = StrictCharField(max_length=500, required=False, allow_blank=True)


class EndpointUpdateInput(StrictSerializer):
    url = serializers.URLField(max_length=2000, required=False)
    enabled_events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1,
                                           max_length=len(EVENT_CHOICES), required=False)
    description = StrictCharField(max_length=500, required=False, allow_blank=True)
    disabled = StrictBooleanField(required=False, help_text="true stops deliveries until set back to false.")


class EventResendInput(StrictSerializer):
    endpoint = StrictCharField(max_length=40, required=False,
                               help_text="One endpoint (we_...); default: every endpoint that wants the event.")


class EventListFilters(ListParameters):
    type = serializers.ChoiceField(choices=EventType.values, required=False)
    payment = StrictCharField(max_length=40, required=False)


# -- output --------------------------------------------------------------------------------------

class EndpointOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    livemode = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "object", "livemode", "url", "enabled_events", "description", "status", "created"]

    def get_object(self, obj) -> str:
        return "webhook_endpoint"

    def get_livemode(self, obj) -> bool:
        return obj.mode == "live"

    def get_status(self, obj) -> str:
        return "enabled" if obj.enabled else "disabled"


class EndpointWithSecretOutput(EndpointOutput):
    secret = serializers.SerializerMethodField(help_text="The signing secret: shown this once, store it now.")

    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]

    def get_secret(self, obj) -> str:
        return self.context["secret"]


class DeletedOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    deleted = serializers.BooleanField()


class DeliveryOutput(serializers.ModelSerializer):
    endpoint = serializers.CharField(source="endpoint.public_id")
    url = serializers.CharField(source="endpoint.url")
    # Plain text in the schema: the enum would collide with the refund's identical status set.
    status = serializers.CharField(help_text="pending (tries left), succeeded or failed (gave up)")
    attempts = serializers.IntegerField(source="attempt_count")

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "url", "status", "attempts", "last_status_code", "last_error", "next_attempt_at",
                  "delivered_at"]


class EventOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    livemode = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")
    deliveries = DeliveryOutput(many=True, read_only=True)

    class Meta:
        model = MerchantEvent
        fields = ["id", "object", "type", "livemode", "created", "data", "deliveries"]

    def get_object(self, obj) -> str:
        return "event"

    def get_livemode(self, obj) -> bool:
        return obj.mode == "live"
