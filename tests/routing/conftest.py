"""Two sandbox banks for routing: the root conftest's ``sandbox`` (account A) and a second
simulator on its own loopback port (account B), so a test can tell which bank saw what."""

import pytest

from tests.helpers import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET, start_sandbox_bank

SANDBOX_CREDENTIALS = {"api_key": SANDBOX_API_KEY, "webhook_secret": SANDBOX_WEBHOOK_SECRET}


@pytest.fixture
def second_sandbox():
    """A second sandbox bank, started for the test and stopped after it."""
    server = start_sandbox_bank()
    yield server
    server.stop()


@pytest.fixture
def account_a(merchant, make_account, sandbox):
    sandbox.app.requests_seen.clear()
    return make_account(
        merchant, base_url=sandbox.base_url, credentials=SANDBOX_CREDENTIALS, label="bank A", priority=10
    )


@pytest.fixture
def account_b(merchant, make_account, second_sandbox):
    return make_account(
        merchant, base_url=second_sandbox.base_url, credentials=SANDBOX_CREDENTIALS, label="bank B", priority=5
    )


@pytest.fixture
def put_routing(api):
    def put(document):
        return api.put("/v1/routing", document, format="json")

    return put


def priority(*accounts) -> dict:
    return {"type": "priority", "connectors": [account.public_id for account in accounts]}


def charge_requests(simulator) -> list:
    """The authorize calls a simulator received (status queries and controls left out)."""
    return [r for r in simulator.app.requests_seen if r.method == "POST" and r.path.rstrip("/").endswith("charges")]
