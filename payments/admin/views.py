"""Back-office pages beyond the model admin: the payment actions and the overview.

Every action goes through the same service as the API, with ``actor="staff:<username>"``, after
a confirmation page; a refusal shows the service's own message and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from connectors import amounts
from connectors.errors import ConnectorError
from payments import services
from payments.admin.overview import PeriodForm, default_period, overview
from payments.models import PaymentOperation
from payments.services.outcomes import record_event
from payments.services.refunds import refundable_amount


class ActionForm(forms.Form):
    """A plain confirmation: the button is the whole form."""

    def __init__(self, *args, payment: PaymentOperation, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment

    def service_arguments(self) -> dict:
        return {}


class AmountForm(ActionForm):
    amount = forms.DecimalField(required=False, min_value=Decimal("0"), help_text="Leave empty for all of it.")

    def __init__(self, *args, payment: PaymentOperation, **kwargs):
        super().__init__(*args, payment=payment, **kwargs)
        self.fields["amount"].label = f"Amount ({payment.currency})"

    def clean_amount(self):
        value = self.cleaned_data.get("amount")
        if value is None:
            return None
        # Major units at the edge, minor units inside; an amount the currency cannot hold is refused.
        try:
            return amounts.to_minor(value, self.payment.currency)
        except amounts.AmountError as exc:
            raise forms.ValidationError(str(exc)) from None

    def service_arguments(self) -> dict:
        return {"amount": self.cleaned_data["amount"]}


class RefundForm(AmountForm):
    reason = forms.CharField(required=False, max_length=500)

    def service_arguments(self) -> dict:
        return {"amount": self.cleaned_data["amount"], "reason": self.cleaned_data["reason"]}


class CancelForm(ActionForm):
    reason = forms.CharField(required=False, max_length=500)

    def service_arguments(self) -> dict:
        return {"reason": self.cleaned_data["reason"]}


def _sync(payment, actor, **_):
    result = services.sync_payment(payment_pk=payment.pk, actor=actor)
    return f"Synced with the connector: the payment is {result.status}."


def _capture(payment, actor, amount=None):
    result = services.capture_payment(payment_pk=payment.pk, amount=amount, actor=actor)
    return (
        f"Captured: {_money(result.amount_captured, result.currency)} captured in all; the payment is {result.status}."
    )


def _cancel(payment, actor, reason=""):
    result = services.cancel_payment(payment_pk=payment.pk, reason=reason, actor=actor)
    return f"The payment is {result.status}."


def _refund(payment, actor, amount=None, reason=""):
    refund = services.create_refund(payment_pk=payment.pk, amount=amount, reason=reason, actor=actor)
    message = f"Refund {refund.public_id} of {_money(refund.amount, refund.currency)}: {refund.status}"
    if refund.error_message:
        message += f" ({refund.error_message})"
    return message + "."


@dataclass(frozen=True)
class PaymentAction:
    name: str
    label: str
    permission: str
    form: type[ActionForm]
    run: callable
    explanation: str

    def allowed(self, user) -> bool:
        return user.has_perm(f"payments.{self.permission}")


ACTIONS = {
    action.name: action
    for action in [
        PaymentAction(
            "sync",
            "Sync now",
            "sync_payment",
            ActionForm,
            _sync,
            "Ask the connector for the payment's status now and apply its answer.",
        ),
        PaymentAction(
            "capture",
            "Capture",
            "capture_payment",
            AmountForm,
            _capture,
            "Capture all or part of what is authorized. The bank is asked at once.",
        ),
        PaymentAction(
            "cancel",
            "Cancel",
            "cancel_payment",
            CancelForm,
            _cancel,
            "Void the authorization (or cancel a payment no bank has seen). This cannot be undone.",
        ),
        PaymentAction(
            "refund",
            "Refund",
            "refund_payment",
            RefundForm,
            _refund,
            "Send money back to the customer. The bank is asked at once; this cannot be undone.",
        ),
    ]
}


def _money(amount: int, currency: str) -> str:
    return f"{amounts.format_major(amount, currency)} {currency}"


def available_actions(user) -> list[PaymentAction]:
    return [action for action in ACTIONS.values() if action.allowed(user)]


def payment_action_view(model_admin, request, object_id: str, action_name: str):
    """GET: the confirmation page; POST: run the action through its service."""
    action = ACTIONS.get(action_name)
    # get_object answers None for an id that is not one (a 404), where a bare pk lookup raised (a 500).
    payment = model_admin.get_object(request, object_id)
    if payment is None:
        raise Http404("no such payment")
    if action is None or not model_admin.has_view_permission(request, payment) or not action.allowed(request.user):
        raise PermissionDenied
    # Bound on POST even when empty: the plain confirmation has no field at all.
    form = action.form(request.POST if request.method == "POST" else None, payment=payment)
    if request.method == "POST" and form.is_valid():
        actor = f"staff:{request.user.username}"
        try:
            outcome = action.run(payment, actor, **form.service_arguments())
        except services.PaymentError as exc:
            form.add_error(None, exc.message)
            record_event(payment, "staff_action", message=f"{action.label} refused: {exc.message}", actor=actor)
        except ConnectorError as exc:
            form.add_error(None, exc.message)
            record_event(payment, "staff_action", message=f"{action.label} failed: {exc.message}", actor=actor)
        else:
            record_event(payment, "staff_action", message=f"{action.label}: {outcome}", actor=actor)
            messages.success(request, outcome)
            return redirect(reverse("admin:payments_paymentoperation_change", args=[payment.pk]))
    payment.refresh_from_db()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": PaymentOperation._meta,
        "title": f"{action.label} {payment.public_id}",
        "payment": payment,
        "action": action,
        "form": form,
        "amount": _money(payment.amount, payment.currency),
        "capturable": _money(payment.amount_capturable, payment.currency),
        "refundable": _money(max(refundable_amount(payment), 0), payment.currency),
    }
    return TemplateResponse(request, "admin/payments/paymentoperation/action.html", context)


def overview_view(model_admin, request):
    """The overview page: the period form and everything computed for it."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = PeriodForm(request.GET if "start" in request.GET else None, initial=default_period())
    period = default_period()
    merchant = None
    if form.is_bound and form.is_valid():
        period = {"start": form.cleaned_data["start"], "end": form.cleaned_data["end"]}
        merchant = form.cleaned_data["merchant"]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": PaymentOperation._meta,
        "title": "Overview",
        "form": form,
        "period": period,
        "merchant": merchant,
        **overview(start=period["start"], end=period["end"], merchant=merchant),
    }
    return TemplateResponse(request, "admin/payments/overview.html", context)
