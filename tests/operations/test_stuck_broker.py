"""A task enqueued at best effort (payments/enqueue.py) against a Redis broker that accepts
connections and never answers: one request waits a bounded time, then the process leaves the
broker alone for a while, and asks it again after that."""

import logging
import time

import pytest
from celery import Celery
from django.conf import settings

from payments import enqueue


@pytest.fixture
def outage_forgotten(monkeypatch):
    monkeypatch.setattr(enqueue._broker_outage, "until", 0.0)
    monkeypatch.setattr(enqueue, "BROKER_RETRY_AFTER", 1.0)


def celery_app(name: str, **conf) -> Celery:
    app = Celery(name, set_as_current=False, **conf)

    @app.task(name=f"tests.{name}.echo")
    def echo(value):
        return value

    return app


def test_a_stuck_broker_costs_one_bounded_wait_then_is_left_alone(hung_server, tmp_path, caplog, outage_forgotten):
    options = settings.REDIS_BROKER_TRANSPORT_OPTIONS  # what a Redis broker URL is given
    stuck = celery_app("stuck", broker=f"redis://127.0.0.1:{hung_server}/0", broker_transport_options=options)
    caplog.set_level(logging.INFO, logger="pagoflex.jobs")
    try:
        started = time.monotonic()
        assert enqueue.enqueue_best_effort(stuck.tasks["tests.stuck.echo"], [1], what="job 1", fallback="the sweep") is False
        first = time.monotonic() - started
        started = time.monotonic()
        assert enqueue.enqueue_best_effort(stuck.tasks["tests.stuck.echo"], [2], what="job 2", fallback="the sweep") is False
        second = time.monotonic() - started
    finally:
        stuck.close()
    # redis-py sends a command up to four times, each bounded by the socket timeout: never minutes.
    assert options["socket_timeout"] <= first < 4 * options["socket_timeout"] + 3, f"{first:.1f} s"
    assert second < 0.1, f"{second:.2f} s: the broker was asked again during the outage"
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("job 1 not enqueued") and "the sweep will do it" in m for m in messages), messages
    assert any(m.startswith("job 2 not enqueued: the broker failed less than") for m in messages), messages

    time.sleep(1.1)  # the outage's pause (1 s here) is over: the next task goes to the broker again
    folder = tmp_path / "queue"
    folder.mkdir()
    working = celery_app("working", broker="filesystem://", broker_transport_options={
        "data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path / "control")})
    try:
        assert enqueue.enqueue_best_effort(working.tasks["tests.working.echo"], [3], what="job 3", fallback="the sweep")
    finally:
        working.close()
    assert len(list(folder.iterdir())) == 1
