"""Every state change of a payment, attempt or refund happens in one of these functions."""

from payments.services.cancel import cancel_payment
from payments.services.capture import capture_payment, interrupted_capture
from payments.services.errors import PaymentError
from payments.services.payments import confirm_payment, create_payment
from payments.services.refunds import create_refund
from payments.services.sync import sync_attempt, sync_payment, sync_refund

__all__ = ["PaymentError", "cancel_payment", "capture_payment", "confirm_payment", "create_payment",
           "create_refund", "interrupted_capture", "sync_attempt", "sync_payment", "sync_refund"]
