"""Running a flow with the call log: every HTTP exchange with a bank is written to
``ConnectorCall`` (masked), whatever happened.

The services (``payments/services/connector_calls.py`` re-exports these) and the connection
check (``connectors/services.py``) both call ``run_flow`` outside any database transaction.
The payment, attempt or refund a call belongs to is passed in and stored by foreign key; this
module needs nothing from the payments app.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import Flow
from connectors.models import ConnectorCall
from observability.metrics import observe_connector_call
from observability.request_ids import current_request_id


def run_flow(connector, flow: Flow, data, *, account, payment=None, attempt=None, refund=None):
    """Run one flow; the call log is written even when the flow raises.

    Flows run outside any transaction, so the HTTP executor can give the database connection
    (and the request's running slot) back for the bank's time (``connectors/waiting.py``)."""
    already_logged = len(connector.calls)
    try:
        return connector.call(flow, data)
    finally:
        record_calls(connector.calls[already_logged:], account=account, payment=payment, attempt=attempt,
                     refund=refund)


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
