"""The bridge from the services to the connectors: what a flow is given, and its call log.

Services call ``run_flow`` outside any database transaction; it runs the flow and writes every
HTTP exchange to ``ConnectorCall`` whatever happened. The call log is the connector layer's own
record, so ``run_flow`` and ``record_calls`` live in ``connectors/calls.py``; they are
re-exported here for the services.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from connectors.base import Card, Customer, PaymentData, RefundData, Upi
from connectors.calls import record_calls, run_flow

__all__ = ["account_webhook_url", "payment_data_for", "payment_return_url", "record_calls", "refund_data_for",
           "run_flow"]


def payment_return_url(payment) -> str:
    return settings.PAGOFLEX_PUBLIC_URL + reverse("payment-return", args=[payment.public_id])


def account_webhook_url(account) -> str:
    return account.webhook_url


def payment_data_for(payment, attempt, *, card: Card | None = None, upi: Upi | None = None,
                     payment_token: str = "", browser_info: dict | None = None, three_ds: bool = False,
                     connector_inputs: dict | None = None) -> PaymentData:
    customer = payment.customer or {}
    return PaymentData(
        payment_id=payment.public_id,
        attempt_reference=attempt.reference,
        amount=attempt.amount,
        currency=attempt.currency,
        capture_method=payment.capture_method,
        payment_method_type=payment.payment_method_type or "card",
        card=card,
        upi=upi,
        payment_token=payment_token,
        customer=Customer(**{k: str(v) for k, v in customer.items() if k in Customer.__dataclass_fields__}),
        description=payment.description,
        metadata=dict(payment.metadata or {}),
        return_url=payment_return_url(payment),
        webhook_url=account_webhook_url(attempt.connector_account),
        connector_reference=attempt.connector_reference,
        connector_metadata={**(attempt.connector_metadata or {}), **(connector_inputs or {})},
        amount_captured=payment.amount_captured,
        browser_info=browser_info or {},
        three_ds=three_ds,
        setup_future_usage=payment.save_payment_method,
    )


def refund_data_for(refund) -> RefundData:
    attempt = refund.attempt
    return RefundData(
        refund_id=refund.public_id,
        payment_id=refund.payment.public_id,
        attempt_reference=attempt.reference,
        connector_reference=attempt.connector_reference,
        amount=refund.amount,
        currency=refund.currency,
        payment_amount=refund.payment.amount,
        reason=refund.reason,
        refund_connector_reference=refund.connector_reference,
        connector_metadata={**(attempt.connector_metadata or {}), **(refund.connector_metadata or {})},
        webhook_url=account_webhook_url(attempt.connector_account),
    )
