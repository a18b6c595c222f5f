"""The platform's status vocabulary, shared by the models, the services and the connectors.

Connectors answer in these terms (an attempt or refund status); the state machines that say
which moves are legal live in ``payments/state_machine.py``.
"""

from django.db import models


class PaymentStatus(models.TextChoices):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_CUSTOMER_ACTION = "requires_customer_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    PARTIALLY_CAPTURED = "partially_captured"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptStatus(models.TextChoices):
    STARTED = "started"
    PENDING = "pending"
    AUTHENTICATION_PENDING = "authentication_pending"
    AUTHORIZED = "authorized"
    CHARGED = "charged"
    PARTIALLY_CHARGED = "partially_charged"
    VOIDED = "voided"
    FAILURE = "failure"


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CaptureMethod(models.TextChoices):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class PaymentMethodType(models.TextChoices):
    CARD = "card"
    UPI = "upi"
