"""Which connector account takes an attempt, the fallback to the next one, and the merchant's
routing configuration. The rules themselves live in ``payments/routing/``."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.models import ConnectorAccount
from payments.models import PaymentAttempt, RoutingConfiguration
from payments.routing import decision as routing_decision
from payments.routing import definition as routing_definition
from payments.routing import window
from payments.routing.eligibility import is_eligible
from payments.services.errors import PaymentError
from payments.services.outcomes import (
    Outcome,
    apply_attempt_outcome_locked,
    lock_payment_and_attempt,
    record_event,
    state_change,
)
from payments.statuses import AttemptStatus, PaymentStatus


def plan_route(payment, requested: ConnectorAccount | None = None) -> routing_decision.RoutePlan:
    """The ordered accounts this payment may try. A requested account overrides routing (and
    is never fallen back from); otherwise the merchant's rules decide, at the cost of one query."""
    if requested is not None:
        eligible, reason = is_eligible(requested, payment)
        if not eligible:
            raise PaymentError(
                f"connector account {requested.public_id} cannot take this payment: {reason}",
                code="connector_not_eligible",
                param="connector",
            )
        return routing_decision.requested_plan(requested)
    return routing_decision.decide(payment, routing_decision.load_context(payment), is_eligible)


def choose_connector_account(payment, requested: ConnectorAccount | None = None) -> ConnectorAccount:
    """The account for the payment's first attempt."""
    return plan_route(payment, requested).candidates[0]


def start_attempt(payment, plan: routing_decision.RoutePlan, position: int, *, fallback_from: str = ""):
    """Create the ``started`` attempt at ``position`` of the plan; the caller holds the payment's
    lock and commits before the connector is called."""
    account = plan.candidates[position]
    return PaymentAttempt.objects.create(
        payment=payment,
        connector_account=account,
        connector=account.connector_class.key,
        status=AttemptStatus.STARTED,
        amount=payment.amount,
        currency=payment.currency,
        routing_decision=plan.decision_for(position, fallback_from),
    )


def is_safe_failure(outcome: Outcome) -> bool:
    """A failure after which another connector may be tried without risk of a double charge:
    the request never reached the bank, or the bank declined with a code its adapter marks as
    retryable elsewhere. Unknown outcomes are not failures at all (their status is pending)."""
    return (
        outcome.status == AttemptStatus.FAILURE
        and not outcome.integrity_mismatch
        and (outcome.retry_safe or outcome.retryable_elsewhere)
    )


@dataclass
class Settlement:
    """Where a confirmation attempt's outcome left things: the payment as saved, and the next
    attempt to run when routing fell back (None when the payment is settled)."""

    payment: object
    next_attempt: PaymentAttempt | None


def settle_or_fall_back(
    *, attempt_pk: int, outcome: Outcome, plan: routing_decision.RoutePlan, position: int, actor: str,
    known_attempts: list | None = None,
) -> Settlement:
    """Apply a confirmation attempt's outcome. After a safe failure, with a next candidate left
    and the payment still processing, the attempt fails without failing the payment and the
    next attempt is committed as ``started`` in the same transaction; the caller runs it outside
    any transaction. Otherwise the outcome settles the payment.

    ``known_attempts``: the payment's earlier attempts, when the caller made them all (a payment
    created and confirmed by one request), so that rendering it needs no query; it grows here."""
    next_account = plan.next_candidate(position) if is_safe_failure(outcome) else None
    next_attempt = None
    with state_change():
        payment, attempt = lock_payment_and_attempt(attempt_pk, account=plan.candidates[position])
        # A webhook may have settled the payment while we waited for the bank: never reopen it.
        falls_back = (
            next_account is not None
            and payment.status == PaymentStatus.PROCESSING
            and attempt.status == AttemptStatus.STARTED
        )
        if known_attempts is not None:
            known_attempts.append(attempt)
            payment.remember_attempts(list(known_attempts))
        apply_attempt_outcome_locked(payment, attempt, outcome, actor=actor, settles_payment=not falls_back)
        if falls_back:
            next_attempt = start_attempt(payment, plan, position + 1, fallback_from=attempt.public_id)
            if known_attempts is not None:
                payment.remembered_attempts().append(next_attempt)
            record_event(
                payment,
                "routing_fallback",
                actor=actor,
                attempt=next_attempt,
                message=f"{attempt.public_id} on {attempt.connector_account.public_id} failed safely "
                f"({attempt.error_code}); trying {next_account.public_id} ({next_account.connector})",
            )
    if not outcome.integrity_mismatch and attempt.status == outcome.status:
        window.record_result(
            account_id=attempt.connector_account_id,
            payment_method_type=payment.payment_method_type,
            currency=attempt.currency,
            status=attempt.status,
        )
    return Settlement(payment=payment, next_attempt=next_attempt)


def find_requested_account(merchant, mode: str, value: str) -> ConnectorAccount:
    """The account a request names in ``connector``: an account id (``mca_...``) or a connector key."""
    accounts = ConnectorAccount.objects.filter(merchant=merchant)
    if value.startswith("mca_"):
        account = accounts.filter(public_id=value).first()
    else:
        account = accounts.filter(connector=value.lower(), mode=mode, enabled=True).first()
    if account is None:
        raise PaymentError(
            f"no connector account {value!r} for this merchant",
            code="resource_missing",
            param="connector",
            http_status=400,
        )
    return account


def get_routing_configuration(*, merchant, mode: str) -> tuple[dict, RoutingConfiguration | None]:
    """The merchant's configuration for a mode (the empty one when never set) and its row."""
    configuration = RoutingConfiguration.objects.filter(merchant=merchant, mode=mode).first()
    return (configuration.definition if configuration else dict(routing_definition.EMPTY_DEFINITION)), configuration


def set_routing_configuration(*, merchant, mode: str, document, actor: str = "api") -> RoutingConfiguration:
    """Validate and replace the merchant's routing configuration for a mode. An invalid document
    (unknown account, split not adding up to 100, an account whose connector cannot take a
    rule's payment method) raises ``PaymentError`` naming the field, and nothing changes."""
    accounts = {account.public_id: account for account in ConnectorAccount.objects.filter(merchant=merchant, mode=mode)}
    definition = routing_definition.validate_definition(document, accounts)
    configuration, _ = RoutingConfiguration.objects.update_or_create(
        merchant=merchant, mode=mode, defaults={"definition": definition, "updated_by": actor}
    )
    return configuration
