"""Inbound bank events, stored before anything else happens to them; merchants' endpoints and
the deliveries of the outbox's events to them.

The outbox itself (``MerchantEvent``, ``EventType``) belongs to the payments app, which writes
it beside each state change; they are re-exported here for the delivery code's readers."""

from django.db import models
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from payments.ids import id_factory
from payments.models import EventType, MerchantEvent, Mode

__all__ = ["ALL_EVENTS", "AppliedWebhook", "DeliveryStatus", "EventType", "MerchantEvent", "WebhookDelivery",
           "WebhookDeliveryAttempt", "WebhookEndpoint", "WebhookEvent", "WebhookOutcome"]


class WebhookOutcome(models.TextChoices):
    RECEIVED = "received"  # stored, not processed yet (or processing crashed)
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    REJECTED_SIGNATURE = "rejected_signature"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_REFERENCE = "unknown_reference"
    INTEGRITY_MISMATCH = "integrity_mismatch"
    ILLEGAL_TRANSITION = "illegal_transition"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    ERROR = "error"


class WebhookEvent(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=id_factory("whev"), editable=False)
    connector = models.CharField(max_length=40)
    connector_account = models.ForeignKey("connectors.ConnectorAccount", null=True, blank=True,
                                          on_delete=models.PROTECT, related_name="webhook_events")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    source_address = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    signature_valid = models.BooleanField(null=True)
    event_id = models.CharField(max_length=255, blank=True, db_index=True)
    event_type = models.CharField(max_length=100, blank=True)
    connector_reference = models.CharField(max_length=255, blank=True, db_index=True)
    outcome = models.CharField(max_length=32, choices=WebhookOutcome.choices, default=WebhookOutcome.RECEIVED,
                               db_index=True)
    outcome_detail = models.CharField(max_length=1000, blank=True)
    payment = models.ForeignKey("payments.PaymentOperation", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="webhook_events")
    attempt = models.ForeignKey("payments.PaymentAttempt", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="webhook_events")
    refund = models.ForeignKey("payments.Refund", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="webhook_events")
    processed_at = models.DateTimeField(null=True, blank=True)
    processing_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.connector} {self.event_type or '?'} {self.event_id or self.public_id} ({self.outcome})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class AppliedWebhook(models.Model):
    """One row per (account, bank event id) that was applied: the unique constraint is the
    deduplication, and it is written in the same transaction as the state change."""

    connector_account = models.ForeignKey("connectors.ConnectorAccount", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=255)
    webhook_event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="+")
    applied_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connector_account", "event_id"],
                                               name="unique_applied_webhook_per_account")]


# -- outbound: delivering the outbox's events to merchants --------------------------------------

ALL_EVENTS = "*"


class WebhookEndpoint(models.Model):
    """A merchant's URL that receives signed events. The signing secret is encrypted and bound
    to this row; the merchant sees it once, when the endpoint is created."""

    public_id = models.CharField(max_length=40, unique=True, default=id_factory("we"), editable=False)
    merchant = models.ForeignKey("payments.Merchant", on_delete=models.CASCADE, related_name="webhook_endpoints")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    url = models.URLField(max_length=2000)
    enabled_events = models.JSONField(default=list, help_text='Event types, or ["*"] for every type.')
    description = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.url} ({self.public_id})"

    @sensitive_variables("secret")
    def set_secret(self, secret: str) -> None:
        from connectors import crypto

        self.secret_encrypted = crypto.encrypt_for_row(self, "secret", {"secret": secret})

    def get_secret(self) -> str:
        from connectors import crypto

        return crypto.decrypt_for_row(self, "secret", self.secret_encrypted)["secret"]

    def wants(self, event_type: str) -> bool:
        return self.enabled and (ALL_EVENTS in self.enabled_events or event_type in self.enabled_events)



class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event to one endpoint. ``next_attempt_at`` is when the next try is due; while a worker
    holds the delivery it is the end of that worker's claim (see payments/services/sweeps.py)."""

    event = models.ForeignKey("payments.MerchantEvent", on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING,
                              db_index=True)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    give_up_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="unique_delivery_per_endpoint")]

    def __str__(self):
        return f"{self.event} -> {self.endpoint.url} ({self.status})"


class WebhookDeliveryAttempt(models.Model):
    """Every try, whatever happened: what the merchant's endpoint answered, and how fast."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=1000, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
