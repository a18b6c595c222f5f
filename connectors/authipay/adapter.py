"""Authipay (Fiserv IPG REST API, payments-gateway v2) card connector.

Every request is signed (spec 1.2, 6.3; see ``signature.py``). ``Client-Request-Id`` and
``Timestamp`` are fixed when a ``build_<flow>`` method builds the request, so re-sending the same
``ConnectorRequest`` carries the same id and the gateway answers a retry with its first answer
instead of charging twice. The signature covers the timestamp, so such a resend must happen
within the gateway's five-minute window; after that, rebuild (a new id) only once psync has shown
that the first request did not go through.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from connectors.authipay import transformers
from connectors.authipay.signature import DEFAULT_SIGNATURE_ENCODING, SIGNATURE_ENCODINGS, sign
from connectors.base import (
    Connector,
    ConnectorRequest,
    ConnectorResponse,
    CredentialField,
    CurrencyUnit,
    HttpResponse,
    PaymentData,
    Recovery,
    RefundData,
    json_dumps,
)
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorBadRequest,
    ConnectorDeclined,
    ConnectorError,
    ConnectorUnavailable,
    ConnectorUnknownOutcome,
)
from connectors.registry import register
from connectors.statuses import AttemptStatus, RefundStatus

SANDBOX_URL = "https://prod.emea.api.fiservapps.com/sandbox/ipp/payments-gateway/v2"
PRODUCTION_URL = "https://prod.emea.api.fiservapps.com/ipp/payments-gateway/v2"

# The transaction id the connection check asks about: never one the gateway issues.
CONNECTION_CHECK_REFERENCE = "pagoflex-connection-check"
# Processor answers that mean "not now" rather than "not this card": another connector may approve.
SOFT_DECLINE_CODES = frozenset({"91", "96"})


@register
class AuthipayConnector(Connector):
    key = "authipay"
    check_connection_not_found_means_reachable = True
    display_name = "Authipay (Fiserv IPG)"
    currency_unit = CurrencyUnit.MAJOR
    default_base_url = SANDBOX_URL
    credential_fields = (
        CredentialField("api_key", "API key", help_text="Api-Key of the app in the Fiserv developer portal"),
        CredentialField("api_secret", "API secret", help_text="Signs every request (Message-Signature)"),
        CredentialField(
            "store_id",
            "Store ID",
            secret=False,
            max_length=20,
            help_text="The Authipay store (outlet) the payments belong to",
        ),
        CredentialField(
            "signature_encoding",
            "Signature encoding",
            secret=False,
            required=False,
            max_length=3,
            help_text="raw (default: Base64 of the HMAC digest, as the EMEA specification says) or hex "
            "(Base64 of the digest's hex text, as Fiserv's North American pages and SDK samples sign)",
        ),
    )
    # The stored-card token charges the card again without its CVC: a secret (Authipay API,
    # PaymentTokenization: paymentToken.value).
    secret_fields = ("paymentToken.value",)
    payment_method_types = frozenset({"card"})
    supports_manual_capture = True
    supports_multiple_captures = True
    supports_partial_refunds = True
    supports_three_ds = True  # 3-D Secure 1.0 and 2.x challenges, finished by complete_authorize
    recovery = Recovery(
        captured_amount_on_sync=True,  # GET /orders/{orderId}: the approved POSTAUTHs add up
        payment_by_reference=True,  # GET /payments/{merchantTransactionId}
        refund_by_reference=True,  # the return's merchantTransactionId is our refund id
        not_found_is_final=True,  # 404: the gateway never received a transaction with that id
        not_found_grace=timedelta(minutes=5),
    )

    # Replaceable in tests (a fixed clock shows the gateway refusing stale timestamps).
    clock = staticmethod(time.time)
    new_request_id = staticmethod(lambda: str(uuid.uuid4()))

    @classmethod
    def validate_credentials(cls, credentials: dict) -> dict[str, str]:
        errors = super().validate_credentials(credentials)
        encoding = credentials.get("signature_encoding")
        if "signature_encoding" not in errors and encoding and encoding not in SIGNATURE_ENCODINGS:
            errors["signature_encoding"] = f"Signature encoding must be one of {', '.join(SIGNATURE_ENCODINGS)}"
        return errors

    # -- wire ----------------------------------------------------------------------------------

    def signed_request(self, method: str, path: str, payload: dict | None = None) -> ConnectorRequest:
        """One signed call. A GET has no body, so its signature covers an empty body text."""
        body = json_dumps(payload) if payload is not None else b""
        client_request_id = self.new_request_id()
        timestamp = str(int(self.clock() * 1000))
        api_key = self.credentials["api_key"]
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Api-Key": api_key,
            "Client-Request-Id": client_request_id,
            "Timestamp": timestamp,
            "Message-Signature": sign(
                api_key,
                self.credentials["api_secret"],
                client_request_id,
                timestamp,
                body.decode("utf-8"),
                self.signature_encoding,
            ),
        }
        query = {"storeId": self.store_id} if method == "GET" else None
        return ConnectorRequest(method=method, url=self.url(path, query), headers=headers, body=body or None)

    @property
    def store_id(self) -> str:
        return self.credentials["store_id"]

    @property
    def signature_encoding(self) -> str:
        """``raw`` unless the account says ``hex`` (see ``signature.py``)."""
        return self.credentials.get("signature_encoding") or DEFAULT_SIGNATURE_ENCODING

    @staticmethod
    def _transaction_path(reference: str) -> str:
        if not reference:
            raise ConnectorBadRequest("the payment has no Authipay transaction id", code="connector_reference_missing")
        return f"/payments/{reference}"

    # -- authorize (spec 2.1, 3.1, 4.1.1; 3-D Secure 4.4.2) -------------------------------------

    def build_authorize(self, data: PaymentData) -> ConnectorRequest:
        """POST /payments: PaymentCard/PaymentToken Sale (automatic capture) or PreAuth (manual).

        A saved token replaces the card and carries storedCredentials; the 3-D Secure request
        rides along whenever Pagoflex has a return URL (see ``transformers.authentication_request``).
        A WAITING answer becomes AUTHENTICATION_PENDING with the ACS form to post.
        """
        return self.signed_request("POST", "/payments", transformers.payment_request(data, self.store_id))

    def handle_authorize(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        return self._payment_result(data, response.json())

    # -- complete authorize (3-D Secure: PATCH /payments/{id}) -----------------------------------

    def build_complete_authorize(self, data: PaymentData) -> ConnectorRequest:
        """PATCH /payments/{ipgTransactionId} with the ACS's answer that the customer's browser
        posted to ``data.return_url`` (``cres`` for 3DS 2.x, ``PaRes``/``MD`` for 3DS 1.0); the
        gateway checks the authentication and finishes the sale or pre-auth."""
        payload = transformers.authentication_update(data.redirect_params, self.store_id)
        return self.signed_request("PATCH", self._transaction_path(data.connector_reference), payload)

    def handle_complete_authorize(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        return self._payment_result(data, response.json())

    # -- capture (spec 4.1.2) ---------------------------------------------------------------------

    def build_capture(self, data: PaymentData) -> ConnectorRequest:
        """POST /payments/{id} PostAuthTransaction; partial and repeatable up to the pre-auth."""
        amount = data.amount_to_capture if data.amount_to_capture is not None else data.amount
        payload = transformers.capture_request(amount, data.currency, self.store_id)
        return self.signed_request("POST", self._transaction_path(data.connector_reference), payload)

    def handle_capture(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        captured, currency = transformers.read_amount(body)
        status = transformers.attempt_status(body)
        total = None
        if status == AttemptStatus.CHARGED and captured is not None:
            total = data.amount_captured + captured
            status = AttemptStatus.PARTIALLY_CHARGED if total < data.amount else AttemptStatus.CHARGED
        capture_ids = [*data.connector_metadata.get("capture_ids", []), str(body.get("ipgTransactionId", ""))]
        return self._result(
            body,
            status,
            data.connector_reference,
            amount=captured,
            currency=currency,
            amount_captured=total,
            metadata={"capture_ids": capture_ids},
        )

    # -- void (spec 4.1.4) ------------------------------------------------------------------------

    def build_void(self, data: PaymentData) -> ConnectorRequest:
        """POST /payments/{id} VoidTransaction: cancels a pre-auth that has not been captured."""
        return self.signed_request(
            "POST", self._transaction_path(data.connector_reference), transformers.void_request(self.store_id)
        )

    def handle_void(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        amount, currency = transformers.read_amount(body)
        return self._result(
            body,
            transformers.attempt_status(body),
            data.connector_reference,
            amount=amount,
            currency=currency,
            metadata={"void_id": str(body.get("ipgTransactionId", ""))},
        )

    # -- psync (spec 2.1 Get Payment) ---------------------------------------------------------------

    def build_psync(self, data: PaymentData) -> ConnectorRequest:
        """GET /orders/{orderId} (order inquiry: the pre-auth or sale with every capture, void and
        return made on it) once authorize told Pagoflex the order; only it shows how much of a
        pre-auth was captured, since the pre-auth itself reads CAPTURED after any capture.
        Before the first answer arrived: GET /payments/{id}, or by its merchantTransactionId
        (the attempt reference) when the gateway's id was never learnt."""
        order_id = data.connector_metadata.get("order_id", "")
        if order_id and data.connector_reference:
            return self.signed_request("GET", f"/orders/{order_id}")
        return self.signed_request("GET", self._transaction_path(data.connector_reference or data.attempt_reference))

    def handle_psync(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        transactions = body.get("transactions") if isinstance(body, dict) else None
        if not isinstance(transactions, list):
            result = self._payment_result(data, body)
            if result.status == AttemptStatus.AUTHORIZED:
                result.amount_captured = 0
            elif result.status == AttemptStatus.CHARGED and body.get("transactionType") == "SALE":
                result.amount_captured = result.amount
            elif result.status in (AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED):
                # A pre-auth reads CAPTURED after any capture, of any amount: only the order
                # inquiry adds them up, and Pagoflex did not know the order (it keeps it from this
                # answer, for the next sync). Captured, but not "captured in full".
                result.amount_captured_unknown = True
            return result
        return self._order_result(data, transactions)

    def _order_result(self, data: PaymentData, transactions: list) -> ConnectorResponse:
        """The primary transaction's status, with the captured total summed from the order's
        approved POSTAUTH transactions (a SALE captured its whole amount)."""
        bodies = [tx for tx in transactions if isinstance(tx, dict)]
        primary = next((tx for tx in bodies if str(tx.get("ipgTransactionId")) == data.connector_reference), None)
        if primary is None:
            raise ConnectorUnknownOutcome(
                f"Authipay's order has no transaction {data.connector_reference}", code="invalid_connector_response"
            )
        result = self._payment_result(data, primary)
        if primary.get("transactionType") == "SALE":
            captured = result.amount if result.status == AttemptStatus.CHARGED else 0
        else:
            captured = sum(
                transformers.read_amount(tx)[0] or 0
                for tx in bodies
                if tx.get("transactionType") == "POSTAUTH" and str(tx.get("transactionStatus")) == "APPROVED"
            )
        if result.status == AttemptStatus.CHARGED and result.amount is not None and 0 < captured < result.amount:
            result.status = AttemptStatus.PARTIALLY_CHARGED
        if result.status in (AttemptStatus.AUTHORIZED, AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED):
            result.amount_captured = captured
        return result

    # -- refund and rsync (spec 2.2, 4.1.3) ---------------------------------------------------------

    def build_refund(self, data: RefundData) -> ConnectorRequest:
        """POST /payments/{id} ReturnTransaction; partial and repeatable up to what was captured."""
        return self.signed_request(
            "POST", self._transaction_path(data.connector_reference), transformers.refund_request(data, self.store_id)
        )

    def handle_refund(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        return self._refund_result(response.json())

    def build_rsync(self, data: RefundData) -> ConnectorRequest:
        """GET /payments/{return id}, or by the refund id sent as the return's merchantTransactionId."""
        return self.signed_request("GET", self._transaction_path(data.refund_connector_reference or data.refund_id))

    def handle_rsync(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        return self._refund_result(response.json())

    # -- tokenize and card verification (spec 2.3, 4.1.5, 4.2.5) -------------------------------------

    def build_tokenize(self, data: PaymentData) -> ConnectorRequest:
        """POST /payment-tokens: the gateway keeps the card and answers a reusable token."""
        return self.signed_request(
            "POST", "/payment-tokens", transformers.token_request(self._card(data), self.store_id)
        )

    def handle_tokenize(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        token = body.get("paymentToken") if isinstance(body.get("paymentToken"), dict) else {}
        if not token.get("value"):
            raise ConnectorUnknownOutcome(
                "Authipay answered the tokenization without a token", code="invalid_connector_response"
            )
        kept = {"card_last4": str(token.get("last4", "")), "card_brand": str(token.get("brand", ""))}
        return ConnectorResponse(
            status=AttemptStatus.CHARGED,
            payment_token=str(token["value"]),
            raw_status=str(body.get("requestStatus", "")),
            connector_metadata={k: v for k, v in kept.items() if v},
        )

    def build_verify(self, data: PaymentData) -> ConnectorRequest:
        """POST /card-verification: checks the card with its issuer without charging it. The
        gateway answers a TransactionResponse: an approved zero-amount pre-authorization
        (APPROVED/AUTHORIZED, transactionType PREAUTH, total 0) when the card is good."""
        return self.signed_request(
            "POST", "/card-verification", transformers.verification_request(self._card(data), self.store_id)
        )

    def handle_verify(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body = response.json()
        return self._result(body, transformers.verification_status(body), str(body.get("ipgTransactionId", "")))

    @staticmethod
    def _card(data: PaymentData):
        if data.card is None:
            raise ConnectorBadRequest("this Authipay flow needs the card", code="payment_method_missing")
        return data.card

    # -- answers ------------------------------------------------------------------------------

    def _payment_result(self, data: PaymentData, body: dict) -> ConnectorResponse:
        status = transformers.attempt_status(body)
        amount, currency = transformers.read_amount(body)
        reference = str(body.get("ipgTransactionId", "")) or data.connector_reference
        result = self._result(body, status, reference, amount=amount, currency=currency)
        if status == AttemptStatus.AUTHENTICATION_PENDING:
            result.next_action = transformers.next_action(body)
            if result.next_action is None:
                # WAITING without an ACS to send the customer to: nothing to do but wait and sync.
                result.status = AttemptStatus.PENDING
        token = body.get("paymentToken")
        if isinstance(token, dict) and token.get("value"):
            result.payment_token = str(token["value"])
        return result

    def _refund_result(self, body: dict) -> ConnectorResponse:
        amount, currency = transformers.read_amount(body)
        return self._result(
            body,
            transformers.refund_status(body),
            str(body.get("ipgTransactionId", "")),
            amount=amount,
            currency=currency,
        )

    @staticmethod
    def _result(
        body: dict,
        status,
        reference: str,
        *,
        amount=None,
        currency=None,
        amount_captured=None,
        metadata: dict | None = None,
    ) -> ConnectorResponse:
        code, message = transformers.processor_result(body)
        failed = status in (AttemptStatus.FAILURE, RefundStatus.FAILED)
        return ConnectorResponse(
            status=status,
            connector_reference=reference,
            raw_status=transformers.raw_status(body),
            code=code if failed else "",
            message=message if failed else "",
            amount=amount,
            currency=currency,
            amount_captured=amount_captured,
            connector_metadata={**transformers.keep(body), **(metadata or {})},
        )

    # -- check_connection: Get Payment for a transaction that cannot exist ---------------------

    def build_check_connection(self, data=None) -> ConnectorRequest:
        """GET /payments/{id} (spec 2.1 Get Payment) for an id Pagoflex never uses: nothing is
        charged, yet the gateway checks the Api-Key, the Message-Signature and the store first."""
        return self.signed_request("GET", self._transaction_path(CONNECTION_CHECK_REFERENCE))

    def handle_check_connection(self, data, response: HttpResponse) -> ConnectorResponse:
        return ConnectorResponse(
            status=AttemptStatus.STARTED, raw_status="ok", message="Authipay reachable; credentials and store accepted"
        )

    # -- errors (spec 3.4, 5.1) ---------------------------------------------------------------

    def read_error(self, response: HttpResponse) -> tuple[str, str]:
        body = _json_or_none(response)
        code, message, details = transformers.error_parts(body)
        if message and details:
            return code, f"{message}: {details}"
        return code, message or details

    def build_error(self, response: HttpResponse) -> ConnectorError:
        """The spec's HTTP status table.

        409 (gateway declined) and 422 (endpoint declined) are declines. 500 and 502 are unknown
        outcomes: a 502 is the gateway's "endpoint communication error", so our request reached
        the gateway and may well have reached the processor (an authorization can exist), and
        sync must find out; only a 503 says nothing was processed, so only it is retry-safe.
        """
        status = response.status_code
        code, message = self.read_error(response)
        kwargs = {"connector_code": code, "status_code": status}
        if status in (409, 422):
            body = _json_or_none(response) or {}
            processor_code, processor_message = transformers.processor_result(body)
            return ConnectorDeclined(
                processor_message or message or "Authipay declined the transaction",
                decline_code=processor_code or code,
                connector_reference=str(body.get("ipgTransactionId", "")),
                # A gateway decline is Fiserv's own rule set; another acquirer may well approve.
                retryable_elsewhere=status == 409 or processor_code in SOFT_DECLINE_CODES,
                **kwargs,
            )
        if status in (401, 403):
            return ConnectorAuthenticationFailed(
                message or f"Authipay refused the credentials (HTTP {status})", **kwargs
            )
        if status == 503:
            return ConnectorUnavailable(message or "Authipay is unavailable", **kwargs)
        if status >= 500:
            return ConnectorUnknownOutcome(message or f"Authipay failed with HTTP {status}", **kwargs)
        return ConnectorBadRequest(message or f"Authipay rejected the request (HTTP {status})", **kwargs)


def _json_or_none(response: HttpResponse):
    try:
        return response.json()
    except ConnectorUnknownOutcome:
        return None
