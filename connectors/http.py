"""The one HTTP executor every connector goes through.

One ``requests.Session`` per process (connection pooling), connect and read timeouts from
settings, and no automatic retry: a payment call that failed after it was sent must not be
sent again blindly. Every exchange is recorded on the connector as a ``ConnectorCallRecord``
with URL, headers and bodies masked, so the orchestration can write the call log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from connectors.errors import ConnectorUnavailable, ConnectorUnknownOutcome
from connectors.masking import mask_headers, mask_text
from connectors.waiting import waiting_outside

logger = logging.getLogger("pagoflex.connectors.http")

# Bodies in the call log are cut to this length.
MAX_LOGGED_BODY = 16 * 1024


@dataclass
class ConnectorCallRecord:
    flow: str
    method: str
    url: str
    request_headers: dict
    request_body: str
    status_code: int | None = None
    response_headers: dict = field(default_factory=dict)
    response_body: str = ""
    latency_ms: int = 0
    error: str = ""
    started_at: float = 0.0


@dataclass
class HttpResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes
    latency_ms: int = 0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON (numbers with decimals as ``Decimal``); a body that is not JSON
        means the outcome is unknown."""
        try:
            return json.loads(self.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise ConnectorUnknownOutcome(
                f"connector answered HTTP {self.status_code} with a body that is not JSON",
                code="invalid_connector_response",
                status_code=self.status_code,
            ) from None

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class HttpExecutor:
    def __init__(self):
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        # requests.Session is not documented as thread-safe; one per thread keeps pooling
        # without sharing a connection pool's state across threads.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.trust_env = False
            self._local.session = session
        return session

    def send(self, request, *, flow: str, connector):
        secrets = connector.secret_values()
        timeout = request.timeout or (settings.CONNECTOR_CONNECT_TIMEOUT, settings.CONNECTOR_READ_TIMEOUT)
        record = ConnectorCallRecord(
            flow=flow,
            method=request.method,
            url=mask_text(request.url, secrets),
            request_headers=mask_headers(request.headers, secrets),
            request_body=mask_text(request.body_text[:MAX_LOGGED_BODY], secrets),
            started_at=time.time(),
        )
        connector.calls.append(record)
        started = time.perf_counter()
        try:
            # Neither a database connection nor a running slot is held for the bank's time
            # (connectors/waiting.py); the latency is the bank's, not the wait for a slot after it.
            with waiting_outside():
                try:
                    raw = self.session.request(
                        request.method, request.url, headers=request.headers, data=request.body,
                        timeout=timeout, allow_redirects=False,
                    )
                    body = raw.content
                finally:
                    record.latency_ms = int((time.perf_counter() - started) * 1000)
        except requests.exceptions.ConnectTimeout as exc:
            raise self._fail(record, ConnectorUnavailable("connecting to the connector timed out")) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise self._fail(record, ConnectorUnknownOutcome(
                "the connector did not answer in time; the outcome is unknown", code="connector_timeout")) from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_sent(exc):
                raise self._fail(record, ConnectorUnavailable(
                    "the connector could not be reached")) from exc
            raise self._fail(record, ConnectorUnknownOutcome(
                "the connection broke after the request was sent; the outcome is unknown")) from exc
        except requests.exceptions.RequestException as exc:
            raise self._fail(record, ConnectorUnknownOutcome(
                f"the connector call failed: {type(exc).__name__}")) from exc
        record.status_code = raw.status_code
        record.response_headers = mask_headers(dict(raw.headers), secrets)
        record.response_body = mask_text(body[:MAX_LOGGED_BODY].decode("utf-8", errors="replace"), secrets)
        logger.info("connector=%s flow=%s %s %s -> %s in %sms", connector.key, flow, request.method,
                    record.url, raw.status_code, record.latency_ms)
        return HttpResponse(status_code=raw.status_code, headers=dict(raw.headers), body=body,
                            latency_ms=record.latency_ms)

    @staticmethod
    def _fail(record: ConnectorCallRecord, error):
        record.error = f"{error.code}: {error.message}"
        logger.warning("connector call failed: %s %s: %s", record.method, record.url, record.error)
        return error


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established, so the bank cannot have seen the request."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        args = getattr(current, "args", ())
        nested = next((a for a in args if isinstance(a, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    return False


_executor: HttpExecutor | None = None
_executor_lock = threading.Lock()


def default_executor() -> HttpExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = HttpExecutor()
    return _executor
