"""The production server configuration (pagoflex/gunicorn.conf.py) leaves nothing behind and
shares nothing with another gunicorn of the same user: the metrics folder it made is removed when
it stops, and no control socket is opened at the per-user default path."""

import time

import pytest
from django.db import connection

from bench.servers import database_url, gunicorn_production


@pytest.fixture
def start(tmp_path, monkeypatch):
    """Starts the production configuration (one process) with its own TMPDIR and HOME; the
    metrics folder is the configuration's default unless ``metrics_dir`` is given."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "home").mkdir()
    servers = []

    def start_server(metrics_dir=None):
        extra_env = {"TMPDIR": str(tmp_path / "tmp"), "HOME": str(tmp_path / "home"), "WEB_CONCURRENCY": "1",
                     "GUNICORN_THREADS": "2", "LOG_LEVEL": "WARNING"}
        if metrics_dir:
            extra_env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        server = gunicorn_production(database=database_url(connection.settings_dict), extra_env=extra_env,
                                     log_path=tmp_path / f"gunicorn-{len(servers)}.log")
        servers.append(server.start(timeout=60))
        return server

    yield start_server
    for server in servers:
        server.stop()


def test_the_metrics_folder_the_configuration_made_is_removed_when_it_stops(start, tmp_path):
    server = start()
    folder = tmp_path / "tmp" / f"pagoflex-metrics-{server.pid}"
    assert list((tmp_path / "tmp").glob("pagoflex-metrics-*")) == [folder]
    server.stop()
    assert not folder.exists()


def test_a_metrics_folder_the_operator_chose_is_kept(start, tmp_path):
    server = start(metrics_dir=tmp_path / "metrics")
    server.stop()
    assert (tmp_path / "metrics").is_dir()


def test_no_control_socket_is_opened_at_the_per_user_default_path(start, tmp_path):
    server = start()
    time.sleep(1.5)  # the master opens its control socket after its workers have started
    assert server.process.poll() is None
    assert not (tmp_path / "home" / ".gunicorn").exists()
    assert not list(tmp_path.rglob("*.ctl"))
