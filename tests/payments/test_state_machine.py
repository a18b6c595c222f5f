import pytest

from payments.state_machine import (
    ATTEMPT_TRANSITIONS,
    PAYMENT_STATUS_FOR_ATTEMPT,
    PAYMENT_TRANSITIONS,
    IllegalTransition,
    check_transition,
)
from payments.statuses import AttemptStatus, PaymentStatus


def test_a_succeeded_payment_never_goes_back_to_processing():
    with pytest.raises(IllegalTransition):
        check_transition("payment", PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING)


@pytest.mark.parametrize("terminal", [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED])
def test_terminal_payment_statuses_have_no_way_out(terminal):
    assert PAYMENT_TRANSITIONS[terminal] == set()


def test_a_failure_after_a_charge_is_refused():
    with pytest.raises(IllegalTransition):
        check_transition("attempt", AttemptStatus.CHARGED, AttemptStatus.FAILURE)


def test_every_status_has_a_row_and_every_attempt_status_maps_to_a_payment_status():
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus.values)
    assert set(ATTEMPT_TRANSITIONS) == set(AttemptStatus.values)
    assert set(PAYMENT_STATUS_FOR_ATTEMPT) == set(AttemptStatus.values)
