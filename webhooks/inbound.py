"""The inbound webhook pipeline: store, verify, parse, deduplicate, correlate, apply, answer.

The raw event is committed before anything else, so nothing a bank sends is ever lost, and
each later step records its outcome on the event. Re-processing a stored event (staff, from
the admin) runs the same steps again and is idempotent: an event applied once is a duplicate
the second time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.base import IncomingWebhook
from connectors.errors import ConnectorError
from connectors.models import ConnectorAccount
from connectors.registry import UnknownConnector, get_connector_class
from payments.models import PaymentAttempt, Refund
from payments.services.outcomes import (
    Outcome,
    apply_attempt_outcome_locked,
    apply_refund_outcome_locked,
    lock_payment_with_attempts,
    locked_with_payment,
    state_change,
)
from payments.statuses import AttemptStatus, RefundStatus
from webhooks.models import AppliedWebhook, WebhookEvent, WebhookOutcome

logger = logging.getLogger("pagoflex.webhooks")

MAX_WEBHOOK_BYTES = 256 * 1024

# The HTTP answer for each outcome: the bank must stop retrying for everything but a bad
# signature (its problem to fix), a malformed body, and our own errors (worth a retry).
HTTP_STATUS = {
    WebhookOutcome.PROCESSED: 200, WebhookOutcome.DUPLICATE: 200, WebhookOutcome.INTEGRITY_MISMATCH: 200,
    WebhookOutcome.ILLEGAL_TRANSITION: 200, WebhookOutcome.UNKNOWN_REFERENCE: 202,
    WebhookOutcome.REJECTED_SIGNATURE: 401, WebhookOutcome.UNKNOWN_ACCOUNT: 404, WebhookOutcome.MALFORMED: 400,
    WebhookOutcome.TOO_LARGE: 413, WebhookOutcome.ERROR: 500, WebhookOutcome.RECEIVED: 500,
}

# Known accounts: every header is kept (signatures and timestamps live there). A refused
# oversize body keeps only its beginning; a post for an unknown account or connector keeps
# only a summary with these headers.
TOO_LARGE_KEPT_BYTES = 4 * 1024
UNKNOWN_SUMMARY_HEADERS = ("content-type", "content-length", "user-agent")
UNKNOWN_CONNECTOR = "unknown"
clock = time.time  # replaceable in tests: the unknown-account budget is per clock minute


@dataclass
class WebhookResult:
    event: WebhookEvent | None  # None: nothing was stored (an unknown account past the limit)
    outcome: str
    http_status: int


def store_event(*, connector_key: str, account: ConnectorAccount | None, headers: dict, body: bytes,
                source_address: str | None, outcome: str = WebhookOutcome.RECEIVED, detail: str = "",
                processing_count: int = 0) -> WebhookEvent:
    """Step 1: commit the raw event before anything can go wrong with it."""
    with transaction.atomic():
        return WebhookEvent.objects.create(
            connector=connector_key, connector_account=account, headers=headers, body=body,
            source_address=source_address or None, outcome=outcome, outcome_detail=detail[:1000],
            processing_count=processing_count)


def receive(*, connector_key: str, account_public_id: str | None, headers: dict, body: bytes,
            source_address: str | None, too_large: bool = False) -> WebhookResult:
    headers = {name.lower(): value for name, value in headers.items()}
    try:
        connector_class = get_connector_class(connector_key)
    except UnknownConnector:
        connector_class = None
    account = None
    if connector_class is not None and account_public_id is None:
        account_public_id = connector_class.webhook_account_id(headers=headers, body=body)
    if connector_class is not None and account_public_id:
        account = ConnectorAccount.objects.filter(public_id=account_public_id).first()
        if account is not None and account.connector_class is not connector_class:
            account = None
    if account is None:
        return _unknown_account(connector_class, headers=headers, body=body, source_address=source_address,
                                too_large=too_large)
    event = store_event(connector_key=connector_class.key, account=account, headers=headers,
                        body=body[:TOO_LARGE_KEPT_BYTES] if too_large else body, source_address=source_address,
                        processing_count=0 if too_large else 1)
    if too_large:
        return _finish(event, WebhookOutcome.TOO_LARGE,
                       f"body larger than {MAX_WEBHOOK_BYTES} bytes (the first {TOO_LARGE_KEPT_BYTES} kept)")
    return process(event, counted=True)


def _unknown_account(connector_class, *, headers: dict, body: bytes, source_address: str | None,
                     too_large: bool) -> WebhookResult:
    """A post to a URL no account owns is anybody's: not stored as it came (that would let anyone
    fill the disk, 256 KiB a request). A summary (size, content type, source, which connector)
    is kept for staff, at most ``WEBHOOK_UNKNOWN_EVENTS_PER_MINUTE`` of them a minute across all
    workers; past that nothing is stored and the answer is the same 404."""
    if not _take_unknown_slot():
        return WebhookResult(event=None, outcome=WebhookOutcome.UNKNOWN_ACCOUNT,
                             http_status=HTTP_STATUS[WebhookOutcome.UNKNOWN_ACCOUNT])
    summary_headers = {name: str(headers[name])[:200] for name in UNKNOWN_SUMMARY_HEADERS if name in headers}
    size = f"more than {MAX_WEBHOOK_BYTES}" if too_large else str(len(body))
    event = store_event(connector_key=connector_class.key if connector_class else UNKNOWN_CONNECTOR,
                        account=None, headers=summary_headers, body=b"", source_address=source_address)
    return _finish(event, WebhookOutcome.UNKNOWN_ACCOUNT,
                   f"no connector account for this URL; body of {size} bytes not kept")


def _take_unknown_slot() -> bool:
    """One of this minute's summary slots, counted in the shared cache (every worker sees it)."""
    limit = settings.WEBHOOK_UNKNOWN_EVENTS_PER_MINUTE
    if limit <= 0:
        return False
    key = f"webhooks:unknown:{int(clock() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr: count this one as the first
        cache.set(key, 1, timeout=120)
        return True


def process(event: WebhookEvent, *, counted: bool = False) -> WebhookResult:
    """Steps 2 to 6 on a stored event; safe to run again on the same event. ``counted``: the
    event was stored with this processing already counted (a first delivery)."""
    if not counted:
        WebhookEvent.objects.filter(pk=event.pk).update(processing_count=event.processing_count + 1)
    account = event.connector_account
    connector = account.build_connector()
    body = bytes(event.body)
    try:
        # Freshness is judged at the event's arrival: re-processing it later is no replay.
        valid = connector.verify_webhook(headers=event.headers, body=body,
                                         received_at=event.received_at.timestamp())
    except ConnectorError as exc:
        return _finish(event, WebhookOutcome.ERROR, exc.message)
    except Exception as exc:  # a signature header too broken to parse is a bad signature
        logger.info("webhook %s: signature check raised %r", event.public_id, exc)
        valid = False
    event.signature_valid = bool(valid)
    if not valid:
        return _finish(event, WebhookOutcome.REJECTED_SIGNATURE, "signature missing, wrong or stale")
    try:
        parsed = connector.parse_webhook(headers=event.headers, body=body)
    except Exception as exc:  # the connector could not read it: keep it for staff, tell the bank
        return _finish(event, WebhookOutcome.MALFORMED, f"could not parse the event: {exc}")
    if not all(_storable(value) for value in vars(parsed).values() if isinstance(value, str)):
        # A NUL character or a lone surrogate in an id cannot be stored in PostgreSQL (a 500).
        return _finish(event, WebhookOutcome.MALFORMED, "the event holds text that cannot be stored")
    event.event_id = parsed.event_id[:255]
    event.event_type = parsed.event_type[:100]
    event.connector_reference = parsed.connector_reference[:255]
    try:
        return _apply(event, account, parsed)
    except Exception as exc:
        logger.exception("webhook %s failed while applying", event.public_id)
        return _finish(event, WebhookOutcome.ERROR, f"{type(exc).__name__}: {exc}")


def _apply(event: WebhookEvent, account: ConnectorAccount, parsed: IncomingWebhook) -> WebhookResult:
    """Correlate, deduplicate and apply in one transaction, under the payment's and the
    target's row locks (taken by the correlating query itself)."""
    with state_change():
        target = _correlate_and_lock(account, parsed)
        if target is None:
            return _finish(event, WebhookOutcome.UNKNOWN_REFERENCE,
                           f"no attempt or refund for reference "
                           f"{parsed.connector_reference or parsed.attempt_reference!r}")
        is_refund = isinstance(target, Refund)
        event.refund = target if is_refund else None
        event.attempt = target.attempt if is_refund else target
        event.payment_id = target.payment_id
        if parsed.status is None:
            return _finish(event, WebhookOutcome.PROCESSED, f"informational event {parsed.event_type}")

        reference = parsed.connector_reference
        if is_refund and reference and reference == target.attempt.connector_reference:
            # The payment's id in a refund event is never the refund's: keep it off the refund, or
            # a later event of another refund of this payment would be applied to this one.
            reference = ""
        outcome = Outcome(status=parsed.status, connector_reference=reference,
                          raw_status=parsed.raw_status, error_code=parsed.code, error_message=parsed.message)
        mismatch = _integrity(target, parsed)
        if mismatch:
            outcome.integrity_mismatch = mismatch
        try:
            with transaction.atomic():
                AppliedWebhook.objects.create(connector_account=account, event_id=parsed.event_id, webhook_event=event)
        except IntegrityError:
            return _finish(event, WebhookOutcome.DUPLICATE, "this event was applied already")
        actor = f"webhook:{event.public_id}"
        result = (apply_refund_outcome_locked(target.payment, target, outcome, actor=actor) if is_refund
                  else apply_attempt_outcome_locked(target.payment, target, outcome, actor=actor))
        if result.integrity_mismatch:
            return _finish(event, WebhookOutcome.INTEGRITY_MISMATCH, mismatch)
        if result.illegal_transition:
            return _finish(event, WebhookOutcome.ILLEGAL_TRANSITION, result.illegal_transition)
        return _finish(event, WebhookOutcome.PROCESSED, f"{parsed.event_type}: {parsed.status}")


def _correlate_and_lock(account: ConnectorAccount, parsed: IncomingWebhook):
    """The refund or attempt the event is about, with its payment, both locked (payment first)."""
    if parsed.is_refund or isinstance(parsed.status, RefundStatus):
        refunds = locked_with_payment(Refund.objects.filter(attempt__connector_account=account)
                                      .select_related("payment__merchant", "attempt__connector_account"))
        if parsed.refund_reference:
            refund = refunds.filter(public_id=parsed.refund_reference).first()
            if refund:
                return refund
        if parsed.connector_reference:
            # Only a refund's own id: a payment's id shared by its refunds would pick one at random.
            return refunds.filter(connector_reference=parsed.connector_reference).exclude(
                attempt__connector_reference=parsed.connector_reference).first()
        return None
    matches = []
    if parsed.connector_reference:
        matches.append({"connector_reference": parsed.connector_reference})
    if parsed.attempt_reference:
        matches.append({"public_id": parsed.attempt_reference})
    for match in matches:
        # The payment's attempts are all locked and read at once: its merchant event renders them.
        this_account = PaymentAttempt.objects.filter(connector_account=account, **match).order_by("pk")
        _, attempts = lock_payment_with_attempts(this_account.values("payment_id")[:1])
        for attempt in attempts:
            if attempt.connector_account_id == account.pk and all(
                    getattr(attempt, field) == value for field, value in match.items()):
                return attempt
    return None


def _integrity(target, parsed: IncomingWebhook) -> str:
    problems = []
    if parsed.amount is not None and parsed.amount != target.amount and parsed.status not in (
            AttemptStatus.FAILURE, RefundStatus.FAILED):
        problems.append(f"amount: expected {target.amount}, webhook said {parsed.amount}")
    if parsed.currency and parsed.currency.upper() != target.currency:
        problems.append(f"currency: expected {target.currency}, webhook said {parsed.currency}")
    return f"webhook integrity check failed ({', '.join(problems)})" if problems else ""


def _storable(text: str) -> bool:
    return "\x00" not in text and text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == text


def _finish(event: WebhookEvent, outcome: str, detail: str = "") -> WebhookResult:
    event.outcome = outcome
    # The detail may quote the event (an id with a NUL in it): made storable, never a 500.
    event.outcome_detail = detail.replace("\x00", "\\0").encode("utf-8", "replace").decode("utf-8")[:1000]
    event.processed_at = timezone.now()
    event.save(update_fields=["outcome", "outcome_detail", "processed_at", "signature_valid", "event_id",
                              "event_type", "connector_reference", "payment", "attempt", "refund"])
    if outcome not in (WebhookOutcome.PROCESSED, WebhookOutcome.DUPLICATE):
        logger.info("webhook %s: %s (%s)", event.public_id, outcome, detail)
    return WebhookResult(event=event, outcome=outcome, http_status=HTTP_STATUS[outcome])
