"""Waiting on the outside world (a bank, a client sending its body) without holding what the
other requests of the process need: a database connection and a running slot.

- **The database connection** goes back to the pool (``DATABASE_POOL_MAX_SIZE`` per process):
  a thread that kept it while a bank answers in hundreds of milliseconds would make the
  database's connection limit, not the CPU, set how many payments are in flight.
- **The running slot**, when ``REQUESTS_RUNNING_PER_PROCESS`` is above 0 (1 as shipped): each
  request of the process holds one of that many slots from the moment the WSGI application is
  called until Django has built its answer (``pagoflex/wsgi.py``), except while it sends to a bank
  and waits for the answer (the HTTP executor, ``connectors/http.py``) and while it reads its body
  from the client. Other threads wait for a slot: those back from a wait first, then in the order
  they arrived. A process has 100 threads so that payments can wait on banks
  (pagoflex/gunicorn.conf.py), not so that 40 of them take turns on the GIL, which is what 128
  clients with no bank latency make them do (docs/performance.md, "Running slots"). What runs
  outside Django (gunicorn reading the request line and headers, writing the answer) holds no slot.

``waiting_outside()`` gives both back for the wait and takes a slot again after it (a connection
is taken again by the next statement). Never inside a transaction: the services' row locks and the
attempt committed before the call stay exactly as they are, and a thread holding a row lock never
waits for a slot, so slots and row locks cannot wait on each other. Nor does a thread wait for a
slot while it holds a pooled connection. A thread without a slot (a Celery task, a management
command, a health probe) gives back only its connection.

It lives here, not with the server's configuration in ``pagoflex``, because the HTTP executor
that waits on banks is the connectors app's, and apps do not import the project package.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from contextlib import contextmanager

from django.db import connection

from observability.metrics import count_running_slot_kept_in_transaction, observe_running_slot_wait

logger = logging.getLogger("pagoflex.serving")


def release_database_connection() -> None:
    """Give this thread's database connection back to the pool before a wait.

    Only with a pool (``DATABASE_POOL_MAX_SIZE``): without one, the next statement would open a
    new connection. Never inside a transaction (see the module's docstring).
    """
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


class RunningSlots:
    """At most ``size`` threads hold a slot at once. A freed slot is handed over, never raced for:
    first to a request coming back from a wait (its bank has answered, or a chunk of its body has
    arrived: finishing it frees its thread and answers its client), then to the request that
    arrived first.

    Not ``threading.Semaphore``: its woken waiter must race for the freed slot with any thread
    arriving at that moment, and on losing waits again at the back of the queue. Under a steady
    stream of requests some waited for seconds (128 clients, no bank latency: p99 7.3 s beside a
    p50 of 2.4 s).
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a process needs at least one running slot, not {size}")
        self.size = size
        self._lock = threading.Lock()
        self._free = size
        self._returning: collections.deque[threading.Lock] = collections.deque()
        self._arriving: collections.deque[threading.Lock] = collections.deque()
        self._held = threading.local()

    def _acquire(self, line: collections.deque) -> float:
        """Take a slot, waiting in ``line`` if none is free; the seconds waited."""
        asked = time.monotonic()
        with self._lock:
            if self._free:  # a slot is free only when no one waits: _release hands it over
                self._free -= 1
                return 0.0
            handed = threading.Lock()
            handed.acquire()
            line.append(handed)
        handed.acquire()  # released by _release: the slot is this thread's
        return time.monotonic() - asked

    def _release(self) -> None:
        with self._lock:
            line = self._returning or self._arriving
            if line:
                line.popleft().release()
            else:
                if self._free >= self.size:  # a last guard: the context managers pair every give-back
                    raise RuntimeError("a running slot was given back twice")
                self._free += 1

    def free(self) -> int:
        """Slots no thread holds (for tests)."""
        with self._lock:
            return self._free

    def waiting_in_line(self) -> int:
        """Threads waiting for a slot (for tests)."""
        with self._lock:
            return len(self._returning) + len(self._arriving)

    def held(self) -> bool:
        """Whether this thread holds a slot."""
        return getattr(self._held, "slot", False)

    @contextmanager
    def running(self):
        """Hold a slot for the block (a request, from the WSGI call until its answer is built)."""
        waited = self._acquire(self._arriving)
        self._held.slot = True
        try:
            observe_running_slot_wait(waited, when="on_arrival")
            yield
        finally:
            if self._held.slot:  # False only if taking it back after a wait failed
                self._held.slot = False
                self._release()

    @contextmanager
    def waiting(self):
        """Give this thread's slot up for the block and take one again after it, ahead of new
        arrivals; nothing when the thread holds none or is inside a transaction."""
        if not self.held():
            yield
            return
        if connection.in_atomic_block:
            # Kept: a thread holding a row lock must never wait for a slot. Said, because the
            # process's other requests now wait out this one's bank or client.
            count_running_slot_kept_in_transaction()
            logger.warning("a wait on the outside inside a database transaction keeps its running slot; the "
                           "process's other requests wait for it", stack_info=True)
            yield
            return
        self._held.slot = False
        self._release()
        try:
            yield
        finally:
            waited = self._acquire(self._returning)
            self._held.slot = True
            observe_running_slot_wait(waited, when="after_waiting")


# The process's slots, when the server installed them (pagoflex/wsgi.py); None elsewhere.
_slots: RunningSlots | None = None


def install_running_slots(size: int) -> RunningSlots:
    """Bound the requests of this process that run at once (called once, when the WSGI
    application is built)."""
    global _slots
    _slots = RunningSlots(size)
    return _slots


@contextmanager
def waiting_outside():
    """Wait on a bank or a client with neither a database connection nor a running slot held
    (see the module's docstring)."""
    release_database_connection()
    if _slots is None:
        yield
        return
    with _slots.waiting():
        yield
