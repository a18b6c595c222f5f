"""Fixtures shared by the whole suite: merchants, API keys, an API client, and the sandbox
bank's simulator served on a loopback port (real HTTP, never a mock of ``requests``)."""

import logging
import uuid

import pytest
from rest_framework.test import APIClient

from tests.helpers import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET, start_sandbox_bank

# The end-of-suite secrets scan: every database write and log record of the run is checked for
# test card numbers, CVV values and connector secrets (see the plugin's docstring).
pytest_plugins = ["tests.security.plugin"]


def pytest_configure(config):
    """A TERM (a CI timeout, scripts/flake-hunt.sh stopped) ends the run as Ctrl-C does, so the
    fixtures' teardown still stops the servers and workers the tests started in their own
    sessions; Python's default for TERM is to die at once and leave them running."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def pytest_terminal_summary(terminalreporter, config):
    """Name the random order's seed on the last lines, where ``-q`` still shows it, so any run
    (CI's included) can be replayed in the same order."""
    if config.pluginmanager.has_plugin("randomly") and getattr(config.option, "randomly_seed", None) is not None:
        seed = config.option.randomly_seed
        terminalreporter.write_line(f"random order: seed {seed} (replay: pytest -p randomly --randomly-seed={seed})")


@pytest.fixture(autouse=True)
def _callbacks_go_nowhere_by_default(settings):
    """URLs handed to banks point at a closed loopback port unless a test serves Pagoflex itself,
    so a simulator's callback can never reach a developer's running server on port 8000."""
    from connectors.testing.simulator import unused_port_url

    settings.PAGOFLEX_PUBLIC_URL = unused_port_url()


@pytest.fixture(autouse=True)
def _a_cache_of_its_own(settings, tmp_path_factory):
    """Each test counts in a cache of its own (API rate limits): a fresh directory for the file
    cache, whose culling at 300 files would otherwise drop a live count at random once earlier
    tests (and earlier runs) have filled var/cache; a key prefix of its own on Redis, which
    earlier runs and other test processes share. Nothing a test counts is seen by another."""
    config = dict(settings.CACHES["default"])
    if config["BACKEND"].endswith("FileBasedCache"):
        config["LOCATION"] = str(tmp_path_factory.mktemp("cache", numbered=True))
    config["KEY_PREFIX"] = f"{config.get('KEY_PREFIX', '')}:test-{uuid.uuid4().hex[:16]}"
    settings.CACHES = {**settings.CACHES, "default": config}


@pytest.fixture(autouse=True)
def _no_cache_outage_left_over():
    """A test that made the shared cache unreachable leaves the rate limit off for a few seconds in
    this process (payments.api.throttling): the next test starts with the limit on."""
    from payments.api import throttling

    throttling._cache_outage.until = 0.0
    yield
    throttling._cache_outage.until = 0.0


@pytest.fixture(scope="session")
def sandbox_simulator():
    server = start_sandbox_bank()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_simulator):
    """The sandbox simulator, shared by the session and settled after each test: the test's
    requests and webhook deliveries have finished, its armed faults are gone, and a request it
    left behind can take nothing the next test arms (``SimulatorApp.settle``)."""
    yield sandbox_simulator
    sandbox_simulator.app.settle()


@pytest.fixture
def make_merchant(db):
    from payments.models import ApiKey, Merchant

    def make(name="Acme Store", mode="test"):
        merchant = Merchant.objects.create(name=name)
        _, raw_key = ApiKey.issue(merchant, mode=mode)
        return merchant, raw_key

    return make


@pytest.fixture
def merchant_and_key(make_merchant):
    return make_merchant()


@pytest.fixture
def merchant(merchant_and_key):
    return merchant_and_key[0]


@pytest.fixture
def api(merchant_and_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {merchant_and_key[1]}")
    return client


@pytest.fixture
def make_account(db):
    from connectors.models import ConnectorAccount

    def make(merchant, *, connector="sandbox", base_url="", credentials=None, mode="test", priority=0, label=None,
             enabled=True):
        account = ConnectorAccount(merchant=merchant, connector=connector, label=label or f"{connector} account",
                                   mode=mode, base_url_override=base_url, priority=priority, enabled=enabled)
        account.set_credentials(credentials or {})
        account.save()
        return account

    return make


@pytest.fixture
def sandbox_account(merchant, make_account, sandbox):
    return make_account(merchant, base_url=sandbox.base_url,
                        credentials={"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET})


@pytest.fixture
def all_logs(caplog):
    """Every log record of the test, at every level."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def pagoflex_server(transactional_db, settings):
    """Pagoflex itself served on a loopback port by a threaded server with a deep listen backlog
    (Django's live server queues only 10 connections; bursts of bank webhooks need more)."""
    from django.core.wsgi import get_wsgi_application

    from connectors.testing.simulator import SimulatorServer

    server = SimulatorServer(get_wsgi_application()).start()
    settings.PAGOFLEX_PUBLIC_URL = server.base_url
    yield server
    server.stop()
