"""The WSGI application. With ``REQUESTS_RUNNING_PER_PROCESS`` above 0 in the environment (1 as
pagoflex/gunicorn.conf.py ships; unset, as under the development server, means no bound; any
server reads it here), each request holds one of the process's running slots while Django builds
its answer (``connectors/waiting.py``)."""

import os

from django.core.wsgi import get_wsgi_application

from connectors.waiting import install_running_slots, release_database_connection, waiting_outside
from pagoflex.health import probe_path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pagoflex.settings")


class InputReadOutsideTheSlot:
    """``wsgi.input`` whose reads wait outside (no slot, no database connection): a client
    trickling its body costs a thread, never a slot the process's other requests need."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, *args):
        with waiting_outside():
            return self._stream.read(*args)

    def readline(self, *args):
        with waiting_outside():
            return self._stream.readline(*args)

    def readlines(self, *args):
        with waiting_outside():
            return self._stream.readlines(*args)

    def __iter__(self):
        return iter(self.readline, b"")

    def __getattr__(self, name):
        return getattr(self._stream, name)


class RunningSlotsApplication:
    """Holds a running slot for each request from the WSGI call until Django has built its answer
    (writing it to the client is gunicorn's, outside the slot). Health, readiness and metrics
    are answered without one: a probe or a scrape must answer while the process is busy, and
    their own checks are bounded (pagoflex/health.py)."""

    def __init__(self, application, slots):
        self.application, self.slots = application, slots

    def __call__(self, environ, start_response):
        if probe_path(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")) is not None:
            return self.application(environ, start_response)
        environ["wsgi.input"] = InputReadOutsideTheSlot(environ["wsgi.input"])
        with self.slots.running():
            return self.application(environ, start_response)


class ConnectionReturnedBeforeSending:
    """Gives the request's pooled database connection back once Django has built the answer,
    before the server writes it. Django itself gives it back at ``response.close()``, after the
    server has sent the last byte: a client that reads a large answer slowly, or not at all, would
    hold a connection of the process's small pool (``DATABASE_POOL_MAX_SIZE``) for as long as it
    likes, and a few such clients would leave the other requests waiting for the pool (503 after
    ``DATABASE_POOL_TIMEOUT``). A streaming answer keeps its connection until it is sent: its
    iterator may hold a cursor on it. Without a pool (the development server, the tests) it does
    nothing."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        response = self.application(environ, start_response)
        if not getattr(response, "streaming", False):
            try:
                release_database_connection()
            except BaseException:
                response.close()  # Django's own clean-up, which the server will not reach now
                raise
        return response


application = ConnectionReturnedBeforeSending(get_wsgi_application())

_running_per_process = int(os.environ.get("REQUESTS_RUNNING_PER_PROCESS") or 0)
if _running_per_process > 0:
    application = RunningSlotsApplication(application, install_running_slots(_running_per_process))
