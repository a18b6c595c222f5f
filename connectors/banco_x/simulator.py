"""A Banco X that keeps state and calls back: the simulator behind the connector's tests.

It answers the API in SPEC.md (§2-§6) and, once a payment or refund is accepted, settles it after
``webhook_delay`` seconds from a background thread and POSTs the signed webhook (§7) to the
``callback_url``. Outcomes follow the test amounts of SPEC.md §9 unless overridden.

Test switches, from Python or over HTTP (``POST /__control__/...``; these never consume faults):

- ``set_outcome(status, code, message, count)`` / ``/__control__/outcome``: the next payments end
  ``succeeded``, ``failed`` (by webhook) or ``rejected`` (at once), whatever the amount;
- ``arm_webhook(count, **switches)`` / ``/__control__/webhooks``: for the next accepted payments or
  refunds, ``twice`` (same event twice), ``reorder`` (the final event, then the earlier
  ``processing``/``pending`` one), ``conflicting`` (the final event, then the opposite final one),
  ``bad_signature``, ``stale_signature`` (t ten minutes old), ``wrong_amount`` (+100 minor units),
  ``suppress`` (settle but send nothing: only psync/rsync tell), ``delay`` (seconds);
- ``set_account(api_key, secret, webhook_secret, account_id)`` / ``/__control__/accounts``: add an
  account or name it (the id goes out in ``X-BancoX-Account`` and the body's ``account``);
- ``deliveries`` + ``wait_for_deliveries(n)`` / ``GET /__control__/deliveries``; ``wait_for_settlement(id)``;
  ``POST /__control__/reset``.

The shared ``Faults`` switches (``/__faults__``) apply to the API; ``wrong_amount`` makes an answer
report 100 minor units more. Run on its own:
``python -m connectors.banco_x.simulator --port 8091 [--host 127.0.0.1] [--api-key K --secret S
--webhook-secret W --account-id A] [--account K:S:W[:A] ...] [--webhook-delay 0.2]`` (flags default to
the ``BANCOX_*`` environment variables, then to the test credentials below).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import asdict

import requests

from connectors.banco_x import signature
from connectors.banco_x.simulator_state import (
    OUTCOMES,
    WEBHOOK_SWITCHES,
    WRONG_AMOUNT_SHIFT,
    Delivery,
    Outcome,
    SimPayment,
    SimRefund,
    new_id,
    outcome_for_amount,
    refund_outcome_for_amount,
    settlement_events,
)
from connectors.testing.simulator import Request, Response, SimulatorApp, json_response, route, serve_forever

CURRENCIES = frozenset({"EUR", "USD", "GBP", "MXN", "COP", "CLP", "PEN", "BRL", "ARS"})
TEST_API_KEY, TEST_SECRET, TEST_WEBHOOK_SECRET = "bx_test_api_key", "bx_test_secret", "bx_test_webhook_secret"


class BancoXSimulator(SimulatorApp):
    def __init__(
        self,
        accounts: dict[str, tuple[str, str]],
        webhook_delay: float = 0.2,
        account_ids: dict[str, str] | None = None,
        webhook_attempts: int = 1,
    ):
        super().__init__()
        self.accounts = {api_key: tuple(pair) for api_key, pair in accounts.items()}
        self.account_ids = dict(account_ids or {})
        self.webhook_delay = webhook_delay
        self.webhook_attempts = max(1, webhook_attempts)
        self.changed = threading.Condition(self.lock)
        self._timers: list[threading.Timer] = []
        self.reset()

    # -- the Python control API --------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            for timer in getattr(self, "_timers", []):
                timer.cancel()
            self._timers = []
            self.payments: dict[str, SimPayment] = {}
            self.refunds: dict[str, SimRefund] = {}
            self.deliveries: list[Delivery] = []
            self._outcomes: list[Outcome] = []
            self._plans: list[dict] = []
            self.faults.clear()

    close = reset  # stops pending callbacks; tests call it at teardown

    def set_outcome(self, status: str, code: str = "", message: str = "", count: int = 1) -> None:
        if status not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        if status != "succeeded" and not code:
            code, message = (
                ("do_not_honor", "Operación denegada")
                if status == "failed"
                else ("risk_rejected", "Operación rechazada por riesgo")
            )
        with self.lock:
            self._outcomes.extend(Outcome(status, code, message) for _ in range(count))

    def arm_webhook(self, count: int = 1, **switches) -> None:
        unknown = set(switches) - set(WEBHOOK_SWITCHES)
        if unknown:
            raise ValueError(f"unknown webhook switches: {sorted(unknown)}")
        with self.lock:
            self._plans.extend(dict(switches) for _ in range(count))

    def set_account(self, api_key: str, secret: str = "", webhook_secret: str = "", account_id: str = "") -> None:
        with self.lock:
            known_secret, known_webhook_secret = self.accounts.get(api_key, ("", ""))
            if secret or webhook_secret:
                self.accounts[api_key] = (secret or known_secret, webhook_secret or known_webhook_secret)
            if account_id:
                self.account_ids[api_key] = account_id

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Block until at least ``count`` webhook deliveries were attempted; all of them, in order."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise TimeoutError(f"{len(self.deliveries)} of {count} webhook deliveries after {timeout}s")
            return list(self.deliveries)

    def wait_for_settlement(self, bank_id: str, timeout: float = 5.0) -> str:
        """Block until the payment or refund ``bank_id`` left pending; its final status."""
        with self.changed:
            subject = self.payments.get(bank_id) or self.refunds[bank_id]
            if not self.changed.wait_for(lambda: subject.status != "pending", timeout):
                raise TimeoutError(f"{bank_id} still pending after {timeout}s")
            return subject.status

    # -- API (SPEC.md §3-§6) -----------------------------------------------------------------------

    def fault_error_body(self, status: int) -> dict:
        return _error_body(f"simulated_{status}", f"simulated HTTP {status}")

    @route("POST", "/pay")
    def create_payment(self, request: Request) -> Response:
        api_key, refused = self._authenticate(request)
        if refused:
            return refused
        body = request.json()
        problem = _invalid_amount_currency_ref(body) or (
            None
            if _is_url(body.get("callback_url"))
            else ("invalid_callback_url", "callback_url must be an http(s) URL")
        )
        if problem:
            return _error(400, *problem)
        with self.lock:
            payment = next((p for p in self.payments.values() if p.api_key == api_key and p.ref == body["ref"]), None)
            if payment is not None:
                if (payment.amount, payment.currency) != (body["amount"], body["currency"]):
                    return _error(409, "duplicate_ref", "this ref was used for another amount")
                return self._pay_answer(payment, request)
            outcome = self._outcomes.pop(0) if self._outcomes else outcome_for_amount(body["amount"])
            payment = SimPayment(
                id=new_id("bx"),
                api_key=api_key,
                ref=body["ref"],
                amount=body["amount"],
                currency=body["currency"],
                callback_url=body["callback_url"],
                outcome=outcome,
                created=int(time.time()),
            )
            self.payments[payment.id] = payment
            if outcome.status == "rejected":
                payment.status = "failed"
            else:
                self._schedule(self._settle_payment, payment)
            return self._pay_answer(payment, request)

    @route("GET", "/pay")
    def find_payment(self, request: Request) -> Response:
        """SPEC.md §4.1: the payment made with this ``ref`` by the signed request's key."""
        api_key, refused = self._authenticate(request)
        if refused:
            return refused
        ref = request.query.get("ref", "")
        with self.lock:
            payment = next((p for p in self.payments.values() if p.api_key == api_key and p.ref == ref), None)
        if payment is None:
            return _error(404, "not_found", "no payment with this ref")
        return json_response(payment.as_json(self._shift(request)))

    @route("GET", "/refunds")
    def find_refund(self, request: Request) -> Response:
        """SPEC.md §6.1: the refund made with this ``ref`` by the signed request's key."""
        api_key, refused = self._authenticate(request)
        if refused:
            return refused
        ref = request.query.get("ref", "")
        with self.lock:
            refund = next((r for r in self.refunds.values() if r.payment.api_key == api_key and r.ref == ref), None)
        if refund is None:
            return _error(404, "not_found", "no refund with this ref")
        return json_response(refund.as_json(self._shift(request)))

    @route("GET", "/pay/{tx_id}")
    def get_payment(self, request: Request) -> Response:
        payment, refused = self._own_payment(request)
        if refused:
            return refused
        return json_response(payment.as_json(self._shift(request)))

    @route("POST", "/pay/{tx_id}/refunds")
    def create_refund(self, request: Request) -> Response:
        payment, refused = self._own_payment(request)
        if refused:
            return refused
        body = request.json()
        problem = _invalid_amount_currency_ref(body)
        if problem:
            return _error(400, *problem)
        if body["currency"] != payment.currency:
            return _error(400, "currency_mismatch", "a refund is in the payment's currency")
        with self.lock:
            refund = next(
                (r for r in self.refunds.values() if r.payment.api_key == payment.api_key and r.ref == body["ref"]), None
            )
            if refund is not None:
                if refund.amount != body["amount"] or refund.payment is not payment:
                    return _error(409, "duplicate_ref", "this ref was used for another refund")
                return json_response(refund.as_json(self._shift(request)))
            if payment.status != "succeeded":
                return _error(409, "payment_not_settled", f"the payment is {payment.status}")
            if payment.refunded + body["amount"] > payment.amount:
                return _error(
                    422, "amount_exceeds_refundable", f"only {payment.amount - payment.refunded} can still be refunded"
                )
            refund = SimRefund(
                id=new_id("bxr"),
                payment=payment,
                ref=body["ref"],
                amount=body["amount"],
                callback_url=body.get("callback_url") if _is_url(body.get("callback_url")) else payment.callback_url,
                outcome=refund_outcome_for_amount(body["amount"]),
                created=int(time.time()),
            )
            payment.refunded += refund.amount
            self.refunds[refund.id] = refund
            self._schedule(self._settle_refund, refund)
            return json_response(refund.as_json(self._shift(request)))

    @route("GET", "/refunds/{refund_id}")
    def get_refund(self, request: Request) -> Response:
        api_key, refused = self._authenticate(request)
        if refused:
            return refused
        refund = self.refunds.get(request.params["refund_id"])
        if refund is None or refund.payment.api_key != api_key:
            return _error(404, "not_found", "no such refund")
        return json_response(refund.as_json(self._shift(request)))

    # -- control endpoints -------------------------------------------------------------------------

    @route("POST", "/__control__/outcome")
    def control_outcome(self, request: Request) -> Response:
        body = request.json() or {}
        return self._control(
            lambda: self.set_outcome(
                body.get("status", ""), body.get("code", ""), body.get("message", ""), int(body.get("count", 1))
            )
        )

    @route("POST", "/__control__/webhooks")
    def control_webhooks(self, request: Request) -> Response:
        body = dict(request.json() or {})
        return self._control(lambda: self.arm_webhook(int(body.pop("count", 1)), **body))

    @route("POST", "/__control__/accounts")
    def control_accounts(self, request: Request) -> Response:
        body = request.json() or {}
        if not body.get("api_key"):
            return _error(400, "invalid_request", "api_key is required")
        return self._control(
            lambda: self.set_account(
                body["api_key"], body.get("secret", ""), body.get("webhook_secret", ""), body.get("account_id", "")
            )
        )

    @route("GET", "/__control__/deliveries")
    def control_deliveries(self, request: Request) -> Response:
        with self.lock:
            deliveries = [asdict(d) for d in self.deliveries]
        return json_response({"count": len(deliveries), "deliveries": deliveries})

    @route("POST", "/__control__/reset")
    def control_reset(self, request: Request) -> Response:
        self.reset()
        return json_response({"reset": True})

    @staticmethod
    def _control(action) -> Response:
        try:
            action()
        except (ValueError, TypeError) as exc:
            return _error(400, "invalid_request", str(exc))
        return json_response({"ok": True})

    # -- authentication (SPEC.md §2) ---------------------------------------------------------------

    def _own_payment(self, request: Request):
        """The payment named by the path's ``tx_id``, if the signed request's key owns it; else
        the error answer (401 for a bad signature, 404 for another key's or no payment)."""
        api_key, refused = self._authenticate(request)
        if refused:
            return None, refused
        payment = self.payments.get(request.params["tx_id"])
        if payment is None or payment.api_key != api_key:
            return None, _error(404, "not_found", "no such payment")
        return payment, None

    def _authenticate(self, request: Request) -> tuple[str, Response | None]:
        auth = signature.parse_authorization(request.header("authorization"))
        if auth is None:
            return "", _error(401, "invalid_authorization", "Authorization must be BancoX-HMAC-SHA256")
        account = self.accounts.get(auth.api_key)
        if account is None:
            return "", _error(401, "invalid_api_key", "unknown API key")
        if abs(time.time() - auth.timestamp) > signature.TOLERANCE_SECONDS:
            return "", _error(401, "request_expired", "the request timestamp is too far from now")
        if not signature.request_signature_matches(account[0], auth, request.method, request.path, request.body):
            return "", _error(401, "invalid_signature", "the request signature does not match")
        return auth.api_key, None

    # -- settlement and webhooks -------------------------------------------------------------------

    def _schedule(self, settle, subject) -> None:
        plan = self._plans.pop(0) if self._plans else {}
        delay = float(plan["delay"]) if plan.get("delay") is not None else self.webhook_delay
        timer = threading.Timer(delay, self._run_tracked, args=(settle, subject, plan))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _run_tracked(self, settle, subject, plan: dict) -> None:
        # A fired timer is background work that settle() waits for (close() cancels the rest).
        token = self._begin(f"settle {type(subject).__name__} {subject.id}")
        try:
            settle(subject, plan)
        finally:
            self._end(token)

    def _settle_payment(self, payment: SimPayment, plan: dict) -> None:
        with self.changed:
            if payment.status != "pending" or payment.id not in self.payments:
                return
            payment.status = payment.outcome.status
            events = settlement_events(plan, payment, self.account_ids.get(payment.api_key, ""))
            self.changed.notify_all()
            deliveries = self.deliveries  # a reset while sending must not mix old deliveries into the new list
        self._deliver(payment.callback_url, payment.api_key, events, plan, deliveries)

    def _settle_refund(self, refund: SimRefund, plan: dict) -> None:
        with self.changed:
            if refund.status != "pending" or refund.id not in self.refunds:
                return
            refund.status = refund.outcome.status
            if refund.status == "failed":
                refund.payment.refunded -= refund.amount
            events = settlement_events(plan, refund, self.account_ids.get(refund.payment.api_key, ""))
            self.changed.notify_all()
            deliveries = self.deliveries  # a reset while sending must not mix old deliveries into the new list
        self._deliver(refund.callback_url, refund.payment.api_key, events, plan, deliveries)

    def _deliver(self, url: str, api_key: str, events: list[dict], plan: dict, deliveries: list[Delivery]) -> None:
        if plan.get("suppress"):
            return
        webhook_secret = self.accounts[api_key][1]
        if plan.get("bad_signature"):
            webhook_secret = "not-" + webhook_secret
        session = requests.Session()
        session.trust_env = False  # loopback callbacks must not go through a proxy from the environment
        for event in events:
            body = json.dumps(event, separators=(",", ":")).encode()
            for attempt in range(1, self.webhook_attempts + 1):
                if deliveries is not self.deliveries:
                    return  # reset (or closed) since settling: whoever waited for this has gone
                timestamp = int(time.time()) - (600 if plan.get("stale_signature") else 0)
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "BancoX-Webhooks/1.0",
                    "X-BancoX-Event-Id": event["id"],
                    signature.SIGNATURE_HEADER: signature.webhook_signature_header(webhook_secret, body, timestamp),
                }
                if "account" in event:
                    headers["X-BancoX-Account"] = event["account"]
                delivery = Delivery(event["id"], event["type"], event["tx_id"], url, attempt, None)
                try:
                    delivery.status_code = session.post(url, data=body, headers=headers, timeout=(2, 10)).status_code
                except requests.RequestException as exc:
                    delivery.error = type(exc).__name__
                with self.changed:
                    deliveries.append(delivery)
                    self.changed.notify_all()
                if delivery.status_code is not None and 200 <= delivery.status_code < 300:
                    break
                if attempt < self.webhook_attempts:
                    time.sleep(0.2 * attempt)
        session.close()

    # -- answers -----------------------------------------------------------------------------------

    def _pay_answer(self, payment: SimPayment, request: Request) -> Response:
        shift = self._shift(request)
        answer = {"id": payment.id, "ref": payment.ref, "amount": payment.amount + shift, "currency": payment.currency}
        if payment.outcome.status == "rejected":
            return json_response(
                {"status": "REJECTED", **answer, "code": payment.outcome.code, "message": payment.outcome.message}
            )
        return json_response({"status": "OK", **answer, "payment_status": payment.status})

    def _shift(self, request: Request) -> int:
        return WRONG_AMOUNT_SHIFT if self.wrong_amount(request) else 0


def _error_body(code: str, message: str) -> dict:
    return {"status": "ERROR", "code": code, "message": message}


def _error(status: int, code: str, message: str) -> Response:
    return json_response(_error_body(code, message), status=status)


def _invalid_amount_currency_ref(body) -> tuple[str, str] | None:
    if not isinstance(body, dict):
        return "invalid_request", "the body must be a JSON object"
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        return "invalid_amount", "amount must be a positive integer of minor units"
    if body.get("currency") not in CURRENCIES:
        return "currency_not_supported", f"currency {body.get('currency')!r} is not supported"
    ref = body.get("ref")
    if not isinstance(ref, str) or not 0 < len(ref) <= 64:
        return "invalid_ref", "ref must be 1 to 64 characters"
    return None


def _is_url(value) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _account_spec(text: str) -> tuple[str, str, str, str]:
    parts = text.split(":")
    if len(parts) not in (3, 4) or not all(parts[:3]):
        raise argparse.ArgumentTypeError("an account is API_KEY:SECRET:WEBHOOK_SECRET[:ACCOUNT_ID]")
    return (*parts[:3], parts[3] if len(parts) == 4 else "")


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m connectors.banco_x.simulator", description="Banco X simulator")
    parser.add_argument("--host", default=env("BANCOX_SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("BANCOX_SIM_PORT", "8091")))
    parser.add_argument("--api-key", default=env("BANCOX_API_KEY", TEST_API_KEY))
    parser.add_argument("--secret", default=env("BANCOX_SECRET", TEST_SECRET))
    parser.add_argument("--webhook-secret", default=env("BANCOX_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET))
    parser.add_argument("--account-id", default=env("BANCOX_ACCOUNT_ID", ""))
    parser.add_argument(
        "--account",
        action="append",
        type=_account_spec,
        default=[],
        help="API_KEY:SECRET:WEBHOOK_SECRET[:ACCOUNT_ID], repeatable; added to the one above",
    )
    parser.add_argument("--webhook-delay", type=float, default=float(env("BANCOX_WEBHOOK_DELAY", "0.2")))
    parser.add_argument("--webhook-attempts", type=int, default=int(env("BANCOX_WEBHOOK_ATTEMPTS", "1")))
    args = parser.parse_args(argv)
    accounts = [(args.api_key, args.secret, args.webhook_secret, args.account_id), *args.account]
    simulator = BancoXSimulator(
        accounts={key: (secret, hook) for key, secret, hook, _ in accounts},
        account_ids={key: account for key, _, _, account in accounts if account},
        webhook_delay=args.webhook_delay,
        webhook_attempts=args.webhook_attempts,
    )
    serve_forever(simulator, args.host, args.port)


if __name__ == "__main__":
    main()
