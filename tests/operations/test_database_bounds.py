"""DATABASE_STATEMENT_TIMEOUT and DATABASE_LOCK_TIMEOUT (pagoflex/settings.py): PostgreSQL
cancels a statement past its bound, on every connection the settings open. The production server
configuration sets both (tests/operations/test_production_server.py shows a request answered 503
when a lock is held past the bound)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from bench.servers import database_url

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import time, django
django.setup()
from django.db import OperationalError, connection
started = time.monotonic()
try:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(5)")
    print("finished", connection.connection.info.parameter_status("application_name"))
except OperationalError as exc:
    print("cancelled", type(exc.__cause__).__name__, round(time.monotonic() - started, 1))
"""


@pytest.mark.parametrize("bound, expected", [("0.5", "cancelled QueryCanceled"), ("0", "finished")])
def test_a_statement_past_its_bound_is_cancelled_by_postgresql(transactional_db, bound, expected):
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pagoflex.settings", "PYTHONPATH": str(REPO),
           "DATABASE_URL": database_url(connection.settings_dict) + "?application_name=bounds-test",
           "DATABASE_STATEMENT_TIMEOUT": bound, "DATABASE_LOCK_TIMEOUT": bound}
    if bound == "0":  # unbounded: a shorter sleep, the statement must simply finish
        probe = PROBE.replace("pg_sleep(5)", "pg_sleep(1)")
    else:
        probe = PROBE
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(expected), out.stdout
    if bound != "0":
        assert float(out.stdout.split()[-1]) < 3  # 0.5 s, not the 5 s asked for
    else:
        assert out.stdout.split()[-1] == "bounds-test"  # the URL's own options were kept


@pytest.mark.parametrize("value", ["500ms", "-1", "inf"])
def test_a_bound_that_is_not_plain_seconds_stops_the_process_at_start(value):
    if connection.vendor != "postgresql":
        pytest.skip("the bounds apply to PostgreSQL")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pagoflex.settings", "PYTHONPATH": str(REPO),
           "DATABASE_URL": database_url(connection.settings_dict), "DATABASE_LOCK_TIMEOUT": value}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "DATABASE_LOCK_TIMEOUT must be" in out.stderr, out.stderr[-500:]
