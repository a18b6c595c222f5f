"""Which status moves are legal, for payments, attempts and refunds: one table each.

Every status change in the services goes through ``transition``; an illegal move raises
``IllegalTransition`` and changes nothing (a succeeded payment never goes back to processing).
"""

from payments.statuses import AttemptStatus as A
from payments.statuses import PaymentStatus as P
from payments.statuses import RefundStatus as R

PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    P.REQUIRES_PAYMENT_METHOD: {P.REQUIRES_CONFIRMATION, P.PROCESSING, P.CANCELLED, P.FAILED},
    P.REQUIRES_CONFIRMATION: {P.PROCESSING, P.CANCELLED, P.FAILED, P.REQUIRES_PAYMENT_METHOD},
    P.PROCESSING: {P.REQUIRES_CUSTOMER_ACTION, P.REQUIRES_CAPTURE, P.PARTIALLY_CAPTURED, P.SUCCEEDED,
                   P.FAILED, P.CANCELLED},
    P.REQUIRES_CUSTOMER_ACTION: {P.PROCESSING, P.REQUIRES_CAPTURE, P.SUCCEEDED, P.FAILED, P.CANCELLED},
    P.REQUIRES_CAPTURE: {P.PARTIALLY_CAPTURED, P.SUCCEEDED, P.CANCELLED, P.FAILED},
    P.PARTIALLY_CAPTURED: {P.SUCCEEDED},
    P.SUCCEEDED: set(),
    P.FAILED: set(),
    P.CANCELLED: set(),
}

ATTEMPT_TRANSITIONS: dict[str, set[str]] = {
    A.STARTED: {A.PENDING, A.AUTHENTICATION_PENDING, A.AUTHORIZED, A.CHARGED, A.PARTIALLY_CHARGED,
                A.FAILURE, A.VOIDED},
    A.PENDING: {A.AUTHENTICATION_PENDING, A.AUTHORIZED, A.CHARGED, A.PARTIALLY_CHARGED, A.FAILURE, A.VOIDED},
    A.AUTHENTICATION_PENDING: {A.PENDING, A.AUTHORIZED, A.CHARGED, A.FAILURE, A.VOIDED},
    A.AUTHORIZED: {A.CHARGED, A.PARTIALLY_CHARGED, A.VOIDED},
    A.PARTIALLY_CHARGED: {A.CHARGED},
    A.CHARGED: set(),
    A.VOIDED: set(),
    A.FAILURE: set(),
}

REFUND_TRANSITIONS: dict[str, set[str]] = {
    R.PENDING: {R.SUCCEEDED, R.FAILED},
    R.SUCCEEDED: set(),
    R.FAILED: set(),
}

# The payment status an attempt's status leads to.
PAYMENT_STATUS_FOR_ATTEMPT: dict[str, str] = {
    A.STARTED: P.PROCESSING,
    A.PENDING: P.PROCESSING,
    A.AUTHENTICATION_PENDING: P.REQUIRES_CUSTOMER_ACTION,
    A.AUTHORIZED: P.REQUIRES_CAPTURE,
    A.PARTIALLY_CHARGED: P.PARTIALLY_CAPTURED,
    A.CHARGED: P.SUCCEEDED,
    A.VOIDED: P.CANCELLED,
    A.FAILURE: P.FAILED,
}

# A late success: the bank reports money taken or held for an attempt Pagoflex had ended without
# its word (failed: expired, declined on a lost answer; voided locally: an abandoned
# authentication). Not a move back: the payment keeps its terminal status, is flagged
# ``late_success`` and its amounts follow the bank (payments/services/outcomes.py). An attempt
# the bank itself voided never comes back.
LATE_SUCCESS_ATTEMPT_TRANSITIONS: dict[str, set[str]] = {
    A.FAILURE: {A.AUTHORIZED, A.CHARGED, A.PARTIALLY_CHARGED},
    A.VOIDED: {A.AUTHORIZED, A.CHARGED, A.PARTIALLY_CHARGED},
}

TERMINAL_ATTEMPT_STATUSES = {A.CHARGED, A.VOIDED, A.FAILURE}
UNSETTLED_ATTEMPT_STATUSES = {A.STARTED, A.PENDING, A.AUTHENTICATION_PENDING}


class IllegalTransition(Exception):
    def __init__(self, kind: str, current: str, target: str):
        super().__init__(f"a {kind} cannot go from {current} to {target}")
        self.kind = kind
        self.current = current
        self.target = target


_TABLES = {"payment": PAYMENT_TRANSITIONS, "attempt": ATTEMPT_TRANSITIONS, "refund": REFUND_TRANSITIONS}


def can_transition(kind: str, current: str, target: str) -> bool:
    return current == target or target in _TABLES[kind][current]


def is_late_success(current: str, target: str, *, ended_by_the_bank: bool) -> bool:
    """True when ``target`` reported for an attempt in ``current`` is a late success (see the
    table above); ``ended_by_the_bank``: the bank itself confirmed the attempt's end (a void)."""
    if current == A.VOIDED and ended_by_the_bank:
        return False
    return target in LATE_SUCCESS_ATTEMPT_TRANSITIONS.get(current, set())


def check_transition(kind: str, current: str, target: str) -> None:
    if not can_transition(kind, current, target):
        raise IllegalTransition(kind, current, target)
