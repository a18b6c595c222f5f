"""Paytm (UPI) runs the conformance suite (connectors/testing/conformance.py).

UPI collect with the simulator's test VPAs: success@paytm pays, fail@paytm is declined by the
bank (227), pending@paytm waits until the test settles it. Paytm has no manual capture and no
void, and takes only INR, so those scenarios are skipped by declaration.
"""

from urllib.parse import parse_qs, urlencode

from connectors import amounts
from connectors.paytm.adapter import PaytmConnector
from connectors.paytm.published_api import API
from connectors.paytm.signature import generate_form_checksum
from connectors.paytm.simulator import PaytmSimulator
from connectors.testing.conformance import ConnectorConformance, Ledger, upi_collect_input
from connectors.testing.conformance_support import CaughtWebhook

PAYMENT_STATUS = {"TXN_SUCCESS": "succeeded", "TXN_FAILURE": "failed", "PENDING": "processing"}

MID = "PAGOFLCONFORM0001"
KEY = "c0nf0rmanceK3y16"  # 16 characters: AES-128


class TestPaytmConformance(ConnectorConformance):
    connector_class = PaytmConnector
    published_api = API  # Paytm's API reference pages and its SDK's classes
    credentials = {"merchant_id": MID, "merchant_key": KEY, "website": "WEBSTAGING"}
    approving = upi_collect_input("success@paytm")
    declining = upi_collect_input("fail@paytm")
    decline_code = "227"
    pending = upi_collect_input("pending@paytm")
    pending_holds_until_settled = True

    def make_simulator(self):
        return PaytmSimulator({MID: KEY})

    def settle_pending(self, bank, attempt):
        bank.control(f"orders/{attempt.reference}/settle", {"outcome": "success"})

    def trigger_webhook(self, bank, attempt, webhook_url):
        # Paytm posts its S2S notification to the URL configured for the merchant.
        bank.control("notification-url", {"url": webhook_url})
        self.settle_pending(bank, attempt)

    def bank_ledger(self, bank, payment):
        order = bank.app.orders.get((MID, payment.latest_attempt.reference))
        if order is None:
            return None
        amount = amounts.to_minor(order.amount, order.currency)
        refunded = sum(amounts.to_minor(r.amount, order.currency) for r in bank.app.refunds.values()
                       if r.order is order and r.status == "TXN_SUCCESS")
        captured = amount if order.status == "TXN_SUCCESS" else 0  # Paytm captures automatically
        return Ledger.of(PAYMENT_STATUS[order.status], amount=amount, captured=captured, refunded=refunded)

    def opposite_webhook(self, bank, caught):
        fields = {name: values[0] for name, values in parse_qs(caught.body.decode(), keep_blank_values=True).items()}
        fields.pop("CHECKSUMHASH")
        fields.update(STATUS="TXN_FAILURE", RESPCODE="227", RESPMSG="Your payment has been declined by your bank.")
        fields["CHECKSUMHASH"] = generate_form_checksum(fields, KEY)
        return CaughtWebhook(caught.path, caught.headers, urlencode(fields).encode())
