"""Paytm Payments (UPI Intent and Collect) in Pagoflex's connector shape.

A payment is two calls: session_token (Initiate Transaction, returns the txnToken) and
authorize (Process Transaction with that token). The result arrives later: by Paytm's S2S
notification (``verify_webhook``/``parse_webhook``) and by psync (Transaction Status API),
which the orchestration also runs when the customer comes back to ``callbackUrl``.

Every JSON request except Process Transaction carries ``head.signature`` over the exact body
text; Paytm's signed answers are verified the same way before anything in them is used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import parse_qs

from connectors import amounts
from connectors.base import (
    Connector,
    ConnectorRequest,
    ConnectorResponse,
    CredentialField,
    CurrencyUnit,
    Flow,
    HttpResponse,
    IncomingWebhook,
    NextAction,
    PaymentData,
    Recovery,
    RefundData,
    json_dumps,
)
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorBadRequest,
    ConnectorDeclined,
    ConnectorUnknownOutcome,
    ResponseSignatureInvalid,
)
from connectors.paytm import transformers as tx
from connectors.paytm.signature import (
    KEY_LENGTHS,
    generate_signature,
    raw_json_member,
    verify_form_checksum,
    verify_signature,
)
from connectors.registry import register
from connectors.statuses import AttemptStatus

PRODUCTION_BASE_URL = "https://secure.paytmpayments.com"
STAGING_BASE_URL = "https://securestage.paytmpayments.com"


def verify_return_params(params: Mapping[str, str], *, merchant_id: str, merchant_key: str) -> bool:
    """Check the form the customer's browser posts to callbackUrl (CHECKSUMHASH and MID).

    A valid checksum only proves Paytm wrote the form; the orchestration still runs psync
    before it changes the payment, because a browser can replay an older form.
    """
    if params.get("MID") != merchant_id:
        return False
    return verify_form_checksum(params, merchant_key)


# The order id the connection check asks about: valid for Paytm, never an attempt reference.
CONNECTION_CHECK_ORDER_ID = "PAGOFLEX-CONNECTION-CHECK"


@register
class PaytmConnector(Connector):
    key = "paytm"
    display_name = "Paytm (UPI)"
    currency_unit = CurrencyUnit.MAJOR
    default_base_url = STAGING_BASE_URL
    credential_fields = (
        CredentialField("merchant_id", "Merchant ID (MID)", secret=False, max_length=20),
        CredentialField(
            "merchant_key",
            "Merchant key",
            secret=True,
            allowed_lengths=KEY_LENGTHS,
            help_text="The signing key from the Paytm dashboard (16, 24 or 32 characters).",
        ),
        CredentialField(
            "website",
            "Website name",
            secret=False,
            max_length=64,
            help_text="websiteName, e.g. WEBSTAGING on staging, DEFAULT in production.",
        ),
        CredentialField(
            "channel_id", "Channel ID", secret=False, required=False, max_length=3, help_text="WEB (default) or WAP."
        ),
        CredentialField(
            "client_id",
            "Client ID",
            secret=False,
            required=False,
            max_length=16,
            help_text="Only when the account has more than one key.",
        ),
    )
    payment_method_types = frozenset({"upi"})
    currencies = frozenset({"INR"})
    supports_manual_capture = False
    recovery = Recovery(
        captured_amount_on_sync=True,  # automatic capture: TXN_SUCCESS is the whole amount
        payment_by_reference=True,  # the Transaction Status API asks by our orderId
        refund_by_reference=True,  # the Refund Status API asks by our refId
        webhook_flows=frozenset({Flow.AUTHORIZE}),  # the S2S notification; refunds have none
    )
    pre_authorize_flows = (Flow.SESSION_TOKEN,)

    @classmethod
    def validate_credentials(cls, credentials: dict) -> dict[str, str]:
        errors = super().validate_credentials(credentials)
        key = credentials.get("merchant_key")
        if "merchant_key" not in errors and isinstance(key, str) and key and not key.isascii():
            errors["merchant_key"] = "Merchant key must be ASCII (it is the AES key)"
        channel = credentials.get("channel_id")
        if "channel_id" not in errors and channel and channel not in ("WEB", "WAP"):
            errors["channel_id"] = "Channel ID must be WEB or WAP"
        return errors

    # -- credentials and envelopes ---------------------------------------------------------------

    @property
    def merchant_id(self) -> str:
        return self.credentials.get("merchant_id", "")

    @property
    def merchant_key(self) -> str:
        return self.credentials.get("merchant_key", "")

    def _head(self) -> dict:
        head = {
            "version": "v1",
            "requestTimestamp": str(int(time.time())),
            "channelId": self.credentials.get("channel_id") or "WEB",
        }
        if self.credentials.get("client_id"):
            head["clientId"] = self.credentials["client_id"]
        return head

    def _post(self, path: str, head: dict, body: dict, query: dict | None = None) -> ConnectorRequest:
        # The envelope is assembled around the body's bytes so the text that was signed is,
        # byte for byte, the text Paytm receives.
        body_bytes = json_dumps(body)
        payload = b'{"head":' + json_dumps(head) + b',"body":' + body_bytes + b"}"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        return ConnectorRequest(method="POST", url=self.url(path, query), headers=headers, body=payload)

    def _signed_post(self, path: str, body: dict, query: dict | None = None) -> ConnectorRequest:
        head = self._head()
        head["signature"] = generate_signature(json_dumps(body).decode("utf-8"), self.merchant_key)
        return self._post(path, head, body, query)

    def _read(self, response: HttpResponse, *, signed: bool = True) -> tuple[dict, tx.ResultInfo]:
        """The answer's body and resultInfo, after source verification.

        A signature that is present must verify. Where Paytm signs its answers (``signed``)
        one must be present too, except on a checksum/mid refusal, which Paytm cannot sign.
        """
        parsed = response.json()
        body = parsed.get("body") if isinstance(parsed, dict) else None
        if not isinstance(body, dict):
            raise ConnectorUnknownOutcome(
                "Paytm's answer has no body", code="invalid_connector_response", status_code=response.status_code
            )
        result = tx.ResultInfo.of(body)
        head = parsed.get("head") if isinstance(parsed.get("head"), dict) else {}
        signature = head.get("signature")
        if signature:
            raw_body = raw_json_member(response.body.decode("utf-8"), "body")
            if raw_body is None or not verify_signature(raw_body, self.merchant_key, str(signature)):
                raise ResponseSignatureInvalid(
                    "Paytm's answer failed signature verification",
                    connector_code=result.code,
                    status_code=response.status_code,
                )
        elif signed and result.code not in tx.AUTH_FAILURE_CODES:
            raise ResponseSignatureInvalid(
                "Paytm's answer carries no signature", connector_code=result.code, status_code=response.status_code
            )
        if result.code in tx.AUTH_FAILURE_CODES:
            raise ConnectorAuthenticationFailed(
                f"Paytm refused the request: {result.message}",
                connector_code=result.code,
                status_code=response.status_code,
            )
        return body, result

    def read_error(self, response: HttpResponse) -> tuple[str, str]:
        try:
            result = tx.ResultInfo.of(response.json().get("body"))
        except (ConnectorUnknownOutcome, AttributeError):
            return super().read_error(response)
        return result.code, result.message

    # -- session token: Initiate Transaction ---------------------------------------------------

    def build_session_token(self, data: PaymentData) -> ConnectorRequest:
        """POST /theia/api/v1/initiateTransaction?mid=&orderId= (Initiate Transaction API).

        Signed body: requestType Payment, mid, websiteName, orderId (our attempt reference),
        txnAmount {"value": "10.50", "currency": "INR"}, userInfo.custId, the one UPI channel
        of this payment in enablePaymentMode, and callbackUrl = Pagoflex's return URL.
        """
        body = tx.initiate_body(data, self.credentials)
        return self._signed_post(
            "/theia/api/v1/initiateTransaction", body, {"mid": self.merchant_id, "orderId": body["orderId"]}
        )

    def handle_session_token(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        """resultCode 0000 gives the txnToken; 0002 (same order initiated again) gives the order's
        token back and is just as good; any other code ends the attempt with Paytm's code."""
        body, result = self._read(response)
        token = body.get("txnToken")
        if result.code not in tx.THEIA_OK_CODES or not token:
            raise ConnectorDeclined(
                result.message or "Paytm did not initiate the transaction",
                connector_code=result.code,
                status_code=response.status_code,
            )
        return ConnectorResponse(
            status=AttemptStatus.STARTED,
            session_token=token,
            raw_status=result.status,
            code=result.code,
            message=result.message,
            connector_metadata={"paytm_order_id": tx.order_id(data), "txn_token": token},
        )

    # -- authorize: Process Transaction --------------------------------------------------------

    def build_authorize(self, data: PaymentData) -> ConnectorRequest:
        """POST /theia/api/v1/processTransaction?mid=&orderId= (Process Transaction API).

        Not signed: the txnToken in the head authenticates it. Intent sends paymentMode
        UPI_INTENT and gets a deep link; collect sends paymentMode UPI with payerAccount (VPA).
        """
        session = data.session.get(Flow.SESSION_TOKEN)
        token = getattr(session, "session_token", "") or data.connector_metadata.get("txn_token", "")
        if not token:
            raise ConnectorBadRequest("Paytm needs the txnToken of the session_token flow before authorize")
        body = tx.process_body(data, self.credentials)
        head = {**self._head(), "txnToken": token}
        return self._post(
            "/theia/api/v1/processTransaction", head, body, {"mid": self.merchant_id, "orderId": body["orderId"]}
        )

    def handle_authorize(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        body, result = self._read(response, signed=False)
        if result.code != "0000":
            return ConnectorResponse(
                status=AttemptStatus.FAILURE, raw_status=result.status, code=result.code, message=result.message
            )
        session = data.session.get(Flow.SESSION_TOKEN)
        metadata = {
            "paytm_order_id": tx.order_id(data),
            "upi_flow": data.upi.flow,
            "txn_token": getattr(session, "session_token", "") or data.connector_metadata.get("txn_token"),
        }
        if data.upi.flow == "intent":
            return self._intent_response(body, result, metadata)
        content = ((body.get("bankForm") or {}).get("redirectForm") or {}).get("content") or {}
        amount = tx.major_to_minor(content["txnAmount"], data.currency) if "txnAmount" in content else None
        return ConnectorResponse(
            status=AttemptStatus.PENDING,
            raw_status=result.status,
            code=result.code,
            message=result.message,
            next_action=NextAction(type="upi_collect_pending", data={"vpa": data.upi.vpa}),
            amount=amount,
            connector_metadata=metadata,
        )

    @staticmethod
    def _intent_response(body: dict, result: tx.ResultInfo, metadata: dict) -> ConnectorResponse:
        info = body.get("deepLinkInfo") or {}
        deep_link = str(info.get("deepLink") or "")
        if not deep_link.startswith("upi://pay?"):
            raise ConnectorUnknownOutcome(
                "Paytm accepted the intent but sent no upi://pay deep link", code="invalid_connector_response"
            )
        amount, currency = tx.deep_link_amount(deep_link)
        txn_id = str(info.get("transId") or "")
        return ConnectorResponse(
            status=AttemptStatus.AUTHENTICATION_PENDING,
            connector_reference=txn_id,
            raw_status=result.status,
            code=result.code,
            message=result.message,
            amount=amount,
            currency=currency,
            next_action=NextAction(type="upi_intent", url=deep_link, data={"qr_code_data": deep_link}),
            connector_metadata={**metadata, "txn_id": txn_id},
        )

    # -- psync: Transaction Status API ---------------------------------------------------------

    def build_psync(self, data: PaymentData) -> ConnectorRequest:
        """POST /v3/order/status (Transaction Status API), signed body {mid, orderId}."""
        return self._signed_post("/v3/order/status", {"mid": self.merchant_id, "orderId": tx.order_id(data)})

    def handle_psync(self, data: PaymentData, response: HttpResponse) -> ConnectorResponse:
        """resultStatus TXN_SUCCESS -> charged, TXN_FAILURE -> failure (227 declined by bank,
        810 failed, ...), PENDING (400, 402) -> pending; txnAmount feeds the integrity check."""
        body, result = self._read(response)
        status = tx.attempt_status(result.status)
        amount = tx.major_to_minor(body["txnAmount"], data.currency) if body.get("txnAmount") else None
        txn_id = str(body.get("txnId") or "")
        return ConnectorResponse(
            status=status,
            connector_reference=txn_id or data.connector_reference,
            raw_status=result.status,
            code=result.code,
            message=result.message,
            amount=amount,
            amount_captured=amount if status == AttemptStatus.CHARGED else None,
            connector_metadata={k: v for k, v in {"txn_id": txn_id, "bank_txn_id": body.get("bankTxnId")}.items() if v},
        )

    # -- check_connection: a status query for an order that cannot exist ----------------------

    def build_check_connection(self, data=None) -> ConnectorRequest:
        """POST /v3/order/status (Transaction Status API) for an order id Pagoflex never uses:
        nothing is charged, yet Paytm checks the MID and the request's signature first."""
        return self._signed_post("/v3/order/status", {"mid": self.merchant_id, "orderId": CONNECTION_CHECK_ORDER_ID})

    def handle_check_connection(self, data, response: HttpResponse) -> ConnectorResponse:
        """"Invalid Order Id" (334) in an answer signed with our key means Paytm is reachable and
        took the MID and the key; a refused MID or checksum raises ConnectorAuthenticationFailed."""
        _, result = self._read(response)
        return ConnectorResponse(
            status=AttemptStatus.STARTED,
            raw_status="ok",
            code=result.code,
            message="Paytm reachable; merchant ID and key accepted",
        )

    # -- refunds: Refund API and Refund Status API ---------------------------------------------

    def build_refund(self, data: RefundData) -> ConnectorRequest:
        """POST /refund/apply (Refund API): txnType REFUND, orderId, txnId (Paytm's TXNID of the
        payment), refId (our refund id) and refundAmount as a major-unit string."""
        txn_id = data.connector_reference or data.connector_metadata.get("txn_id", "")
        if not txn_id:
            raise ConnectorBadRequest("the payment's Paytm TXNID is not known yet; sync the payment first")
        if not tx.ORDER_ID_RE.match(data.refund_id):
            raise ConnectorBadRequest(f"refund id {data.refund_id!r} is not a valid Paytm refId")
        body = {
            "mid": self.merchant_id,
            "txnType": "REFUND",
            "orderId": tx.order_id(data),
            "txnId": txn_id,
            "refId": data.refund_id,
            "refundAmount": amounts.format_major(data.amount, data.currency),
        }
        return self._signed_post("/refund/apply", body)

    def handle_refund(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        """Paytm usually accepts a refund as PENDING (601); rsync follows it to the end."""
        return self._refund_response(data, *self._read(response))

    def build_rsync(self, data: RefundData) -> ConnectorRequest:
        """POST /v2/refund/status (Refund Status API), signed body {mid, orderId, refId}."""
        body = {"mid": self.merchant_id, "orderId": tx.order_id(data), "refId": data.refund_id}
        return self._signed_post("/v2/refund/status", body)

    def handle_rsync(self, data: RefundData, response: HttpResponse) -> ConnectorResponse:
        return self._refund_response(data, *self._read(response))

    @staticmethod
    def _refund_response(data: RefundData, body: dict, result: tx.ResultInfo) -> ConnectorResponse:
        amount = tx.major_to_minor(body["refundAmount"], data.currency) if body.get("refundAmount") else None
        return ConnectorResponse(
            status=tx.refund_status(result.status),
            connector_reference=str(body.get("refundId") or data.refund_connector_reference),
            raw_status=result.status,
            code=result.code,
            message=result.message,
            amount=amount,
        )

    # -- S2S notification and the customer's return --------------------------------------------

    @staticmethod
    def _form(body: bytes) -> dict[str, str] | None:
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        if any(len(values) != 1 for values in parsed.values()):
            return None  # a repeated field makes it unclear which value was signed
        return {name: values[0] for name, values in parsed.items()}

    def verify_webhook(self, *, headers: dict, body: bytes, received_at: float | None = None) -> bool:
        """Paytm's S2S notification is a form post signed with the form checksum (CHECKSUMHASH);
        it carries no timestamp, so ``received_at`` plays no part."""
        fields = self._form(body)
        return fields is not None and verify_return_params(
            fields, merchant_id=self.merchant_id, merchant_key=self.merchant_key
        )

    def parse_webhook(self, *, headers: dict, body: bytes) -> IncomingWebhook:
        fields = self._form(body)
        if not fields or not fields.get("ORDERID") or not fields.get("STATUS"):
            raise ConnectorBadRequest("not a Paytm payment notification (ORDERID and STATUS are required)")
        status = fields["STATUS"]
        currency = fields.get("CURRENCY") or "INR"
        amount = tx.major_to_minor(fields["TXNAMOUNT"], currency) if fields.get("TXNAMOUNT") else None
        return IncomingWebhook(
            # A redelivery of the same outcome has the same id, so the orchestration dedupes it.
            event_id=f"paytm:{fields['ORDERID']}:{status}:{fields.get('TXNID', '')}",
            event_type=f"payment.{status.lower()}",
            connector_reference=fields.get("TXNID", ""),
            status=tx.attempt_status(status),
            amount=amount,
            currency=currency,
            attempt_reference=fields["ORDERID"],
            code=fields.get("RESPCODE", ""),
            message=fields.get("RESPMSG", ""),
            raw_status=status,
        )

    def verify_customer_return(self, params: Mapping[str, str]) -> bool:
        """The form the customer's browser brings back to callbackUrl, checked with this account's key."""
        return verify_return_params(params, merchant_id=self.merchant_id, merchant_key=self.merchant_key)
