"""One id per request, carried everywhere the request's work goes.

The id comes from the caller's ``Request-Id`` (or ``X-Request-Id``) header when it is a sane token
(a load balancer's id ties its log to ours), otherwise it is made here. It is answered in the
``Request-Id`` header, added to every log record (``RequestIdLogFilter``) and written on every
connector call the request makes (``ConnectorCall.request_id``). A Celery task runs under
``task_<task id>`` (pagoflex/celery.py).
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time
from contextlib import contextmanager

from observability import metrics

HEADER = "Request-Id"
_INCOMING_HEADERS = ("HTTP_REQUEST_ID", "HTTP_X_REQUEST_ID")
# Letters, digits and . _ - only, 8 to 64 of them: nothing a log line or a header could be
# injected with.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("pagoflex_request_id", default="")
logger = logging.getLogger("pagoflex.requests")


def current_request_id() -> str:
    """The id of the request (or task) this code runs for; ``""`` outside any."""
    return _current.get()


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


@contextmanager
def request_id_scope(request_id: str):
    """Run a block under ``request_id`` (a task, a command), restoring the previous one after."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


def incoming_request_id(meta: dict) -> str:
    for name in _INCOMING_HEADERS:
        value = meta.get(name, "")
        if _SANE_ID.fullmatch(value):
            return value
    return new_request_id()


class RequestIdMiddleware:
    """Gives each request its id, answers it in ``Request-Id`` and logs one line per request
    (method, route, status, milliseconds) in the request's own scope. Also feeds the API metrics
    (observability/metrics.py), which need the same route and timing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = incoming_request_id(request.META)
        request.request_id = request_id
        started = time.perf_counter()
        with request_id_scope(request_id):
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            route = route_of(request)
            response[HEADER] = request_id
            metrics.observe_request(route=route, method=request.method, status=response.status_code,
                                    seconds=seconds)
            logger.info("%s %s %s", request.method, route, response.status_code,
                        extra={"http_method": request.method, "route": route, "status": response.status_code,
                               "duration_ms": round(seconds * 1000, 1)})
        return response


def route_of(request) -> str:
    """The URL pattern that served the request (``v1/payments/<str:payment_id>``), never the raw
    path: metrics and logs keyed by raw paths would grow with every id and could hold anything."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.route or match.view_name or "unmatched"


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every record, so any formatter (plain or JSON) can show it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            # Django logs a request's 4xx/5xx after the middleware has left its scope, with the
            # request itself on the record.
            request = getattr(record, "request", None)
            record.request_id = current_request_id() or getattr(request, "request_id", "")
        return True
