"""Banco X runs the conformance suite (connectors/testing/conformance.py).

Banco X answers every accepted payment pending and settles it a moment later by webhook (or
when asked with psync); SPEC.md §9 test amounts decide declines. It captures automatically and
has no void, so the capture and void scenarios are skipped by declaration.
"""

import json
import time

from connectors.banco_x import signature
from connectors.banco_x.adapter import BancoXConnector
from connectors.banco_x.simulator import BancoXSimulator
from connectors.testing.conformance import ConnectorConformance, Ledger, card_input
from connectors.testing.conformance_support import CaughtWebhook

PAYMENT_STATUS = {"pending": "processing", "succeeded": "succeeded", "failed": "failed"}

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

    def bank_ledger(self, bank, payment):
        reference = payment.latest_attempt.reference
        paid = next((p for p in bank.app.payments.values() if p.ref == reference), None)
        if paid is None:
            return None
        refunded = sum(r.amount for r in bank.app.refunds.values() if r.payment is paid and r.status == "succeeded")
        captured = paid.amount if paid.status == "succeeded" else 0  # Banco X captures automatically
        return Ledger.of(PAYMENT_STATUS[paid.status], amount=paid.amount, captured=captured, refunded=refunded)

    def settle_refund_at_bank(self, bank, refund):
        bank.app.wait_for_settlement(refund.connector_reference)

    def opposite_webhook(self, bank, caught):
        event = json.loads(caught.body)
        kind = event["type"].split(".")[0]
        opposite = "failed" if event["status"] == "succeeded" else "succeeded"
        late = {**event, "id": event["id"] + "_late", "type": f"{kind}.{opposite}", "status": opposite,
                "created": event["created"] + 1, "code": "do_not_honor", "message": "Operación denegada"}
        body = json.dumps(late, separators=(",", ":")).encode()
        header = signature.webhook_signature_header(WEBHOOK_SECRET, body, int(time.time()))
        return CaughtWebhook(caught.path, {**caught.headers, signature.SIGNATURE_HEADER.lower(): header}, body)
