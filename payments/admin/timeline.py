"""The payment page's timeline: everything that happened to one payment, in time order.

State changes and staff actions (``PaymentEvent``), attempts, every connector call with its
bodies pretty-printed and refunds; the apps above payments add their own entries through
``add_timeline_source`` (the webhooks app: inbound bank webhooks, the events sent to the
merchant and each delivery try, see ``webhooks/backoffice.py``). Bodies were masked when they
were logged; they are masked again here with the account's own secrets, so a secret that
slipped into a log still never reaches a page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.urls import NoReverseMatch, reverse

from connectors import amounts
from connectors.masking import MASK, mask_card_data, mask_declared_fields, mask_headers, mask_text

OK_STATUSES = {
    "succeeded",
    "charged",
    "authorized",
    "partially_charged",
    "partially_captured",
    "processed",
    "requires_capture",
    "delivered",
    "ok",
}
BAD_STATUSES = {
    "failed",
    "failure",
    "cancelled",
    "voided",
    "error",
    "rejected_signature",
    "malformed",
    "integrity_mismatch",
    "illegal_transition",
    "unknown_account",
    "unknown_reference",
    "too_large",
}


def tone_of(status: str) -> str:
    """The colour family of a status badge: ok, bad, pending or info."""
    status = (status or "").lower()
    if status in OK_STATUSES or status.startswith("http 2"):
        return "ok"
    if status in BAD_STATUSES or status.startswith("http 5") or status.startswith("http 4"):
        return "bad"
    if status in {"pending", "processing", "started", "received", "authentication_pending"} or status.startswith(
        "requires_"
    ):
        return "pending"
    return "info"


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # event, attempt, call, webhook, refund, outbound
    title: str
    status: str = ""
    summary: str = ""
    actor: str = ""
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (label, pre-formatted text)
    link: str = ""
    order: int = 0

    @property
    def tone(self) -> str:
        return tone_of(self.status)


def remask(text: str, secrets: list[str] = ()) -> str:
    """Masking again a text that was masked when it was logged: the account's secret values and
    any card number. Idempotent, unlike ``mask_text`` (which would turn ``************4242``
    into ``********`` and lose the last four digits staff search by)."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_declared_fields(mask_card_data(text))


def pretty_body(text: str, secrets: list[str] = (), *, logged: bool = False) -> str:
    """JSON re-indented (numbers written exactly as received), anything else as it is; masked.

    ``logged``: the text comes from the call log, masked already; otherwise (a bank's raw
    webhook) every masking rule applies.
    """
    if not text:
        return ""
    mask = remask if logged else mask_text
    try:
        parsed = json.loads(text, parse_float=Decimal)
    except (ValueError, TypeError):
        return mask(text, secrets)
    decimals: list[Decimal] = []

    def swap(value):
        if isinstance(value, Decimal):
            decimals.append(value)
            return f"\u0000dec{len(decimals) - 1}\u0000"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    rendered = json.dumps(swap(parsed), indent=2, ensure_ascii=False)
    for index, value in enumerate(decimals):
        rendered = rendered.replace(f'"\\u0000dec{index}\\u0000"', str(value), 1)
    return mask(rendered, secrets)


class AccountSecrets:
    """Each account's secret credential values, decrypted once per page."""

    def __init__(self):
        self._by_account: dict[int, list[str]] = {}

    def of(self, account) -> list[str]:
        if account is None:
            return []
        if account.pk not in self._by_account:
            try:
                self._by_account[account.pk] = account.build_connector().secret_values()
            except Exception:  # an account whose connector or key is gone: nothing to match against
                self._by_account[account.pk] = []
        return self._by_account[account.pk]


def admin_link(obj) -> str:
    """The admin change page of ``obj``, or "" when it has none."""
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def _money(amount: int, currency: str) -> str:
    return f"{amounts.format_major(amount, currency)} {currency}"


# Entries other apps hold about a payment, by name: each source is called with the payment and
# the page's AccountSecrets and returns TimelineEntry objects (``add_timeline_source``).
_sources: dict[str, Callable[..., list[TimelineEntry]]] = {}


def add_timeline_source(name: str, source: Callable[..., list[TimelineEntry]]) -> None:
    """Add ``source(payment, secrets) -> [TimelineEntry]`` to every payment's timeline; an app
    above payments calls it from its admin module (registering twice under one name replaces)."""
    _sources[name] = source


def build_timeline(payment) -> list[TimelineEntry]:
    """Every entry of the payment's history, oldest first."""
    secrets = AccountSecrets()
    entries: list[TimelineEntry] = []
    entries += [_event_entry(e) for e in payment.events.select_related("attempt", "refund")]
    entries += [_attempt_entry(a) for a in payment.attempts.select_related("connector_account")]
    entries += [_call_entry(c, secrets) for c in payment.connector_calls.select_related("connector_account")]
    entries += [_refund_entry(r, payment) for r in payment.refunds.all()]
    for source in _sources.values():
        entries += source(payment, secrets)
    entries.sort(key=lambda entry: (entry.at, entry.order))
    return entries


def _event_entry(event) -> TimelineEntry:
    if event.kind == "status_change":
        title = f"Status {event.from_status or '—'} → {event.to_status}"
    elif event.kind == "created":
        title = "Payment created"
    else:
        title = event.kind.replace("_", " ").capitalize()
    subject = event.refund.public_id if event.refund_id else (event.attempt.public_id if event.attempt_id else "")
    summary = " · ".join(part for part in (event.message, subject) if part)
    return TimelineEntry(
        at=event.created_at,
        kind="event",
        title=title,
        status=event.to_status,
        summary=summary,
        actor=event.actor,
        order=3,
    )


def _attempt_entry(attempt) -> TimelineEntry:
    account = attempt.connector_account
    details = [f"account {account.label} ({account.public_id})"]
    if attempt.connector_reference:
        details.append(f"connector reference {attempt.connector_reference}")
    if attempt.error_code or attempt.error_message:
        details.append(f"error {attempt.error_code}: {attempt.error_message}".strip())
    blocks = []
    if attempt.routing_decision:
        blocks.append(("Routing decision", pretty_body(json.dumps(attempt.routing_decision))))
    return TimelineEntry(
        at=attempt.created_at,
        kind="attempt",
        title=f"Attempt {attempt.public_id} on {attempt.connector}",
        status=attempt.status,
        summary=" · ".join(details),
        blocks=blocks,
        order=1,
    )


def _call_entry(call, secrets: AccountSecrets) -> TimelineEntry:
    account_secrets = secrets.of(call.connector_account)
    status = f"HTTP {call.status_code}" if call.status_code else "no answer"
    summary = f"{call.latency_ms} ms"
    if call.error:
        summary += f" · {remask(call.error, account_secrets)}"
    headers = json.dumps(mask_headers(call.request_headers or {}, account_secrets))
    blocks = [
        ("Request headers", pretty_body(headers, account_secrets, logged=True)),
        ("Request body", pretty_body(call.request_body, account_secrets, logged=True)),
        ("Response body", pretty_body(call.response_body, account_secrets, logged=True)),
    ]
    return TimelineEntry(
        at=call.created_at,
        kind="call",
        title=f"{call.flow} · {call.method} {remask(call.url, account_secrets)}",
        status=status,
        summary=summary,
        blocks=[b for b in blocks if b[1]],
        link=admin_link(call),
        order=2,
    )


def _refund_entry(refund, payment) -> TimelineEntry:
    details = [
        part
        for part in (
            refund.reason and f"reason: {refund.reason}",
            refund.connector_reference and f"connector reference {refund.connector_reference}",
            refund.error_message and f"error {refund.error_code}: {refund.error_message}",
        )
        if part
    ]
    return TimelineEntry(
        at=refund.created_at,
        kind="refund",
        title=f"Refund {refund.public_id} of {_money(refund.amount, refund.currency)}",
        status=refund.status,
        summary=" · ".join(details),
        order=5,
    )
