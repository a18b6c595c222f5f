"""The production worker (pagoflex/gunicorn_worker.py) serves a kept-alive client's next request on
the thread that answered the last one, within its wait and while enough of the process's threads
are free; otherwise the connection goes back to the event loop, as in gunicorn's own worker. And
the configuration sets the GIL's switch interval and the garbage collector's thresholds in each
worker process (pagoflex/gunicorn.conf.py).

The rule is exercised here on real sockets with gunicorn's own serving stubbed; the whole worker
serves real requests in test_production_server.py."""

import gc
import io
import os
import runpy
import socket
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from gunicorn.workers import gthread

from pagoflex.gunicorn_worker import ThreadWorker

CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "pagoflex", "gunicorn.conf.py")


def worker(*, wait: float, threads: int = 4, busy: int = 1) -> ThreadWorker:
    """A worker with what the rule reads set, without gunicorn's arbiter around it."""
    made = ThreadWorker.__new__(ThreadWorker)
    made.next_request_wait, made.alive, made.cfg = wait, True, SimpleNamespace(threads=threads)
    made._busy_threads, made._busy_lock, made._crowded = busy, threading.Lock(), False
    made._crowded_read, made._crowded_write = os.pipe()
    return made


@pytest.fixture
def sockets():
    ours, client = socket.socketpair()
    yield SimpleNamespace(sock=ours, parser=SimpleNamespace(unreader=SimpleNamespace(buf=io.BytesIO()))), client
    ours.close()
    client.close()


def test_a_request_arriving_within_the_wait_is_served_here(sockets):
    conn, client = sockets
    client.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert worker(wait=1.0).next_request_arrives(conn) is True


def test_a_quiet_connection_goes_back_to_the_event_loop_after_the_wait(sockets):
    conn, _ = sockets
    started = time.monotonic()
    assert worker(wait=0.3).next_request_arrives(conn) is False
    assert 0.25 <= time.monotonic() - started < 2


def test_no_wait_when_it_is_off_the_worker_stops_or_threads_are_scarce(sockets):
    conn, client = sockets
    client.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert worker(wait=0).next_request_arrives(conn) is False
    stopping = worker(wait=1.0)
    stopping.alive = False
    assert stopping.next_request_arrives(conn) is False
    # Three of four threads busy is the most that still waits; a fourth leaves it to the loop.
    assert worker(wait=1.0, threads=4, busy=3).next_request_arrives(conn) is True
    started = time.monotonic()
    assert worker(wait=1.0, threads=4, busy=4).next_request_arrives(conn) is False
    assert time.monotonic() - started < 0.2  # decided at once, not after the wait


def test_waiting_threads_give_their_connections_back_when_the_process_fills_up(sockets):
    """The event loop counts every connection it hands to the pool; past the share it wakes the
    threads that only wait, so new work never waits for them (and stops once there is room)."""
    conn, client = sockets
    waiting = worker(wait=5.0, threads=4, busy=1)
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(waiting.next_request_arrives(conn)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    waiting._busy_threads = 4  # three more connections handed to the pool meanwhile
    waiting._note_crowding()
    waiter.join(2)
    assert answers == [False] and time.monotonic() - started < 1.5
    assert waiting.next_request_arrives(conn) is False  # crowded: no new wait starts
    waiting._busy_threads = 1
    waiting._note_crowding()  # room again: the loop empties the pipe
    client.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert waiting.next_request_arrives(conn) is True


def test_a_stopping_worker_wakes_its_waiting_threads(sockets):
    conn, _ = sockets
    stopping = worker(wait=5.0, busy=1)
    stopping.alive = False
    stopping._note_crowding()
    stopping.alive = True  # only the pipe is left to stop the wait
    started = time.monotonic()
    assert stopping.next_request_arrives(conn) is False
    assert time.monotonic() - started < 0.5


def test_bytes_already_read_are_the_next_request_without_waiting(sockets):
    conn, _ = sockets
    conn.parser.unreader.buf.write(b"GET /healthz HTTP/1.1\r\n\r\n")  # pipelined behind the last one
    started = time.monotonic()
    assert worker(wait=5.0, threads=4, busy=3).next_request_arrives(conn) is True
    assert time.monotonic() - started < 0.2
    # A busy process sends even a pipelined request back in line (the event loop re-queues it).
    assert worker(wait=5.0, threads=4, busy=4).next_request_arrives(conn) is False


def test_a_client_that_closed_is_closed_here(sockets):
    conn, client = sockets
    client.close()
    assert worker(wait=1.0).next_request_arrives(conn) is True  # readable: the next read finds no request


def test_handle_serves_each_request_in_turn_then_gives_the_connection_back(sockets, monkeypatch):
    conn, client = sockets
    served = []

    def serve_one(self, conn):  # gunicorn's handle(): read one request, answer it, keep the connection
        served.append(conn.sock.recv(3))
        return True

    monkeypatch.setattr(gthread.ThreadWorker, "handle", serve_one)
    client.sendall(b"one")
    sending_later = threading.Timer(0.2, client.sendall, args=(b"two",))
    sending_later.start()
    serving = worker(wait=1.0, busy=1)  # counted when the event loop handed it the connection
    started = time.monotonic()
    assert serving.handle(conn) is True  # kept alive: the event loop waits for the third
    assert served == [b"one", b"two"]
    assert 1.1 < time.monotonic() - started < 3  # the second came 0.2 s in, then a quiet second
    assert serving._busy_threads == 0


def test_a_connection_to_close_is_closed_by_its_thread_without_waiting(sockets, monkeypatch):
    conn, client = sockets
    monkeypatch.setattr(gthread.ThreadWorker, "handle", lambda self, conn: False)
    closed = []
    serving = worker(wait=5.0, busy=1)
    # The graceful close lingers up to 2 s on the thread: counted busy meanwhile.
    conn.close = lambda graceful=False: closed.append((graceful, serving._busy_threads))
    started = time.monotonic()
    assert serving.handle(conn) is False
    assert closed == [(True, 1)] and conn.closed_by_its_thread and serving._busy_threads == 0
    assert time.monotonic() - started < 1


def test_the_configuration_sets_the_switch_interval_and_the_collector_in_each_worker(monkeypatch):
    monkeypatch.setattr(os, "environ", {**os.environ, "GIL_SWITCH_INTERVAL": "0.04",
                                        "GC_THRESHOLD": "12345,15,17"})  # the config's setdefaults stay here
    before, gc_before = sys.getswitchinterval(), gc.get_threshold()
    config = runpy.run_path(CONFIG)
    try:
        config["post_fork"](None, None)
        assert sys.getswitchinterval() == pytest.approx(0.04)
        assert config["GIL_SWITCH_INTERVAL"] == 0.04
        assert gc.get_threshold() == (12345, 15, 17)
    finally:
        sys.setswitchinterval(before)
        gc.set_threshold(*gc_before)
    assert os.environ["GUNICORN_NEXT_REQUEST_WAIT"] == "1"  # the shipped wait


def test_the_shipped_collector_thresholds(monkeypatch):
    monkeypatch.setattr(os, "environ", {key: value for key, value in os.environ.items() if key != "GC_THRESHOLD"})
    assert runpy.run_path(CONFIG)["GC_THRESHOLD"] == (20000, 20, 20)


@pytest.mark.parametrize("value", ["0,10,10", "20000,20", "20000,20,20,20", "2e4,20,20", "-1,10,10", "", "a,b,c", "²,1,1", "٢٠٠٠٠,٢٠,٢٠", "2147483648,1,1", "99999999999999999999,1,1"])
def test_a_collector_threshold_that_is_not_three_positive_c_ints_is_refused_at_start(monkeypatch, value):
    monkeypatch.setattr(os, "environ", {**os.environ, "GC_THRESHOLD": value})
    with pytest.raises(ValueError, match=r"GC_THRESHOLD must be three positive integers below 2\*\*31"):
        runpy.run_path(CONFIG)


def test_the_largest_collector_threshold_the_collector_takes_is_accepted(monkeypatch):
    monkeypatch.setattr(os, "environ", {**os.environ, "GC_THRESHOLD": "2147483647,1,1"})
    before = gc.get_threshold()
    config = runpy.run_path(CONFIG)
    try:
        config["post_fork"](None, None)  # what each worker does as it starts: no OverflowError
        assert gc.get_threshold() == (2147483647, 1, 1)
    finally:
        gc.set_threshold(*before)
