"""``/healthz`` and ``/readyz``: for load balancers and orchestrators, without authentication.

- ``/healthz``: the process is alive and serving (no dependency is asked): 200 ``{"status": "ok"}``.
- ``/readyz``: the database, the shared cache and the jobs' broker answer within a second each:
  200 ``{"status": "ready", "checks": {...: "ok"}}``, else 503 with the failing check named
  ``"unavailable"``. Never an error message, a host name or a version: the answer tells a
  stranger nothing but which of the three is down. A 503 whose checks are all ``"checking"``
  means the process has no answer yet (its first evaluation is under way).

Served by a middleware placed first, so a health check is answered before host validation (a
load balancer probes by IP address), the HTTPS redirect (it probes in plain HTTP behind the TLS
terminator) and any session or authentication work. ``/metrics`` is served there too, for the
same reasons (Prometheus scrapes a pod by its IP address).

A dependency that accepts connections and never answers must not hold probes: each check is
bounded by its own client's timeouts (about ``CHECK_TIMEOUT`` each), the database connection goes
back to the pool as soon as its check ends, and one probe at a time evaluates the checks in a
process, the others getting the latest answer (``Readiness``). Without these, probes against a
stuck Redis each held a thread and a pooled connection for minutes, until ``/metrics`` and the
API ran out of connections.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import threading
import time
from contextlib import contextmanager

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import JsonResponse
from redis.backoff import NoBackoff
from redis.retry import Retry

from connectors.waiting import release_database_connection

logger = logging.getLogger("pagoflex.health")
CHECK_TIMEOUT = 1.0  # seconds each dependency has to answer
FRESH_FOR = 1.0  # seconds a readiness answer is served again before the checks are run anew


@contextmanager
def database_within(seconds: float):
    """This thread's database connection, for work that must not wait long (a probe, a scrape).

    The connection is taken from the pool (or opened) within ``seconds``, each statement of the
    block is cancelled by PostgreSQL after ``seconds`` (``statement_timeout``, local to the block's
    transaction), and the connection goes back to the pool when the block ends, failed or not
    (``release_database_connection``). Past a bound it raises ``django.db.OperationalError``.
    Requests wait for a connection up to the pool's own timeout (``DATABASE_POOL_TIMEOUT``);
    these must not. SQLite (development) is a local file: no bound is applied.
    """
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql":
        yield
        return
    try:
        if database.connection is None:
            with _connecting_within(database, seconds):
                database.ensure_connection()
        with transaction.atomic():
            with database.cursor() as cursor:
                cursor.execute("SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                               [f"{math.ceil(seconds * 1000)}ms"])
                previous = cursor.fetchone()[0]
            yield
            # Inside an enclosing transaction (tests) the setting would outlive this block's savepoint.
            with database.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    finally:
        release_database_connection()


@contextmanager
def _connecting_within(database, seconds: float):
    """Django connects through ``get_new_connection``, which waits up to the pool's timeout (and
    without a pool, as long as the network does). For the block, this thread's wrapper (each thread
    has its own) takes a pooled connection within ``seconds``, or connects with libpq's
    ``connect_timeout`` (whole seconds, 2 at least)."""
    pool, connect = database.pool, database.get_new_connection

    def get_new_connection(conn_params):
        if pool is None:
            return connect({**conn_params, "connect_timeout": max(2, math.ceil(seconds))})
        pool.open()
        return pool.getconn(timeout=seconds)

    database.get_new_connection = get_new_connection
    try:
        yield
    finally:
        del database.get_new_connection


def check_database() -> None:
    with database_within(CHECK_TIMEOUT), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    """Writes a key to the shared cache and reads it back. On Redis, through a client of the
    check's own with socket timeouts and no retries: the cache's client waits redis-py's default
    5 s a read, and retries."""
    config = settings.CACHES["default"]
    key, value = cache.make_key("readyz"), secrets.token_hex(8)
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        cache.set(key, value, timeout=10)
        if cache.get(key) != value:
            raise RuntimeError("the cache did not keep a value")
        return
    location = config["LOCATION"]
    writer = re.split("[;,]", location)[0] if isinstance(location, str) else location[0]  # as Django's client
    with redis.Redis.from_url(writer, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT,
                              retry=Retry(NoBackoff(), 0)) as client:
        client.set(key, value, ex=10)
        if client.get(key) != value.encode():
            raise RuntimeError("the cache did not keep a value")


def check_broker() -> None:
    """Connects to the broker. kombu's Redis transport has no socket timeout unless told (a stuck
    Redis held this check for minutes): this connection gets its own. No retry either (kombu
    sleeps 2 s before one): the prober asks again."""
    from pagoflex.celery import app

    bounds = {"socket_connect_timeout": CHECK_TIMEOUT, "socket_timeout": CHECK_TIMEOUT}
    with app.connection_for_write(connect_timeout=CHECK_TIMEOUT, transport_options=bounds) as broker:
        broker.ensure_connection(max_retries=0)


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


def evaluate(checks: dict) -> tuple[bool, dict[str, str]]:
    """Runs every check: (ready, {name: "ok" or "unavailable"})."""
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception:  # noqa: BLE001 - any failure means not ready; the log says which and why
            logger.warning("readiness check %s failed", name, exc_info=True)
            results[name] = "unavailable"
    return all(value == "ok" for value in results.values()), results


class Readiness:
    """This process's readiness, evaluated by one probe at a time and served again for
    ``fresh_for`` seconds: ``READINESS()`` gives (ready, {check: "ok" | "unavailable" | "checking"}).

    A probe that finds no fresh answer evaluates the checks, unless another probe already is: it
    then gets the latest answer at once, or, before the first one, not ready with every check
    ``"checking"``. However many probes arrive, a stuck dependency holds one thread per process,
    for the few seconds the bounded checks take."""

    def __init__(self, checks: dict, fresh_for: float):
        self.checks = checks
        self.fresh_for = fresh_for
        self._evaluating = threading.Lock()
        self._latest: tuple[float, bool, dict[str, str]] | None = None  # (monotonic time, ready, checks)

    def __call__(self) -> tuple[bool, dict[str, str]]:
        latest = self._latest
        if latest is not None and time.monotonic() - latest[0] < self.fresh_for:
            return latest[1], latest[2]
        if not self._evaluating.acquire(blocking=False):
            return (latest[1], latest[2]) if latest is not None else (False, dict.fromkeys(self.checks, "checking"))
        try:
            ready, results = evaluate(self.checks)
            self._latest = (time.monotonic(), ready, results)
        finally:
            self._evaluating.release()
        return ready, results

    def forget(self) -> None:
        """Drop the latest answer: the next probe evaluates (tests that change a dependency)."""
        self._latest = None


READINESS = Readiness(CHECKS, fresh_for=FRESH_FOR)


def healthz(request):
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def readyz(request):
    ready, checks = READINESS()
    return JsonResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                        status=200 if ready else 503, headers={"Cache-Control": "no-store"})


PROBE_PATHS = ("/healthz", "/readyz", "/metrics")


def probe_path(method: str, path_info: str) -> str | None:
    """Which of ``PROBE_PATHS`` a request asks for (a trailing slash allowed, GET or HEAD only), or
    None. The one rule for the middleware below and for the WSGI application, which answers
    probes without a running slot (pagoflex/wsgi.py)."""
    path = path_info.rstrip("/") or "/"
    return path if method in ("GET", "HEAD") and path in PROBE_PATHS else None


class HealthCheckMiddleware:
    """Answers ``/healthz``, ``/readyz`` and ``/metrics`` (pagoflex/metrics.py, behind its own
    token guard) before any other middleware: probes and scrapes come by IP address in plain HTTP
    on the private network."""

    def __init__(self, get_response):
        from pagoflex.metrics import metrics_view  # here: pagoflex.metrics imports this module

        self.get_response = get_response
        self.views = dict(zip(PROBE_PATHS, (healthz, readyz, metrics_view), strict=True))

    def __call__(self, request):
        path = probe_path(request.method, request.path_info)
        if path is not None:
            return self.views[path](request)
        return self.get_response(request)
