from rest_framework.permissions import BasePermission

from payments.models import Merchant


class IsMerchant(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, Merchant)
