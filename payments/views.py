"""Pages the customer's browser reaches (not the merchant API): the return from a bank's
authentication page, and the page that forwards the customer to a bank that wants a form POST."""

from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from connectors.errors import ConnectorError
from payments.models import PaymentOperation
from payments.return_urls import return_url_allowed
from payments.services import sync_attempt
from payments.state_machine import UNSETTLED_ATTEMPT_STATUSES


@csrf_exempt  # banks and ACS pages post here from their own origin; nothing posted is trusted
@require_http_methods(["GET", "POST"])
def payment_return(request, payment_id):
    """The customer is back from the bank: ask the bank (never trust the browser's parameters),
    then send the customer to the merchant's return URL. A request carrying no result (a link
    scanner, a prefetch) only syncs: it can never end the payment by itself."""
    payment = PaymentOperation.objects.filter(public_id=payment_id).first()
    if payment is None:
        raise Http404
    attempt = payment.latest_attempt
    if attempt is not None and attempt.status in UNSETTLED_ATTEMPT_STATUSES:
        params = {**request.GET.dict(), **request.POST.dict()}
        try:
            sync_attempt(attempt_pk=attempt.pk, actor="customer_return", redirect_params=params or None)
        except ConnectorError:
            pass  # the payment stays as it is; the sync sweep will ask again
    # Read again even without a sync: a bank webhook may have settled the payment after it was
    # read above and before its attempt was (then the attempt is settled and no sync ran).
    payment.refresh_from_db()
    # The allow-list is checked again here: a host removed from it stops redirects at once.
    if payment.return_url and return_url_allowed(payment.return_url, payment.merchant.return_url_hosts or []):
        return HttpResponseRedirect(_with_query(payment.return_url, payment_id=payment.public_id,
                                                status=payment.status))
    return render(request, "payments/return.html", {"payment": payment})


@require_http_methods(["GET"])
def payment_authenticate(request, payment_id):
    """Forward the customer to the bank's authentication page with the form the bank asked for."""
    payment = PaymentOperation.objects.filter(public_id=payment_id).first()
    action = (payment.next_action or {}) if payment else {}
    data = action.get("data") or {}
    if not payment or action.get("type") != "redirect_to_url" or not data.get("form"):
        raise Http404
    return render(request, "payments/authenticate.html",
                  {"action_url": action["url"], "form": data["form"], "payment": payment})


def _with_query(url: str, **params) -> str:
    parts = urlparse(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunparse(parts._replace(query=urlencode(query)))
