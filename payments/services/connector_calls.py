"""The bridge from the services to the connectors: what a flow is given, and its call log.

Services call ``run_flow`` outside any database transaction; it builds the adapter from the
account, runs the flow and writes every HTTP exchange to ``ConnectorCall`` whatever happened.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.urls import reverse

from connectors.base import Card, Customer, Flow, PaymentData, RefundData, Upi
from connectors.models import ConnectorCall
from observability.metrics import observe_connector_call
from observability.request_ids import current_request_id


def payment_return_url(payment) -> str:
    return settings.PAGOFLEX_PUBLIC_URL + reverse("payment-return", args=[payment.public_id])


def account_webhook_url(account) -> str:
    return settings.PAGOFLEX_PUBLIC_URL + account.webhook_path


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


def run_flow(connector, flow: Flow, data, *, account, payment=None, attempt=None, refund=None):
    """Run one flow; the call log is written even when the flow raises.

    The database connection goes back to the pool for the bank's time (see
    ``release_database_connection``): the services run flows outside any transaction, so nothing
    is held across the call."""
    already_logged = len(connector.calls)
    release_database_connection()
    try:
        return connector.call(flow, data)
    finally:
        record_calls(connector.calls[already_logged:], account=account, payment=payment, attempt=attempt,
                     refund=refund)


def release_database_connection() -> None:
    """Give this thread's database connection back to the pool before waiting on a bank.

    A bank answers in hundreds of milliseconds, a hung one after the read timeout; a thread that
    kept its connection meanwhile would make the database's connection limit, not the CPU, set
    how many payments are in flight. Only with a pool (``DATABASE_POOL_MAX_SIZE``): without one,
    the next statement would open a new connection. Never inside a transaction: the services'
    row locks and the attempt committed before the call must stay exactly as they are.
    """
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def record_calls(records, *, account, payment=None, attempt=None, refund=None) -> None:
    """Write the call log (and count each call in the connector metrics), under the id of the
    request or task that made the calls."""
    request_id = current_request_id()
    for record in records:
        observe_connector_call(connector=account.connector, flow=record.flow, status_code=record.status_code,
                               error=record.error, latency_ms=record.latency_ms)
    ConnectorCall.objects.bulk_create([
        ConnectorCall(
            connector_account=account, payment=payment, attempt=attempt, refund=refund, flow=record.flow,
            method=record.method, url=record.url, request_headers=record.request_headers,
            request_body=record.request_body, status_code=record.status_code,
            response_headers=record.response_headers, response_body=record.response_body,
            latency_ms=record.latency_ms, error=record.error[:1000], request_id=request_id,
            created_at=datetime.fromtimestamp(record.started_at, tz=UTC),
        )
        for record in records
    ])
