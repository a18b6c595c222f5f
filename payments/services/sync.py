"""Asking the connector what happened: payment sync (psync) and refund sync (rsync).

Sync is how an unknown outcome ends (see the state table in docs/architecture.md): psync
brings the attempt's status and, where the connector reports it, the captured total, which
settles lost captures and lost voids; rsync brings a refund's status, found by the bank's id or,
when the refund's answer was lost, by Pagoflex's refund id. A lookup by Pagoflex's own
reference that the bank answers "no such transaction" is its word when the connector declares
it so (``Recovery.not_found_is_final``): after the connector's grace period the attempt or the
refund fails with ``never_reached_bank``.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connectors.base import Flow
from connectors.errors import ConnectorDeclined, ConnectorError, FlowNotSupported
from payments.models import PaymentAttempt, PaymentOperation, Refund
from payments.services.connector_calls import payment_data_for, refund_data_for, run_flow
from payments.services.outcomes import Outcome, apply_attempt_outcome, apply_refund_outcome
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES
from payments.statuses import AttemptStatus, RefundStatus

# Attempts worth asking about: unsettled ones, and authorized ones (a capture may be unknown).
SYNCABLE_ATTEMPT_STATUSES = UNSETTLED_ATTEMPT_STATUSES | {AttemptStatus.AUTHORIZED, AttemptStatus.PARTIALLY_CHARGED}

MAX_SYNC_BACKOFF = timedelta(hours=1)


def sync_backoff(sync_count: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min, ... capped at an hour."""
    return min(timedelta(seconds=30) * (2 ** min(sync_count, 20)), MAX_SYNC_BACKOFF)


def never_reached_bank(connector, error: ConnectorError, *, since) -> bool:
    """True when a lookup by Pagoflex's own reference answered "no such transaction", the
    connector declares that answer authoritative, and the grace it gives a slow bank is over."""
    recovery = connector.recovery
    return (recovery.not_found_is_final and connector.is_not_found(error)
            and timezone.now() - since >= recovery.not_found_grace)


def _never_reached(status: str, connector) -> Outcome:
    grace = int(connector.recovery.not_found_grace.total_seconds())
    return Outcome(status=status, error_code="never_reached_bank",
                   error_message=f"{connector.display_name} has no such transaction {grace} s after it was sent: "
                                 "the request never reached the bank, nothing was charged")


def sync_attempt(*, attempt_pk: int, actor: str = "sync", redirect_params: dict | None = None) -> PaymentAttempt:
    """Ask the connector about one attempt and apply the answer.

    With ``redirect_params`` (the customer came back from an authentication page carrying the
    bank's result) and a connector that has a complete-authorize flow, that flow finishes the
    payment instead. Only the bank's own decline fails it there: a return the bank could not use
    (no result, a result that is not this payment's) says nothing about the payment.

    A psync's plain ``pending`` for an attempt waiting for the customer (a UPI intent, a 3-D
    Secure page) keeps it waiting with its next action: the customer may still be paying.
    """
    attempt = PaymentAttempt.objects.select_related("payment", "connector_account").get(pk=attempt_pk)
    if attempt.status not in SYNCABLE_ATTEMPT_STATUSES:
        return attempt
    payment = attempt.payment
    account = attempt.connector_account
    connector = account.build_connector()
    data = payment_data_for(payment, attempt)
    flow = Flow.PSYNC
    if (redirect_params and attempt.status == AttemptStatus.AUTHENTICATION_PENDING
            and connector.supports(Flow.COMPLETE_AUTHORIZE)):
        flow = Flow.COMPLETE_AUTHORIZE
        data.redirect_params = dict(redirect_params)
    if not connector.supports(flow):
        raise FlowNotSupported("sync is not supported by this connector")
    try:
        outcome = Outcome.from_response(run_flow(connector, flow, data, account=account, payment=payment,
                                                 attempt=attempt))
    except FlowNotSupported:
        raise
    except ConnectorError as exc:
        outcome = Outcome.from_error(exc, failed_status=AttemptStatus.FAILURE, unknown_status=None)
        if not outcome.integrity_mismatch and (flow == Flow.PSYNC or not isinstance(exc, ConnectorDeclined)):
            # A sync that failed, or a customer's return the bank could not use, tells us nothing
            # about the payment: keep its status, try later.
            outcome.status = None
            if (not attempt.connector_reference and attempt.status in (AttemptStatus.STARTED, AttemptStatus.PENDING)
                    and never_reached_bank(connector, exc, since=attempt.created_at)):
                outcome = _never_reached(AttemptStatus.FAILURE, connector)
    if (flow == Flow.PSYNC and outcome.status == AttemptStatus.PENDING
            and attempt.status == AttemptStatus.AUTHENTICATION_PENDING):
        # "Pending" is all some banks say while the customer pays (Paytm for a UPI intent):
        # nothing new, so the customer keeps the app link until the bank settles or it expires.
        outcome.status = None
    with transaction.atomic():
        PaymentAttempt.objects.filter(pk=attempt.pk).update(
            sync_count=F("sync_count") + 1, next_sync_at=timezone.now() + sync_backoff(attempt.sync_count + 1))
    apply_attempt_outcome(attempt.pk, outcome, actor=actor)
    return PaymentAttempt.objects.get(pk=attempt.pk)


def sync_payment(*, payment_pk: int, actor: str = "sync") -> PaymentOperation:
    attempt = PaymentAttempt.objects.filter(payment_id=payment_pk).order_by("-created_at", "-id").first()
    if attempt is not None and attempt.status in SYNCABLE_ATTEMPT_STATUSES:
        sync_attempt(attempt_pk=attempt.pk, actor=actor)
    return PaymentOperation.objects.get(pk=payment_pk)


def sync_refund(*, refund_pk: int, actor: str = "sync") -> Refund:
    refund = Refund.objects.select_related("payment", "attempt__connector_account").get(pk=refund_pk)
    if refund.status != RefundStatus.PENDING:
        return refund
    account = refund.attempt.connector_account
    connector = account.build_connector()
    try:
        outcome = Outcome.from_response(run_flow(connector, Flow.RSYNC, refund_data_for(refund), account=account,
                                                 payment=refund.payment, attempt=refund.attempt, refund=refund))
    except FlowNotSupported:
        raise
    except ConnectorError as exc:
        outcome = Outcome.from_error(exc, failed_status=RefundStatus.FAILED, unknown_status=None)
        if not outcome.integrity_mismatch:
            outcome.status = None
            if not refund.connector_reference and never_reached_bank(connector, exc, since=refund.created_at):
                outcome = _never_reached(RefundStatus.FAILED, connector)
    with transaction.atomic():
        Refund.objects.filter(pk=refund.pk).update(
            sync_count=F("sync_count") + 1, next_sync_at=timezone.now() + sync_backoff(refund.sync_count + 1))
    apply_refund_outcome(refund.pk, outcome, actor=actor)
    return Refund.objects.get(pk=refund.pk)
