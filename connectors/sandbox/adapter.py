"""The sandbox bank: Pagoflex's bundled test bank, so the product works offline.

The wire API is ours and is described in ``connectors/sandbox/SPEC.md``; the simulator in
``simulator.py`` is its reference implementation. JSON over HTTP, Stripe-like, amounts in
integer minor units, ``Authorization: Bearer <api_key>``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

from connectors.base import (
    Connector,
    ConnectorRequest,
    ConnectorResponse,
    CredentialField,
    CurrencyUnit,
    Flow,
    HttpResponse,
    IncomingWebhook,
    PaymentData,
    Recovery,
    RefundData,
)
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorBadRequest,
    ConnectorError,
    ConnectorUnavailable,
    ConnectorUnknownOutcome,
    IntegrityMismatch,
)
from connectors.registry import register
from connectors.sandbox import signature, transformers
from connectors.statuses import AttemptStatus


def _segment(value: str) -> str:
    # Ids go into URL paths; quoting keeps a stray "/" or "?" from changing the route.
    return quote(value, safe="")


def _about(reference: str, body, result: ConnectorResponse) -> ConnectorResponse:
    """The result, if the answer is about our transaction: every charge and refund echoes our
    reference, and an answer about another one (a mixed-up reply) must never settle ours."""
    echoed = body.get("reference") if isinstance(body, dict) else None
    if echoed != reference:
        raise IntegrityMismatch({"reference": (reference, echoed)}, result)
    return result


@register
class SandboxConnector(Connector):
    key = "sandbox"
    display_name = "Sandbox bank"
    currency_unit = CurrencyUnit.MINOR
    default_base_url = "http://127.0.0.1:8001"
    credential_fields = (
        CredentialField(
            "api_key",
            "API key",
            secret=True,
            required=True,
            help_text="The sandbox account's API key, sent as a Bearer token.",
        ),
        CredentialField(
            "webhook_secret",
            "Webhook secret",
            secret=True,
            required=True,
            help_text="Signs the sandbox's webhooks (Sandbox-Signature header).",
        ),
    )
    payment_method_types = frozenset({"card"})
    currencies = None
    supports_manual_capture = True
    supports_multiple_captures = True
    supports_partial_refunds = True
    supports_three_ds = True  # SPEC.md §3.2: requires_action and the bank's 3-D Secure page
    recovery = Recovery(
        captured_amount_on_sync=True,  # SPEC.md §3: every charge carries amount_captured
        payment_by_reference=True,  # §3.5 GET /v1/charges?reference=
        refund_by_reference=True,  # §4.2 GET /v1/refunds?reference=
        not_found_is_final=True,  # 404 resource_missing: the sandbox never received it
        not_found_grace=timedelta(minutes=2),
        # §6: charge.* when a pending or 3-D Secure charge settles, refund.* when a pending refund does.
        webhook_flows=frozenset({Flow.AUTHORIZE, Flow.REFUND}),
    )

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.get('api_key', '')}"}

    # -- authorize -------------------------------------------------------------------------------

    def build_authorize(self, data: PaymentData) -> ConnectorRequest:
        """POST /v1/charges (SPEC.md §3.1): amount in minor units, ``capture`` false for manual
        capture, our attempt reference (a repeated reference returns the same charge, so a retry
        never charges twice), the card, and where to send the customer and the webhooks."""
        return self.json_request("POST", "/v1/charges", transformers.charge_request(data))

    def handle_authorize(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        """A charge: authorized/captured, declined (a FAILURE with the decline code), pending, or
        requires_action with a redirect to the sandbox's 3-D Secure page (SPEC.md §3.2)."""
        body = response.json()
        return _about(data.attempt_reference, body, transformers.charge_response(body))

    # -- capture / void --------------------------------------------------------------------------

    def build_capture(self, data: PaymentData) -> ConnectorRequest:
        """POST /v1/charges/{id}/capture {amount} (SPEC.md §3.3). Several captures may follow one
        authorization until the whole amount is captured; more than what remains is answered
        422 amount_too_large (raised as ConnectorBadRequest)."""
        body = {"amount": transformers.capture_amount(data)}
        return self.json_request("POST", f"/v1/charges/{_segment(data.connector_reference)}/capture", body)

    def handle_capture(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        """The charge after the capture; ``last_capture_amount`` is what this call captured, and
        it is the amount the integrity check compares."""
        body = response.json()
        return _about(data.attempt_reference, body, transformers.charge_response(body, amount_field="last_capture_amount"))

    def expected_amount(self, flow: Flow, data) -> int | None:
        if flow == Flow.CAPTURE:
            return transformers.capture_amount(data)
        return super().expected_amount(flow, data)

    def build_void(self, data: PaymentData) -> ConnectorRequest:
        """POST /v1/charges/{id}/void (SPEC.md §3.4): only an authorized charge with nothing
        captured can be voided; anything else is 409 (ConnectorBadRequest)."""
        return self.json_request("POST", f"/v1/charges/{_segment(data.connector_reference)}/void", {})

    def handle_void(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        return _about(data.attempt_reference, body, transformers.charge_response(body))

    # -- psync -----------------------------------------------------------------------------------

    def build_psync(self, data: PaymentData) -> ConnectorRequest:
        """GET /v1/charges/{id}, or GET /v1/charges?reference=<attempt reference> when authorize
        ended without an answer and we never learnt the id (SPEC.md §3.5). A pending charge
        settles when queried; this is also how the customer's return from 3-D Secure is read."""
        if data.connector_reference:
            return self.json_request("GET", f"/v1/charges/{_segment(data.connector_reference)}")
        return self.json_request("GET", "/v1/charges", query={"reference": data.attempt_reference})

    def handle_psync(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        return _about(data.attempt_reference, body, transformers.charge_response(body))

    # -- refunds ---------------------------------------------------------------------------------

    def build_refund(self, data: RefundData) -> ConnectorRequest:
        """POST /v1/charges/{id}/refunds {amount, reference} (SPEC.md §4.1). Refunds are limited
        to what is captured and not yet refunded (422 amount_too_large beyond it)."""
        path = f"/v1/charges/{_segment(data.connector_reference)}/refunds"
        return self.json_request("POST", path, transformers.refund_request(data))

    def handle_refund(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        return _about(data.refund_id, body, transformers.refund_response(body))

    def build_rsync(self, data: RefundData) -> ConnectorRequest:
        """GET /v1/refunds/{id}, or GET /v1/refunds?reference=<refund id> when the refund call
        ended without an answer (SPEC.md §4.2). A pending refund settles when queried."""
        if data.refund_connector_reference:
            return self.json_request("GET", f"/v1/refunds/{_segment(data.refund_connector_reference)}")
        return self.json_request("GET", "/v1/refunds", query={"reference": data.refund_id})

    def handle_rsync(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        return _about(data.refund_id, body, transformers.refund_response(body))

    # -- check_connection ------------------------------------------------------------------------

    def build_check_connection(self, data=None) -> ConnectorRequest:
        """GET /v1/ping (SPEC.md §5): touches nothing, but checks the API key."""
        return self.json_request("GET", "/v1/ping")

    def handle_check_connection(self, data, response: HttpResponse) -> ConnectorResponse:
        """No payment happened, so the answer is STARTED with raw_status "ok": the bank is
        reachable and accepted the credentials (a refusal raises ConnectorAuthenticationFailed)."""
        body = response.json()
        if not isinstance(body, dict) or body.get("ok") is not True:
            raise ConnectorUnknownOutcome("sandbox ping answered without ok", code="invalid_connector_response")
        return ConnectorResponse(
            status=AttemptStatus.STARTED, raw_status="ok", message="sandbox bank reachable; API key accepted"
        )

    # -- errors ----------------------------------------------------------------------------------

    def read_error(self, response: HttpResponse) -> tuple[str, str]:
        """SPEC.md §2: {"error": {"code", "message", "field"?}}; the field joins the message."""
        code, message = super().read_error(response)
        try:
            field = json.loads(response.body)["error"].get("field")
        except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
            field = None
        if field and message:
            message = f"{field}: {message}"
        return code, message

    def build_error(self, response: HttpResponse) -> ConnectorError:
        """SPEC.md §2 status table:
        400 invalid request, 404 unknown id, 409 illegal state (capture after void, void after
        capture, ...), 422 amount_too_large (over-capture, over-refund): ConnectorBadRequest,
        nothing happened at the bank. 401/403: ConnectorAuthenticationFailed. 429 and 503: the
        sandbox refused before doing anything, ConnectorUnavailable (safe to retry). Other 5xx:
        ConnectorUnknownOutcome (the charge may exist; psync finds out)."""
        code, message = self.read_error(response)
        status = response.status_code
        kwargs = {"connector_code": code, "status_code": status}
        if status in (401, 403):
            return ConnectorAuthenticationFailed(message or "the sandbox refused the API key", **kwargs)
        if status in (429, 503):
            return ConnectorUnavailable(message or f"the sandbox is unavailable (HTTP {status})", **kwargs)
        if status >= 500:
            return ConnectorUnknownOutcome(message or f"the sandbox failed with HTTP {status}", **kwargs)
        return ConnectorBadRequest(message or f"the sandbox rejected the request with HTTP {status}", **kwargs)

    # -- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, *, headers: dict, body: bytes, received_at: float | None = None) -> bool:
        """SPEC.md §6: HMAC-SHA256 of f"{t}.{body}" with the account's webhook secret, compared in
        constant time; timestamps more than five minutes from ``received_at`` are refused (replays)."""
        header = headers.get(signature.HEADER.lower(), "")
        return signature.verify(self.credentials.get("webhook_secret", ""), header, body, now=received_at)

    def parse_webhook(self, *, headers: dict, body: bytes) -> IncomingWebhook:
        """charge.* and refund.* events; raises ConnectorBadRequest (code invalid_webhook) for a
        body that is not a sandbox event."""
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ConnectorBadRequest("webhook body is not JSON", code="invalid_webhook") from None
        return transformers.webhook_to_incoming(event)
