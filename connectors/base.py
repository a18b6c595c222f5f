"""The connector contract.

A connector is a class registered in ``connectors.registry`` under its key. It translates
between Pagoflex and one bank: for each flow it supports it has two methods,

    build_<flow>(data)               -> ConnectorRequest       (URL, headers, exact body)
    handle_<flow>(data, response)    -> ConnectorResponse      (platform terms)

and the shared ``execute_request`` sends the request through the one HTTP executor. A flow
without a ``build_`` method is not supported, and asking for it raises ``FlowNotSupported``.
``call(flow, data)`` runs the three steps and the integrity check. Adapters never touch the
database: what they need from earlier flows comes in ``data``, what they want kept goes out in
``ConnectorResponse.connector_metadata``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

from connectors import amounts
from connectors.errors import (
    ConnectorAuthenticationFailed,
    ConnectorBadRequest,
    ConnectorError,
    ConnectorUnavailable,
    ConnectorUnknownOutcome,
    FlowNotSupported,
    IntegrityMismatch,
)
from connectors.http import HttpResponse, default_executor
from connectors.masking import declare_secret_fields, luhn_valid, mask_card_number
from connectors.statuses import AttemptStatus, RefundStatus


class Flow(enum.StrEnum):
    SESSION_TOKEN = "session_token"
    AUTHORIZE = "authorize"
    COMPLETE_AUTHORIZE = "complete_authorize"
    CAPTURE = "capture"
    VOID = "void"
    PSYNC = "psync"
    REFUND = "refund"
    RSYNC = "rsync"
    TOKENIZE = "tokenize"
    VERIFY = "verify"
    CHECK_CONNECTION = "check_connection"


class CurrencyUnit(enum.StrEnum):
    MINOR = "minor"
    MAJOR = "major"


# ---------------------------------------------------------------------------------------------
# What Pagoflex hands a connector
# ---------------------------------------------------------------------------------------------


@dataclass(repr=False)
class Card:
    """Card data in flight. Never stored, never logged: repr shows only brand and last four."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str = ""
    holder_name: str = ""

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        return card_brand(self.number)

    @property
    def exp_year_2(self) -> str:
        return f"{self.exp_year % 100:02d}"

    def __repr__(self) -> str:
        return f"Card({self.brand} {mask_card_number(self.number)} {self.exp_month:02d}/{self.exp_year})"


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or (number[:4].isdigit() and 2221 <= int(number[:4]) <= 2720):
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith(("6011", "65")):
        return "discover"
    if number[:4].isdigit() and 3528 <= int(number[:4]) <= 3589:
        return "jcb"
    return "unknown"


@dataclass
class Upi:
    flow: str  # "collect" or "intent"
    vpa: str = ""


@dataclass
class Customer:
    id: str = ""
    email: str = ""
    name: str = ""
    phone: str = ""
    country: str = ""
    ip_address: str = ""


@dataclass
class PaymentData:
    """Everything a payment flow may need. Amounts are minor units (int)."""

    payment_id: str
    attempt_reference: str  # unique per attempt; the reference the bank sees
    amount: int
    currency: str
    capture_method: str = "automatic"
    payment_method_type: str = "card"
    card: Card | None = None
    upi: Upi | None = None
    payment_token: str = ""  # a saved payment method's gateway token
    customer: Customer = field(default_factory=Customer)
    description: str = ""
    metadata: dict = field(default_factory=dict)
    return_url: str = ""  # Pagoflex's return endpoint for this payment (customer redirects)
    webhook_url: str = ""  # Pagoflex's inbound webhook endpoint for this connector account
    connector_reference: str = ""  # the bank's id of the transaction, after authorize
    connector_metadata: dict = field(default_factory=dict)  # what earlier flows asked to keep
    amount_to_capture: int | None = None
    amount_captured: int = 0
    session: dict = field(default_factory=dict)  # results of pre-authorize flows, by Flow
    redirect_params: dict = field(default_factory=dict)  # what the customer's browser brought back
    browser_info: dict = field(default_factory=dict)
    three_ds: bool = False
    setup_future_usage: bool = False


@dataclass
class RefundData:
    refund_id: str  # also the reference the bank sees
    payment_id: str
    attempt_reference: str
    connector_reference: str  # the payment's id at the bank
    amount: int
    currency: str
    payment_amount: int
    reason: str = ""
    refund_connector_reference: str = ""  # the refund's id at the bank, after refund
    connector_metadata: dict = field(default_factory=dict)
    webhook_url: str = ""


# ---------------------------------------------------------------------------------------------
# What a connector answers
# ---------------------------------------------------------------------------------------------


@dataclass
class NextAction:
    """What the customer must do before the payment can go on."""

    type: str  # "redirect_to_url" | "upi_intent" | "upi_collect_pending"
    url: str = ""
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"type": self.type, "url": self.url, **({"data": self.data} if self.data else {})}


@dataclass
class ConnectorResponse:
    """A flow's outcome in the platform's terms.

    ``amount``/``currency`` are what the bank says it processed, in minor units; when set,
    ``Connector.call`` compares them with what was asked (the integrity check).
    """

    status: AttemptStatus | RefundStatus
    connector_reference: str = ""
    next_action: NextAction | None = None
    raw_status: str = ""
    code: str = ""
    message: str = ""
    amount: int | None = None
    currency: str | None = None
    amount_captured: int | None = None
    # The bank says the payment is captured but not how much (an Authipay pre-auth read alone):
    # Pagoflex keeps the captured amount it knows, never the whole amount (docs/architecture.md,
    # unknown outcomes), until an answer with the figure.
    amount_captured_unknown: bool = False
    connector_metadata: dict = field(default_factory=dict)
    session_token: str = ""
    payment_token: str = ""
    retryable_elsewhere: bool = False  # a decline another connector may well approve


@dataclass
class ConnectorRequest:
    """One HTTP request, with the exact body bytes that will be sent (signatures cover them)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: tuple[float, float] | None = None  # (connect, read); None = settings

    @property
    def body_text(self) -> str:
        return self.body.decode("utf-8") if self.body else ""


def json_dumps(payload: Any) -> bytes:
    """The one JSON encoding of request bodies: compact, UTF-8, order as given.

    A ``Decimal`` becomes a JSON number written exactly as the Decimal reads (``12.04``, never
    a float's ``12.039999``): each one is swapped for a marker, and the marker's quoted text is
    replaced by the number after encoding.
    """
    decimals: list[Decimal] = []

    def swap(value):
        if isinstance(value, Decimal):
            decimals.append(value)
            return f"\u0000dec{len(decimals) - 1}\u0000"
        if isinstance(value, float):
            raise TypeError("floats are not sent to connectors; use Decimal or int")
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(payload), separators=(",", ":"), ensure_ascii=False)
    for index, value in enumerate(decimals):
        text = text.replace(f'"\\u0000dec{index}\\u0000"', f"{value:f}", 1)
    return text.encode("utf-8")


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool = True
    required: bool = True
    help_text: str = ""
    min_length: int = 0
    max_length: int = 512
    allowed_lengths: tuple[int, ...] = ()


@dataclass
class IncomingWebhook:
    """A bank's webhook, parsed by its connector."""

    event_id: str
    event_type: str
    # The bank's id of what the event is about: the refund's own id for a refund event (never
    # the id of the payment it refunds), the transaction's id otherwise.
    connector_reference: str
    status: AttemptStatus | RefundStatus | None
    amount: int | None = None
    currency: str | None = None
    is_refund: bool = False
    refund_reference: str = ""  # our refund id, when the bank echoes it
    attempt_reference: str = ""  # our attempt reference, when the bank echoes it
    code: str = ""
    message: str = ""
    raw_status: str = ""


def data_secret_values(data) -> list[str]:
    """The secrets a flow's data carries: the card number and CVC, a saved card's gateway token."""
    card = getattr(data, "card", None)
    values = [card.number, card.cvc] if card is not None else []
    values.append(getattr(data, "payment_token", ""))
    return [str(value) for value in values if value]


# ---------------------------------------------------------------------------------------------
# What a connector can learn from its bank after a lost answer
# ---------------------------------------------------------------------------------------------


class RecoveryCase(enum.StrEnum):
    """The faults every supported flow is tried with by the conformance matrix."""

    ANSWER_LOST = "answer_lost"  # the bank acted, its answer was cut (truncated)
    RESET_BEFORE_BANK = "reset_before_bank"  # the connection dropped before the bank did anything
    WEBHOOK_LOST = "webhook_lost"  # the bank settled, its webhook never came
    WEBHOOK_DUPLICATED = "webhook_duplicated"  # the same event twice
    WEBHOOK_BEFORE_ANSWER = "webhook_before_answer"  # the event is applied before the flow's answer
    LATE_OPPOSITE_WEBHOOK = "late_opposite_webhook"  # after the outcome, an event saying the opposite


@dataclass(frozen=True)
class Recovery:
    """How a connector finds the bank's truth when an answer or a webhook is lost: read by the
    sync services, the conformance matrix and the table in docs/connectors.md.

    ``unrecoverable`` maps ``"<flow>/<case>"`` (a ``Flow`` value and a ``RecoveryCase`` value) to
    why the connector cannot end in the bank's state there; the matrix skips those cases with
    that reason, and every other case of a supported flow must pass.
    """

    # psync reports the amount captured so far (not just a status): a lost capture answer is
    # settled with the bank's figure, never with the authorized amount.
    captured_amount_on_sync: bool = False
    # psync finds a payment by Pagoflex's attempt reference when the authorize answer was lost.
    payment_by_reference: bool = False
    # rsync finds a refund by Pagoflex's refund id when the refund answer was lost.
    refund_by_reference: bool = False
    # A "no such transaction" answer to one of those lookups is the bank's word: after
    # ``not_found_grace`` the attempt or refund fails with ``never_reached_bank``.
    not_found_is_final: bool = False
    not_found_grace: timedelta = timedelta(minutes=5)
    # The flows whose outcome the bank also tells by webhook: the webhook cases of the matrix
    # apply to those only (the others have no webhook to lose, duplicate or reorder).
    webhook_flows: frozenset = frozenset()
    unrecoverable: Mapping[str, str] = field(default_factory=dict)

    def why_unrecoverable(self, flow: Flow | str, case: RecoveryCase | str) -> str:
        return self.unrecoverable.get(f"{Flow(flow).value}/{RecoveryCase(case).value}", "")


# The recovery matrix of the conformance suite: these flows x every RecoveryCase.
RECOVERY_FLOWS = (Flow.AUTHORIZE, Flow.CAPTURE, Flow.VOID, Flow.REFUND)
WEBHOOK_CASES = frozenset({RecoveryCase.WEBHOOK_LOST, RecoveryCase.WEBHOOK_DUPLICATED,
                           RecoveryCase.WEBHOOK_BEFORE_ANSWER, RecoveryCase.LATE_OPPOSITE_WEBHOOK})


# ---------------------------------------------------------------------------------------------
# The connector base class
# ---------------------------------------------------------------------------------------------

# Flows whose answer carries an amount that must match what was asked.
_INTEGRITY_FLOWS = {Flow.AUTHORIZE, Flow.COMPLETE_AUTHORIZE, Flow.PSYNC, Flow.CAPTURE, Flow.REFUND, Flow.RSYNC}


class Connector:
    """Base class of every adapter. Subclasses set the class attributes and the flow methods."""

    key: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    display_name: ClassVar[str] = ""
    currency_unit: ClassVar[CurrencyUnit] = CurrencyUnit.MINOR
    default_base_url: ClassVar[str] = ""
    content_type: ClassVar[str] = "application/json"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    # Dotted paths of the bank's JSON fields that hold a secret other than a credential or the
    # card number and CVC (which every connector's logs mask by name and value): a gateway token
    # that can charge the card again, a one-time password. Masked in every call log, admin page
    # and log line (connectors/masking.py).
    secret_fields: ClassVar[tuple[str, ...]] = ()
    payment_method_types: ClassVar[frozenset[str]] = frozenset({"card"})
    currencies: ClassVar[frozenset[str] | None] = None  # None: every currency Pagoflex knows
    supports_manual_capture: ClassVar[bool] = True
    supports_multiple_captures: ClassVar[bool] = False
    supports_partial_refunds: ClassVar[bool] = True
    # Flows the orchestration runs, in order, before authorize; their results reach
    # authorize in ``PaymentData.session`` keyed by flow.
    pre_authorize_flows: ClassVar[tuple[Flow, ...]] = ()
    # Banks without a ping endpoint check the connection by looking up an id that cannot exist:
    # a 404 then proves the bank was reached and accepted the credentials (401/403 still raise).
    check_connection_not_found_means_reachable: ClassVar[bool] = False
    # The bank may ask the customer to authenticate (3-D Secure or the like) before it decides;
    # read by the capability table in docs/connectors.md.
    supports_three_ds: ClassVar[bool] = False
    # What sync can learn after a lost answer (see ``Recovery``); the default learns nothing
    # beyond the status of a transaction whose id Pagoflex already has.
    recovery: ClassVar[Recovery] = Recovery()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declare_secret_fields(cls.secret_fields)

    def __init__(self, credentials: dict, base_url: str = "", http=None):
        self.credentials = dict(credentials)
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.http = http or default_executor()
        self.calls: list = []  # ConnectorCallRecord of every HTTP exchange, for the call log
        # The secrets of the flow being run (its card number, CVC, payment token), masked in its
        # call log wherever they appear, whatever the bank names their fields.
        self.flow_secrets: list[str] = []

    # -- capabilities --------------------------------------------------------------------------

    @classmethod
    def supports(cls, flow: Flow | str) -> bool:
        return callable(getattr(cls, f"build_{Flow(flow).value}", None))

    @classmethod
    def supported_flows(cls) -> list[Flow]:
        return [flow for flow in Flow if cls.supports(flow)]

    @classmethod
    def recovery_case_skipped(cls, flow: Flow, case: RecoveryCase) -> str:
        """Why the recovery matrix does not run ``flow`` x ``case`` for this connector, from its
        declarations; "" when it runs (and must end where the bank's ledger says)."""
        if not cls.supports(flow):
            return f"no {flow.value} flow"
        if flow in (Flow.CAPTURE, Flow.VOID) and not cls.supports_manual_capture:
            return "no manual capture"
        if flow == Flow.REFUND and not cls.supports(Flow.RSYNC):
            return "no rsync"
        if case in WEBHOOK_CASES and flow not in cls.recovery.webhook_flows:
            return f"the bank sends no {flow.value} webhook"
        why = cls.recovery.why_unrecoverable(flow, case)
        return f"declared unrecoverable: {why}" if why else ""

    @classmethod
    def supports_webhooks(cls) -> bool:
        """True when the connector reads its bank's webhooks (it overrides verify and parse)."""
        return cls.verify_webhook is not Connector.verify_webhook and cls.parse_webhook is not Connector.parse_webhook

    @classmethod
    def supports_currency(cls, currency: str) -> bool:
        return amounts.is_supported_currency(currency) and (cls.currencies is None or currency in cls.currencies)

    @classmethod
    def validate_credentials(cls, credentials: dict) -> dict[str, str]:
        """Errors by field name; empty when the credentials are complete and well formed."""
        errors: dict[str, str] = {}
        declared = {f.name for f in cls.credential_fields}
        for name in credentials:
            if name not in declared:
                errors[name] = f"{cls.key} does not use a credential named {name!r}"
        for spec in cls.credential_fields:
            value = credentials.get(spec.name, "")
            if not isinstance(value, str):
                errors[spec.name] = "must be text"
            elif not value:
                if spec.required:
                    errors[spec.name] = f"{spec.label} is required"
            elif spec.allowed_lengths and len(value) not in spec.allowed_lengths:
                lengths = ", ".join(str(n) for n in spec.allowed_lengths)
                errors[spec.name] = f"{spec.label} must be {lengths} characters long"
            elif len(value) < spec.min_length or len(value) > spec.max_length:
                errors[spec.name] = f"{spec.label} must be {spec.min_length} to {spec.max_length} characters"
        return errors

    def secret_values(self) -> list[str]:
        """Credential values to mask wherever they might appear."""
        secret_names = {f.name for f in self.credential_fields if f.secret}
        return [str(v) for k, v in self.credentials.items() if k in secret_names and v] + self.flow_secrets

    # -- the three steps -----------------------------------------------------------------------

    def build_request(self, flow: Flow, data) -> ConnectorRequest:
        builder = getattr(self, f"build_{Flow(flow).value}", None)
        if not callable(builder):
            raise FlowNotSupported(f"{Flow(flow).value} is not supported by this connector ({self.key})")
        return builder(data)

    def execute_request(self, request: ConnectorRequest, flow: Flow) -> HttpResponse:
        return self.http.send(request, flow=Flow(flow).value, connector=self)

    def handle_response(self, flow: Flow, data, response: HttpResponse) -> ConnectorResponse:
        if (Flow(flow) == Flow.CHECK_CONNECTION and response.status_code == 404
                and self.check_connection_not_found_means_reachable):
            return getattr(self, f"handle_{Flow.CHECK_CONNECTION.value}")(data, response)
        if not response.ok:
            raise self.build_error(response)
        return getattr(self, f"handle_{Flow(flow).value}")(data, response)

    def call(self, flow: Flow, data) -> ConnectorResponse:
        """Build, send and interpret one flow, then check the answer's integrity."""
        flow = Flow(flow)
        self.flow_secrets = data_secret_values(data)
        try:
            request = self.build_request(flow, data)
            response = self.execute_request(request, flow)
            result = self.handle_response(flow, data, response)
        finally:
            self.flow_secrets = []
        if flow in _INTEGRITY_FLOWS:
            self.check_integrity(flow, data, result)
        return result

    # -- common parts a connector overrides ----------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {}

    def url(self, path: str, query: dict | None = None) -> str:
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{self.base_url}{path}{suffix}"

    def json_request(self, method: str, path: str, payload=None, *, query=None, headers=None) -> ConnectorRequest:
        body = json_dumps(payload) if payload is not None else None
        all_headers = {"Accept": "application/json", **self.auth_headers(), **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = self.content_type
        return ConnectorRequest(method=method, url=self.url(path, query), headers=all_headers, body=body)

    def build_error(self, response: HttpResponse) -> ConnectorError:
        """Turn a non-2xx answer into the typed error that says whether a retry is safe."""
        code, message = self.read_error(response)
        kwargs = {"connector_code": code, "status_code": response.status_code}
        status = response.status_code
        if status in (401, 403):
            return ConnectorAuthenticationFailed(message or "the connector refused the credentials", **kwargs)
        if status == 503:
            return ConnectorUnavailable(message or "the connector is unavailable", **kwargs)
        if status >= 500:
            return ConnectorUnknownOutcome(message or f"the connector failed with HTTP {status}", **kwargs)
        return ConnectorBadRequest(message or f"the connector rejected the request with HTTP {status}", **kwargs)

    def read_error(self, response: HttpResponse) -> tuple[str, str]:
        """(code, message) from an error body; connectors with their own shape override it."""
        try:
            body = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            return "", ""
        error = body.get("error", body) if isinstance(body, dict) else {}
        if not isinstance(error, dict):
            return "", str(error)
        return str(error.get("code", "")), str(error.get("message", ""))

    def is_not_found(self, error: ConnectorError) -> bool:
        """True when ``error`` is the bank saying the transaction asked about does not exist
        (HTTP 404 by default); read only for lookups by Pagoflex's own reference."""
        return isinstance(error, ConnectorBadRequest) and error.status_code == 404

    # -- amounts -------------------------------------------------------------------------------

    def to_connector_amount(self, amount_minor: int, currency: str):
        """Minor units to this connector's unit: int for minor, Decimal for major."""
        if self.currency_unit == CurrencyUnit.MINOR:
            return amount_minor
        return amounts.to_major(amount_minor, currency)

    def from_connector_amount(self, value, currency: str) -> int:
        if self.currency_unit == CurrencyUnit.MINOR:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConnectorUnknownOutcome(f"connector sent a non-integer amount {value!r}",
                                              code="invalid_connector_response")
            return value
        try:
            return amounts.to_minor(value, currency)
        except amounts.AmountError as exc:
            raise ConnectorUnknownOutcome(str(exc), code="invalid_connector_response") from None

    # -- integrity -----------------------------------------------------------------------------

    def check_integrity(self, flow: Flow, data, result: ConnectorResponse) -> None:
        expected_amount = self.expected_amount(flow, data)
        mismatches = {}
        if result.amount is not None and expected_amount is not None and result.amount != expected_amount:
            mismatches["amount"] = (expected_amount, result.amount)
        if result.currency and result.currency.upper() != data.currency.upper():
            mismatches["currency"] = (data.currency, result.currency)
        if mismatches:
            raise IntegrityMismatch(mismatches, result)

    def expected_amount(self, flow: Flow, data) -> int | None:
        """The amount a flow's answer must report; connectors whose sync reports another override it."""
        if flow == Flow.CAPTURE:
            return data.amount_to_capture if data.amount_to_capture is not None else data.amount
        return data.amount

    # -- webhooks ------------------------------------------------------------------------------

    def verify_webhook(self, *, headers: dict, body: bytes, received_at: float | None = None) -> bool:
        """True when the webhook's signature is right, checked in constant time with the
        account's own credentials (``self.credentials``); headers have lower-case names.

        ``received_at``: when Pagoflex received the event (Unix seconds; None: now). A signed
        timestamp is judged fresh or stale against it, so an event staff re-process long after
        it arrived (say, once a mistyped secret is corrected) is judged as it arrived; a replay
        is a new arrival, judged against its own time."""
        raise FlowNotSupported(f"webhooks are not supported by this connector ({self.key})")

    def parse_webhook(self, *, headers: dict, body: bytes) -> IncomingWebhook:
        raise FlowNotSupported(f"webhooks are not supported by this connector ({self.key})")

    @classmethod
    def webhook_account_id(cls, *, headers: dict, body: bytes) -> str | None:
        """For banks that cannot be given a per-account URL: the connector account's public id
        named in the event (a header or a payload field), or None."""
        return None

    def webhook_acknowledgement(self, outcome: str) -> tuple[int, str, str] | None:
        """(status, content type, body) the bank expects back, or None for Pagoflex's default."""
        return None


__all__ = [
    "Card", "Connector", "ConnectorRequest", "ConnectorResponse", "CredentialField", "CurrencyUnit",
    "Customer", "Flow", "HttpResponse", "IncomingWebhook", "NextAction", "PaymentData", "RECOVERY_FLOWS", "Recovery",
    "RecoveryCase",
    "RefundData",
    "Upi", "card_brand", "json_dumps", "luhn_valid",
]
