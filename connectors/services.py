"""Connector account operations staff run from the back office."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from connectors.base import Flow
from connectors.calls import run_flow
from connectors.errors import ConnectorError
from connectors.models import ConnectorAccount

logger = logging.getLogger("pagoflex.connectors")


@dataclass
class ConnectionCheck:
    """What a connection check found: ``ok`` when the bank answered and accepted the credentials."""

    ok: bool
    message: str
    status_code: int | None = None
    latency_ms: int = 0


def check_connection(*, account: ConnectorAccount, actor: str) -> ConnectionCheck:
    """Run the connector's harmless check_connection flow with the account's credentials.

    The exchange is written to the call log (``ConnectorCall``, masked, with no payment) like any
    other, and the result says in plain words what went wrong: unreachable, credentials refused,
    or an unexpected answer. Nothing is charged and nothing in the account changes.
    """
    connector = account.build_connector()
    if not connector.supports(Flow.CHECK_CONNECTION):
        return ConnectionCheck(ok=False, message=f"{connector.key} has no connection check")
    try:
        response = run_flow(connector, Flow.CHECK_CONNECTION, None, account=account)
    except ConnectorError as exc:
        ok, message = False, f"{type(exc).__name__}: {exc.message}"
    else:
        ok, message = True, response.message or "the connector answered and accepted the credentials"
    last = connector.calls[-1] if connector.calls else None
    logger.info("connection check of %s by %s: %s", account.public_id, actor, "ok" if ok else message)
    return ConnectionCheck(
        ok=ok,
        message=message,
        status_code=last.status_code if last else None,
        latency_ms=last.latency_ms if last else 0,
    )
