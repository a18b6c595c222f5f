"""The Banco X connector (SPEC.md in this folder).

Banco X takes a payment with ``POST /pay``, answers ``"OK"`` (accepted, outcome pending) and tells
the outcome later with a signed webhook to the ``callback_url``; ``GET /pay/{id}`` settles a payment
whose webhook never came. It captures automatically: there is no capture and no void, so those
flows are not defined here and the base class answers "not supported by this connector".

Amounts travel as integers in the currency's minor units (SPEC.md §2). Every request is signed with
the ``secret`` credential in the ``Authorization`` header; the ``api_key`` only names the account.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote, urlsplit

from connectors.banco_x import signature, transformers
from connectors.banco_x.transformers import BancoXEvent, BancoXPayment, BancoXRefund, MalformedPayload
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
from connectors.errors import ConnectorBadRequest, ConnectorError, ConnectorUnavailable, ConnectorUnknownOutcome
from connectors.registry import register
from connectors.statuses import AttemptStatus

ACCOUNT_HEADER = "x-bancox-account"
# The payment id the connection check asks about: Banco X ids start with "bx_", so it never exists.
CONNECTION_CHECK_ID = "pagoflex-connection-check"


@register
class BancoXConnector(Connector):
    key = "banco_x"
    check_connection_not_found_means_reachable = True
    aliases = ("BANCO_X",)
    display_name = "Banco X"
    currency_unit = CurrencyUnit.MINOR
    default_base_url = "https://api.bancox.com"
    credential_fields = (
        CredentialField(
            "api_key", "API key", help_text="BANCOX_API_KEY: names the merchant account at Banco X.", min_length=8
        ),
        CredentialField(
            "secret",
            "Request signing secret",
            min_length=8,
            help_text="BANCOX_SECRET: signs every request (HMAC-SHA256 in the Authorization header).",
        ),
        CredentialField(
            "webhook_secret",
            "Webhook secret",
            min_length=8,
            help_text="Checks the X-BancoX-Signature of the webhooks Banco X sends.",
        ),
    )
    # Banco X is told only amount and reference (SPEC.md §3); it never receives card data.
    payment_method_types = frozenset({"card"})
    currencies = frozenset({"EUR", "USD", "GBP", "MXN", "COP", "CLP", "PEN", "BRL", "ARS"})
    supports_manual_capture = False
    supports_partial_refunds = True
    recovery = Recovery(
        captured_amount_on_sync=True,  # automatic capture: a succeeded payment is captured in full
        payment_by_reference=True,  # §4.1 GET /pay?ref=
        refund_by_reference=True,  # §6.1 GET /refunds?ref=
        not_found_is_final=True,  # §4.1/§6.1: 404 for a ref Banco X never received
        not_found_grace=timedelta(minutes=5),
        webhook_flows=frozenset({Flow.AUTHORIZE, Flow.REFUND}),  # §7 payment.* and refund.*
    )

    # -- transport ---------------------------------------------------------------------------------

    def signed_request(self, method: str, path: str, payload=None, *, query: dict | None = None) -> ConnectorRequest:
        """A JSON request with the Banco X Authorization header over its exact bytes (SPEC.md §2;
        the signature covers the path, not the query)."""
        request = self.json_request(method, path, payload, query=query)
        request.headers["Authorization"] = signature.authorization_header(
            self.credentials["api_key"],
            self.credentials["secret"],
            method,
            urlsplit(request.url).path,
            request.body or b"",
            int(time.time()),
        )
        return request

    def build_error(self, response: HttpResponse) -> ConnectorError:
        """SPEC.md §8. 429 is refused before processing, so retrying it is as safe as a 503."""
        if response.status_code == 429:
            code, message = self.read_error(response)
            return ConnectorUnavailable(message or "Banco X is rate limiting", connector_code=code, status_code=429)
        return super().build_error(response)

    # -- authorize ---------------------------------------------------------------------------------

    def build_authorize(self, data: PaymentData) -> ConnectorRequest:
        """SPEC.md §3: ``POST /pay`` with amount (minor units), currency, our attempt reference as ``ref``
        (Banco X replays a repeated ref instead of charging twice) and Pagoflex's webhook URL."""
        amount = self.to_connector_amount(data.amount, data.currency)
        return self.signed_request("POST", "/pay", transformers.pay_request(data, amount))

    def handle_authorize(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        """``"OK"`` is pending with Banco X's id; any other status is a failure with its code and message."""
        payment = self._read(BancoXPayment, response)
        if payment.status.lower() == transformers.PAY_ACCEPTED:
            return self._payment_response(payment)
        return ConnectorResponse(
            status=AttemptStatus.FAILURE,
            connector_reference=payment.id,
            raw_status=payment.status,
            code=payment.code or payment.status.lower(),
            message=payment.message or f"Banco X answered {payment.status}",
            amount=self._reported_amount(payment),
            currency=payment.currency or None,
        )

    # -- psync -------------------------------------------------------------------------------------

    def build_psync(self, data: PaymentData) -> ConnectorRequest:
        """SPEC.md §4: ``GET /pay/{id}``, which settles a payment whose webhook never arrived; when
        the ``POST /pay`` answer was lost (no id yet), ``GET /pay?ref=<attempt reference>`` (§4.1)."""
        if not data.connector_reference:
            return self.signed_request("GET", "/pay", query={"ref": data.attempt_reference})
        return self.signed_request("GET", f"/pay/{self._id(data.connector_reference)}")

    def handle_psync(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        return self._payment_response(self._read(BancoXPayment, response))

    # -- refund and rsync --------------------------------------------------------------------------

    def build_refund(self, data: RefundData) -> ConnectorRequest:
        """SPEC.md §5: ``POST /pay/{id}/refunds``; only a succeeded payment can be refunded."""
        amount = self.to_connector_amount(data.amount, data.currency)
        path = f"/pay/{self._id(data.connector_reference)}/refunds"
        return self.signed_request("POST", path, transformers.refund_request(data, amount))

    def handle_refund(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        return self._refund_response(self._read(BancoXRefund, response))

    def build_rsync(self, data: RefundData) -> ConnectorRequest:
        """SPEC.md §6: ``GET /refunds/{id}`` with the refund's Banco X id; when the refund's answer
        was lost (no id yet), ``GET /refunds?ref=<our refund id>`` (§6.1)."""
        if not data.refund_connector_reference:
            return self.signed_request("GET", "/refunds", query={"ref": data.refund_id})
        return self.signed_request("GET", f"/refunds/{self._id(data.refund_connector_reference)}")

    def handle_rsync(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        return self._refund_response(self._read(BancoXRefund, response))

    # -- webhooks (SPEC.md §7) ---------------------------------------------------------------------

    def verify_webhook(self, *, headers: dict, body: bytes, received_at: float | None = None) -> bool:
        """HMAC-SHA256 of ``"<t>." + raw body`` with this account's webhook secret; ``t`` within 5 minutes
        of when the event was received (``received_at``, default now)."""
        header = headers.get(signature.SIGNATURE_HEADER.lower(), "")
        return signature.verify_webhook_signature(
            self.credentials.get("webhook_secret", ""), header, body,
            now=time.time() if received_at is None else received_at,
        )

    def parse_webhook(self, *, headers: dict, body: bytes) -> IncomingWebhook:
        """The event in platform terms. Call after ``verify_webhook``; a body that is not a Banco X event
        raises ConnectorBadRequest (code ``invalid_webhook``)."""
        try:
            event = BancoXEvent.from_json(json.loads(body, parse_float=Decimal))
            amount = None if event.amount is None else self.from_connector_amount(event.amount, event.currency)
        except (ValueError, UnicodeDecodeError, ConnectorUnknownOutcome) as exc:  # MalformedPayload is a ValueError
            raise ConnectorBadRequest(f"not a Banco X webhook: {exc}", code="invalid_webhook") from None
        return IncomingWebhook(
            event_id=event.id,
            event_type=event.type,
            # A refund event's tx_id is the payment's id; the refund's own id is refund_id (§7).
            connector_reference=event.refund_id if event.is_refund else event.tx_id,
            status=event.platform_status,
            amount=amount,
            currency=event.currency or None,
            is_refund=event.is_refund,
            refund_reference=event.refund_ref if event.is_refund else "",
            attempt_reference=event.ref,
            code=event.code,
            message=event.message,
            raw_status=event.status,
        )

    @classmethod
    def webhook_account_id(cls, *, headers: dict, body: bytes) -> str | None:
        """The account named by a webhook sent to the shared ``POST /webhooks/bancox`` URL."""
        return cls.account_id_from_webhook(headers=headers, body=body) or None

    @classmethod
    def account_id_from_webhook(cls, *, headers: dict, body: bytes) -> str:
        """Which Pagoflex connector account a webhook on the shared ``POST /webhooks/bancox`` is for:
        the ``X-BancoX-Account`` header, else the body's ``account`` field; ``""`` when neither is there.
        Only a lookup key: nothing may be trusted until ``verify_webhook`` passes with that account's secret."""
        account = (headers.get(ACCOUNT_HEADER) or "").strip()
        if account:
            return account
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return ""
        value = payload.get("account") if isinstance(payload, dict) else None
        return value.strip() if isinstance(value, str) else ""

    # -- helpers -----------------------------------------------------------------------------------

    def _payment_response(self, payment: BancoXPayment) -> ConnectorResponse:
        status = transformers.payment_status(payment.status)
        if status is None:
            raise ConnectorUnknownOutcome(
                f"Banco X reported an unknown payment status {payment.status!r}", code="invalid_connector_response"
            )
        amount = self._reported_amount(payment)
        return ConnectorResponse(
            status=status,
            connector_reference=payment.id,
            raw_status=payment.status,
            code=payment.code if status == AttemptStatus.FAILURE else "",
            message=payment.message if status == AttemptStatus.FAILURE else "",
            amount=amount,
            currency=payment.currency or None,
            amount_captured=amount if status == AttemptStatus.CHARGED else None,
        )

    def _refund_response(self, refund: BancoXRefund) -> ConnectorResponse:
        status = transformers.refund_status(refund.status)
        if status is None:
            raise ConnectorUnknownOutcome(
                f"Banco X reported an unknown refund status {refund.status!r}", code="invalid_connector_response"
            )
        amount = self._reported_amount(refund)
        return ConnectorResponse(
            status=status,
            connector_reference=refund.id,
            raw_status=refund.status,
            code=refund.code,
            message=refund.message,
            amount=amount,
            currency=refund.currency or None,
        )

    # -- check_connection ----------------------------------------------------------------------

    def build_check_connection(self, data=None) -> ConnectorRequest:
        """SPEC.md §4: ``GET /pay/{id}`` for an id Banco X never issues. It touches no payment, but
        Banco X checks the api_key and the request signature before it looks the id up."""
        return self.signed_request("GET", f"/pay/{CONNECTION_CHECK_ID}")

    def handle_check_connection(self, data, response: HttpResponse) -> ConnectorResponse:
        return ConnectorResponse(
            status=AttemptStatus.STARTED, raw_status="ok", message="Banco X reachable; API key and signature accepted"
        )

    def _reported_amount(self, answer: BancoXPayment | BancoXRefund) -> int | None:
        """The amount Banco X says it processed, in minor units; None when it did not say."""
        return None if answer.amount is None else self.from_connector_amount(answer.amount, answer.currency)

    @staticmethod
    def _read(shape, response: HttpResponse):
        try:
            return shape.from_json(response.json())
        except MalformedPayload as exc:
            raise ConnectorUnknownOutcome(
                f"Banco X answered an unreadable {shape.__name__}: {exc}",
                code="invalid_connector_response",
                status_code=response.status_code,
            ) from None

    @staticmethod
    def _id(reference: str) -> str:
        if not reference:
            raise ConnectorBadRequest("this flow needs Banco X's id from an earlier flow", code="missing_reference")
        # Quoted whole so an id can never add path segments to the URL.
        return quote(reference, safe="")
