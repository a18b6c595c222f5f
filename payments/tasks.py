"""Celery tasks for payments: the sync sweeps, expiry and housekeeping.

Each sweep task only claims and enqueues (see ``payments/services/sweeps.py``); the per-item
tasks call the same services the API and the admin use.
"""

from datetime import datetime

from celery import shared_task

from payments.services import sweeps


@shared_task(name="payments.sweep_payment_syncs")
def sweep_payment_syncs() -> int:
    """Claim due pending and customer-action attempts; one ``payments.sync_attempt`` task each."""
    return sweeps.sweep_due_attempts(enqueue=lambda pk, token: sync_attempt.delay(pk, token.isoformat()))


@shared_task(name="payments.sync_attempt")
def sync_attempt(attempt_pk: int, token: str) -> str:
    """Sync one claimed attempt (and expire it if it waited for the customer too long)."""
    return sweeps.sync_claimed_attempt(attempt_pk=attempt_pk, token=datetime.fromisoformat(token))


@shared_task(name="payments.sweep_refund_syncs")
def sweep_refund_syncs() -> int:
    """Claim due pending refunds; one ``payments.sync_refund`` task each."""
    return sweeps.sweep_due_refunds(enqueue=lambda pk, token: sync_refund.delay(pk, token.isoformat()))


@shared_task(name="payments.sync_refund")
def sync_refund(refund_pk: int, token: str) -> str:
    """Sync one claimed refund."""
    return sweeps.sync_claimed_refund(refund_pk=refund_pk, token=datetime.fromisoformat(token))


@shared_task(name="payments.expire_abandoned_payments")
def expire_abandoned_payments() -> int:
    """Make payments waiting for the customer past their time-to-live due, then sweep them:
    each is synced once more and expired if still not done."""
    made_due = sweeps.make_expired_attempts_due()
    if made_due:
        sweep_payment_syncs.delay()
    return made_due


@shared_task(name="payments.purge_idempotency_records")
def purge_idempotency_records() -> int:
    """Forget Idempotency-Key answers past their retention."""
    return sweeps.purge_idempotency_records()


@shared_task(name="payments.return_late_success")
def return_late_success(payment_pk: int) -> str:
    """Refund or void a late success, as the merchant's late_success_policy says."""
    from payments.services.late_success import return_late_success as return_it

    return return_it(payment_pk=payment_pk)


@shared_task(name="payments.escalate_unresolved")
def escalate_unresolved() -> int:
    """Escalate payments and refunds whose outcome is still unknown after UNRESOLVED_ESCALATE_AFTER;
    verify again late successes reported by webhook and not verified yet, and return again any a
    merchant's policy returns whose task was lost."""
    from payments.services.late_success import return_lost_late_successes, verify_lost_claims
    from payments.services.unresolved import escalate_unresolved as escalate

    verify_lost_claims()
    return_lost_late_successes()
    return escalate()


@shared_task(name="payments.verify_late_success")
def verify_late_success(attempt_pk: int) -> str:
    """Ask the bank whether a success a webhook reported for an ended attempt is its word."""
    from payments.services.late_success import verify_claim

    return verify_claim(attempt_pk=attempt_pk)
