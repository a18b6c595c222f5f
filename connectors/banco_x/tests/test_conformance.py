"""Banco X runs the conformance suite (connectors/testing/conformance.py).

Banco X answers every accepted payment pending and settles it a moment later by webhook (or
when asked with psync); SPEC.md §9 test amounts decide declines. It captures automatically and
has no void, so the capture and void scenarios are skipped by declaration.
"""

from connectors.banco_x.adapter import BancoXConnector
from connectors.banco_x.simulator import BancoXSimulator
from connectors.testing.conformance import ConnectorConformance, card_input

API_KEY = "bx_key_conformance_01"
SECRET = "bx_secret_conformance_01"
WEBHOOK_SECRET = "bx_webhook_conformance_01"


class TestBancoXConformance(ConnectorConformance):
    connector_class = BancoXConnector
    published_api = None
    published_api_absent = "Banco X publishes no machine-readable API; SPEC.md, written from its integration guide, is the description"
    credentials = {"api_key": API_KEY, "secret": SECRET, "webhook_secret": WEBHOOK_SECRET}
    # Banco X never sees the card; amounts decide (SPEC.md §9): ...66 is refused at once.
    approving = card_input("4242424242424242")
    declining = card_input("4242424242424242", amount=1066)
    decline_code = "risk_rejected"
    pending = approving  # every accepted payment is pending until Banco X settles it

    def make_simulator(self):
        return BancoXSimulator(accounts={API_KEY: (SECRET, WEBHOOK_SECRET)}, webhook_delay=0.05)

    def settle_pending(self, bank, attempt):
        bank.app.wait_for_settlement(attempt.connector_reference)

    def trigger_webhook(self, bank, attempt, webhook_url):
        # Banco X settles on its own and posts the signed event to the payment's callback_url,
        # which the platform set to webhook_url when it authorized.
        self.settle_pending(bank, attempt)
