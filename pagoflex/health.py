"""``/healthz`` and ``/readyz``: for load balancers and orchestrators, without authentication.

- ``/healthz``: the process is alive and serving (no dependency is asked): 200 ``{"status": "ok"}``.
- ``/readyz``: the database, the shared cache and the jobs' broker answer within a second each:
  200 ``{"status": "ready", "checks": {...: "ok"}}``, else 503 with the failing check named
  ``"unavailable"``. Never an error message, a host name or a version: the answer tells a
  stranger nothing but which of the three is down.

Served by a middleware placed first, so a health check is answered before host validation (a
load balancer probes by IP address), the HTTPS redirect (it probes in plain HTTP behind the TLS
terminator) and any session or authentication work.
"""

from __future__ import annotations

import logging
import secrets

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger("pagoflex.health")
CHECK_TIMEOUT = 1.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    key, value = "readyz", secrets.token_hex(8)
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not keep a value")


def check_broker() -> None:
    from pagoflex.celery import app

    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


def readiness() -> tuple[bool, dict[str, str]]:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception:  # noqa: BLE001 - any failure means not ready; the log says which and why
            logger.warning("readiness check %s failed", name, exc_info=True)
            results[name] = "unavailable"
    return all(value == "ok" for value in results.values()), results


def healthz(request):
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def readyz(request):
    ready, checks = readiness()
    return JsonResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                        status=200 if ready else 503, headers={"Cache-Control": "no-store"})


class HealthCheckMiddleware:
    PATHS = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.PATHS.get(request.path_info.rstrip("/") or "/")
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
