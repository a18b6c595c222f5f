"""Fixtures for the operator endpoints: a dependency that hangs, and the production database pool."""

import copy
import socket
import threading

import pytest
from django.db import connection, connections


@pytest.fixture
def hung_server():
    """A TCP server on loopback that accepts every connection and never answers a byte (a Redis or
    PostgreSQL that is up but stuck). Yields its port."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    for sock in accepted:
        sock.close()


@pytest.fixture
def pooled_database(db):
    """This thread's database connection replaced by one drawn from a pool of one connection that
    waits 30 s for a free one, as the production server's pool does (pagoflex/settings.py, with
    ``DATABASE_POOL_MAX_SIZE``). Yields the pool; ``pool.getconn()`` takes its only connection.
    PostgreSQL only. The pooled connection sees committed data only (not the test's transaction)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the connection pool is PostgreSQL's (psycopg_pool)")
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 1, "timeout": 30}
    settings_dict["CONN_MAX_AGE"] = 0
    pooled = type(connections["default"])(settings_dict, alias="default")
    # Put back before pytest-django rolls the test's transaction back on the original connection.
    original = connections["default"]
    connections._connections.default = pooled
    try:
        pooled.pool.open(wait=True, timeout=10)
        yield pooled.pool
    finally:
        connections._connections.default = original
        pooled.close()
        pooled.close_pool()
