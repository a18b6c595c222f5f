"""The Prometheus series Pagoflex records as it works (prometheus_client).

Counters and histograms are recorded where the work happens: API requests by the request-id
middleware, connector calls by the call log (payments/services/connector_calls.py). Gauges that
describe the backlog (webhook deliveries, sync lag, unresolved payments) are read from the
database when ``/metrics`` is scraped (pagoflex/metrics.py), so every process reports the same.

Under gunicorn each worker is a process: with ``PROMETHEUS_MULTIPROC_DIR`` set (the production
server configuration sets it), prometheus_client keeps the series in files there and ``/metrics``
adds every worker's up.
"""

from __future__ import annotations

from http import HTTPStatus

from prometheus_client import Counter, Histogram

# Seconds: the API's own latency, and a bank's from a few milliseconds to its read timeout.
_API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BANK_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)

API_REQUESTS = Counter("pagoflex_http_requests", "HTTP requests served, by route pattern, method and status.",
                       ["route", "method", "status"])
API_LATENCY = Histogram("pagoflex_http_request_duration_seconds", "Time to answer an HTTP request.",
                        ["route", "method"], buckets=_API_BUCKETS)
CONNECTOR_CALLS = Counter("pagoflex_connector_calls", "HTTP calls to connectors, by connector, flow and outcome "
                          "(ok, declined_4xx, error_5xx, timeout, connection_error, other_error).",
                          ["connector", "flow", "outcome"])
CONNECTOR_LATENCY = Histogram("pagoflex_connector_call_duration_seconds", "Time a connector took to answer.",
                              ["connector", "flow"], buckets=_BANK_BUCKETS)

# "when": on_arrival (the request came in) or after_waiting (back from a bank or a client's body).
RUNNING_SLOT_WAIT = Histogram("pagoflex_running_slot_wait_seconds", "Time a request waited for one of its "
                              "process's running slots (REQUESTS_RUNNING_PER_PROCESS), each time it asked for one.",
                              ["when"], buckets=_API_BUCKETS)

# A wait on the outside (a bank, a body) that kept its running slot, by reason; the one reason,
# "in_transaction": a thread holding a row lock must never wait for a slot (connectors/waiting.py),
# so the process's other requests wait the bank's time. The services never call a bank inside a
# transaction; this counts the code that does. (Labelled: an unlabelled series would open its
# file at import, before the server has made the multiprocess folder.)
RUNNING_SLOT_KEPT = Counter("pagoflex_running_slot_kept", "Waits on a bank or a client that kept their running "
                            "slot, holding up the process's other requests (in_transaction: a bug to fix where it "
                            "is logged).", ["reason"])

# Every label value is a new series, kept until the process ends. The route is the URL pattern
# (or "unmatched"); the method and the status come from the client or the view, so anything
# outside these sets is counted as "other": 300 requests with made-up methods once added 4,800
# series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_STATUSES = frozenset(status.value for status in HTTPStatus)


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    """Count and time one request. ``route`` must already be bounded (a URL pattern, never a path);
    ``method`` and ``status`` are folded into ``"other"`` when they are not standard HTTP."""
    method = method if method in HTTP_METHODS else "other"
    status_label = str(status) if status in HTTP_STATUSES else "other"
    API_REQUESTS.labels(route=route, method=method, status=status_label).inc()
    API_LATENCY.labels(route=route, method=method).observe(seconds)


def connector_call_outcome(status_code: int | None, error: str) -> str:
    """One word for how a connector call ended (the metric's ``outcome`` label)."""
    if status_code is not None:
        if status_code < 400:
            return "ok"
        return "declined_4xx" if status_code < 500 else "error_5xx"
    lowered = (error or "").lower()
    if "timeout" in lowered or "timed out" in lowered:
        return "timeout"
    if "connect" in lowered or "reset" in lowered or "refused" in lowered:
        return "connection_error"
    return "other_error"


def observe_connector_call(*, connector: str, flow: str, status_code: int | None, error: str,
                           latency_ms: float) -> None:
    CONNECTOR_CALLS.labels(connector=connector, flow=flow,
                           outcome=connector_call_outcome(status_code, error)).inc()
    CONNECTOR_LATENCY.labels(connector=connector, flow=flow).observe(latency_ms / 1000)


def observe_running_slot_wait(seconds: float, *, when: str) -> None:
    RUNNING_SLOT_WAIT.labels(when=when).observe(seconds)


def count_running_slot_kept_in_transaction() -> None:
    RUNNING_SLOT_KEPT.labels(reason="in_transaction").inc()
