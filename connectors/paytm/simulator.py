"""A Paytm staging look-alike: the test double for the suite and the Paytm ``make run`` serves
(``scripts/run-dev.sh`` starts it with the demo Paytm account's webhook URL as notification URL).

It verifies every signed request with the merchant's key (a bad checksum gets Paytm's
checksum-failure result, never a success), keeps orders, tokens and refunds, honours 0002 for
a repeated initiate of the same order, returns intent deep links, settles collects by VPA,
signs its answers over the exact body text and posts signed S2S notifications.

Test VPAs (collect): success@paytm pays at once, fail@paytm is declined by the bank (227),
pending@paytm stays PENDING (402) until settled; any other VPA waits for a control call.

Control endpoints (not Paytm's; the shared ``/__faults__`` switches apply too):
    POST /__control__/orders/{orderId}/pay        the customer approves in the UPI app
    POST /__control__/orders/{orderId}/decline    the customer declines ({"code": "227"} optional)
    POST /__control__/orders/{orderId}/settle     a pending order ends ({"outcome": "success"|"failure"})
    GET  /__control__/orders/{orderId}            the order as the simulator sees it
    POST /__control__/notification-url            {"url": "..."}: where S2S notifications go
    POST /__control__/response-signature          {"mode": "tamper"|"wrong_key"|"missing", "count": 1}
pay/decline/settle answer the signed form the customer's browser would post to callbackUrl.

Run: python -m connectors.paytm.simulator --port 9030 --mid MID --merchant-key KEY
(or PAYTM_SIM_MID / PAYTM_SIM_MERCHANT_KEY / PAYTM_SIM_NOTIFICATION_URL in the environment).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, urlencode

import requests

from connectors.paytm.signature import (
    generate_form_checksum,
    generate_signature,
    raw_json_member,
    verify_signature,
)
from connectors.testing.simulator import Request, Response, SimulatorApp, json_response, route, serve_forever

CENT = Decimal("0.01")
DECLINED = ("227", "Your payment has been declined by your bank. Please contact your bank for any queries.")


@dataclass
class Order:
    mid: str
    order_id: str
    amount: Decimal
    currency: str
    cust_id: str
    callback_url: str
    channels: set[str]
    txn_token: str
    status: str = "PENDING"
    code: str = "400"
    message: str = "Transaction status not confirmed yet"
    txn_id: str = ""
    bank_txn_id: str = ""
    payment_mode: str = ""
    payer_vpa: str = ""
    refunded: Decimal = Decimal("0.00")
    txn_date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S.0"))

    @property
    def final(self) -> bool:
        return self.status in ("TXN_SUCCESS", "TXN_FAILURE")


@dataclass
class Refund:
    ref_id: str
    refund_id: str
    order: Order
    amount: Decimal
    status: str = "PENDING"
    code: str = "601"
    message: str = "Refund request was raised for this transaction. But it is pending state"


class PaytmSimulator(SimulatorApp):
    def __init__(
        self,
        merchants: dict[str, str],
        notification_url: str = "",
        merchant_vpa: str = "pagoflex@paytm",
        merchant_name: str = "Pagoflex Demo",
    ):
        super().__init__()
        self.merchants = dict(merchants)
        self.notification_url = notification_url
        self.merchant_vpa = merchant_vpa
        self.merchant_name = merchant_name
        self.orders: dict[tuple[str, str], Order] = {}
        self.refunds: dict[tuple[str, str], Refund] = {}
        self.deliveries: list[dict] = []  # every S2S notification attempt and its outcome
        self._signature_faults: list[str] = []

    # -- envelopes ------------------------------------------------------------------------------

    def _answer(self, body: dict, mid: str = "", *, sign: bool = True) -> Response:
        """Paytm's envelope, signed over the exact body text written (as Paytm does)."""
        body_text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        head = {"responseTimestamp": str(int(time.time() * 1000)), "version": "v1"}
        key = self.merchants.get(mid)
        if sign and key:
            mode = self._take_signature_fault()
            if mode != "missing":
                wrong = mode == "wrong_key"
                head["signature"] = generate_signature(body_text, key[::-1] if wrong else key)
            if mode == "tamper":
                # Change the outcome after signing, like a man in the middle forging a success.
                forged = {**body, "resultInfo": {**body["resultInfo"], "resultStatus": "TXN_SUCCESS"}}
                body_text = json.dumps(forged, separators=(",", ":"), ensure_ascii=False)
        text = '{"head":' + json.dumps(head) + ',"body":' + body_text + "}"
        return Response(200, text.encode("utf-8"), "application/json")

    def _take_signature_fault(self) -> str:
        with self.lock:
            return self._signature_faults.pop(0) if self._signature_faults else ""

    @staticmethod
    def _result(status: str, code: str, message: str) -> dict:
        return {"resultInfo": {"resultStatus": status, "resultCode": code, "resultMsg": message}}

    def _signed_body(self, request: Request, checksum_failure: tuple[str, str, str]) -> tuple[dict, Response | None]:
        """The request's body once its signature verifies, or Paytm's refusal (with the
        resultStatus values of the API asked: S/F for Theia, TXN_* for status and refunds)."""
        failed = checksum_failure[0]
        text = request.body.decode("utf-8", "replace")
        payload = request.json()
        raw_body = raw_json_member(text, "body") if isinstance(payload, dict) else None
        body = payload.get("body") if raw_body is not None else None
        if not isinstance(body, dict):
            return {}, self._answer(self._result(failed, "1001", "Request parameters are not valid"), sign=False)
        key = self.merchants.get(str(body.get("mid", "")))
        if key is None:
            return {}, self._answer(self._result(failed, "2006", "Mid is invalid"), sign=False)
        head = payload.get("head")
        signature = head.get("signature", "") if isinstance(head, dict) else ""
        if not verify_signature(raw_body, key, str(signature)):
            return {}, self._answer(self._result(*checksum_failure), sign=False)
        return body, None

    # -- Initiate / Process Transaction ---------------------------------------------------------

    @route("POST", "/theia/api/v1/initiateTransaction")
    def initiate(self, request: Request) -> Response:
        return self._initiate(request)

    @route("POST", "/order/initiate")
    def initiate_sdk_path(self, request: Request) -> Response:
        """The path Paytm's own SDK (paytm-pg) posts Initiate Transaction to (SPEC.md)."""
        return self._initiate(request)

    def _initiate(self, request: Request) -> Response:
        body, refusal = self._signed_body(request, ("F", "2005", "Checksum provided is invalid"))
        if refusal:
            return refusal
        mid, order_id = body["mid"], str(body.get("orderId", ""))
        amount = _amount((body.get("txnAmount") or {}).get("value"))
        if request.query.get("mid") != mid or request.query.get("orderId") != order_id or amount is None:
            return self._answer(self._result("F", "1001", "Request parameters are not valid"), mid)
        channels = {
            c
            for mode in body.get("enablePaymentMode") or []
            if mode.get("mode") == "UPI"
            for c in mode.get("channels") or ["UPI", "UPIPUSH"]
        } or {"UPI", "UPIPUSH"}
        with self.lock:
            existing = self.orders.get((mid, order_id))
            if existing is not None:
                if existing.amount != amount or existing.final:
                    return self._answer(self._result("F", "325", "Duplicate order id"), mid)
                return self._answer(
                    {
                        **self._result("S", "0002", "Success Idempotent"),
                        "txnToken": existing.txn_token,
                        "isPromoCodeValid": False,
                        "authenticated": False,
                    },
                    mid,
                )
            order = Order(
                mid=mid,
                order_id=order_id,
                amount=amount,
                currency=(body.get("txnAmount") or {}).get("currency", "INR"),
                cust_id=(body.get("userInfo") or {}).get("custId", ""),
                callback_url=body.get("callbackUrl", ""),
                channels=channels,
                txn_token=secrets.token_hex(16) + str(int(time.time() * 1000)),
            )
            self.orders[(mid, order_id)] = order
        return self._answer(
            {
                **self._result("S", "0000", "Success"),
                "txnToken": order.txn_token,
                "isPromoCodeValid": False,
                "authenticated": False,
            },
            mid,
        )

    @route("POST", "/theia/api/v1/processTransaction")
    def process(self, request: Request) -> Response:
        payload = request.json()
        payload = payload if isinstance(payload, dict) else {}
        head, body = payload.get("head"), payload.get("body")
        head, body = (head if isinstance(head, dict) else {}), (body if isinstance(body, dict) else {})
        with self.lock:
            order = self.orders.get((str(body.get("mid")), str(body.get("orderId"))))
            if order is None or head.get("txnToken") != order.txn_token:
                return self._answer(self._result("F", "1006", "Your Session has expired."), sign=False)
            if order.txn_id:
                return self._answer(self._result("F", "325", "Duplicate order id"), sign=False)
            mode = body.get("paymentMode")
            # The shared wrong_amount fault: the answer reports one rupee more than the order.
            skew = Decimal("1.00") if self.wrong_amount(request) else Decimal("0.00")
            if mode == "UPI_INTENT" and "UPIPUSH" in order.channels:
                return self._start_intent(order, skew)
            if mode == "UPI" and "UPI" in order.channels and body.get("payerAccount"):
                return self._start_collect(order, str(body["payerAccount"]), skew)
        return self._answer(self._result("F", "1001", "Payment mode is not allowed for this order"), sign=False)

    def _start_intent(self, order: Order, skew: Decimal = Decimal("0.00")) -> Response:
        order.txn_id, order.payment_mode = _txn_id(), "UPI"
        order.code, order.message = "402", "Looking for Payment Confirmation"
        link = "upi://pay?" + urlencode(
            {
                "pa": self.merchant_vpa,
                "pn": self.merchant_name,
                "tr": order.txn_id,
                "am": f"{order.amount + skew:.2f}",
                "cu": order.currency,
                "mc": "5641",
                "tn": f"Payment for {order.order_id}",
            },
            quote_via=quote,
        )
        info = {
            "deepLink": link,
            "orderId": order.order_id,
            "transId": order.txn_id,
            "cashierRequestId": secrets.token_hex(8),
        }
        return self._answer({**self._result("S", "0000", "Success"), "deepLinkInfo": info}, sign=False)

    def _start_collect(self, order: Order, vpa: str, skew: Decimal = Decimal("0.00")) -> Response:
        order.txn_id, order.payment_mode, order.payer_vpa = _txn_id(), "UPI", vpa
        order.code, order.message = "402", "Looking for Payment Confirmation"
        if vpa == "success@paytm":
            self._finish(order, True)
        elif vpa == "fail@paytm":
            self._finish(order, False, *DECLINED)
        form = {
            "actionUrl": f"/theia/api/v1/upiPollPage?mid={order.mid}&orderId={order.order_id}",
            "method": "POST",
            "type": "redirect",
            "content": {
                "MERCHANT_VPA": self.merchant_vpa,
                "payerVpa": vpa,
                "txnAmount": f"{order.amount + skew:.2f}",
                "txnToken": order.txn_token,
            },
        }
        return self._answer(
            {**self._result("S", "0000", "Success"), "bankForm": {"pageType": "redirect", "redirectForm": form}},
            sign=False,
        )

    # -- outcomes and notifications -------------------------------------------------------------

    def _finish(self, order: Order, paid: bool, code: str = "", message: str = "") -> None:
        order.status = "TXN_SUCCESS" if paid else "TXN_FAILURE"
        order.code, order.message = ("01", "Txn Success") if paid else (code or "810", message or "Txn Failed")
        order.bank_txn_id = str(secrets.randbelow(10**12)).zfill(12) if paid else ""
        if self.notification_url:
            self.in_background(self._notify, self.notification_url, self.callback_form(order), name="notification")

    def callback_form(self, order: Order) -> dict[str, str]:
        """The signed form Paytm posts (S2S notification, and the browser's return to callbackUrl)."""
        fields = {
            "BANKNAME": "",
            "BANKTXNID": order.bank_txn_id,
            "CURRENCY": order.currency,
            "GATEWAYNAME": "PPBL",
            "MID": order.mid,
            "ORDERID": order.order_id,
            "PAYMENTMODE": order.payment_mode,
            "RESPCODE": order.code,
            "RESPMSG": order.message,
            "STATUS": order.status,
            "TXNAMOUNT": f"{order.amount:.2f}",
            "TXNDATE": order.txn_date,
            "TXNID": order.txn_id,
        }
        fields["CHECKSUMHASH"] = generate_form_checksum(fields, self.merchants[order.mid])
        return fields

    def _notify(self, url: str, fields: dict) -> None:
        delivery = {"url": url, "order_id": fields["ORDERID"], "status": fields["STATUS"]}
        try:
            answer = requests.post(url, data=fields, timeout=5)
            delivery["http_status"] = answer.status_code
        except requests.RequestException as exc:
            delivery["error"] = type(exc).__name__
        with self.lock:
            self.deliveries.append(delivery)

    # -- Transaction Status API ---------------------------------------------------------------

    @route("POST", "/v3/order/status")
    def order_status(self, request: Request) -> Response:
        body, refusal = self._signed_body(request, ("TXN_FAILURE", "330", "Paytm checksum mismatch."))
        if refusal:
            return refusal
        mid = body["mid"]
        with self.lock:
            order = self.orders.get((mid, str(body.get("orderId"))))
            if order is None:
                return self._answer(self._result("TXN_FAILURE", "334", "Invalid Order Id."), mid)
            amount = order.amount + (Decimal("1.00") if self.wrong_amount(request) else 0)
            answer = {
                **self._result(order.status, order.code, order.message),
                "txnId": order.txn_id,
                "bankTxnId": order.bank_txn_id,
                "orderId": order.order_id,
                "txnAmount": f"{amount:.2f}",
                "txnType": "SALE",
                "gatewayName": "PPBL",
                "mid": mid,
                "paymentMode": order.payment_mode,
                "refundAmt": f"{order.refunded:.2f}",
                "txnDate": order.txn_date,
            }
        return self._answer(answer, mid)

    # -- Refund API and Refund Status API -------------------------------------------------------

    @route("POST", "/refund/apply")
    def refund_apply(self, request: Request) -> Response:
        body, refusal = self._signed_body(request, ("TXN_FAILURE", "330", "Paytm checksum mismatch."))
        if refusal:
            return refusal
        mid, ref_id = body["mid"], str(body.get("refId", ""))
        amount = _amount(body.get("refundAmount"))
        with self.lock:
            order = self.orders.get((mid, str(body.get("orderId"))))
            existing = self.refunds.get((mid, ref_id))
            if existing is not None:
                if existing.amount != amount or existing.order is not order:
                    return self._answer(self._result("TXN_FAILURE", "617", "Refund Already Raised"), mid)
                return self._answer(self._refund_body(existing), mid)
            if order is None or body.get("txnType") != "REFUND" or body.get("txnId") != order.txn_id:
                return self._answer(self._result("TXN_FAILURE", "627", "Order Details Mismatch"), mid)
            if order.status != "TXN_SUCCESS":
                return self._answer(self._result("TXN_FAILURE", "600", "Invalid refund request"), mid)
            if amount is None or amount <= 0 or order.refunded + amount > order.amount:
                return self._answer(self._result("TXN_FAILURE", "619", "Invalid refund amount"), mid)
            order.refunded += amount
            refund = Refund(ref_id=ref_id, refund_id=_txn_id(), order=order, amount=amount)
            self.refunds[(mid, ref_id)] = refund
        return self._answer(self._refund_body(refund), mid)

    @route("POST", "/v2/refund/status")
    def refund_status(self, request: Request) -> Response:
        body, refusal = self._signed_body(request, ("TXN_FAILURE", "330", "Paytm checksum mismatch."))
        if refusal:
            return refusal
        mid = body["mid"]
        with self.lock:
            refund = self.refunds.get((mid, str(body.get("refId"))))
            if refund is None or refund.order.order_id != body.get("orderId"):
                return self._answer(self._result("TXN_FAILURE", "631", "Record not found"), mid)
            if refund.status == "PENDING":
                # Paytm's bank round trip takes minutes; here the first status query ends it.
                refund.status, refund.code, refund.message = "TXN_SUCCESS", "10", "Refund Successfull"
        return self._answer(self._refund_body(refund, status_api=True), mid)

    def _refund_body(self, refund: Refund, *, status_api: bool = False) -> dict:
        """The Refund API's answer; the Refund Status API's adds the order's refunded total."""
        body = {
            **self._result(refund.status, refund.code, refund.message),
            "orderId": refund.order.order_id,
            "mid": refund.order.mid,
            "refId": refund.ref_id,
            "refundId": refund.refund_id,
            "txnId": refund.order.txn_id,
            "refundAmount": f"{refund.amount:.2f}",
            "txnAmount": f"{refund.order.amount:.2f}",
        }
        if status_api:
            body["totalRefundAmount"] = f"{refund.order.refunded:.2f}"
        return body

    # -- control (tests and the demo) -----------------------------------------------------------

    def _find(self, request: Request) -> Order | None:
        order_id, mid = request.params["order_id"], request.query.get("mid")
        return next((o for (m, oid), o in self.orders.items() if oid == order_id and (not mid or m == mid)), None)

    def _control_outcome(self, request: Request, paid: bool, code: str = "", message: str = "") -> Response:
        payload = request.json() or {}
        with self.lock:
            order = self._find(request)
            if order is None or not order.txn_id:
                return json_response({"error": "no processed order with that id"}, 404)
            if order.final:
                return json_response({"error": f"order is already {order.status}"}, 409)
            self._finish(order, paid, str(payload.get("code") or code), str(payload.get("message") or message))
            return json_response(
                {
                    "order_id": order.order_id,
                    "status": order.status,
                    "callback": {"url": order.callback_url, "fields": self.callback_form(order)},
                }
            )

    @route("POST", "/__control__/orders/{order_id}/pay")
    def control_pay(self, request: Request) -> Response:
        return self._control_outcome(request, True)

    @route("POST", "/__control__/orders/{order_id}/decline")
    def control_decline(self, request: Request) -> Response:
        return self._control_outcome(request, False, *DECLINED)

    @route("POST", "/__control__/orders/{order_id}/settle")
    def control_settle(self, request: Request) -> Response:
        """A pending order (e.g. pending@paytm) ends: {"outcome": "success"} (default) or "failure"."""
        outcome = (request.json() or {}).get("outcome", "success")
        return self._control_outcome(request, outcome == "success", "810", "Txn Failed")

    @route("GET", "/__control__/orders/{order_id}")
    def control_order(self, request: Request) -> Response:
        with self.lock:
            order = self._find(request)
            if order is None:
                return json_response({"error": "no order with that id"}, 404)
            return json_response(
                {
                    "mid": order.mid,
                    "order_id": order.order_id,
                    "amount": f"{order.amount:.2f}",
                    "status": order.status,
                    "code": order.code,
                    "txn_id": order.txn_id,
                    "payer_vpa": order.payer_vpa,
                    "refunded": f"{order.refunded:.2f}",
                }
            )

    @route("POST", "/__control__/notification-url")
    def control_notification_url(self, request: Request) -> Response:
        self.notification_url = str((request.json() or {}).get("url", ""))
        return json_response({"notification_url": self.notification_url})

    @route("POST", "/__control__/response-signature")
    def control_response_signature(self, request: Request) -> Response:
        payload = request.json() or {}
        mode = payload.get("mode")
        if mode not in ("tamper", "wrong_key", "missing"):
            return json_response({"error": "mode is tamper, wrong_key or missing"}, 400)
        with self.lock:
            self._signature_faults.extend([mode] * int(payload.get("count", 1)))
        return json_response({"armed": mode})

    def fault_error_body(self, status: int) -> dict:
        return {"head": {"version": "v1"}, "body": self._result("F", f"HTTP_{status}", f"simulated HTTP {status}")}


def _amount(value) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        return None
    return amount


def _txn_id() -> str:
    return time.strftime("%Y%m%d") + str(secrets.randbelow(10**24)).zfill(24)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Paytm staging simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mid", default=os.environ.get("PAYTM_SIM_MID", ""))
    parser.add_argument("--merchant-key", default=os.environ.get("PAYTM_SIM_MERCHANT_KEY", ""))
    parser.add_argument("--notification-url", default=os.environ.get("PAYTM_SIM_NOTIFICATION_URL", ""))
    args = parser.parse_args(argv)
    if not args.mid or len(args.merchant_key.encode()) not in (16, 24, 32):
        parser.error("--mid and a 16/24/32-character --merchant-key are required")
    app = PaytmSimulator({args.mid: args.merchant_key}, notification_url=args.notification_url)
    serve_forever(app, args.host, args.port)


if __name__ == "__main__":
    main()
