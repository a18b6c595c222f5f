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
    """Fault switches, armed for the next ``count`` requests (thread-safe)."""

    FIELDS = ("status", "delay", "delay_after", "garbage", "truncate", "reset", "wrong_amount")

    def __init__(self):
        self._lock = threading.Lock()
        self._armed: list[dict] = []

    def arm(self, count: int = 1, **switches) -> None:
        unknown = set(switches) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault switches: {sorted(unknown)}")
        with self._lock:
            self._armed.extend(dict(switches) for _ in range(count))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def next(self) -> dict:
        with self._lock:
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


class SimulatorApp:
    """A WSGI app: subclasses declare handlers with ``@route`` and keep their own state."""

    # A ``connectors.testing.contract.ContractObserver`` checking every API exchange, or None.
    contract = None

    def __init__(self):
        self.faults = Faults()
        self.lock = threading.RLock()
        self.requests_seen: list[Request] = []
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

    def __call__(self, environ, start_response):
        request = self._read(environ)
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
        self.requests_seen.append(_masked_copy(request))
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
        fault = self.faults.next()
        request.fault = fault
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

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

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
