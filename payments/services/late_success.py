"""Returning a late success's money when the merchant's policy says so.

A late success (``outcomes._apply_late_success``) is always flagged and announced; a merchant
whose ``late_success_policy`` is ``return`` has it given back at once: what was captured is
refunded, an authorization is voided. The task is enqueued when the late success commits; the
escalation sweep (``unresolved.py``) enqueues again any it finds not yet returned. Running it
twice never returns twice: the refund's amount check runs under the payment's lock.
"""

from __future__ import annotations

import logging

from django.db.models import Exists, OuterRef

from payments.models import LateSuccessPolicy, PaymentOperation, Refund
from payments.services.errors import PaymentError
from payments.services.outcomes import LATE_SUCCESS_PAYMENT_STATUSES
from payments.statuses import AttemptStatus

logger = logging.getLogger("pagoflex.payments")

ACTOR = "late_success_policy"


def enqueue_return(payment_pk: int) -> None:
    """Ask a worker to return it. Best effort: the escalation sweep covers a lost request."""
    from payments.tasks import return_late_success

    try:
        return_late_success.apply_async(args=[payment_pk], retry=False)
    except Exception as exc:  # the broker is down
        logger.warning("late success of payment %s not enqueued (%s); the sweep will return it", payment_pk, exc)


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
