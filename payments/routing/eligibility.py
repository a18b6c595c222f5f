"""Whether a connector account can take a payment at all: installed, enabled, in the payment's
mode, and its connector takes the payment method, the currency and the capture method.

Routing filters its candidates with it (``decision.decide``) and a saved payment method is
checked with it before it is charged (``payments/services/payment_methods.py``).
"""

from __future__ import annotations

from connectors.models import ConnectorAccount
from connectors.registry import UnknownConnector
from payments.statuses import CaptureMethod


def is_eligible(account: ConnectorAccount, payment) -> tuple[bool, str]:
    """Whether an account can take this payment, and why not."""
    try:
        connector = account.connector_class
    except UnknownConnector:
        return False, f"connector {account.connector!r} is not installed"
    if not account.enabled:
        return False, "the account is disabled"
    if account.mode != payment.mode:
        return False, f"the account is in {account.mode} mode and the payment in {payment.mode} mode"
    if payment.payment_method_type and payment.payment_method_type not in connector.payment_method_types:
        return False, f"{connector.key} does not take {payment.payment_method_type} payments"
    if not connector.supports_currency(payment.currency):
        return False, f"{connector.key} does not take {payment.currency}"
    if payment.capture_method == CaptureMethod.MANUAL and not connector.supports_manual_capture:
        return False, f"{connector.key} does not support manual capture"
    return True, ""
