"""Creating and confirming payments: the authorize path, from request to settled attempt."""

from __future__ import annotations

from django.db import transaction

from connectors.base import Card, Flow, Upi
from connectors.errors import ConnectorError
from payments.models import PaymentOperation
from payments.services.connector_calls import payment_data_for, run_flow
from payments.services.errors import PaymentError, unexpected_state
from payments.services.idempotency_scope import remember_created
from payments.services.outcomes import Outcome, move_payment, record_event
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


def create_payment(*, merchant, mode: str, amount: int, currency: str, capture_method: str,
                   payment_method_type: str = "", card: Card | None = None, upi: Upi | None = None,
                   customer: dict | None = None, description: str = "", metadata: dict | None = None,
                   merchant_reference: str = "", return_url: str = "", requested_connector=None,
                   save_payment_method: bool = False, actor: str = "api") -> PaymentOperation:
    """Create a payment; it needs confirming (see ``confirm_payment``) before money moves."""
    has_method = card is not None or upi is not None
    customer = customer or {}
    if save_payment_method and (card is None or not customer.get("id")):
        raise PaymentError("save_payment_method needs a card and customer.id", code="parameter_missing",
                           param="customer.id" if card is not None else "payment_method_data")
    with transaction.atomic():  # the payment and its first event, or neither (a dropped connection)
        payment = PaymentOperation.objects.create(
            merchant=merchant, mode=mode, amount=amount, currency=currency, capture_method=capture_method,
            status=PaymentStatus.REQUIRES_CONFIRMATION if has_method else PaymentStatus.REQUIRES_PAYMENT_METHOD,
            payment_method_type=payment_method_type if has_method else "",
            payment_method_details=describe_payment_method(payment_method_type, card, upi),
            card_last4=card.last4 if card else "",
            customer=customer, customer_email=customer.get("email", ""), description=description,
            metadata=metadata or {}, merchant_reference=merchant_reference, return_url=return_url,
            requested_connector=requested_connector, save_payment_method=save_payment_method,
        )
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
    with transaction.atomic():
        payment = PaymentOperation.objects.select_for_update(no_key=True).get(pk=payment_pk)
        if payment.status not in CONFIRMABLE:
            raise unexpected_state("payment", payment.status, "confirmed")
        saved = None
        if saved_method_id:
            saved = usable_saved_method(merchant=payment.merchant, mode=payment.mode, public_id=saved_method_id,
                                        payment=payment)
            payment.saved_payment_method = saved
            payment.payment_method_type = saved.payment_method_type
            payment.payment_method_details = {"brand": saved.brand, "last4": saved.last4, "exp_month": saved.exp_month,
                                              "exp_year": saved.exp_year, "saved_payment_method": saved.public_id}
            payment.card_last4 = saved.last4
            requested_connector = saved.connector_account
        elif card is not None or upi is not None:
            payment.payment_method_type = payment_method_type
            payment.payment_method_details = describe_payment_method(payment_method_type, card, upi)
            payment.card_last4 = card.last4 if card else ""
        elif payment.status == PaymentStatus.REQUIRES_PAYMENT_METHOD or payment.payment_method_type == "card":
            # Card data is never stored, so a card payment must bring it again at confirmation.
            raise PaymentError("payment_method_data is required to confirm this payment",
                               code="payment_method_required", param="payment_method_data")
        plan = plan_route(payment, requested_connector or payment.requested_connector)
        attempt = start_attempt(payment, plan, 0)
        move_payment(payment, PaymentStatus.PROCESSING, actor=actor, attempt=attempt)
        payment.error_code = payment.error_message = ""
        payment.save()

    stored_credential = {}
    if saved is not None:
        stored_credential = {"stored_credential_sequence": "SUBSEQUENT" if saved.first_payment_done else "FIRST",
                             "scheduled": scheduled}
    # One attempt per candidate at most: a safe failure hands the payment to the next account as a
    # new attempt (committed before its call); anything else settles it and ends the loop.
    for position in range(len(plan.candidates)):
        account = attempt.connector_account
        data = payment_data_for(payment, attempt, card=card, upi=upi, browser_info=browser_info, three_ds=three_ds,
                                payment_token=saved.get_token() if saved is not None else "",
                                connector_inputs=stored_credential)
        outcome = authorize_with_connector(account.build_connector(), data, account=account, payment=payment,
                                           attempt=attempt)
        attempt = settle_or_fall_back(attempt_pk=attempt.pk, outcome=outcome, plan=plan, position=position,
                                      actor=actor)
        if attempt is None:
            break
    return PaymentOperation.objects.get(pk=payment.pk)


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
