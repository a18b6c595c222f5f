"""The sandbox bank itself: the reference implementation of SPEC.md, in memory.

    python -m connectors.sandbox.simulator --port 8001 [--host 127.0.0.1] --api-key K --webhook-secret S

(``--api-key``/``--webhook-secret`` default to $SANDBOX_API_KEY/$SANDBOX_WEBHOOK_SECRET.)
Test cards and control endpoints are listed in SPEC.md §7 and §8. Only the last four digits
of a card are kept; request bodies are masked once handled (``requests_seen`` keeps them).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from urllib.parse import urlencode

import requests

from connectors import amounts
from connectors.masking import mask_headers, mask_text
from connectors.sandbox import signature
from connectors.sandbox.simulator_support import (
    ApiError,
    minor_amount,
    new_id,
    read_card,
    text_field,
    url_field,
)
from connectors.testing.simulator import (
    Request,
    Response,
    SimulatorApp,
    html_response,
    json_response,
    redirect_response,
    route,
    serve_forever,
)

DECLINE_CARDS = {
    "4000000000000002": ("insufficient_funds", "The card has insufficient funds."),
    "4000000000009995": ("card_not_supported", "The card does not support this kind of purchase."),
    "4000000000000069": ("expired_card", "The card has expired."),
    "4000000000000127": ("incorrect_cvc", "The card's security code is incorrect."),
    "4000000000000119": ("processing_error", "An error occurred while processing the card."),
}
PENDING_CARD = "4000000000000259"
THREE_DS_CARD = "4000000000003220"
PENDING_REFUNDS_CARD = "4000000000007726"

WEBHOOK_TIMEOUT = (2, 3)  # seconds (connect, read): a slow receiver must not hold the bank up


class SandboxSimulator(SimulatorApp):
    def __init__(self, accounts: dict[str, str], public_url: str = ""):
        super().__init__()
        self.accounts = dict(accounts)  # api_key -> webhook_secret
        self.public_url = public_url.rstrip("/")
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self._charge_refs: dict[tuple[str, str], str] = {}
        self._refund_refs: dict[tuple[str, str], str] = {}
        self.webhook_deliveries: list[dict] = []

    # -- plumbing --------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        try:
            return super()._dispatch(request)
        except ApiError as error:
            return error.response()
        finally:
            # SimulatorApp keeps every request in requests_seen; keep no card number or key there.
            request.body = mask_text(request.body.decode("utf-8", "replace")).encode("utf-8")
            request.headers = mask_headers(request.headers)

    def _account(self, request: Request) -> str:
        scheme, _, key = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or key not in self.accounts:
            raise ApiError(401, "invalid_api_key", "the API key is missing or not valid")
        return key

    @staticmethod
    def _body(request: Request) -> dict:
        body = request.json() if request.body else {}
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "the body must be a JSON object")
        return body

    def _charge(self, account: str, charge_id: str) -> dict:
        charge = self.charges.get(charge_id)
        if charge is None or charge["account"] != account:
            raise ApiError(404, "resource_missing", f"no charge {charge_id}")
        return charge

    def _baseurl_field(self, request: Request) -> str:
        return self.public_url or f"http://{request.header('host', '127.0.0.1')}"

    # -- views (what goes on the wire) -----------------------------------------------------------

    def _charge_view(self, charge: dict, request: Request | None = None, **extra) -> dict:
        skew = 1 if request is not None and self.wrong_amount(request) else 0
        view = {
            key: charge[key]
            for key in (
                "id",
                "object",
                "status",
                "amount",
                "currency",
                "amount_captured",
                "amount_refunded",
                "capture",
                "reference",
                "description",
                "decline_code",
                "message",
                "redirect_url",
                "return_url",
                "card",
                "created",
            )
        }
        view["amount"] += skew
        for key, value in extra.items():
            view[key] = value + skew if key.endswith("amount") else value
        return view

    def _refund_view(self, refund: dict, request: Request | None = None) -> dict:
        view = {key: value for key, value in refund.items() if key not in ("account", "webhook_url")}
        if request is not None and self.wrong_amount(request):
            view["amount"] += 1
        return view

    # -- webhooks --------------------------------------------------------------------------------

    def _event(self, kind: str, obj: dict, url: str, account: str) -> dict | None:
        if not url:
            return None
        return {
            "url": url,
            "secret": self.accounts[account],
            "body": {"id": new_id("evt"), "type": kind, "created": int(time.time()), "data": obj},
        }

    def _deliver(self, event: dict | None, *, wait: bool) -> None:
        """POST a signed event; delivery failures are recorded, never raised (a bank does not
        fail a payment because the merchant's endpoint is down)."""
        if event is None:
            return
        if not wait:
            self.in_background(self._deliver, event, wait=True, name=f"webhook {event['body']['type']}")
            return
        body = json.dumps(event["body"]).encode("utf-8")
        headers = {"Content-Type": "application/json", signature.HEADER: signature.sign(event["secret"], body)}
        record = {"event_id": event["body"]["id"], "type": event["body"]["type"], "url": event["url"]}
        try:
            answer = requests.post(event["url"], data=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
            record["status_code"] = answer.status_code
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
        with self.lock:
            self.webhook_deliveries.append(record)

    # -- settling --------------------------------------------------------------------------------

    def _settle_charge(self, charge: dict, succeeded: bool, failure_code: str) -> dict | None:
        """Finish a pending or 3-D Secure charge; returns the webhook event to deliver."""
        if succeeded:
            charge["status"] = "captured" if charge["capture"] else "authorized"
            charge["amount_captured"] = charge["amount"] if charge["capture"] else 0
        else:
            messages = {"authentication_failed": "3-D Secure authentication failed."}
            charge.update(
                status="declined",
                decline_code=failure_code,
                message=messages.get(failure_code, "The charge was declined."),
            )
        charge["redirect_url"] = None
        kind = "charge.succeeded" if succeeded else "charge.failed"
        return self._event(kind, self._charge_view(charge), charge["webhook_url"], charge["account"])

    def _settle_refund(self, refund: dict, succeeded: bool) -> dict | None:
        refund["status"] = "succeeded" if succeeded else "failed"
        if not succeeded:
            # A failed refund gives its amount back to what can still be refunded.
            self.charges[refund["charge"]]["amount_refunded"] -= refund["amount"]
            refund.update(failure_code="refund_declined", message="The issuer declined the refund.")
        kind = "refund.succeeded" if succeeded else "refund.failed"
        return self._event(kind, self._refund_view(refund), refund["webhook_url"], refund["account"])

    # -- API: charges ----------------------------------------------------------------------------

    @route("GET", "/v1/ping")
    def ping(self, request: Request) -> Response:
        self._account(request)
        return json_response({"ok": True, "livemode": False})

    @route("POST", "/v1/charges")
    def create_charge(self, request: Request) -> Response:
        account = self._account(request)
        body = self._body(request)
        amount = minor_amount(body.get("amount"), "amount")
        currency = text_field(body, "currency", limit=3)
        if not amounts.is_supported_currency(currency):
            raise ApiError(400, "invalid_currency", f"{currency} is not a supported currency", "currency")
        reference = text_field(body, "reference", limit=64)
        capture = body.get("capture", True)
        if not isinstance(capture, bool):
            raise ApiError(400, "invalid_parameter", "capture must be true or false", "capture")
        card = read_card(body.get("card"))
        number = body["card"]["number"]  # decides the outcome below, then goes out of scope
        charge = {
            "id": new_id("ch"),
            "object": "charge",
            "account": account,
            "status": "authorized",
            "amount": amount,
            "currency": currency,
            "capture": capture,
            "amount_captured": 0,
            "amount_refunded": 0,
            "reference": reference,
            "description": text_field(body, "description", required=False),
            "decline_code": None,
            "message": None,
            "redirect_url": None,
            "return_url": url_field(body, "return_url"),
            "webhook_url": url_field(body, "webhook_url"),
            "created": int(time.time()),
            "pending_refunds": number == PENDING_REFUNDS_CARD,
            "card": {k: card[k] for k in ("last4", "brand", "exp_month", "exp_year")},
        }
        decline = (
            ("expired_card", DECLINE_CARDS["4000000000000069"][1]) if card["expired"] else DECLINE_CARDS.get(number)
        )
        if decline:
            charge.update(status="declined", decline_code=decline[0], message=decline[1])
        elif number == PENDING_CARD:
            charge["status"] = "pending"
        elif number == THREE_DS_CARD or body.get("three_d_secure") is True:
            charge.update(status="requires_action", redirect_url=f"{self._baseurl_field(request)}/3ds/{charge['id']}")
        elif capture:
            charge.update(status="captured", amount_captured=amount)
        with self.lock:
            existing_id = self._charge_refs.get((account, reference))
            if existing_id is not None:
                # The same reference again is a retry: answer the charge it already made.
                existing = self.charges[existing_id]
                if (existing["amount"], existing["currency"]) != (amount, currency):
                    raise ApiError(409, "reference_in_use", "the reference belongs to another charge", "reference")
                return json_response(self._charge_view(existing, request))
            self.charges[charge["id"]] = charge
            self._charge_refs[(account, reference)] = charge["id"]
            return json_response(self._charge_view(charge, request), status=201)

    @route("GET", "/v1/charges")
    def find_charge(self, request: Request) -> Response:
        account = self._account(request)
        reference = request.query.get("reference", "")
        if not reference:
            raise ApiError(400, "parameter_missing", "reference is required", "reference")
        with self.lock:
            charge_id = self._charge_refs.get((account, reference))
            if charge_id is None:
                raise ApiError(404, "resource_missing", f"no charge with reference {reference}")
        return self.get_charge(request, charge_id)

    @route("GET", "/v1/charges/{charge_id}")
    def get_charge(self, request: Request, charge_id: str = "") -> Response:
        account = self._account(request)
        event = None
        with self.lock:
            charge = self._charge(account, charge_id or request.params["charge_id"])
            if charge["status"] == "pending":
                # The pending test card settles the first time anyone asks about it.
                event = self._settle_charge(charge, succeeded=True, failure_code="")
            view = self._charge_view(charge, request)
        self._deliver(event, wait=False)
        return json_response(view)

    @route("POST", "/v1/charges/{charge_id}/capture")
    def capture_charge(self, request: Request) -> Response:
        account = self._account(request)
        body = self._body(request)
        with self.lock:
            charge = self._charge(account, request.params["charge_id"])
            if charge["status"] not in ("authorized", "partially_captured"):
                raise ApiError(409, _state_code(charge), f"a {charge['status']} charge cannot be captured")
            remaining = charge["amount"] - charge["amount_captured"]
            amount = minor_amount(body.get("amount"), "amount", required=False) or remaining
            if amount > remaining:
                raise ApiError(422, "amount_too_large", f"only {remaining} is left to capture", "amount")
            charge["amount_captured"] += amount
            charge["status"] = "captured" if charge["amount_captured"] == charge["amount"] else "partially_captured"
            return json_response(self._charge_view(charge, request, last_capture_amount=amount))

    @route("POST", "/v1/charges/{charge_id}/void")
    def void_charge(self, request: Request) -> Response:
        account = self._account(request)
        with self.lock:
            charge = self._charge(account, request.params["charge_id"])
            # An abandoned 3-D Secure challenge may be voided too: nothing is authorized yet.
            if charge["status"] not in ("authorized", "requires_action"):
                raise ApiError(409, _state_code(charge), f"a {charge['status']} charge cannot be voided")
            charge.update(status="voided", redirect_url=None)
            return json_response(self._charge_view(charge, request))

    # -- API: refunds ----------------------------------------------------------------------------

    @route("POST", "/v1/charges/{charge_id}/refunds")
    def create_refund(self, request: Request) -> Response:
        account = self._account(request)
        body = self._body(request)
        amount = minor_amount(body.get("amount"), "amount")
        reference = text_field(body, "reference", limit=64)
        reason = text_field(body, "reason", required=False)
        webhook_url = url_field(body, "webhook_url")
        with self.lock:
            charge = self._charge(account, request.params["charge_id"])
            existing_id = self._refund_refs.get((account, reference))
            if existing_id is not None:
                existing = self.refunds[existing_id]
                if (existing["charge"], existing["amount"]) != (charge["id"], amount):
                    raise ApiError(409, "reference_in_use", "the reference belongs to another refund", "reference")
                return json_response(self._refund_view(existing, request))
            if charge["status"] not in ("captured", "partially_captured"):
                raise ApiError(409, "charge_not_captured", f"a {charge['status']} charge cannot be refunded")
            refundable = charge["amount_captured"] - charge["amount_refunded"]
            if amount > refundable:
                raise ApiError(422, "amount_too_large", f"only {refundable} can still be refunded", "amount")
            charge["amount_refunded"] += amount  # pending refunds hold their amount too
            refund = {
                "id": new_id("rf"),
                "object": "refund",
                "account": account,
                "status": "pending" if charge["pending_refunds"] else "succeeded",
                "amount": amount,
                "currency": charge["currency"],
                "charge": charge["id"],
                "charge_reference": charge["reference"],
                "reference": reference,
                "reason": reason,
                "failure_code": None,
                "message": None,
                "webhook_url": webhook_url or charge["webhook_url"],
                "created": int(time.time()),
            }
            self.refunds[refund["id"]] = refund
            self._refund_refs[(account, reference)] = refund["id"]
            return json_response(self._refund_view(refund, request), status=201)

    @route("GET", "/v1/refunds")
    def find_refund(self, request: Request) -> Response:
        account = self._account(request)
        reference = request.query.get("reference", "")
        if not reference:
            raise ApiError(400, "parameter_missing", "reference is required", "reference")
        with self.lock:
            refund_id = self._refund_refs.get((account, reference))
            if refund_id is None:
                raise ApiError(404, "resource_missing", f"no refund with reference {reference}")
        return self.get_refund(request, refund_id)

    @route("GET", "/v1/refunds/{refund_id}")
    def get_refund(self, request: Request, refund_id: str = "") -> Response:
        account = self._account(request)
        event = None
        with self.lock:
            refund = self.refunds.get(refund_id or request.params["refund_id"])
            if refund is None or refund["account"] != account:
                raise ApiError(404, "resource_missing", f"no refund {refund_id or request.params['refund_id']}")
            if refund["status"] == "pending":
                event = self._settle_refund(refund, succeeded=True)
            view = self._refund_view(refund, request)
        self._deliver(event, wait=False)
        return json_response(view)

    # -- the customer's 3-D Secure page ----------------------------------------------------------

    @route("GET", "/3ds/{charge_id}")
    def three_ds_page(self, request: Request) -> Response:
        with self.lock:
            charge = self.charges.get(request.params["charge_id"])
            if charge is None:
                return html_response("<h1>Unknown authentication</h1>", status=404)
            waiting = charge["status"] == "requires_action"
            shown = amounts.format_major(charge["amount"], charge["currency"])
        action = html.escape(f"/3ds/{charge['id']}")
        title = f"Sandbox bank: confirm {html.escape(shown)} {html.escape(charge['currency'])}"
        if not waiting:
            return html_response(
                f"<!doctype html><title>{title}</title><p>This authentication is already finished.</p>"
            )
        return html_response(
            f"<!doctype html><title>{title}</title><h1>{title}</h1>"
            f"<p>Card ending {html.escape(charge['card']['last4'])}</p>"
            f'<form method="post" action="{action}"><button name="outcome" value="complete">Complete</button></form>'
            f'<form method="post" action="{action}"><button name="outcome" value="fail">Fail</button></form>'
        )

    @route("POST", "/3ds/{charge_id}")
    def three_ds_submit(self, request: Request) -> Response:
        outcome = request.form().get("outcome", "")
        if outcome not in ("complete", "fail"):
            return html_response("<h1>Choose Complete or Fail</h1>", status=400)
        event = None
        with self.lock:
            charge = self.charges.get(request.params["charge_id"])
            if charge is None:
                return html_response("<h1>Unknown authentication</h1>", status=404)
            if charge["status"] == "requires_action":  # a second submit changes nothing
                event = self._settle_charge(charge, outcome == "complete", "authentication_failed")
            return_url, charge_id = charge["return_url"], charge["id"]
        self._deliver(event, wait=False)
        if not return_url:
            return html_response("<p>Authentication finished. You may close this window.</p>")
        separator = "&" if "?" in return_url else "?"
        return redirect_response(f"{return_url}{separator}{urlencode({'charge': charge_id})}")

    # -- test controls (SPEC.md §8) --------------------------------------------------------------

    @route("POST", "/__control__/charges/{charge_id}/settle")
    def control_settle_charge(self, request: Request) -> Response:
        succeeded = _outcome(request)
        with self.lock:
            charge = self.charges.get(request.params["charge_id"])
            if charge is None:
                raise ApiError(404, "resource_missing", "no such charge")
            if charge["status"] not in ("pending", "requires_action"):
                raise ApiError(409, "charge_not_pending", f"the charge is {charge['status']}")
            code = "authentication_failed" if charge["status"] == "requires_action" else "do_not_honor"
            event = self._settle_charge(charge, succeeded, code)
            view = self._charge_view(charge)
        self._deliver(event, wait=True)
        return json_response(view)

    @route("POST", "/__control__/refunds/{refund_id}/settle")
    def control_settle_refund(self, request: Request) -> Response:
        succeeded = _outcome(request)
        with self.lock:
            refund = self.refunds.get(request.params["refund_id"])
            if refund is None:
                raise ApiError(404, "resource_missing", "no such refund")
            if refund["status"] != "pending":
                raise ApiError(409, "refund_not_pending", f"the refund is {refund['status']}")
            event = self._settle_refund(refund, succeeded)
            view = self._refund_view(refund)
        self._deliver(event, wait=True)
        return json_response(view)

    @route("GET", "/__control__/webhooks")
    def control_webhooks(self, request: Request) -> Response:
        with self.lock:
            return json_response({"deliveries": list(self.webhook_deliveries)})


def _outcome(request: Request) -> bool:
    body = request.json() if request.body else {}
    outcome = (body or {}).get("outcome", "succeeded") if isinstance(body, dict) else None
    if outcome not in ("succeeded", "failed"):
        raise ApiError(400, "invalid_outcome", 'outcome must be "succeeded" or "failed"', "outcome")
    return outcome == "succeeded"


def _state_code(charge: dict) -> str:
    return {
        "voided": "charge_voided",
        "captured": "charge_already_captured",
        "declined": "charge_declined",
        "partially_captured": "charge_already_captured",
    }.get(charge["status"], "charge_not_authorized")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Pagoflex sandbox bank.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", default=os.environ.get("SANDBOX_API_KEY", ""))
    parser.add_argument("--webhook-secret", default=os.environ.get("SANDBOX_WEBHOOK_SECRET", ""))
    parser.add_argument("--public-url", default="", help="base URL customers' browsers use (3-D Secure pages)")
    args = parser.parse_args(argv)
    if not args.api_key or not args.webhook_secret:
        parser.error("give --api-key and --webhook-secret (or set SANDBOX_API_KEY and SANDBOX_WEBHOOK_SECRET)")
    app = SandboxSimulator(accounts={args.api_key: args.webhook_secret}, public_url=args.public_url)
    try:
        serve_forever(app, args.host, args.port)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
