"""The sandbox bank runs the conformance suite (connectors/testing/conformance.py)."""

from connectors.sandbox.adapter import SandboxConnector
from connectors.sandbox.simulator import SandboxSimulator
from connectors.testing.conformance import ConnectorConformance, card_input

API_KEY = "sk_sandbox_conformance_7d2e41"
WEBHOOK_SECRET = "whsec_sandbox_conformance_5a90"


class TestSandboxConformance(ConnectorConformance):
    connector_class = SandboxConnector
    published_api = None
    published_api_absent = "the sandbox bank is Pagoflex's own; its SPEC.md is the only description"
    credentials = {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}
    # SPEC.md §7 test cards.
    approving = card_input("4242424242424242")
    declining = card_input("4000000000000002")
    decline_code = "insufficient_funds"
    pending = card_input("4000000000000259")  # settles on the next status query

    def make_simulator(self):
        return SandboxSimulator(accounts={API_KEY: WEBHOOK_SECRET})

    def trigger_webhook(self, bank, attempt, webhook_url):
        # SPEC.md §8: settling a pending charge sends its webhook (to the URL the charge was
        # created with) before the control call answers.
        bank.control(f"charges/{attempt.connector_reference}/settle", {"outcome": "succeeded"})
