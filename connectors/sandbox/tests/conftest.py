import pytest

from connectors.sandbox.adapter import SandboxConnector
from connectors.sandbox.simulator import SandboxSimulator
from connectors.sandbox.tests.factories import API_KEY, OTHER_API_KEY, OTHER_WEBHOOK_SECRET, WEBHOOK_SECRET
from connectors.testing.simulator import SimulatorApp, SimulatorServer, json_response, route


class Merchant(SimulatorApp):
    """Stands in for Pagoflex's side: receives webhooks and the customer's return."""

    def __init__(self):
        super().__init__()
        self.webhooks = []
        self.returns = []

    @route("POST", "/hooks")
    def hook(self, request):
        with self.lock:
            self.webhooks.append(request)
        return json_response({"received": True})

    @route("GET", "/return")
    def customer_return(self, request):
        with self.lock:
            self.returns.append(request.query)
        return json_response({"returned": True})


class Switchboard:
    """Serves whichever app the current test installed, so one loopback server (whose shutdown
    takes up to half a second) serves the whole session while every test gets a fresh bank."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def _bank_server():
    switchboard = Switchboard()
    server = SimulatorServer(switchboard).start()
    yield switchboard, server
    server.stop()


@pytest.fixture
def sim(_bank_server):
    switchboard, _ = _bank_server
    switchboard.app = SandboxSimulator(accounts={API_KEY: WEBHOOK_SECRET, OTHER_API_KEY: OTHER_WEBHOOK_SECRET})
    yield switchboard.app
    switchboard.app.settle()  # the test's requests and webhook deliveries end with it


@pytest.fixture
def bank(sim, _bank_server):
    return _bank_server[1]


@pytest.fixture
def connector(bank):
    return SandboxConnector(credentials={"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}, base_url=bank.base_url)


@pytest.fixture
def merchant():
    app = Merchant()
    server = SimulatorServer(app).start()
    app.base_url = server.base_url
    yield app
    server.stop()
