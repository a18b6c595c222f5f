"""Thin views: parse with an input serializer, call one service, render with an output serializer."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from connectors.base import Card
from payments import selectors, services
from payments.api import serializers as s
from payments.api.helpers import ERRORS, IDEMPOTENCY_HEADER, list_parameters, mode_of, validated
from payments.api.idempotency import idempotent, resumed_resource_id
from payments.api.pagination import CreatedCursorPagination
from payments.services import payment_methods
from payments.services.payments import CONFIRMABLE, Confirmation
from payments.services.routing import find_requested_account
from payments.statuses import PaymentStatus


def _payment_ref(request, payment_id: str) -> selectors.PaymentRef:
    return selectors.PaymentRef(merchant_id=request.user.pk, mode=mode_of(request), public_id=payment_id)


def _requested_account(request, value):
    return find_requested_account(request.user, mode_of(request), value) if value else None


class PaymentListCreateView(GenericAPIView):
    pagination_class = CreatedCursorPagination
    serializer_class = s.PaymentOutput

    @extend_schema(operation_id="payments_list", parameters=[s.PaymentListFilters],
                   responses={200: s.PaymentOutput(many=True), **ERRORS})
    def get(self, request):
        query = {key.replace("[", "_").replace("]", ""): value for key, value in request.query_params.items()}
        params = list_parameters(s.PaymentListFilters, query)
        queryset = selectors.list_payments(request.user, mode_of(request), status=params.get("status"),
                                           created_gte=params.get("created_gte"), created_lte=params.get("created_lte"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.PaymentOutput(page, many=True).data)

    @extend_schema(operation_id="payments_create", request=s.PaymentCreateInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: s.PaymentOutput, **ERRORS})
    @idempotent
    def post(self, request):
        data = validated(s.PaymentCreateInput, request)
        requested = _requested_account(request, data.get("connector"))
        resumed = resumed_resource_id(request)
        if resumed:
            # An earlier try with this key created the payment, then failed: finish that one.
            payment = selectors.get_payment(request.user, mode_of(request), resumed)
            if data["confirm"] and payment.status in CONFIRMABLE:
                payment = _confirm(payment, data, requested)
            elif payment.status == PaymentStatus.PROCESSING:
                # The bank may have been called: ask it what happened, never call authorize again.
                payment = services.sync_payment(payment_pk=payment.pk, actor="api")
            return Response(s.PaymentOutput(payment).data, status=http.HTTP_201_CREATED)
        payment = services.create_payment(
            merchant=request.user, mode=mode_of(request), amount=data["amount"], currency=data["currency"],
            capture_method=data["capture_method"], payment_method_type=data.get("payment_method_type", ""),
            card=data.get("card"), upi=data.get("upi"), customer=data.get("customer"),
            description=data.get("description", ""), metadata=data.get("metadata"),
            merchant_reference=data.get("merchant_reference", ""), return_url=data.get("return_url", ""),
            requested_connector=requested, save_payment_method=data["save_payment_method"],
            confirmation=_confirmation(data, requested) if data["confirm"] else None,
        )
        return Response(s.PaymentOutput(payment).data, status=http.HTTP_201_CREATED)


class PaymentDetailView(GenericAPIView):
    serializer_class = s.PaymentOutput

    @extend_schema(operation_id="payments_retrieve", parameters=[
        OpenApiParameter("force_sync", bool, description="Ask the connector for the latest status first.")],
        responses={200: s.PaymentOutput, **ERRORS})
    def get(self, request, payment_id):
        payment = selectors.get_payment(request.user, mode_of(request), payment_id)
        if request.query_params.get("force_sync", "").lower() == "true":
            payment = services.sync_payment(payment_pk=payment.pk, actor="api")
        return Response(s.PaymentOutput(payment).data)


class PaymentConfirmView(GenericAPIView):
    serializer_class = s.PaymentOutput

    @extend_schema(operation_id="payments_confirm", request=s.PaymentConfirmInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={200: s.PaymentOutput, **ERRORS})
    @idempotent
    def post(self, request, payment_id):
        payment = selectors.get_payment(request.user, mode_of(request), payment_id)
        data = validated(s.PaymentConfirmInput, request)
        payment = _confirm(payment, data, _requested_account(request, data.get("connector")))
        return Response(s.PaymentOutput(payment).data)


class PaymentCaptureView(GenericAPIView):
    serializer_class = s.PaymentOutput

    @extend_schema(operation_id="payments_capture", request=s.PaymentCaptureInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={200: s.PaymentOutput, **ERRORS})
    @idempotent
    def post(self, request, payment_id):
        data = validated(s.PaymentCaptureInput, request)
        if resumed_resource_id(request):
            # An interrupted try with this key reserved the capture and may have sent it: never a
            # second capture.
            raise services.interrupted_capture(selectors.get_payment(request.user, mode_of(request),
                                                                     resumed_resource_id(request)))
        payment = services.capture_payment(payment=_payment_ref(request, payment_id), amount=data.get("amount"))
        return Response(s.PaymentOutput(payment).data)


class PaymentCancelView(GenericAPIView):
    serializer_class = s.PaymentOutput

    @extend_schema(operation_id="payments_cancel", request=s.PaymentCancelInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={200: s.PaymentOutput, **ERRORS})
    @idempotent
    def post(self, request, payment_id):
        payment = selectors.get_payment(request.user, mode_of(request), payment_id)
        data = validated(s.PaymentCancelInput, request)
        payment = services.cancel_payment(payment_pk=payment.pk, reason=data.get("cancellation_reason", ""))
        return Response(s.PaymentOutput(payment).data)


class RefundListCreateView(GenericAPIView):
    pagination_class = CreatedCursorPagination
    serializer_class = s.RefundOutput

    @extend_schema(operation_id="refunds_list", parameters=[s.RefundListFilters],
                   responses={200: s.RefundOutput(many=True), **ERRORS})
    def get(self, request):
        params = list_parameters(s.RefundListFilters, request.query_params.dict())
        queryset = selectors.refunds_for(request.user, mode_of(request))
        if params.get("payment"):
            queryset = queryset.filter(payment__public_id=params["payment"])
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.RefundOutput(page, many=True).data)

    @extend_schema(operation_id="refunds_create", request=s.RefundCreateInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: s.RefundOutput, **ERRORS})
    @idempotent
    def post(self, request):
        data = validated(s.RefundCreateInput, request)
        resumed = resumed_resource_id(request)
        if resumed:
            # The refund was created (and perhaps sent) by an interrupted try: ask the bank, never resend.
            refund = selectors.get_refund(request.user, mode_of(request), resumed)
            if refund.status == "pending":
                refund = services.sync_refund(refund_pk=refund.pk, actor="api")
            return Response(s.RefundOutput(refund).data, status=http.HTTP_201_CREATED)
        refund = services.create_refund(payment=_payment_ref(request, data["payment"]), amount=data.get("amount"),
                                        reason=data.get("reason", ""), metadata=data.get("metadata"))
        return Response(s.RefundOutput(refund).data, status=http.HTTP_201_CREATED)


class RefundDetailView(GenericAPIView):
    serializer_class = s.RefundOutput

    @extend_schema(operation_id="refunds_retrieve", parameters=[OpenApiParameter("force_sync", bool)],
                   responses={200: s.RefundOutput, **ERRORS})
    def get(self, request, refund_id):
        refund = selectors.get_refund(request.user, mode_of(request), refund_id)
        if request.query_params.get("force_sync", "").lower() == "true":
            refund = services.sync_refund(refund_pk=refund.pk, actor="api")
        return Response(s.RefundOutput(refund).data)


class PaymentMethodListCreateView(GenericAPIView):
    pagination_class = CreatedCursorPagination
    serializer_class = s.PaymentMethodOutput

    @extend_schema(operation_id="payment_methods_list", parameters=[s.PaymentMethodListFilters],
                   responses={200: s.PaymentMethodOutput(many=True), **ERRORS})
    def get(self, request):
        params = list_parameters(s.PaymentMethodListFilters, request.query_params.dict())
        queryset = selectors.saved_methods_for(request.user, mode_of(request), customer_id=params.get("customer_id"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.PaymentMethodOutput(page, many=True).data)

    @extend_schema(operation_id="payment_methods_create", request=s.PaymentMethodCreateInput,
                   parameters=[IDEMPOTENCY_HEADER], responses={201: s.PaymentMethodOutput, **ERRORS})
    @idempotent
    def post(self, request):
        data = validated(s.PaymentMethodCreateInput, request)
        if resumed_resource_id(request):
            method = selectors.get_saved_method(request.user, mode_of(request), resumed_resource_id(request))
            return Response(s.PaymentMethodOutput(method).data, status=http.HTTP_201_CREATED)
        card = data["card"]
        method = payment_methods.save_card(
            merchant=request.user, mode=mode_of(request), customer_id=data["customer_id"],
            card=Card(number=card["number"], exp_month=card["exp_month"], exp_year=card["exp_year"],
                      cvc=card.get("cvc", ""), holder_name=card.get("holder_name", "")),
            account=_requested_account(request, data["connector"]), currency=data.get("currency", "EUR"),
            verify=data["verify"])
        return Response(s.PaymentMethodOutput(method).data, status=http.HTTP_201_CREATED)


class PaymentMethodDetailView(GenericAPIView):
    serializer_class = s.PaymentMethodOutput

    @extend_schema(operation_id="payment_methods_retrieve", responses={200: s.PaymentMethodOutput, **ERRORS})
    def get(self, request, payment_method_id):
        return Response(s.PaymentMethodOutput(selectors.get_saved_method(request.user, mode_of(request),
                                                                        payment_method_id)).data)


class PaymentMethodDetachView(GenericAPIView):
    serializer_class = s.PaymentMethodOutput

    @extend_schema(operation_id="payment_methods_detach", request=None, responses={200: s.PaymentMethodOutput,
                                                                                   **ERRORS})
    @idempotent
    def post(self, request, payment_method_id):
        method = selectors.get_saved_method(request.user, mode_of(request), payment_method_id)
        return Response(s.PaymentMethodOutput(payment_methods.detach(method)).data)


def _confirmation(data: dict, requested) -> Confirmation:
    """The payment method and options of a validated create or confirm request."""
    return Confirmation(
        payment_method_type=data.get("payment_method_type", ""), card=data.get("card"), upi=data.get("upi"),
        saved_method_id=data.get("payment_method", ""), scheduled=data["scheduled_payment"],
        requested_connector=requested, browser_info=data.get("browser_info"),
        three_ds=data["request_three_d_secure"])


def _confirm(payment, data: dict, requested):
    """Confirm a payment with the payment method of a validated create or confirm request."""
    confirmation = _confirmation(data, requested)
    return services.confirm_payment(payment_pk=payment.pk, **vars(confirmation))
