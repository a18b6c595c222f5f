"""Creating and confirming payments: the authorize path, from request to settled attempt."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import Card, Flow, Upi
from connectors.errors import ConnectorError
from payments.models import PaymentOperation
from payments.return_urls import ReturnUrlRefused, check_return_url
from payments.services.connector_calls import payment_data_for, run_flow
from payments.services.errors import PaymentError, unexpected_state
from payments.services.idempotency_scope import remember_created
from payments.services.outcomes import Outcome, move_payment, record_event, state_change
from payments.services.payment_methods import usable_saved_method
from payments.services.routing import plan_route, settle_or_fall_back, start_attempt
from payments.statuses import AttemptStatus, PaymentStatus

CONFIRMABLE = {PaymentStatus.REQUIRES_PAYMENT_METHOD, PaymentStatus.REQUIRES_CONFIRMATION}


def describe_payment_method(payment_method_type: str, card: Card | None, upi: Upi | None) -> dict:
    """What may be kept of a payment method: never the card number or CVV."""
    if card is not None:
        return {"brand": card.brand, "last4": card.last4, "exp_month": card.exp_month, "exp_year": card.exp_year}
    if upi is not None:
        return {"flow": upi.flow, **({"vpa": upi.vpa} if upi.vpa else {})}
    return {}


@dataclass
class Confirmation:
    """What confirming a payment brings: its payment method (never kept beyond this call) and
    the request's options."""

    payment_method_type: str = ""
    card: Card | None = None
    upi: Upi | None = None
    saved_method_id: str = ""
    scheduled: bool = False
    requested_connector: object = None
    browser_info: dict | None = None
    three_ds: bool = False


def check_merchant_return_url(merchant, return_url: str) -> None:
    """A ``return_url`` the merchant's allow-list permits (payments/return_urls.py), else a 400
    naming ``return_url``."""
    try:
        check_return_url(return_url, merchant.return_url_hosts or [])
    except ReturnUrlRefused as exc:
        code = "return_url_not_allowed" if "allowed return hosts" in str(exc) else "parameter_invalid"
        raise PaymentError(str(exc), code=code, param="return_url") from None


def create_payment(*, merchant, mode: str, amount: int, currency: str, capture_method: str,
                   payment_method_type: str = "", card: Card | None = None, upi: Upi | None = None,
                   customer: dict | None = None, description: str = "", metadata: dict | None = None,
                   merchant_reference: str = "", return_url: str = "", requested_connector=None,
                   save_payment_method: bool = False, confirmation: Confirmation | None = None,
                   actor: str = "api") -> PaymentOperation:
    """Create a payment; with ``confirmation`` confirm it at once (see ``confirm_payment``),
    else it needs confirming before money moves.

    Created and confirmed at once, the payment, its first attempt and their events are written
    in one transaction before the connector is called. A confirmation refused before that (no
    eligible account, an unknown saved payment method, say) raises ``PaymentError`` and creates
    nothing: a refused request changes nothing, as Stripe creates no PaymentIntent then.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        raise PaymentError("amount must be a positive integer of minor units", code="amount_invalid", param="amount")
    check_merchant_return_url(merchant, return_url)
    has_method = card is not None or upi is not None
    customer = customer or {}
    if save_payment_method and (card is None or not customer.get("id")):
        raise PaymentError("save_payment_method needs a card and customer.id", code="parameter_dependency",
                           param="customer.id" if card is not None else "payment_method_data")
    payment = PaymentOperation(
        merchant=merchant, mode=mode, amount=amount, currency=currency, capture_method=capture_method,
        status=PaymentStatus.REQUIRES_CONFIRMATION if has_method else PaymentStatus.REQUIRES_PAYMENT_METHOD,
        payment_method_type=payment_method_type if has_method else "",
        payment_method_details=describe_payment_method(payment_method_type, card, upi),
        card_last4=card.last4 if card else "",
        customer=customer, customer_email=customer.get("email", ""), description=description,
        metadata=metadata or {}, merchant_reference=merchant_reference, return_url=return_url,
        requested_connector=requested_connector, save_payment_method=save_payment_method,
    )
    if confirmation is None:
        return _save_created(payment, actor)
    saved, plan = _prepare_confirmation(payment, confirmation)
    with state_change():  # the payment, its attempt and their events, or none of them
        created_status = payment.status
        payment.set_status(PaymentStatus.PROCESSING)  # no merchant event: processing is not one
        payment.save()
        attempt = start_attempt(payment, plan, 0)
        record_event(payment, "created", to_status=created_status, actor=actor)
        record_event(payment, "status_change", from_status=created_status, to_status=payment.status, actor=actor,
                     attempt=attempt)
        remember_created(payment)
    # Nobody else can have seen this payment yet: its attempts are the ones made here.
    return _run_confirmation(payment, attempt, plan, saved, confirmation, actor=actor, known_attempts=[])


def _save_created(payment: PaymentOperation, actor: str) -> PaymentOperation:
    with state_change():  # the payment and its first event, or neither (a dropped connection)
        payment.save()
        record_event(payment, "created", to_status=payment.status, actor=actor)
        remember_created(payment)
    return payment


def confirm_payment(*, payment_pk: int, payment_method_type: str = "", card: Card | None = None,
                    upi: Upi | None = None, saved_method_id: str = "", scheduled: bool = False,
                    requested_connector=None, browser_info: dict | None = None, three_ds: bool = False,
                    actor: str = "api") -> PaymentOperation:
    """Authorize the payment with a connector.

    The attempt is committed as ``started`` before the connector is called (a crash leaves a
    visible attempt for sync to reconcile) and the call runs outside any transaction. Card data
    lives only in this call's arguments. Routing picks the accounts (``plan_route``); after a
    safe failure the next one is tried as a new attempt (docs/routing.md).
    """
    confirmation = Confirmation(payment_method_type=payment_method_type, card=card, upi=upi,
                                saved_method_id=saved_method_id, scheduled=scheduled,
                                requested_connector=requested_connector, browser_info=browser_info,
                                three_ds=three_ds)
    with state_change():
        payment = PaymentOperation.objects.select_for_update(no_key=True).get(pk=payment_pk)
        if payment.status not in CONFIRMABLE:
            raise unexpected_state("payment", payment.status, "confirmed")
        saved, plan = _prepare_confirmation(payment, confirmation)
        attempt = start_attempt(payment, plan, 0)
        move_payment(payment, PaymentStatus.PROCESSING, actor=actor, attempt=attempt)
        payment.error_code = payment.error_message = ""
        payment.save(update_fields=["status", "payment_method_type", "payment_method_details", "card_last4",
                                    "saved_payment_method", "error_code", "error_message", "updated_at"])
    return _run_confirmation(payment, attempt, plan, saved, confirmation, actor=actor)


def _prepare_confirmation(payment: PaymentOperation, confirmation: Confirmation):
    """Check that the payment can be confirmed with what the request brings and route it; sets
    the payment method on the payment. Raises ``PaymentError`` before anything is written."""
    saved = None
    requested_connector = confirmation.requested_connector
    if confirmation.saved_method_id:
        saved = usable_saved_method(merchant=payment.merchant_id, mode=payment.mode,
                                    public_id=confirmation.saved_method_id, payment=payment)
        payment.saved_payment_method = saved
        payment.payment_method_type = saved.payment_method_type
        payment.payment_method_details = {"brand": saved.brand, "last4": saved.last4, "exp_month": saved.exp_month,
                                          "exp_year": saved.exp_year, "saved_payment_method": saved.public_id}
        payment.card_last4 = saved.last4
        requested_connector = saved.connector_account
    elif confirmation.card is not None or confirmation.upi is not None:
        payment.payment_method_type = confirmation.payment_method_type
        payment.payment_method_details = describe_payment_method(confirmation.payment_method_type,
                                                                 confirmation.card, confirmation.upi)
        payment.card_last4 = confirmation.card.last4 if confirmation.card else ""
    elif payment.status == PaymentStatus.REQUIRES_PAYMENT_METHOD or payment.payment_method_type == "card":
        # Card data is never stored, so a card payment must bring it again at confirmation.
        raise PaymentError("payment_method_data is required to confirm this payment",
                           code="payment_method_required", param="payment_method_data")
    return saved, plan_route(payment, requested_connector or payment.requested_connector)


def _run_confirmation(payment, attempt, plan, saved, confirmation: Confirmation, *, actor: str,
                      known_attempts: list | None = None) -> PaymentOperation:
    """Call the connector for ``attempt`` (committed ``started``) and settle; after a safe failure
    the next account takes a new attempt. Returns the payment as the last settlement left it."""
    stored_credential = {}
    if saved is not None:
        stored_credential = {"stored_credential_sequence": "SUBSEQUENT" if saved.first_payment_done else "FIRST",
                             "scheduled": confirmation.scheduled}
    # One attempt per candidate at most: a safe failure hands the payment to the next account as a
    # new attempt (committed before its call); anything else settles it and ends the loop.
    settled = None
    for position in range(len(plan.candidates)):
        account = attempt.connector_account
        data = payment_data_for(payment, attempt, card=confirmation.card, upi=confirmation.upi,
                                browser_info=confirmation.browser_info, three_ds=confirmation.three_ds,
                                payment_token=saved.get_token() if saved is not None else "",
                                connector_inputs=stored_credential)
        outcome = authorize_with_connector(account.build_connector(), data, account=account, payment=payment,
                                           attempt=attempt)
        settled = settle_or_fall_back(attempt_pk=attempt.pk, outcome=outcome, plan=plan, position=position,
                                      actor=actor, known_attempts=known_attempts)
        if settled.next_attempt is None:
            break
        attempt = settled.next_attempt
    return settled.payment


def authorize_with_connector(connector, data, *, account, payment, attempt) -> Outcome:
    """Run the connector's pre-authorize flows (session token, order, ...) then authorize."""
    kept_metadata: dict = {}
    try:
        for flow in connector.pre_authorize_flows:
            result = run_flow(connector, flow, data, account=account, payment=payment, attempt=attempt)
            if result.status in (AttemptStatus.FAILURE,):
                return Outcome.from_response(result)
            data.session[flow] = result
            kept_metadata.update(result.connector_metadata)
            data.connector_metadata.update(result.connector_metadata)
        response = run_flow(connector, Flow.AUTHORIZE, data, account=account, payment=payment, attempt=attempt)
        outcome = Outcome.from_response(response)
    except ConnectorError as exc:
        outcome = Outcome.from_error(exc, failed_status=AttemptStatus.FAILURE, unknown_status=AttemptStatus.PENDING)
    outcome.connector_metadata = {**kept_metadata, **outcome.connector_metadata}
    return outcome
