"""Saved payment methods: a gateway token kept for a customer's later payments, never the card."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from connectors.base import Card, Flow, PaymentData
from connectors.errors import ConnectorError
from payments.ids import new_id
from payments.models import SavedPaymentMethod
from payments.routing.eligibility import is_eligible
from payments.services.connector_calls import record_calls
from payments.services.errors import PaymentError, connector_failure
from payments.services.idempotency_scope import remember_created
from payments.statuses import AttemptStatus


def save_card(*, merchant, mode: str, customer_id: str, card: Card, account, currency: str = "EUR",
              verify: bool = False) -> SavedPaymentMethod:
    """Tokenize a card at the account's gateway (after a verification without charge, if asked)."""
    connector = account.build_connector()
    for flow in ([Flow.VERIFY] if verify else []) + [Flow.TOKENIZE]:
        if not connector.supports(flow):
            raise PaymentError(f"{'card verification' if flow == Flow.VERIFY else 'saving cards'} is not supported "
                               "by this connector", code="flow_not_supported", param="connector")
    if account.mode != mode or not account.enabled:
        raise PaymentError("the connector account is not enabled in this mode", code="connector_not_eligible",
                           param="connector")
    reference = new_id("pm")
    data = PaymentData(payment_id="", attempt_reference=reference, amount=0, currency=currency, card=card)
    try:
        if verify:
            verified = connector.call(Flow.VERIFY, data)
            if verified.status == AttemptStatus.FAILURE:
                raise PaymentError(f"the card failed verification: {verified.message or verified.code}",
                                   code=verified.code or "card_declined", type="card_error", http_status=402)
        tokenized = connector.call(Flow.TOKENIZE, data)
    except ConnectorError as exc:
        raise connector_failure(exc, action="card verification" if verify else "tokenization") from exc
    finally:
        record_calls(connector.calls, account=account)
    if not tokenized.payment_token:
        raise PaymentError("the gateway did not return a token", code="tokenization_failed",
                           type="connector_error", http_status=502)
    method = SavedPaymentMethod(public_id=reference, merchant=merchant, mode=mode, customer_id=customer_id,
                                connector_account=account, brand=card.brand, last4=card.last4,
                                exp_month=card.exp_month, exp_year=card.exp_year)
    method.set_token(tokenized.payment_token)
    method.save()
    remember_created(method)
    return method


def save_from_payment(payment, attempt, token: str) -> SavedPaymentMethod | None:
    """Keep the token a gateway returned for a payment made with ``save_payment_method``.

    Called inside the transaction that settles the attempt, so the method exists exactly when
    the payment succeeded."""
    customer_id = (payment.customer or {}).get("id", "")
    if not token or not payment.save_payment_method or payment.saved_payment_method_id:
        return None
    details = payment.payment_method_details or {}
    method = SavedPaymentMethod(merchant_id=payment.merchant_id, mode=payment.mode, customer_id=customer_id,
                                connector_account_id=attempt.connector_account_id, brand=details.get("brand", ""),
                                last4=details.get("last4", ""), exp_month=details.get("exp_month"),
                                exp_year=details.get("exp_year"), first_payment_done=True)
    method.set_token(token)
    method.save()
    payment.saved_payment_method = method
    return method


def usable_saved_method(*, merchant, mode: str, public_id: str, payment) -> SavedPaymentMethod:
    method = SavedPaymentMethod.objects.select_related("connector_account").filter(
        merchant=merchant, mode=mode, public_id=public_id, detached_at__isnull=True).first()
    if method is None:
        raise PaymentError(f"no saved payment method {public_id!r}", code="resource_missing",
                           param="payment_method")
    customer_id = (payment.customer or {}).get("id", "")
    if customer_id and customer_id != method.customer_id:
        raise PaymentError("this payment method belongs to another customer", code="payment_method_customer_mismatch",
                           param="payment_method")
    eligible, reason = is_eligible(method.connector_account, payment)
    if not eligible:
        raise PaymentError(f"the payment method's connector cannot take this payment: {reason}",
                           code="connector_not_eligible", param="payment_method")
    return method


def detach(method: SavedPaymentMethod) -> SavedPaymentMethod:
    with transaction.atomic():
        method = SavedPaymentMethod.objects.select_for_update(no_key=True).get(pk=method.pk)
        if method.detached_at is None:
            method.detached_at = timezone.now()
            method.save(update_fields=["detached_at"])
    return method
