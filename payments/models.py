"""Merchants, API keys, payments, attempts and refunds.

Amounts are integers of minor units. Status fields change only through the services
(``payments/services``), which hold a row lock and check ``payments/state_machine.py``.
"""

import hashlib
import secrets

from django.db import models
from django.utils import timezone

from connectors.ids import id_factory
from connectors.modes import Mode
from payments.return_urls import validate_allow_list
from payments.state_machine import check_transition
from payments.statuses import (
    AttemptStatus,
    CaptureMethod,
    PaymentMethodType,
    PaymentStatus,
    RefundStatus,
)


class LateSuccessPolicy(models.TextChoices):
    """What Pagoflex does when a bank reports success after the payment had ended (expired,
    abandoned, failed): the merchant always hears of it (``payment.late_success``)."""

    NOTIFY = "notify", "notify: the merchant decides (refund or void it through the API)"
    RETURN = "return", "return: Pagoflex refunds it (or voids an authorization) at once"


class Merchant(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=id_factory("mer"), editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Extra attempts routing may make after a safe failure (see the routing issue).
    max_fallback_attempts = models.PositiveSmallIntegerField(default=2)
    # Whether any webhook endpoint of the merchant exists, kept by webhooks/signals.py: a state
    # change of a merchant without one skips looking for endpoints to deliver its events to.
    has_webhook_endpoints = models.BooleanField(default=False, editable=False)
    # Where a payment's return_url may send the customer (payments/return_urls.py); empty: anywhere.
    return_url_hosts = models.JSONField(
        default=list, blank=True, validators=[validate_allow_list],
        help_text='Hosts a payment\'s return_url may point to: ["shop.example", "*.shop.example", '
                  '"http://localhost:3000"]. https only, except an origin written with http://. '
                  "Empty: any http(s) URL (not recommended).")
    late_success_policy = models.CharField(max_length=8, choices=LateSuccessPolicy.choices,
                                           default=LateSuccessPolicy.NOTIFY)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.public_id})"

    # DRF treats the authenticated principal as a user: a merchant authenticated by API key.
    @property
    def is_authenticated(self) -> bool:
        return True


def hash_api_key(raw_key: str) -> str:
    # API keys are 190 bits of randomness: a plain SHA-256 is enough (no dictionary to attack),
    # and it lets authentication look the key up by its hash in one indexed query.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    PREFIX_LENGTH = 14  # "sk_test_" + 6 characters, kept for display and support

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=20, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return f"{self.prefix}… ({self.mode}{', revoked' if self.revoked_at else ''})"

    @classmethod
    def issue(cls, merchant: Merchant, mode: str = Mode.TEST, label: str = "") -> tuple["ApiKey", str]:
        """Create a key; the raw key is returned once and never stored."""
        raw_key = f"sk_{mode}_{secrets.token_urlsafe(24).replace('-', 'A').replace('_', 'B')}"
        api_key = cls.objects.create(
            merchant=merchant, mode=mode, label=label, prefix=raw_key[: cls.PREFIX_LENGTH],
            key_hash=hash_api_key(raw_key),
        )
        return api_key, raw_key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PaymentOperation(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=id_factory("pay"), editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="payments")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    capture_method = models.CharField(max_length=10, choices=CaptureMethod.choices, default=CaptureMethod.AUTOMATIC)
    status = models.CharField(max_length=32, choices=PaymentStatus.choices, db_index=True)
    amount_authorized = models.BigIntegerField(default=0)
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    # Captures sent to the connector and not yet answered: reserved so that concurrent captures
    # can never exceed what was authorized.
    amount_capturing = models.BigIntegerField(default=0)
    # The part of ``amount_capturing`` whose capture lost its answer (timeout, reset, 5xx): it
    # stays reserved until the bank's own captured total (sync) says what happened.
    amount_capture_unknown = models.BigIntegerField(default=0)
    # A void sent to the connector and not yet answered, or answered with an unknown outcome:
    # other cancels and captures are refused (409) until the bank's word (see cancel.py).
    cancelling = models.BooleanField(default=False)
    payment_method_type = models.CharField(max_length=16, choices=PaymentMethodType.choices, blank=True)
    # What may be kept of the payment method: card brand, last four, expiry; UPI flow and VPA.
    payment_method_details = models.JSONField(default=dict, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True, db_index=True)
    customer = models.JSONField(default=dict, blank=True)
    customer_email = models.CharField(max_length=254, blank=True, db_index=True)
    description = models.CharField(max_length=1000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    merchant_reference = models.CharField(max_length=255, blank=True, db_index=True)
    return_url = models.URLField(max_length=2000, blank=True)
    requested_connector = models.ForeignKey("connectors.ConnectorAccount", null=True, blank=True,
                                            on_delete=models.PROTECT, related_name="+")
    saved_payment_method = models.ForeignKey("payments.SavedPaymentMethod", null=True, blank=True,
                                             on_delete=models.PROTECT, related_name="payments")
    # Save the card at the gateway for later payments (setup_future_usage) once this one succeeds.
    save_payment_method = models.BooleanField(default=False)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)
    next_action = models.JSONField(null=True, blank=True)
    integrity_mismatch = models.BooleanField(default=False, db_index=True)
    # The bank reported success after the payment had ended failed or cancelled: the status stays
    # terminal, the amounts follow the bank, and the money can be refunded (docs/back-office.md).
    late_success = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at", "-id"])]
        verbose_name = "payment"
        # Back-office actions, each granted by role (migration 0003_staff_roles); they call the services.
        permissions = [
            ("sync_payment", "Can sync a payment with its connector"),
            ("capture_payment", "Can capture a payment"),
            ("cancel_payment", "Can cancel a payment"),
            ("refund_payment", "Can refund a payment"),
        ]

    def __str__(self):
        return self.public_id

    def set_status(self, target: str) -> None:
        check_transition("payment", self.status, target)
        self.status = target

    @property
    def amount_capturable(self) -> int:
        """What may still be captured: nothing once the payment is cancelled, failed or settled
        (a capture that closed the authorization released the rest), or while a void is out."""
        if self.status not in (PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.PARTIALLY_CAPTURED) or self.cancelling:
            return 0
        return max(self.amount_authorized - self.amount_captured - self.amount_capturing, 0)

    @property
    def latest_attempt(self):
        return self.attempts.order_by("-created_at", "-id").first()

    def remember_attempts(self, attempts: list) -> None:
        """Keep this payment's attempts, oldest first, as a service has just read them (under the
        payment's lock): rendering the payment then reads them here instead of querying again."""
        self._attempt_list = attempts

    def remembered_attempts(self) -> list | None:
        """The attempts kept by ``remember_attempts`` (the same list), or None."""
        return getattr(self, "_attempt_list", None)


class PaymentAttempt(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=id_factory("att"), editable=False)
    payment = models.ForeignKey(PaymentOperation, on_delete=models.CASCADE, related_name="attempts")
    connector_account = models.ForeignKey("connectors.ConnectorAccount", on_delete=models.PROTECT,
                                          related_name="attempts")
    connector = models.CharField(max_length=40)
    status = models.CharField(max_length=32, choices=AttemptStatus.choices, db_index=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    connector_reference = models.CharField(max_length=255, blank=True, db_index=True)
    connector_metadata = models.JSONField(default=dict, blank=True)
    raw_connector_status = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)
    next_action = models.JSONField(null=True, blank=True)
    routing_decision = models.JSONField(default=dict, blank=True)
    sync_count = models.PositiveIntegerField(default=0)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # When its still-unknown outcome was escalated to staff and the merchant (UNRESOLVED_ESCALATE_AFTER).
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "payment attempt"

    def __str__(self):
        return self.public_id

    @property
    def reference(self) -> str:
        """The reference the bank sees for this attempt."""
        return self.public_id

    def set_status(self, target: str) -> None:
        check_transition("attempt", self.status, target)
        self.status = target


class Refund(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=id_factory("re"), editable=False)
    payment = models.ForeignKey(PaymentOperation, on_delete=models.PROTECT, related_name="refunds")
    attempt = models.ForeignKey(PaymentAttempt, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, db_index=True)
    reason = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    connector_reference = models.CharField(max_length=255, blank=True, db_index=True)
    connector_metadata = models.JSONField(default=dict, blank=True)
    raw_connector_status = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)
    sync_count = models.PositiveIntegerField(default=0)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    escalated_at = models.DateTimeField(null=True, blank=True)  # see PaymentAttempt.escalated_at
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.public_id

    def set_status(self, target: str) -> None:
        check_transition("refund", self.status, target)
        self.status = target


class PaymentEvent(models.Model):
    """The payment's history: every status change and every staff action, for the timeline."""

    payment = models.ForeignKey(PaymentOperation, on_delete=models.CASCADE, related_name="events")
    attempt = models.ForeignKey(PaymentAttempt, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)  # "status_change", "staff_action", "integrity_mismatch", ...
    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    actor = models.CharField(max_length=150, blank=True)  # "api", "sync", "webhook", "staff:<username>"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class IdempotencyRecord(models.Model):
    """The first answer to a request made with an ``Idempotency-Key``, replayed for repeats.

    Nothing here reveals the request or the answer: ``request_fingerprint`` is a keyed HMAC of
    the request's parameters with the card security code left out (PCI DSS 3.3/3.5: keyed hashes
    only, never the CVC in any form), and the answer (which may hold a webhook signing secret) is
    AES-GCM encrypted with the credential keyring, bound to the merchant, mode and key."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        # Failed after it created something (see resource_id): its retry resumes that object.
        INTERRUPTED = "interrupted"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    # A key belongs to the mode of the API key that used it: a live request never replays a test one.
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    key = models.CharField(max_length=255)
    # HMAC-SHA256 hex (payments/api/idempotency.py); "" for a record from before the keyed
    # fingerprint (migration 0010), which no request matches any more.
    request_fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True)
    # The answer's JSON body, encrypted (connectors.crypto keyring); "" until completed.
    response_encrypted = models.TextField(blank=True, editable=False)
    # The public id of what the request created (pay_..., re_..., pm_...), as soon as it exists;
    # or of the payment whose capture it reserved, as soon as the reservation is committed.
    resource_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "mode", "key"],
                                               name="unique_idempotency_key_per_merchant_mode")]


class SavedPaymentMethod(models.Model):
    """A customer's card saved at a gateway for later payments: the gateway's token (encrypted,
    bound to this row), never the card. Payments made with it go to the account that issued it."""

    public_id = models.CharField(max_length=40, unique=True, default=id_factory("pm"), editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="saved_payment_methods")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    customer_id = models.CharField(max_length=100, db_index=True)
    connector_account = models.ForeignKey("connectors.ConnectorAccount", on_delete=models.PROTECT, related_name="+")
    token_encrypted = models.TextField(editable=False)
    payment_method_type = models.CharField(max_length=16, default=PaymentMethodType.CARD)
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # The first payment with it established the stored-credential agreement with the gateway.
    first_payment_done = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    detached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.public_id} ({self.brand} …{self.last4})"

    def set_token(self, token: str) -> None:
        from connectors import crypto

        self.token_encrypted = crypto.encrypt_for_row(self, "token", {"token": token})

    def get_token(self) -> str:
        from connectors import crypto

        return crypto.decrypt_for_row(self, "token", self.token_encrypted)["token"]


class RoutingConfiguration(models.Model):
    """A merchant's routing rules for one mode: the document ``PUT /v1/routing`` takes, stored as
    validated by ``payments/routing/definition.py`` (strategy, ordered rules, default outcome)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="routing_configurations")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    definition = models.JSONField(default=dict)
    updated_by = models.CharField(max_length=150, blank=True)  # "api", "staff:<username>"
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "mode"], name="one_routing_configuration_per_mode")]

    def __str__(self):
        return f"routing of {self.merchant_id} ({self.mode})"


class RoutingWindowBucket(models.Model):
    """One minute of authorization results of one connector account for one payment method and
    currency: the success-rate window routing reads is the sum of the recent buckets."""

    connector_account = models.ForeignKey("connectors.ConnectorAccount", on_delete=models.CASCADE, related_name="+")
    payment_method_type = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    bucket_start = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connector_account", "payment_method_type", "currency",
                                                       "bucket_start"], name="one_routing_bucket_per_minute")]


# -- the outbox: events to merchants -------------------------------------------------------------


class EventType(models.TextChoices):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REQUIRES_CAPTURE = "payment.requires_capture"
    PAYMENT_REQUIRES_CUSTOMER_ACTION = "payment.requires_customer_action"
    PAYMENT_CANCELLED = "payment.cancelled"
    PAYMENT_CAPTURED = "payment.captured"
    PAYMENT_INTEGRITY_MISMATCH = "payment.integrity_mismatch"
    # The bank reported success after the payment had ended failed or cancelled: money is held.
    PAYMENT_LATE_SUCCESS = "payment.late_success"
    # No answer from the bank for UNRESOLVED_ESCALATE_AFTER: staff are on it; Pagoflex keeps asking.
    PAYMENT_OUTCOME_UNRESOLVED = "payment.outcome_unresolved"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    REFUND_OUTCOME_UNRESOLVED = "refund.outcome_unresolved"


class MerchantEvent(models.Model):
    """The outbox: one row per change a merchant hears about, written by ``payments/outbox.py``
    in the same transaction as the change. ``data`` is the object as the API rendered it at that
    moment. ``webhooks/outbound.py`` delivers it and never writes it.

    The model moved here from the webhooks app; its table kept its name (no data moved)."""

    public_id = models.CharField(max_length=40, unique=True, default=id_factory("evt"), editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    type = models.CharField(max_length=64, choices=EventType.choices, db_index=True)
    payment = models.ForeignKey(PaymentOperation, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="merchant_events")
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="merchant_events")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "webhooks_merchantevent"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "mode", "-created_at", "-id"], name="webhooks_me_merchan_4be52a_idx")]

    def __str__(self):
        return f"{self.type} {self.public_id}"
