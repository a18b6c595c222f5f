"""Which connector account takes an attempt."""

from connectors.models import ConnectorAccount
from connectors.registry import UnknownConnector
from payments.services.errors import PaymentError
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


def choose_connector_account(payment, requested: ConnectorAccount | None = None) -> ConnectorAccount:
    if requested is not None:
        eligible, reason = is_eligible(requested, payment)
        if not eligible:
            raise PaymentError(f"connector account {requested.public_id} cannot take this payment: {reason}",
                               code="connector_not_eligible", param="connector")
        return requested
    reasons = []
    for account in ConnectorAccount.objects.filter(merchant_id=payment.merchant_id, enabled=True, mode=payment.mode):
        eligible, reason = is_eligible(account, payment)
        if eligible:
            return account
        reasons.append(f"{account.public_id}: {reason}")
    detail = "; ".join(reasons) if reasons else f"no enabled {payment.mode} connector account"
    raise PaymentError("no connector account can take this payment "
                       f"({payment.payment_method_type or 'card'}, {payment.currency}, {payment.capture_method}): "
                       f"{detail}", code="no_eligible_connector", http_status=400)


def find_requested_account(merchant, mode: str, value: str) -> ConnectorAccount:
    """The account a request names in ``connector``: an account id (``mca_...``) or a connector key."""
    accounts = ConnectorAccount.objects.filter(merchant=merchant)
    if value.startswith("mca_"):
        account = accounts.filter(public_id=value).first()
    else:
        account = accounts.filter(connector=value.lower(), mode=mode, enabled=True).first()
    if account is None:
        raise PaymentError(f"no connector account {value!r} for this merchant", code="resource_missing",
                           param="connector", http_status=400)
    return account
