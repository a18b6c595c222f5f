"""Inbound bank events, stored before anything else happens to them."""

from django.db import models
from django.utils import timezone

from payments.ids import id_factory


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
