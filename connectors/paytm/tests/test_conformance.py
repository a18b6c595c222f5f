"""Paytm (UPI) runs the conformance suite (connectors/testing/conformance.py).

UPI collect with the simulator's test VPAs: success@paytm pays, fail@paytm is declined by the
bank (227), pending@paytm waits until the test settles it. Paytm has no manual capture and no
void, and takes only INR, so those scenarios are skipped by declaration.
"""

from connectors.paytm.adapter import PaytmConnector
from connectors.paytm.published_api import API
from connectors.paytm.simulator import PaytmSimulator
from connectors.testing.conformance import ConnectorConformance, upi_collect_input

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
