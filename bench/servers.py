"""Pagoflex served by gunicorn, and the sandbox bank, each in its own process on loopback.

Used by the benchmark (``bench/run.py``) and by the fault suite (``tests/faults``), which kills
gunicorn workers while a connector call is in flight. Every wait here is bounded in time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """The URL of a Django database settings dict (the test database, for a subprocess)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(settings_dict['NAME']).resolve()}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{settings_dict.get('HOST') or '127.0.0.1'}{port}/{settings_dict['NAME']}"


def wait_until_up(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before answering")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class ProcessServer:
    """A server subprocess in its own process group, stopped by TERM then KILL."""

    def __init__(self, args: list[str], env: dict, url: str, health_path: str, log_path: Path | None = None):
        self.args = args
        self.env = env
        self.base_url = url
        self.health_path = health_path
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> ProcessServer:
        output = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - closed in stop
        self._output = output
        self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        try:
            wait_until_up(self.base_url + self.health_path, timeout, self.process)
        except RuntimeError:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[int]:
        """Child process ids (gunicorn's workers), read from /proc."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its live and reaped children."""
        return process_cpu_seconds([self.pid, *self.children()])

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            self._close_output()
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        self._close_output()

    def _close_output(self) -> None:
        output = getattr(self, "_output", None)
        if output not in (None, subprocess.DEVNULL):
            output.close()


def process_cpu_seconds(pids) -> float:
    """CPU time (user + system) used so far by these processes and their reaped children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 11-14 after the name.
        total += sum(int(value) for value in fields[11:15]) / tick
    return total


def database_backend_pids(database: str) -> list[int]:
    """The PostgreSQL server processes serving ``database`` (the workers' persistent connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database])
        return [row[0] for row in cursor.fetchall()]


PRODUCTION_CONFIG = ROOT / "pagoflex" / "gunicorn.conf.py"


def gunicorn_production(*, database: str, port: int | None = None, extra_env: dict | None = None,
                        log_path: Path | None = None, worker_class: str | None = None) -> ProcessServer:
    """Pagoflex under the production server configuration (pagoflex/gunicorn.conf.py), as is:
    only the address is set here (and the database, which the environment names).
    ``worker_class="gevent"`` swaps the threads for greenlets (the benchmark's other candidate)."""
    port = port or free_port()
    # Plain HTTP on loopback: the production HTTPS redirect (DEBUG=False) has nowhere to send to.
    env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "pagoflex.settings",
           "PAGOFLEX_PUBLIC_URL": f"http://127.0.0.1:{port}", "SECURE_SSL_REDIRECT": "False", **(extra_env or {})}
    args = [str(BIN / "gunicorn"), "-c", str(PRODUCTION_CONFIG), "--bind", f"127.0.0.1:{port}"]
    if worker_class:
        args += ["--worker-class", worker_class, "--worker-connections", "1000"]
    return ProcessServer(args, env, f"http://127.0.0.1:{port}", "/healthz", log_path)


def gunicorn(*, database: str, workers: int = 2, threads: int = 1, port: int | None = None, extra_env: dict | None = None,
             log_path: Path | None = None, timeout: int = 60) -> ProcessServer:
    """Pagoflex under gunicorn: ``threads`` > 1 uses the gthread worker."""
    port = port or free_port()
    # Plain HTTP on loopback: the production HTTPS redirect (DEBUG=False) has nowhere to send to.
    env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "pagoflex.settings",
           "PAGOFLEX_PUBLIC_URL": f"http://127.0.0.1:{port}", "SECURE_SSL_REDIRECT": "False", **(extra_env or {})}
    args = [str(BIN / "gunicorn"), "pagoflex.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--timeout", str(timeout), "--graceful-timeout", "5",
            "--backlog", "512", "--preload"]
    if threads > 1:
        args += ["--worker-class", "gthread", "--threads", str(threads)]
    return ProcessServer(args, env, f"http://127.0.0.1:{port}", "/v1/payments", log_path)


def sandbox_bank(*, api_key: str, webhook_secret: str, port: int | None = None, log_path: Path | None = None,
                 latency: str = "none", hang_fraction: float = 0.0, hang_seconds: float = 0.0) -> ProcessServer:
    """The sandbox bank simulator as its own process (with Server-Timing and an optional latency
    and hang profile, see bench/sandbox_bank.py)."""
    port = port or free_port()
    args = [sys.executable, "-m", "bench.sandbox_bank", "--host", "127.0.0.1", "--port", str(port),
            "--api-key", api_key, "--webhook-secret", webhook_secret, "--latency", latency,
            "--hang-fraction", str(hang_fraction), "--hang-seconds", str(hang_seconds)]
    return ProcessServer(args, dict(os.environ), f"http://127.0.0.1:{port}", "/v1/ping", log_path)
