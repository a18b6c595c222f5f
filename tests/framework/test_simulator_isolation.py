"""Tests end with their simulator: a request or background job that one test started is over,
or can take nothing, before the next test arms its faults (connectors/testing/simulator.py).

Issue 19: a request left asleep by a "hang" fault woke up during the next test and used up the
answer that test had armed. These tests hold requests open deterministically (a body sent in
two halves, a background job waiting on an event) instead of relying on timing.
"""

import socket
import threading
import time

import pytest
import requests

from connectors.testing.simulator import SimulatorApp, SimulatorBusy, SimulatorServer, json_response, route


class Echo(SimulatorApp):
    def __init__(self):
        super().__init__()
        self.release_held = threading.Event()  # a request to /v1/held waits for it

    @route("POST", "/v1/echo")
    def echo(self, request):
        return json_response({"echo": request.body.decode()})

    @route("POST", "/v1/held")
    def held(self, request):
        self.release_held.wait(10)
        return json_response({"echo": request.body.decode()})


@pytest.fixture
def echo():
    server = SimulatorServer(Echo()).start()
    yield server
    server.stop()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def half_sent_request(server) -> socket.socket:
    """A request whose body is half sent: the simulator holds it, reading, until the rest comes."""
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(b"POST /v1/echo HTTP/1.1\r\nHost: bank\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nab")
    wait_until(lambda: server.app.in_flight() == ["POST /v1/echo"])
    return sock


def answer_status(sock: socket.socket) -> int:
    sock.sendall(b"cd")
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    sock.close()
    return int(answer.split(b" ", 2)[1])


def test_a_request_from_before_settle_takes_no_fault_armed_after_it(echo):
    left_behind = half_sent_request(echo)  # the previous test's request, still being read
    with pytest.raises(SimulatorBusy, match="POST /v1/echo"):
        echo.app.settle(timeout=0.1)  # the test ends; its request outlives the wait
    echo.app.faults.arm(status=503)  # the next test arms a fault for its own request

    assert answer_status(left_behind) == 200  # the old request took nothing
    answer = requests.post(f"{echo.base_url}/v1/echo", data="mine", timeout=10)
    assert answer.status_code == 503  # the fault went to the request it was armed for
    assert [r.body for r in echo.app.requests_seen] == [b"mine"]  # and the next test sees only its own


def test_settle_waits_for_a_request_the_client_gave_up_on(echo):
    # Held on an event, not a sleep: under load a 0.6 s sleep could be over, or not yet begun,
    # when the test looked.
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{echo.base_url}/v1/held", data="slow", timeout=(5, 0.1))
    wait_until(lambda: echo.app.in_flight() == ["POST /v1/held"])  # still held at the bank
    threading.Timer(0.3, echo.app.release_held.set).start()

    echo.app.settle()

    assert echo.app.release_held.is_set()  # settle returned only once the request could end
    assert echo.app.in_flight() == []
    assert echo.app.requests_seen == []  # the next test sees only its own requests


def test_settle_waits_for_background_jobs_and_names_one_that_outlives_it(echo):
    release, finished = threading.Event(), threading.Event()

    def deliver_webhook():
        release.wait(10)
        finished.set()

    echo.app.in_background(deliver_webhook, name="webhook charge.succeeded")
    with pytest.raises(SimulatorBusy, match="webhook charge.succeeded"):
        echo.app.settle(timeout=0.1)
    release.set()
    echo.app.settle()
    assert finished.is_set()


def test_faults_armed_over_http_belong_to_the_generation_that_armed_them(echo):
    requests.post(f"{echo.base_url}/__faults__", json={"status": 500, "count": 2}, timeout=5)
    assert requests.post(f"{echo.base_url}/v1/echo", data="x", timeout=5).status_code == 500
    echo.app.settle()  # the test ends with one fault still armed
    assert requests.post(f"{echo.base_url}/v1/echo", data="x", timeout=5).status_code == 200


def test_stopping_a_server_waits_for_the_requests_it_accepted():
    """Any WSGI app (Pagoflex itself in ``pagoflex_server``): stop() returns when the accepted
    requests are answered, so none writes to the database after its test."""
    entered, release, answered = threading.Event(), threading.Event(), threading.Event()

    def slow_app(environ, start_response):
        entered.set()
        release.wait(10)
        answered.set()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def call(server):
        client = threading.Thread(target=lambda: requests.get(server.base_url, timeout=10), daemon=True)
        client.start()
        assert entered.wait(10)
        return client

    server = SimulatorServer(slow_app).start()
    client = call(server)
    with pytest.raises(SimulatorBusy, match="still open"):
        server.stop(timeout=0.1)  # a request that outlives the wait is named, not forgotten
    release.set()
    client.join(10)

    entered.clear(), release.clear(), answered.clear()
    server = SimulatorServer(slow_app).start()
    client = call(server)
    threading.Timer(0.3, release.set).start()
    server.stop()
    assert answered.is_set()  # stop() returned only after the request was answered
    client.join(10)
