"""The sandbox bank runs the conformance suite (connectors/testing/conformance.py)."""

import json

from connectors.sandbox import signature
from connectors.sandbox.adapter import SandboxConnector
from connectors.sandbox.simulator import SandboxSimulator
from connectors.testing.conformance import ConnectorConformance, Ledger, card_input
from connectors.testing.conformance_support import CaughtWebhook

# SPEC.md §3 charge statuses, as payment statuses: how the matrix reads the sandbox's ledger.
PAYMENT_STATUS = {
    "pending": "processing",
    "requires_action": "requires_customer_action",
    "authorized": "requires_capture",
    "partially_captured": "partially_captured",
    "captured": "succeeded",
    "voided": "cancelled",
    "declined": "failed",
}

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
    pending_refunds = card_input("4000000000007726")  # its refunds wait for a settle control

    def make_simulator(self):
        return SandboxSimulator(accounts={API_KEY: WEBHOOK_SECRET})

    def trigger_webhook(self, bank, attempt, webhook_url):
        # SPEC.md §8: settling a pending charge sends its webhook (to the URL the charge was
        # created with) before the control call answers.
        bank.control(f"charges/{attempt.connector_reference}/settle", {"outcome": "succeeded"})

    def bank_ledger(self, bank, payment):
        reference = payment.latest_attempt.reference
        charge = next((c for c in bank.app.charges.values() if c["reference"] == reference), None)
        if charge is None:
            return None
        refunded = sum(r["amount"] for r in bank.app.refunds.values()
                       if r["charge"] == charge["id"] and r["status"] == "succeeded")
        return Ledger.of(PAYMENT_STATUS[charge["status"]], amount=charge["amount"],
                         captured=charge["amount_captured"], refunded=refunded)

    def settle_refund_at_bank(self, bank, refund):
        bank.control(f"refunds/{refund.connector_reference}/settle", {"outcome": "succeeded"})

    def opposite_webhook(self, bank, caught):
        event = json.loads(caught.body)
        obj = dict(event["data"])
        if obj["object"] == "refund":
            obj.update(status="failed", failure_code="refund_declined", message="The issuer declined the refund.")
            kind = "refund.failed"
        else:
            obj.update(status="declined", decline_code="do_not_honor", message="The charge was declined.")
            kind = "charge.failed"
        body = json.dumps({**event, "id": event["id"] + "_late", "type": kind, "data": obj}).encode("utf-8")
        headers = {**caught.headers, signature.HEADER.lower(): signature.sign(WEBHOOK_SECRET, body)}
        return CaughtWebhook(caught.path, headers, body)
