"""Authipay runs the conformance suite (connectors/testing/conformance.py).

The gateway has no test card that stays pending, so the suite reaches a pending attempt with
an answer that misses the read timeout (the gateway still processes it; psync finds it by the
merchantTransactionId). Authipay sends no webhooks, so that scenario is skipped by declaration.
"""

from connectors.authipay.adapter import AuthipayConnector
from connectors.authipay.published_api import API
from connectors.authipay.simulator import AuthipaySimulator
from connectors.testing.conformance import ConnectorConformance, Ledger, card_input

CREDENTIALS = {"api_key": "ak_conformance_51c0e2", "api_secret": "as_conformance_9b7d14e3a2", "store_id": "12345500077"}


class TestAuthipayConformance(ConnectorConformance):
    connector_class = AuthipayConnector
    published_api = API  # Fiserv's OpenAPI description (reference/24.2.0)
    credentials = CREDENTIALS
    # sim_records.CARDS: the spec's approving card, and processor 05 DO NOT HONOUR.
    approving = card_input("4111111111111111")
    declining = card_input("4000000000000002")
    decline_code = "05"

    def make_simulator(self):
        return AuthipaySimulator(stores={CREDENTIALS["api_key"]: (CREDENTIALS["api_secret"], CREDENTIALS["store_id"])})

    def bank_ledger(self, bank, payment):
        reference = payment.latest_attempt.reference
        transactions = bank.app.transactions.values()
        primary = next((tx for tx in transactions if tx.merchant_id == reference and tx.kind in ("SALE", "PREAUTH")),
                       None)
        if primary is None:
            return None
        refunded = sum(tx.amount for tx in transactions if tx.parent == primary.id and tx.kind == "RETURN")
        if primary.state == "CAPTURED":
            status = "partially_captured" if primary.captured < primary.amount else "succeeded"
        else:
            status = {"AUTHORIZED": "requires_capture", "VOIDED": "cancelled", "DECLINED": "failed",
                      "WAITING": "requires_customer_action"}[primary.state]
        return Ledger.of(status, amount=primary.amount, captured=primary.captured, refunded=refunded)
