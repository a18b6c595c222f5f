"""The platform's status vocabulary, shared by the models, the services and the API.

A payment's own statuses live here. The attempt and refund statuses are the words a connector
reports, so the connector contract owns them (``connectors/statuses.py``); they are re-exported
here so that payments code reads one vocabulary. The state machines that say which moves are
legal live in ``payments/state_machine.py``.
"""

from django.db import models

from connectors.statuses import AttemptStatus, RefundStatus

__all__ = ["AttemptStatus", "CaptureMethod", "PaymentMethodType", "PaymentStatus", "RefundStatus"]


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




class CaptureMethod(models.TextChoices):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class PaymentMethodType(models.TextChoices):
    CARD = "card"
    UPI = "upi"
