"""gunicorn's threaded worker, with two changes: a thread that served a kept-alive connection waits
a moment for that client's next request and serves it itself, and a connection is closed by the
thread that served it, never by the worker's event loop.

**The next request on the same thread.** In gunicorn's own worker every request of a kept-alive
connection goes from its pool thread to the event loop (a queue and a pipe) and back to a pool
thread (the loop registers it, sees it readable, submits it): two hand-offs, each a wake-up and a
turn of the GIL, on every request, in a process whose requests otherwise run one at a time (the
running slot, connectors/waiting.py). Here the thread waits up to ``GUNICORN_NEXT_REQUEST_WAIT``
seconds (1 as shipped, 0: off) for the client's next request on its socket and serves it at once;
only a connection that stays quiet that long goes back to the loop. A waiting thread is one of the
process's ``threads``, so the wait never costs new work a thread: the event loop counts every
connection it hands to the pool, and past three quarters of the threads busy no thread starts to
wait and those waiting are woken (a pipe they poll beside their socket) to give their connections
back at once; a stopping worker wakes them too. Measured with 128 clients and no bank latency,
together with the GIL's longer switch interval (pagoflex/gunicorn.conf.py), in three runs of
rotating rounds: 0.8 to 1.0 ms less server CPU per payment than gunicorn's own worker with
Python's interval (13.4-13.8 against 14.2-14.8 ms), and 0.95-0.99 of three sync workers' rate
against 0.93-0.94. Either change alone did not lower the CPU (docs/performance.md, "Kept-alive
connections on their thread").

**The close.** gunicorn 27 closes a connection that will not be kept alive "gracefully" (RFC 9112
section 9.6: send FIN, then read and discard what the client still sends, up to 2 s, so the
kernel does not answer the client's unread bytes with a reset that could truncate our response).
It does so in ``ThreadWorker.finish_request``, which runs on the worker's main thread: the one
thread that accepts connections and hands kept-alive ones back to the pool. A client that keeps
trickling a body we refused (a 401 or a 413 sent before the body was read) holds that loop for
the whole 2 s, and every request arriving at that process waits behind it. Measured with 10 such
clients (``make bench``, the slow-clients scenario): the other requests' p99 grew by about 3 s,
and a stack dump of each worker showed its main thread in ``util.close_graceful``. Here the
serving thread does the linger itself before it returns, so the event loop's own close finds the
socket already closed and returns at once. The linger costs one of the process's threads for at
most 2 s, the cheap resource.
"""

import os
import select
import threading

from gunicorn.workers import gthread

# The share of the process's threads that may be busy (serving, waiting for a client's next
# request, or handed a connection not yet started) for a thread to wait for its client's next
# request. Past it, no thread starts to wait, and those waiting give their connections back.
BUSY_THREADS_FOR_WAITING = 0.75


class ThreadWorker(gthread.ThreadWorker):
    """``worker_class = "pagoflex.gunicorn_worker.ThreadWorker"`` (pagoflex/gunicorn.conf.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.next_request_wait = float(os.environ.get("GUNICORN_NEXT_REQUEST_WAIT", "0"))
        self._busy_lock = threading.Lock()
        self._busy_threads = 0
        self._crowded = False

    def init_process(self):
        # Readable while the process is crowded or stopping: every thread waiting for a client's
        # next request watches it and gives its connection back to the event loop at once, so new
        # connections and probes never wait for a thread that only waits (written and emptied by
        # the event loop, _note_crowding).
        self._crowded_read, self._crowded_write = os.pipe()
        os.set_blocking(self._crowded_read, False)
        os.set_blocking(self._crowded_write, False)
        super().init_process()

    def handle(self, conn):
        """Runs in a pool thread: serve, then the client's next requests while they come within
        ``next_request_wait``; when the connection is not to be kept, close it here. (The job was
        counted busy when it was handed to the pool, enqueue_req.)"""
        try:
            keep_alive = super().handle(conn)
            while keep_alive is True and self.next_request_arrives(conn):
                keep_alive = super().handle(conn)
            if keep_alive is False:  # gunicorn's every "close this connection" path returns False
                conn.close(graceful=True)  # up to 2 s: counted busy, like any work of a thread
                conn.closed_by_its_thread = True
        finally:
            with self._busy_lock:
                self._busy_threads -= 1
        return keep_alive

    def next_request_arrives(self, conn) -> bool:
        """Whether the client's next request is here, or arrives within ``next_request_wait``
        seconds; False at once when waiting is off, the worker is stopping, or too many of the
        process's threads are busy (then the event loop waits for it, as in gunicorn's worker)."""
        if self.next_request_wait <= 0 or not self.alive:
            return False
        if self._busy_threads > self.cfg.threads * BUSY_THREADS_FOR_WAITING:
            return False  # even a pipelined request: it goes back in line, first come first served
        if conn.parser.unreader.buf.getvalue():  # already read: a pipelined request, or a drain's read-ahead
            return True
        readable = select.poll()  # any descriptor number (select() stops at 1024)
        readable.register(conn.sock, select.POLLIN)
        readable.register(self._crowded_read, select.POLLIN)
        ready = {fd for fd, _ in readable.poll(self.next_request_wait * 1000)}
        # The socket is readable also when the client closed: the next read then finds no request,
        # and the connection is closed here. Crowded: back to the loop, even with a request there.
        return conn.sock.fileno() in ready and self._crowded_read not in ready

    def _note_crowding(self) -> None:
        """Runs on the event loop: wake the waiting threads when the process fills up (its busy
        threads reach the share; work waits for a thread only past it), or stops; stop waking
        them when it has room again."""
        crowded = not self.alive or self._busy_threads > self.cfg.threads * BUSY_THREADS_FOR_WAITING
        if crowded and not self._crowded:
            self._crowded = True
            try:
                os.write(self._crowded_write, b"!")
            except OSError:  # the pipe already holds a byte: the waiters see it readable anyway
                pass
        elif not crowded and self._crowded:
            self._crowded = False
            try:
                os.read(self._crowded_read, 64)
            except OSError:
                pass
            if not self.alive:  # SIGTERM arrived during the drain (handle_exit): wake them after all
                self._note_crowding()

    def enqueue_req(self, conn):
        """Runs on the event loop: hand a connection to the pool, counted busy from now (queued
        for a thread or not), then see whether waiters must go."""
        with self._busy_lock:
            self._busy_threads += 1
        super().enqueue_req(conn)
        self._note_crowding()

    def handle_exit(self, sig, frame):
        """SIGTERM: the waiting threads give their connections back now, not after their wait."""
        super().handle_exit(sig, frame)
        self._note_crowding()

    def finish_request(self, conn, fs):
        """Runs on the event loop: a connection its thread closed is only counted off."""
        self._note_crowding()
        if getattr(conn, "closed_by_its_thread", False):
            self.nr_conns -= 1  # what the base class does for a closed connection, minus the close
            return
        super().finish_request(conn, fs)
