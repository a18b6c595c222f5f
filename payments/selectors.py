"""Read queries used by the API and the admin. A merchant only ever sees its own objects,
in the mode of the key it used: anything else is simply not found."""

from dataclasses import dataclass

from django.http import Http404

from payments.models import PaymentOperation, Refund, SavedPaymentMethod


@dataclass(frozen=True)
class PaymentRef:
    """A merchant's payment named by its public id, in the mode of the key used: services that
    take one find (and lock) the payment in the same query that reads it, and answer 404 when
    it is not this merchant's."""

    merchant_id: int
    mode: str
    public_id: str

    def lookup(self) -> dict:
        return {"merchant_id": self.merchant_id, "mode": self.mode, "public_id": self.public_id}


def payments_for(merchant, mode: str):
    return PaymentOperation.objects.filter(merchant=merchant, mode=mode)


def get_payment(merchant, mode: str, public_id: str) -> PaymentOperation:
    payment = payments_for(merchant, mode).filter(public_id=public_id).first()
    if payment is None:
        raise Http404
    return payment


def list_payments(merchant, mode: str, *, status=None, created_gte=None, created_lte=None):
    queryset = payments_for(merchant, mode).prefetch_related("attempts__connector_account")
    if status:
        queryset = queryset.filter(status=status)
    if created_gte:
        queryset = queryset.filter(created_at__gte=created_gte)
    if created_lte:
        queryset = queryset.filter(created_at__lte=created_lte)
    return queryset


def refunds_for(merchant, mode: str):
    return Refund.objects.filter(payment__merchant=merchant, payment__mode=mode).select_related("payment")


def get_refund(merchant, mode: str, public_id: str) -> Refund:
    refund = refunds_for(merchant, mode).filter(public_id=public_id).first()
    if refund is None:
        raise Http404
    return refund


def saved_methods_for(merchant, mode: str, *, customer_id: str | None = None):
    queryset = SavedPaymentMethod.objects.filter(merchant=merchant, mode=mode).select_related("connector_account")
    return queryset.filter(customer_id=customer_id) if customer_id else queryset


def get_saved_method(merchant, mode: str, public_id: str) -> SavedPaymentMethod:
    method = saved_methods_for(merchant, mode).filter(public_id=public_id).first()
    if method is None:
        raise Http404
    return method
