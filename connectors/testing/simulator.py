"""What every bank simulator shares: a tiny WSGI router, fault switches and a loopback server.

A simulator is a ``SimulatorApp`` subclass whose handlers are registered with ``@route``.
Tests start it on an ephemeral port with ``SimulatorServer(app).start()`` and talk to it over
real HTTP; ``make run`` serves each bundled one (sandbox, paytm, authipay, banco_x) as its own
process (``python -m connectors.<bank>.simulator``, started by ``scripts/run-dev.sh``).

Faults (for the conformance and fault suites) are armed either from Python
(``app.faults.arm(status=500)``) or over HTTP (``POST /__faults__`` with the same fields), and
apply to the next ``count`` requests that are not control requests:

- ``status``: answer this HTTP status with a JSON error body instead of handling the request;
- ``delay``: sleep this many seconds before answering (past the client's read timeout, say);
- ``delay_after``: handle the request, then sleep this many seconds before answering (the bank
  acted; its answer is slow);
- ``garbage``: answer 200 with a body that is not JSON;
- ``truncate``: handle the request, then cut the body in half;
- ``reset``: close the connection without answering;
- ``wrong_amount``: handle the request but report another amount (apps read ``faults.take``).

A simulator app may declare switches of its own in ``EXTRA_FAULTS``; its handlers read them
from ``request.fault``, which holds what this request took when it arrived.

Between tests, ``app.settle()`` waits until no request is being handled and no background work
(``app.in_background``, e.g. a webhook delivery) is running, then clears the armed faults and
``requests_seen`` and starts a new generation. A request belongs to the generation it arrived in
and never takes a fault armed in a later one, so a request left sleeping by one test (a "hang past
the read timeout" fault) cannot use up what the next test armed, even if it outlives ``settle``;
nor does it appear in the next test's ``requests_seen``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from connectors.testing.contract import Exchange


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    remote_addr: str = ""
    # Set by SimulatorApp on arrival: the fault switches this request took, and its generation.
    fault: dict = field(default_factory=dict)
    generation: int | None = None

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()}

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"), "application/json", headers or {})


def html_response(html: str, status: int = 200) -> Response:
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8")


def redirect_response(location: str, status: int = 302) -> Response:
    return Response(status, b"", "text/plain", {"Location": location})


class CloseConnection(Exception):
    """Raised by the fault layer to drop the connection without an answer."""


class Faults:
    """Fault switches, armed for the next ``count`` requests of the current generation
    (thread-safe). ``extra_fields`` are switches a simulator app adds to the common ones."""

    FIELDS = ("status", "delay", "delay_after", "garbage", "truncate", "reset", "wrong_amount")

    def __init__(self, extra_fields: tuple[str, ...] = ()):
        self._lock = threading.Lock()
        self._armed: list[dict] = []
        self.fields = self.FIELDS + tuple(extra_fields)
        self.generation = 0

    def arm(self, count: int = 1, **switches) -> None:
        unknown = set(switches) - set(self.fields)
        if unknown:
            raise ValueError(f"unknown fault switches: {sorted(unknown)}")
        with self._lock:
            self._armed.extend(dict(switches) for _ in range(count))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def new_generation(self) -> int:
        """Clear every armed fault and start a new generation (a new test); returns its number."""
        with self._lock:
            self._armed.clear()
            self.generation += 1
            return self.generation

    def next(self, generation: int | None = None) -> dict:
        """The switches for one request: the oldest armed fault, or ``{}``. A request that arrived
        in an earlier ``generation`` takes nothing: what is armed now belongs to a later test."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return {}
            return self._armed.pop(0) if self._armed else {}


_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 302: "Found",
                400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity",
                500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                504: "Gateway Timeout"}


def route(method: str, pattern: str):
    """Register a handler for ``method`` and a path pattern with ``{name}`` placeholders."""

    def decorator(func):
        func._route_spec = (method.upper(), pattern)
        return func

    return decorator


class SimulatorBusy(AssertionError):
    """``settle`` timed out: a request or background job of the test is still running."""


class SimulatorApp:
    """A WSGI app: subclasses declare handlers with ``@route`` and keep their own state."""

    # Fault switches of this simulator beyond the common ones (read from ``request.fault``).
    EXTRA_FAULTS: tuple[str, ...] = ()
    # A ``connectors.testing.contract.ContractObserver`` checking every API exchange, or None.
    contract = None

    def __init__(self):
        self.faults = Faults(self.EXTRA_FAULTS)
        self.lock = threading.RLock()
        self.requests_seen: list[Request] = []
        # Requests being handled and background jobs running; settle() waits for them.
        self._activity = threading.Condition()
        self._busy: dict[int, str] = {}
        self._busy_ids = iter(range(1, 2**62))
        self._routes = []
        for name in dir(type(self)):
            if name.startswith("__"):
                continue
            handler = getattr(self, name)
            spec = getattr(handler, "_route_spec", None)
            if isinstance(spec, tuple):
                method, pattern = spec
                regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
                self._routes.append((method, re.compile(regex), handler))

    # Subclasses may override to shape the fault answer like their bank's error body.
    def fault_error_body(self, status: int) -> dict:
        return {"error": {"code": f"simulated_{status}", "message": f"simulated HTTP {status}"}}

    # -- test isolation -----------------------------------------------------------------------

    def _begin(self, what: str) -> int:
        with self._activity:
            token = next(self._busy_ids)
            self._busy[token] = what
            return token

    def _end(self, token: int) -> None:
        with self._activity:
            self._busy.pop(token, None)
            self._activity.notify_all()

    def in_flight(self) -> list[str]:
        """What is running now: ``"POST /v1/charges"`` for a request, the job name for background work."""
        with self._activity:
            return list(self._busy.values())

    def in_background(self, target, *args, name: str = "", **kwargs) -> threading.Thread:
        """Run bank-side work after the answer (a webhook delivery, a late settlement) on a daemon
        thread that ``settle`` waits for, so it cannot land in the next test."""
        token = self._begin(name or getattr(target, "__name__", "background job"))

        def run():
            try:
                target(*args, **kwargs)
            finally:
                self._end(token)

        thread = threading.Thread(target=run, name=f"{type(self).__name__}-{name or 'job'}", daemon=True)
        thread.start()
        return thread

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being handled and no background job runs; False on timeout."""
        with self._activity:
            return self._activity.wait_for(lambda: not self._busy, timeout)

    def settle(self, timeout: float = 10.0) -> None:
        """End a test's use of this simulator: wait for its requests and background jobs to finish
        (``SimulatorBusy`` names what still runs after ``timeout`` seconds), then clear the armed
        faults and ``requests_seen`` and start a new generation. Bank state (charges, refunds)
        stays: every test's ids are its own."""
        idle = self.wait_idle(timeout)
        # A new generation even when busy: whatever still runs can take nothing the next test arms.
        self.faults.new_generation()
        self.requests_seen.clear()
        if not idle:
            raise SimulatorBusy(f"{type(self).__name__} still busy {timeout:.0f}s after the test: {self.in_flight()}")

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        # Stamped on arrival, before the body is read: the request belongs to the test
        # (generation) that sent it, however long its body or its handling takes.
        generation = self.faults.generation
        token = self._begin(f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '/')}")
        try:
            return self._serve(environ, start_response, generation)
        finally:
            self._end(token)

    def _serve(self, environ, start_response, generation: int):
        request = self._read(environ)
        request.generation = generation
        try:
            response = self._dispatch(request)
        except CloseConnection:
            _drop_connection(environ)
            start_response("500 Internal Server Error", [("Content-Length", "0"), ("Connection", "close")])
            return []
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
        headers.extend(response.headers.items())
        start_response(f"{response.status} {_STATUS_TEXT.get(response.status, 'Status')}", headers)
        return [response.body]

    def _dispatch(self, request: Request) -> Response:
        if request.path == "/__faults__" and request.method == "POST":
            payload = request.json() or {}
            if payload.get("clear"):
                self.faults.clear()
            else:
                count = int(payload.pop("count", 1))
                self.faults.arm(count=count, **payload)
            return json_response({"armed": True})
        if request.path.startswith("/__control__/"):
            # Test controls are never subject to the fault switches meant for the bank's API.
            return self._route(request)
        if request.generation in (None, self.faults.generation):  # a request from before settle()
            self.requests_seen.append(_masked_copy(request))       # is the previous test's
        response = self._serve_api(request)
        if self.contract is not None and not (request.fault.keys() & {"status", "garbage", "truncate"}):
            # Checked at once against the processor's published description; only the
            # violations are kept, never the bodies (they may carry card data). Answers a test
            # forced with a fault switch are the test's, not the simulator's, and are skipped.
            self.contract.observe(
                Exchange(request.method, request.path, dict(request.query), dict(request.headers), request.body,
                         response.status, response.body)
            )
        return response

    def _serve_api(self, request: Request) -> Response:
        fault = request.fault = self.faults.next(request.generation)
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))
        if fault.get("reset"):
            raise CloseConnection()
        if fault.get("status"):
            return json_response(self.fault_error_body(int(fault["status"])), status=int(fault["status"]))
        if fault.get("garbage"):
            return Response(200, b"<html><body>Gateway error</body></html>", "text/html")
        response = self._route(request)
        if fault.get("delay_after"):
            time.sleep(float(fault["delay_after"]))
        if fault.get("truncate"):
            response.body = response.body[: max(1, len(response.body) // 2)]
        return response

    def _route(self, request: Request) -> Response:
        path_matched = False
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match:
                path_matched = True
                if method == request.method:
                    request.params = match.groupdict()
                    return handler(request)
        if path_matched:
            return json_response({"error": {"code": "method_not_allowed", "message": "method not allowed"}}, 405)
        return json_response({"error": {"code": "not_found", "message": f"no route for {request.path}"}}, 404)

    @staticmethod
    def _read(environ) -> Request:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        return Request(method=environ["REQUEST_METHOD"].upper(), path=environ.get("PATH_INFO", "/"),
                       query=query, headers=headers, body=body, remote_addr=environ.get("REMOTE_ADDR", ""))

    def wrong_amount(self, request: Request) -> bool:
        """True when the wrong-amount fault is armed for this request."""
        return bool(getattr(request, "fault", {}).get("wrong_amount"))


def _masked_copy(request: Request) -> Request:
    """What the simulator keeps of a request for tests to inspect: card numbers and CVCs masked
    (a test bank keeps no card data either); headers and signatures stay readable."""
    from connectors.masking import mask_card_data

    return Request(method=request.method, path=request.path, query=dict(request.query),
                   headers=dict(request.headers), remote_addr=request.remote_addr,
                   body=mask_card_data(request.body.decode("utf-8", "replace")).encode("utf-8"))


def _drop_connection(environ) -> None:
    sock = environ.get("pagoflex.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
        except OSError:
            pass


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    def get_environ(self):
        environ = super().get_environ()
        environ["pagoflex.socket"] = self.connection
        return environ


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def server_activate(self):
        super().server_activate()
        self.handling = 0  # connections accepted and not yet closed
        self.handled = threading.Condition()

    def process_request(self, request, client_address):
        # Counted in the accepting thread, so a connection is never between accept and count.
        with self.handled:
            self.handling += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._handled_one()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._handled_one()

    def _handled_one(self):
        with self.handled:
            self.handling -= 1
            self.handled.notify_all()

    def wait_handled(self, timeout: float) -> bool:
        """Wait until every accepted connection has been answered and closed; False on timeout."""
        with self.handled:
            return self.handled.wait_for(lambda: self.handling <= 0, timeout)


class SimulatorServer:
    """Serve a simulator on loopback in a background thread: ``with SimulatorServer(app) as url:``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.host = host
        self.port = port
        self._server = None
        self._thread = None

    def start(self) -> SimulatorServer:
        self._server = make_server(self.host, self.port, self.app, server_class=_ThreadingWSGIServer,
                                   handler_class=_QuietHandler)
        self.port = self._server.server_port
        # A short poll interval: stop() waits for one poll, and tests start and stop many servers.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sim-{self.port}", daemon=True)
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, and give the port back only when what the test started has ended: a
        simulator app is settled (``SimulatorApp.settle``: its requests and background jobs), and
        any app's accepted connections (Pagoflex's own, say) are answered, for up to ``timeout``
        seconds each, so no request of this test writes to the database after it."""
        if self._server is None:
            return
        server, self._server = self._server, None
        try:
            settle = getattr(self.app, "settle", None)
            if callable(settle):
                settle(timeout)
        finally:
            server.shutdown()
            drained = server.wait_handled(timeout)
            server.server_close()
        if not drained:
            raise SimulatorBusy(f"{server.handling} connection(s) to {self.base_url} still open {timeout:.0f}s after the test")

    def __enter__(self) -> str:
        self.start()
        return self.base_url

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(app, host: str, port: int) -> None:
    """Run a simulator as its own process (used by ``python -m connectors.<bank>.simulator``)."""
    server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    print(f"{type(app).__name__} listening on http://{host}:{port}", flush=True)
    server.serve_forever()


def unused_port_url() -> str:
    """A loopback URL nothing listens on (for 'connection refused' tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
