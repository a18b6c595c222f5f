"""The recovery matrix of the conformance suite: every flow a connector supports, tried with
every way an answer or a webhook goes wrong (``connectors.base.RecoveryCase``), must end where
the bank's own ledger (the simulator's state) says: payment status, amounts captured, refunded
and still capturable.

    flows (authorize, capture, void, refund) x cases (answer lost after the bank acted,
    connection reset before the bank acted, webhook lost, webhook duplicated, webhook before
    the answer, late opposite webhook) = 24 cases per connector

A case is skipped only by a declaration: the flow is not supported (no ``build_<flow>``), the
bank sends no webhook for the flow (``Recovery.webhook_flows``), or the connector declares the
case unrecoverable (``Recovery.unrecoverable``, with why). docs/connectors.md shows all three.

A connector's conformance class provides ``bank_ledger`` (the simulator's view of a payment,
in platform terms) and, when its bank sends webhooks, ``opposite_webhook`` and the refund hooks.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.base import RECOVERY_FLOWS, WEBHOOK_CASES, Flow, RecoveryCase
from connectors.testing.conformance_support import (
    Bank,
    CaughtWebhook,
    Ledger,
    PaymentInput,
    settle_payment,
    settle_refund,
)
from payments.models import PaymentAttempt, PaymentOperation, Refund
from payments.services import PaymentError, cancel_payment, capture_payment, create_refund, sync_payment
from payments.services.connector_calls import account_webhook_url
from payments.services.outcomes import Outcome, apply_attempt_outcome, apply_refund_outcome
from payments.statuses import AttemptStatus, PaymentStatus, RefundStatus
from webhooks.inbound import receive
from webhooks.models import WebhookOutcome

MATRIX_FLOWS = RECOVERY_FLOWS
PART = 2000  # the partial capture or refund of a matrix case (the suite's payments are 5000)


def matrix_size() -> int:
    return len(MATRIX_FLOWS) * len(RecoveryCase)


class RecoveryMatrix:
    """Mixed into ``ConnectorConformance``: one parametrized test, ``flow x case``."""

    # A card (or method) whose refunds the bank leaves pending and settles later with a webhook;
    # None: every refund does (Banco X).
    pending_refunds: PaymentInput | None = None

    # -- hooks a connector's conformance class provides ------------------------------------------

    def bank_ledger(self, bank: Bank, payment: PaymentOperation) -> Ledger | None:
        """The payment as the simulator holds it (found by the attempt reference), in platform
        terms; None when the bank has no such transaction."""
        raise NotImplementedError(f"{type(self).__name__} must say how to read its simulator's ledger (bank_ledger)")

    def opposite_webhook(self, bank: Bank, caught: CaughtWebhook) -> CaughtWebhook:
        """The bank's event saying the opposite of ``caught`` (a failure after a success), signed
        as the bank signs."""
        raise NotImplementedError(f"{type(self).__name__} declares webhooks but no opposite_webhook")

    def settle_refund_at_bank(self, bank: Bank, refund: Refund) -> None:
        """Make the bank settle a pending refund and send its webhook. Default: it does on its own."""

    # -- the matrix ------------------------------------------------------------------------------

    @pytest.mark.parametrize("case", list(RecoveryCase), ids=[case.value for case in RecoveryCase])
    @pytest.mark.parametrize("flow", MATRIX_FLOWS, ids=[flow.value for flow in MATRIX_FLOWS])
    def test_recovery_matrix_ends_where_the_banks_ledger_says(self, flow, case, bank, account, webhooks):
        self.require_recovery(flow, case)
        if case in WEBHOOK_CASES:
            payment = self.webhook_case(flow, case, bank, account, webhooks)
        else:
            payment = self.lost_answer_case(flow, case, bank, account)
        self.assert_matches_the_bank(bank, payment)

    def require_recovery(self, flow: Flow, case: RecoveryCase) -> None:
        """Skip, saying which declaration, when the connector does not run this case."""
        reason = self.connector_class.recovery_case_skipped(flow, case)
        if reason:
            pytest.skip(f"{self.key}: {reason} (its adapter's declarations)")

    # -- answer lost after the bank acted / connection reset before it did -----------------------

    def lost_answer_case(self, flow: Flow, case: RecoveryCase, bank: Bank, account) -> PaymentOperation:
        fault = {"truncate": True} if case == RecoveryCase.ANSWER_LOST else {"reset": True}
        refund = None
        if flow == Flow.AUTHORIZE:
            let_through = len(self.connector_class.pre_authorize_flows)
            if let_through:
                bank.app.faults.arm(count=let_through)  # the pre-authorize calls go through untouched
            bank.app.faults.arm(**fault)
            payment = self.pay(account, self.approving)
            assert payment.latest_attempt.status == AttemptStatus.PENDING, self.describe_case(payment)
            payment = settle_payment(payment)  # the approving input: the bank decides on its own
        elif flow in (Flow.CAPTURE, Flow.VOID):
            payment = self.authorized_payment(account)
            bank.app.faults.arm(**fault)
            with pytest.raises(PaymentError) as lost:
                if flow == Flow.CAPTURE:
                    capture_payment(payment_pk=payment.pk, amount=PART)
                else:
                    cancel_payment(payment_pk=payment.pk)
            assert lost.value.http_status == 502, lost.value.message
            held = PaymentOperation.objects.get(pk=payment.pk)
            assert held.amount_capture_unknown == PART if flow == Flow.CAPTURE else held.cancelling
            payment = sync_payment(payment_pk=payment.pk)
        else:
            payment = self.charged_payment(account)
            bank.app.faults.arm(**fault)
            refund = create_refund(payment_pk=payment.pk, amount=PART)
            assert refund.status in (RefundStatus.PENDING, RefundStatus.FAILED), refund.status
            refund = settle_refund(refund)
        if case == RecoveryCase.RESET_BEFORE_BANK:
            self.after_the_grace(payment, refund)
        return PaymentOperation.objects.get(pk=payment.pk)

    def after_the_grace(self, payment: PaymentOperation, refund: Refund | None) -> None:
        """The bank never received the request: once the connector's grace is over, a lookup by
        our reference is the bank's word (where declared final)."""
        grace = self.connector_class.recovery.not_found_grace + timedelta(seconds=1)
        if refund is not None:
            if Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING:
                Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - grace)
                settle_refund(refund)
            return
        attempt = payment.latest_attempt
        if attempt.status == AttemptStatus.PENDING:
            PaymentAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - grace)
            settle_payment(PaymentOperation.objects.get(pk=payment.pk))

    # -- webhooks ----------------------------------------------------------------------------

    def webhook_case(self, flow: Flow, case: RecoveryCase, bank: Bank, account, webhooks) -> PaymentOperation:
        webhooks.clear(path_prefix=account.webhook_path)
        if flow == Flow.AUTHORIZE:
            payment = self.reach_pending(bank, account)
            attempt = payment.latest_attempt
            answer = self.answer_of(attempt)
            self.trigger_webhook(bank, attempt, account_webhook_url(account))
            caught = self.wait_for_final_webhook(webhooks, account, refund=False)
            subject = attempt
        else:
            payment = self.charged_payment(account, method=self.pending_refunds or self.approving)
            subject = create_refund(payment_pk=payment.pk, amount=PART)
            assert subject.status == RefundStatus.PENDING, "the matrix needs a refund the bank settles later"
            answer = self.answer_of(subject)
            self.settle_refund_at_bank(bank, subject)
            caught = self.wait_for_final_webhook(webhooks, account, refund=True)

        if case == RecoveryCase.WEBHOOK_LOST:
            # Nothing delivered: sync alone must find the outcome.
            if flow == Flow.AUTHORIZE:
                settle_payment(payment)
            else:
                settle_refund(subject)
        elif case == RecoveryCase.WEBHOOK_DUPLICATED:
            assert self.deliver(account, caught).outcome == WebhookOutcome.PROCESSED
            assert self.deliver(account, caught).outcome == WebhookOutcome.DUPLICATE
        elif case == RecoveryCase.WEBHOOK_BEFORE_ANSWER:
            assert self.deliver(account, caught).outcome == WebhookOutcome.PROCESSED
            self.apply_the_answer_again(answer, subject, flow)
        else:  # a late event saying the opposite of what the bank did
            assert self.deliver(account, caught).outcome == WebhookOutcome.PROCESSED
            late = self.deliver(account, self.opposite_webhook(bank, caught))
            assert late.outcome in (WebhookOutcome.ILLEGAL_TRANSITION, WebhookOutcome.PROCESSED,
                                    WebhookOutcome.INTEGRITY_MISMATCH), late.outcome
        return PaymentOperation.objects.get(pk=payment.pk)

    def wait_for_final_webhook(self, webhooks, account, *, refund: bool) -> CaughtWebhook:
        """The first caught webhook about a refund (or a payment) with a final status."""
        connector = account.build_connector()
        final = {RefundStatus.SUCCEEDED, RefundStatus.FAILED} if refund else {
            AttemptStatus.CHARGED, AttemptStatus.AUTHORIZED, AttemptStatus.FAILURE}
        for count in range(1, 6):
            for caught in webhooks.wait_for(count):
                parsed = connector.parse_webhook(headers=caught.headers, body=caught.body)
                if parsed.is_refund == refund and parsed.status in final:
                    return caught
        raise AssertionError(f"no final {'refund' if refund else 'payment'} webhook arrived")

    def deliver(self, account, caught: CaughtWebhook):
        return receive(connector_key=self.key, account_public_id=account.public_id, headers=caught.headers,
                       body=caught.body, source_address="127.0.0.1")

    def apply_the_answer_again(self, answer: Outcome, subject, flow: Flow) -> None:
        """The flow's own answer (what Pagoflex made of it: pending, the bank's id), applied
        after the webhook as if it had come late."""
        if flow == Flow.REFUND:
            apply_refund_outcome(subject.pk, answer, actor="matrix")
        else:
            apply_attempt_outcome(subject.pk, answer, actor="matrix")

    @staticmethod
    def answer_of(subject) -> Outcome:
        """The outcome a flow's answer gave ``subject`` (an attempt or a refund), as applied."""
        subject = type(subject).objects.get(pk=subject.pk)
        return Outcome(status=subject.status, connector_reference=subject.connector_reference,
                       raw_status=subject.raw_connector_status, next_action=getattr(subject, "next_action", None))

    # -- the comparison --------------------------------------------------------------------------

    def assert_matches_the_bank(self, bank: Bank, payment: PaymentOperation) -> None:
        payment = PaymentOperation.objects.get(pk=payment.pk)
        platform = Ledger(status=payment.status, captured=payment.amount_captured, refunded=payment.amount_refunded,
                          capturable=payment.amount_capturable)
        expected = self.bank_ledger(bank, payment) or Ledger(status=PaymentStatus.FAILED, captured=0, refunded=0,
                                                             capturable=0)
        assert platform == expected, f"Pagoflex {platform} but the bank {expected}: {self.describe_case(payment)}"
        # Nothing is left reserved once the bank has spoken.
        assert (payment.amount_capturing, payment.amount_capture_unknown, payment.cancelling) == (0, 0, False)
        assert not Refund.objects.filter(payment=payment, status=RefundStatus.PENDING).exists()

    @staticmethod
    def describe_case(payment: PaymentOperation) -> str:
        attempt = payment.latest_attempt
        refunds = list(Refund.objects.filter(payment=payment).values_list("status", "amount", "error_code"))
        return (f"payment {payment.status}, attempt {attempt.status if attempt else None} "
                f"({attempt.error_code if attempt else ''}), refunds {refunds}")
