"""The back office's unresolved queue: every payment and refund whose outcome the bank has not
told yet, oldest first, with its age, last sync error and a one-click sync
(``payments/services/unresolved.py`` says what is unresolved and when it is escalated)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from connectors.errors import ConnectorError
from payments import services
from payments.models import PaymentAttempt, PaymentOperation, Refund
from payments.services.outcomes import record_event
from payments.services.unresolved import unresolved_queue


def unresolved_view(model_admin, request):
    """GET: the queue, oldest first."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    items, total = unresolved_queue()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": PaymentOperation._meta,
        "title": "Unresolved payments and refunds",
        "items": items,
        "total": total,
        "escalate_after_hours": settings.UNRESOLVED_ESCALATE_AFTER / 3600,
        "can_sync": request.user.has_perm("payments.sync_payment"),
    }
    return TemplateResponse(request, "admin/payments/unresolved.html", context)


def unresolved_sync_view(model_admin, request, kind: str, pk: int):
    """POST: ask the bank about one item now (the same sync services as the API), then back to the queue."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_view_permission(request) or not request.user.has_perm("payments.sync_payment"):
        raise PermissionDenied
    actor = f"staff:{request.user.username}"
    if kind == "payment":
        attempt = get_object_or_404(PaymentAttempt.objects.select_related("payment"), pk=pk)
        payment, label, sync = attempt.payment, attempt.payment.public_id, services.sync_attempt
        arguments = {"attempt_pk": attempt.pk}
    elif kind == "refund":
        refund = get_object_or_404(Refund.objects.select_related("payment"), pk=pk)
        payment, label, sync = refund.payment, refund.public_id, services.sync_refund
        arguments = {"refund_pk": refund.pk}
    else:
        raise PermissionDenied
    try:
        synced = sync(actor=actor, **arguments)
    except ConnectorError as exc:  # a connector without a sync: only its webhook settles it
        messages.error(request, f"{label}: {exc.message}")
        record_event(payment, "staff_action", message=f"Sync from the unresolved queue failed: {exc.message}",
                     actor=actor)
    else:
        outcome = f"Synced {label}: {synced.status}" + (f" ({synced.error_code})" if synced.error_code else "")
        messages.success(request, outcome)
        record_event(payment, "staff_action", message=f"From the unresolved queue: {outcome}", actor=actor)
    return redirect(reverse("admin:payments_unresolved"))
