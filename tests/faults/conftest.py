"""Fixtures of the fault suite: Pagoflex under gunicorn (two worker processes) on the test
database, thread pools that start together, and a PostgreSQL-only guard."""

import threading

import pytest
from django.db import connection

from bench.servers import database_url, gunicorn


def needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks and several writers at once (SQLite serialises whole transactions)")


def run_together(count: int, func) -> list:
    """Run ``func(i)`` in ``count`` threads released at the same moment; results (or the
    exceptions raised) in thread order. Each thread closes its own database connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index):
        try:
            barrier.wait(timeout=30)
            results[index] = func(index)
        except Exception as exc:  # noqa: BLE001 - the caller inspects what each thread met
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker thread did not finish in 120 s"
    return results


@pytest.fixture
def gunicorn_server(transactional_db, tmp_path):
    """Pagoflex served by gunicorn with two worker processes (gthread, 8 threads each) on the
    test database; the sandbox simulator of the test process is its bank."""
    server = gunicorn(database=database_url(connection.settings_dict), workers=2, threads=8,
                      log_path=tmp_path / "gunicorn.log",
                      extra_env={"API_RATE_LIMIT": "10000/s", "LOG_LEVEL": "WARNING"}).start()
    yield server
    server.stop()
