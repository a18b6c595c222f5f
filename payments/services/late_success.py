"""Late successes: confirming one a webhook reports, and returning its money when the merchant's
policy says so.

A webhook's success for an attempt that had ended is only a claim until the bank's own lookup
(psync) confirms it (``verify_claim``): an event out of order with the bank's ledger changes
nothing. A confirmed late success (``outcomes._apply_late_success``) is always flagged and announced; a merchant
whose ``late_success_policy`` is ``return`` has it given back at once: what was captured is
refunded, an authorization is voided. The task is enqueued when the late success commits; the
escalation sweep (``unresolved.py``) enqueues again any it finds not yet returned. Running it
twice never returns twice: the refund's amount check runs under the payment's lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from connectors.base import Flow
from connectors.errors import ConnectorError
from payments.enqueue import enqueue_best_effort
from payments.models import LateSuccessPolicy, PaymentAttempt, PaymentOperation, Refund
from payments.services.connector_calls import payment_data_for, run_flow
from payments.services.errors import PaymentError
from payments.services.outcomes import (
    LATE_SUCCESS_PAYMENT_STATUSES,
    Outcome,
    apply_attempt_outcome,
    lock_payment_and_attempt,
    record_event,
    state_change,
)
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES
from payments.statuses import AttemptStatus

logger = logging.getLogger("pagoflex.payments")

ACTOR = "late_success_policy"
ENDED_ATTEMPT_STATUSES = (AttemptStatus.FAILURE, AttemptStatus.VOIDED)
# When a claim's verification learned nothing (no answer, still in progress), it is asked again after this.
CLAIM_RETRY = timedelta(minutes=5)


def enqueue_return(payment_pk: int) -> None:
    """Ask a worker to return it. Best effort: the escalation sweep covers a lost request."""
    from payments.tasks import return_late_success

    enqueue_best_effort(return_late_success, [payment_pk], what=f"returning the late success of payment {payment_pk}",
                        fallback="the escalation sweep")


# -- a late success reported by webhook: the bank's lookup confirms it ----------------------------

def enqueue_verification(attempt_pk: int) -> None:
    """Ask a worker to verify a reported late success. Best effort: the escalation sweep retries."""
    from payments.tasks import verify_late_success

    enqueue_best_effort(verify_late_success, [attempt_pk], what=f"verifying the late success of attempt {attempt_pk}",
                        fallback="the escalation sweep")


def late_success_claims(now=None):
    """Ended attempts with a sync time: a late success a webhook reported, not yet verified."""
    return PaymentAttempt.objects.filter(status__in=ENDED_ATTEMPT_STATUSES, next_sync_at__lte=now or timezone.now())


def verify_claim(*, attempt_pk: int, actor: str = "late_success_check") -> str:
    """Ask the bank (psync) about an ended attempt a webhook said succeeded, and apply its word:
    ``confirmed`` (a late success, see ``outcomes._apply_late_success``), ``dismissed`` (the
    bank says it ended as Pagoflex has it: the webhook was out of order), ``unknown`` (no answer,
    or still in progress at the bank: asked again later) or ``nothing`` (no claim)."""
    attempt = PaymentAttempt.objects.select_related("payment", "connector_account").get(pk=attempt_pk)
    if attempt.status not in ENDED_ATTEMPT_STATUSES or attempt.next_sync_at is None:
        return "nothing"
    account = attempt.connector_account
    try:
        response = run_flow(account.build_connector(), Flow.PSYNC, payment_data_for(attempt.payment, attempt),
                            account=account, payment=attempt.payment, attempt=attempt)
    except ConnectorError as exc:
        PaymentAttempt.objects.filter(pk=attempt_pk).update(next_sync_at=timezone.now() + CLAIM_RETRY)
        logger.info("late success of attempt %s not verified: %s", attempt.public_id, exc.message)
        return "unknown"
    outcome = Outcome.from_response(response)
    outcome.bank_lookup = True
    apply_attempt_outcome(attempt_pk, outcome, actor=actor)
    with state_change():
        payment, attempt = lock_payment_and_attempt(attempt_pk)
        if attempt.status not in ENDED_ATTEMPT_STATUSES or attempt.next_sync_at is None:
            return "confirmed"
        if response.status in UNSETTLED_ATTEMPT_STATUSES:
            attempt.next_sync_at = timezone.now() + CLAIM_RETRY
            attempt.save(update_fields=["next_sync_at", "updated_at"])
            return "unknown"
        attempt.next_sync_at = None
        attempt.save(update_fields=["next_sync_at", "updated_at"])
        record_event(payment, "late_success_dismissed", actor=actor, attempt=attempt,
                     message=f"the bank's lookup says {response.status} ({response.raw_status}): the reported "
                             "success was not the bank's last word")
    return "dismissed"


def verify_lost_claims(*, enqueue=enqueue_verification, limit: int = 1000) -> int:
    """Enqueue the verification of each claim due (its task was lost, or its bank did not answer)."""
    pks = list(late_success_claims().values_list("pk", flat=True)[:limit])
    for pk in pks:
        enqueue(pk)
    return len(pks)


# -- a confirmed late success: returned by the merchant's policy ---------------------------------

def return_late_success(*, payment_pk: int, actor: str = ACTOR) -> str:
    """Refund (charged) or void (authorized) a late success of a merchant whose policy is
    ``return``. Returns ``refunded``, ``voided`` or ``nothing`` (not a late success, policy
    ``notify``, or given back already)."""
    from payments.services.cancel import cancel_payment
    from payments.services.refunds import create_refund

    payment = PaymentOperation.objects.select_related("merchant").get(pk=payment_pk)
    if (not payment.late_success or payment.status not in LATE_SUCCESS_PAYMENT_STATUSES
            or payment.merchant.late_success_policy != LateSuccessPolicy.RETURN):
        return "nothing"
    attempt = payment.latest_attempt
    try:
        if attempt.status in (AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED):
            create_refund(payment_pk=payment_pk, reason="late success returned by the merchant's policy",
                          actor=actor)
            return "refunded"
        if attempt.status == AttemptStatus.AUTHORIZED:
            cancel_payment(payment_pk=payment_pk, reason="late success returned by the merchant's policy",
                           actor=actor)
            return "voided"
    except PaymentError as exc:  # refunded in full already, or the bank refused: staff see it
        logger.info("late success of payment %s not returned: %s", payment.public_id, exc)
    return "nothing"


def late_successes_to_return():
    """Ended payments with a late success, of merchants whose policy is ``return``, still holding
    money with no refund asked for: the sweep's safety net for a lost task."""
    asked = Refund.objects.filter(payment=OuterRef("pk"))  # a failed one is the staff's to look at
    return PaymentOperation.objects.filter(
        late_success=True, merchant__late_success_policy=LateSuccessPolicy.RETURN,
        status__in=LATE_SUCCESS_PAYMENT_STATUSES,
        attempts__status__in=[AttemptStatus.CHARGED, AttemptStatus.PARTIALLY_CHARGED, AttemptStatus.AUTHORIZED],
    ).exclude(Exists(asked)).distinct()


def return_lost_late_successes(*, enqueue=enqueue_return, limit: int = 1000) -> int:
    """Enqueue the return of each late success ``late_successes_to_return`` finds; how many."""
    pks = list(late_successes_to_return().values_list("pk", flat=True)[:limit])
    for pk in pks:
        enqueue(pk)
    return len(pks)
