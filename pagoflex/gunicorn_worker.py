"""gunicorn's threaded worker, with one change: a connection is closed by the thread that served
it, never by the worker's event loop.

gunicorn 27 closes a connection that will not be kept alive "gracefully" (RFC 9112 section 9.6:
send FIN, then read and discard what the client still sends, up to 2 s, so the kernel does not
answer the client's unread bytes with a reset that could truncate our response). It does so in
``ThreadWorker.finish_request``, which runs on the worker's main thread: the one thread that
accepts connections and hands kept-alive ones back to the pool. A client that keeps trickling a
body we refused (a 401 or a 413 sent before the body was read) holds that loop for the whole 2 s,
and every request arriving at that process waits behind it. Measured with 10 such clients
(``make bench``, the slow-clients scenario): the other requests' p99 grew by about 3 s, and a
stack dump of each worker showed its main thread in ``util.close_graceful``.

Here the serving thread does the linger itself before it returns, so the event loop's own close
finds the socket already closed and returns at once. The linger costs one of the process's
threads (``threads`` in gunicorn.conf.py) for at most 2 s, the cheap resource.
"""

from gunicorn.workers import gthread


class ThreadWorker(gthread.ThreadWorker):
    """``worker_class = "pagoflex.gunicorn_worker.ThreadWorker"`` (pagoflex/gunicorn.conf.py)."""

    def handle(self, conn):
        """Runs in a pool thread: serve, and when the connection is not to be kept, close it here."""
        keep_alive = super().handle(conn)
        if keep_alive is False:  # gunicorn's every "close this connection" path returns False
            conn.close(graceful=True)
            conn.closed_by_its_thread = True
        return keep_alive

    def finish_request(self, conn, fs):
        """Runs on the event loop: a connection its thread closed is only counted off."""
        if getattr(conn, "closed_by_its_thread", False):
            self.nr_conns -= 1  # what the base class does for a closed connection, minus the close
            return
        super().finish_request(conn, fs)
