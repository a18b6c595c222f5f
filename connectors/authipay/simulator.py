"""A stand-in for the Authipay gateway (Fiserv IPG REST v2), for tests and local runs.

    python -m connectors.authipay.simulator --port 8123 [--host 127.0.0.1]
        [--api-key K --api-secret S --store-id ID]   (or AUTHIPAY_API_KEY/_API_SECRET/_STORE_ID)

It checks the Message-Signature and a five-minute Timestamp window (401 with the error object),
answers a repeated Client-Request-Id with its first answer, keeps transactions with what was
captured and returned (more than allowed is refused with 422), decides by test card (``sim_records.CARDS``),
runs a 3-D Secure challenge as two tiny pages (``acs.py``) and answers sync, tokens and card
verification. Faults from ``connectors.testing.simulator`` apply; ``wrong_amount`` skews the
amount reported by sync and authorize.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import secrets
import time
import uuid
from decimal import Decimal

from connectors import amounts
from connectors.authipay import acs
from connectors.authipay.published_api import API
from connectors.authipay.signature import DEFAULT_SIGNATURE_ENCODING, signature_matches, timestamp_is_fresh
from connectors.authipay.sim_records import (
    EMV_MESSAGE_VERSIONS,
    PRIMARY_TYPES,
    THREE_DS_VERSIONS,
    Call,
    Reject,
    Transaction,
    card_expired,
    envelope,
    money,
    read_card,
    transaction_body,
)
from connectors.base import json_dumps
from connectors.testing.contract import check_object
from connectors.testing.simulator import Request, Response, SimulatorApp, html_response, route, serve_forever


def api(handler):
    """Signature and timestamp check, then the first answer for a repeated Client-Request-Id."""

    @functools.wraps(handler)
    def wrapper(self: AuthipaySimulator, request: Request) -> Response:
        call = self.authenticate(request)
        if isinstance(call, Response):
            return call  # refusals are not remembered: a correctly signed retry must still work
        key = (request.header("api-key"), call.client_request_id)
        with self.lock:
            if key in self.answers:
                status, body = self.answers[key]
                return Response(status, body)
            try:
                status, payload = 200, handler(self, request, call)
            except Reject as exc:
                status, payload = exc.status, self.error_body(exc, call.client_request_id)
            body = json_dumps(payload)
            self.answers[key] = (status, body)
            return Response(status, body)

    return wrapper


class AuthipaySimulator(SimulatorApp):
    def __init__(
        self, stores: dict[str, tuple[str, str]], clock=time.time, signature_encodings: dict[str, str] | None = None
    ):
        super().__init__()
        self.stores = dict(stores)  # api key -> (api secret, store id)
        # api key -> "raw" (the default) or "hex": how that app's Message-Signature is encoded.
        self.signature_encodings = dict(signature_encodings or {})
        self.clock = clock
        self.transactions: dict[str, Transaction] = {}
        self.merchant_ids: dict[tuple[str, str], str] = {}  # (store, merchantTransactionId) -> id
        self.tokens: dict[str, dict] = {}
        self.acs_transactions: dict[str, str] = {}  # ACS transaction id -> transaction id
        self.answers: dict[tuple[str, str], tuple[int, bytes]] = {}
        self._ids = itertools.count(84_000_001)

    # -- gatekeeping ----------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Call | Response:
        api_key = request.header("api-key")
        crid = request.header("client-request-id")
        if api_key not in self.stores:
            return self.refusal(401, "invalid_api_key", "Unauthenticated", "Api-Key is not known", crid=crid)
        secret, store_id = self.stores[api_key]
        timestamp = request.header("timestamp")
        if not timestamp_is_fresh(timestamp, int(self.clock() * 1000)):
            return self.refusal(
                401,
                "stale_timestamp",
                "Unauthenticated",
                "Timestamp is missing or more than 5 minutes from the gateway's clock",
                crid=crid,
            )
        body_text = request.body.decode("utf-8", "replace")
        encoding = self.signature_encodings.get(api_key, DEFAULT_SIGNATURE_ENCODING)
        if not crid or not signature_matches(
            api_key, secret, crid, timestamp, body_text, request.header("message-signature"), encoding
        ):
            return self.refusal(
                401, "invalid_signature", "Unauthenticated", "Message-Signature does not match", crid=crid
            )
        try:
            payload = json.loads(request.body, parse_float=Decimal) if request.body else {}
        except ValueError:
            return self.refusal(400, "invalid_request", "Invalid request", "body is not JSON", crid=crid)
        if not isinstance(payload, dict):
            return self.refusal(400, "invalid_request", "Invalid request", "body is not a JSON object", crid=crid)
        # Like the gateway, refuse a body its published description does not allow: an unknown
        # field, a missing required one, a value outside its enum (published_api.py).
        endpoint = API.endpoint(request.method, request.path)
        if endpoint is not None and endpoint.request is not None:
            problems = check_object(payload, endpoint.request)
            if problems:
                return self.refusal(400, "invalid_request", "Invalid request", *problems, crid=crid)
        asked_store = payload.get("storeId") or request.query.get("storeId") or store_id
        if asked_store != store_id:
            return self.refusal(
                403, "unauthorized_store", "Unauthorized", "storeId does not belong to this Api-Key", crid=crid
            )
        return Call(store_id=store_id, client_request_id=crid, payload=payload, host=request.header("host"))

    def refusal(self, status: int, code: str, message: str, *details: str, crid: str = "") -> Response:
        return Response(status, json_dumps(self.error_body(Reject(status, code, message, *details), crid)))

    def error_body(self, exc: Reject, crid: str) -> dict:
        """ErrorResponse / TransactionErrorResponse: ``error.details`` are ErrorDetails
        ``{"field", "message"}``; a detail written "field: message" names its field."""
        body = transaction_body(exc.tx, crid) if exc.tx else envelope(crid)
        body["responseType"] = RESPONSE_TYPES.get(exc.status, "BadRequest")
        body["error"] = {"code": exc.code, "message": exc.message, "details": [error_detail(d) for d in exc.details]}
        return body

    def fault_error_body(self, status: int) -> dict:
        return {
            **envelope(""),
            "responseType": RESPONSE_TYPES.get(status, "ServerError"),
            "error": {"code": str(status), "message": f"simulated HTTP {status}", "details": []},
        }

    @route("POST", "/payments")
    @api
    def create_payment(self, request: Request, call: Call) -> dict:
        payload = call.payload
        kind, source = PRIMARY_TYPES.get(payload.get("requestType"), (None, None))
        if kind is None:
            raise Reject(400, "invalid_request", "Invalid request", f"requestType {payload.get('requestType')!r}")
        amount, currency = money(payload.get("transactionAmount"))
        method = payload.get("paymentMethod") or {}
        if source == "card":
            profile, card = read_card(method.get("paymentCard"))
        else:
            profile, card = self.read_token(method.get("paymentToken"), call.store_id)
        tx = self.new_transaction(
            kind, call.store_id, amount, currency, card, merchant_id=payload.get("merchantTransactionId", "")
        )
        if card_expired(card):
            self.decline(tx, 422, "54", "EXPIRED CARD")
        authentication = payload.get("authenticationRequest")
        if profile in ("challenge_1", "challenge_2"):
            if not isinstance(authentication, dict) or not authentication.get("termURL"):
                self.decline(tx, 422, "1A", "AUTHENTICATION REQUIRED")
            self.start_challenge(tx, profile, authentication["termURL"], call.host)
            return transaction_body(tx, call.client_request_id)
        self.decide(tx, profile)
        body = transaction_body(tx, call.client_request_id, skew=self.wrong_amount(request))
        if (payload.get("createToken") or {}).get("reusable"):
            body["paymentToken"] = self.new_token(call.store_id, profile, card)
        return body

    def decide(self, tx: Transaction, profile: str) -> None:
        if profile == "decline":
            self.decline(tx, 422, "05", "DO NOT HONOUR")
        if profile == "insufficient_funds":
            self.decline(tx, 422, "51", "INSUFFICIENT FUNDS")
        if profile == "gateway_decline":
            self.decline(tx, 409, "", "", code="gateway_declined", message="Transaction declined by the gateway")
        self.approve(tx)
        if profile == "server_error":
            raise Reject(500, "server_error", "Internal server error")
        if profile == "communication_error":
            raise Reject(502, "endpoint_communication_error", "Endpoint communication error")

    def approve(self, tx: Transaction) -> None:
        tx.status, tx.response = "APPROVED", ("00", "APPROVED")
        tx.approval_code = f"Y:{secrets.token_hex(3).upper()}"
        tx.state = "CAPTURED" if tx.kind == "SALE" else "AUTHORIZED"
        tx.captured = tx.amount if tx.kind == "SALE" else 0

    @staticmethod
    def decline(
        tx: Transaction,
        status: int,
        response_code: str,
        response_message: str,
        *,
        code: str = "endpoint_declined",
        message: str = "Transaction declined by the endpoint",
    ):
        tx.status, tx.state, tx.response = "DECLINED", "DECLINED", (response_code, response_message)
        raise Reject(status, code, message, *([response_message] if response_message else []), tx=tx)

    @route("POST", "/payments/{transaction_id}")
    @api
    def secondary(self, request: Request, call: Call) -> dict:
        tx = self.find(request.params["transaction_id"], call.store_id)
        request_type = call.payload.get("requestType")
        if request_type == "VoidTransaction":
            if tx.kind != "PREAUTH" or tx.state != "AUTHORIZED" or tx.captured:
                raise Reject(422, "endpoint_declined", "Transaction cannot be voided", f"state is {tx.state}")
            tx.state = "VOIDED"
            child = self.new_transaction("VOID", call.store_id, tx.amount, tx.currency, tx.card, parent=tx.id)
            child.state = "VOIDED"
            return transaction_body(child, call.client_request_id)
        amount, currency = money(call.payload.get("transactionAmount"))
        if currency != tx.currency:
            raise Reject(400, "invalid_request", "Invalid request", f"currency must be {tx.currency}")
        if request_type == "PostAuthTransaction":
            if tx.kind != "PREAUTH" or tx.state not in ("AUTHORIZED", "CAPTURED"):
                raise Reject(422, "endpoint_declined", "Transaction cannot be captured", f"state is {tx.state}")
            if tx.captured + amount > tx.amount:
                raise Reject(
                    422,
                    "endpoint_declined",
                    "Capture amount exceeds the authorized amount",
                    f"{tx.amount - tx.captured} left to capture",
                )
            tx.captured += amount
            tx.state = "CAPTURED"
            child = self.new_transaction("POSTAUTH", call.store_id, amount, currency, tx.card, parent=tx.id)
            child.state = "CAPTURED"
        elif request_type == "ReturnTransaction":
            if tx.refunded + amount > tx.captured:
                raise Reject(
                    422,
                    "endpoint_declined",
                    "Return amount exceeds the captured amount",
                    f"{tx.captured - tx.refunded} left to return",
                )
            tx.refunded += amount
            child = self.new_transaction(
                "RETURN",
                call.store_id,
                amount,
                currency,
                tx.card,
                parent=tx.id,
                merchant_id=call.payload.get("merchantTransactionId", ""),
            )
            child.state = "CAPTURED"  # an approved return; RETURNED is not a published state
        else:
            raise Reject(400, "invalid_request", "Invalid request", f"requestType {request_type!r}")
        child.approval_code = f"Y:{secrets.token_hex(3).upper()}"
        return transaction_body(child, call.client_request_id)

    @route("GET", "/payments/{transaction_id}")
    @api
    def get_payment(self, request: Request, call: Call) -> dict:
        tx = self.find(request.params["transaction_id"], call.store_id)
        return transaction_body(tx, call.client_request_id, skew=self.wrong_amount(request))

    @route("GET", "/orders/{order_id}")
    @api
    def get_order(self, request: Request, call: Call) -> dict:
        """Order inquiry (Fiserv ``GET /orders/{order-id}``): the order's primary transaction and
        every secondary one (POSTAUTH, VOID, RETURN), oldest first."""
        order_id = request.params["order_id"]
        found = [tx for tx in self.transactions.values() if tx.order_id == order_id and tx.store_id == call.store_id]
        if not found:
            raise Reject(404, "not_found", "Not found", f"order {order_id} does not exist")
        skew = self.wrong_amount(request)
        return {
            **envelope(call.client_request_id),
            "orderId": order_id,
            "transactions": [transaction_body(tx, call.client_request_id, skew=skew and not tx.parent)
                             for tx in sorted(found, key=lambda tx: int(tx.id))],
        }

    # -- 3-D Secure -----------------------------------------------------------------------------

    def start_challenge(self, tx: Transaction, profile: str, term_url: str, host: str) -> None:
        acs_id = str(uuid.uuid4())
        version = THREE_DS_VERSIONS[profile]
        tx.status = tx.state = "WAITING"
        tx.three_ds = {
            "version": version,
            "acs_id": acs_id,
            "term_url": term_url,
            "outcome": "",
            "session": secrets.token_urlsafe(12),
            "acs_url": f"http://{host}/acs/challenge",
        }
        self.acs_transactions[acs_id] = tx.id

    @route("PATCH", "/payments/{transaction_id}")
    @api
    def finish_authentication(self, request: Request, call: Call) -> dict:
        tx = self.find(request.params["transaction_id"], call.store_id)
        if not tx.three_ds:
            raise Reject(400, "invalid_request", "Transaction is not being authenticated")
        if tx.status != "WAITING":
            return transaction_body(tx, call.client_request_id)  # finished already: say how it ended
        payload = call.payload
        # 3DS 2.x: the CRes in acsResponse.cRes; 3DS 1.0: the PaRes in payerAuthenticationResponse.
        expected = AUTHENTICATION_UPDATE_TYPES[tx.three_ds["version"]]
        if payload.get("authenticationType") != expected:
            raise Reject(400, "invalid_request", "Invalid request", f"authenticationType: must be {expected}")
        if tx.three_ds["version"] == "2.1":
            answer = (payload.get("acsResponse") or {}).get("cRes")
        else:
            answer = payload.get("payerAuthenticationResponse")
        message = acs.decode(str(answer or ""))
        if message.get("acsTransID") != tx.three_ds["acs_id"]:
            raise Reject(400, "invalid_request", "Invalid request", "the ACS response does not belong to this payment")
        # The outcome the ACS recorded decides, never what the browser carried back.
        if tx.three_ds["outcome"] != "Y":
            self.decline(tx, 422, "N7", "AUTHENTICATION FAILED")
        self.approve(tx)
        return transaction_body(tx, call.client_request_id)

    @route("POST", "/acs/challenge")
    def acs_challenge(self, request: Request) -> Response:
        form = request.form()
        message = acs.decode(form.get("creq") or form.get("PaReq") or "")
        tx = self.transactions.get(self.acs_transactions.get(str(message.get("acsTransID")), ""))
        if tx is None or tx.status != "WAITING":
            return html_response(acs.error_page("This authentication is unknown or finished."), 400)
        if form.get("TermUrl"):
            tx.three_ds["term_url"] = form["TermUrl"]  # 3DS 1.0: the browser brings the term URL
        tx.three_ds["posted_session"] = form.get("threeDSSessionData") or form.get("MD") or ""
        return html_response(
            acs.challenge_page(
                tx.three_ds["acs_id"], amounts.format_major(tx.amount, tx.currency), tx.currency, tx.card["last4"]
            )
        )

    @route("POST", "/acs/submit")
    def acs_submit(self, request: Request) -> Response:
        form = request.form()
        tx = self.transactions.get(self.acs_transactions.get(form.get("acs_transaction", ""), ""))
        if tx is None or tx.status != "WAITING":
            return html_response(acs.error_page("This authentication is unknown or finished."), 400)
        outcome = "Y" if secrets.compare_digest(form.get("otp", ""), acs.PASSING_CODE) else "N"
        three_ds = tx.three_ds
        three_ds["outcome"] = outcome
        result = acs.encode(
            {
                "acsTransID": three_ds["acs_id"],
                "messageVersion": EMV_MESSAGE_VERSIONS[three_ds["version"]],
                "messageType": "CRes",
                "transStatus": outcome,
            }
        )
        if three_ds["version"] == "2.1":
            fields = {"cres": result, "threeDSSessionData": three_ds["posted_session"]}
        else:
            fields = {"PaRes": result, "MD": three_ds["posted_session"]}
        return html_response(acs.return_page(three_ds["term_url"], fields))

    # -- tokens and card verification -------------------------------------------------------------

    @route("POST", "/payment-tokens")
    @api
    def create_token(self, request: Request, call: Call) -> dict:
        if call.payload.get("requestType") != "PaymentCardPaymentTokenizationRequest":
            raise Reject(400, "invalid_request", "Invalid request", "requestType must be a tokenization request")
        profile, card = read_card(call.payload.get("paymentCard"))
        if card_expired(card):
            raise Reject(422, "endpoint_declined", "Card expired", "EXPIRED CARD")
        return {
            **envelope(call.client_request_id),
            "requestStatus": "SUCCESS",
            "paymentToken": self.new_token(call.store_id, profile, card),
        }

    @route("POST", "/card-verification")
    @api
    def verify_card(self, request: Request, call: Call) -> dict:
        profile, card = read_card(call.payload.get("paymentCard"))
        # The published answer is a TransactionResponse: an approved zero-amount pre-authorization.
        tx = self.new_transaction("VERIFICATION", call.store_id, 0, "EUR", card)
        if card_expired(card):
            self.decline(tx, 422, "54", "EXPIRED CARD")
        if profile in ("decline", "insufficient_funds"):
            self.decline(tx, 422, "05", "DO NOT HONOUR")
        self.approve(tx)
        tx.state = "AUTHORIZED"  # nothing to capture: a verification stays a zero-amount pre-auth
        return transaction_body(tx, call.client_request_id)

    def new_token(self, store_id: str, profile: str, card: dict) -> dict:
        value = f"{secrets.token_hex(16).upper()}"
        self.tokens[value] = {"store_id": store_id, "profile": profile, **card}
        return {"value": value, "reusable": True, "last4": card["last4"], "brand": card["brand"].upper()}

    # -- state ----------------------------------------------------------------------------------

    @route("GET", "/__transactions__/{transaction_id}")
    def inspect(self, request: Request) -> Response:
        """Control endpoint (unsigned): what the simulator keeps about a transaction."""
        tx = self.transactions.get(request.params["transaction_id"])
        if tx is None:
            return Response(404, json_dumps({"error": {"code": "not_found", "message": "no such transaction"}}))
        return Response(200, json_dumps(tx.__dict__))

    def read_token(self, token, store_id: str) -> tuple[str, dict]:
        stored = self.tokens.get(str((token or {}).get("value", "")))
        if stored is None or stored["store_id"] != store_id:
            raise Reject(400, "invalid_request", "Invalid payment token", "paymentToken.value is not known")
        return stored["profile"], {k: stored[k] for k in ("last4", "brand", "month", "year")}

    def new_transaction(
        self,
        kind: str,
        store_id: str,
        amount: int,
        currency: str,
        card: dict,
        *,
        parent: str = "",
        merchant_id: str = "",
    ) -> Transaction:
        tx_id = str(next(self._ids))
        parent_tx = self.transactions.get(parent)
        tx = Transaction(
            id=tx_id,
            kind=kind,
            store_id=store_id,
            amount=amount,
            currency=currency,
            card=card,
            parent=parent,
            merchant_id=merchant_id,
            time_seconds=int(self.clock()),
            order_id=parent_tx.order_id if parent_tx else f"R-{uuid.uuid4()}",
        )
        self.transactions[tx_id] = tx
        if merchant_id:
            self.merchant_ids[(store_id, merchant_id)] = tx_id
        return tx

    def find(self, reference: str, store_id: str) -> Transaction:
        tx = self.transactions.get(reference) or self.transactions.get(self.merchant_ids.get((store_id, reference), ""))
        if tx is None or tx.store_id != store_id:
            raise Reject(404, "not_found", "Not found", f"transaction {reference} does not exist")
        return tx


# The authentication update request that finishes each 3-D Secure version.
AUTHENTICATION_UPDATE_TYPES = {
    "2.1": "Secure3D21AuthenticationUpdateRequest",
    "1.0": "Secure3D10AuthenticationUpdateRequest",
}

# ResponseType of an error answer, by HTTP status.
RESPONSE_TYPES = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "Unauthorized",
    404: "NotFound",
    409: "GatewayDeclined",
    415: "UnsupportedMediaType",
    422: "EndpointDeclined",
    500: "ServerError",
    502: "EndpointCommunicationError",
}


def error_detail(detail: str) -> dict:
    """One ErrorDetails object: "paymentCard.number: not valid" names its field; other text does not."""
    name, sep, message = detail.partition(": ")
    if sep and name and " " not in name:
        return {"field": name, "message": message}
    return {"message": detail}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Authipay (Fiserv IPG REST v2) simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default=os.environ.get("AUTHIPAY_API_KEY", "sim_authipay_key"))
    parser.add_argument("--api-secret", default=os.environ.get("AUTHIPAY_API_SECRET", "sim_authipay_secret"))
    parser.add_argument("--store-id", default=os.environ.get("AUTHIPAY_STORE_ID", "12345500000"))
    args = parser.parse_args(argv)
    serve_forever(AuthipaySimulator(stores={args.api_key: (args.api_secret, args.store_id)}), args.host, args.port)


if __name__ == "__main__":
    main()
