"""Thin views for webhook endpoints and events: parse, call one service, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from payments.api.helpers import ERRORS, IDEMPOTENCY_HEADER, list_parameters, mode_of, validated
from payments.api.idempotency import idempotent
from payments.api.pagination import CreatedCursorPagination
from payments.api.serializers import ListParameters
from webhooks import endpoints as endpoint_services
from webhooks import outbound
from webhooks.api import selectors
from webhooks.api import serializers as s


class EndpointListCreateView(GenericAPIView):
    pagination_class = CreatedCursorPagination
    serializer_class = s.EndpointOutput

    @extend_schema(operation_id="webhook_endpoints_list", parameters=[ListParameters],
                   responses={200: s.EndpointOutput(many=True), **ERRORS})
    def get(self, request):
        list_parameters(ListParameters, request.query_params.dict())
        page = self.paginate_queryset(selectors.endpoints_for(request.user, mode_of(request)))
        return self.get_paginated_response(s.EndpointOutput(page, many=True).data)

    @extend_schema(operation_id="webhook_endpoints_create", request=s.EndpointCreateInput,
                   parameters=[IDEMPOTENCY_HEADER], responses={201: s.EndpointWithSecretOutput, **ERRORS})
    @idempotent
    def post(self, request):
        data = validated(s.EndpointCreateInput, request)
        endpoint, secret = endpoint_services.create_endpoint(
            merchant=request.user, mode=mode_of(request), url=data["url"], enabled_events=data["enabled_events"],
            description=data.get("description", ""))
        return Response(s.EndpointWithSecretOutput(endpoint, context={"secret": secret}).data,
                        status=http.HTTP_201_CREATED)


class EndpointDetailView(GenericAPIView):
    serializer_class = s.EndpointOutput

    @extend_schema(operation_id="webhook_endpoints_retrieve", responses={200: s.EndpointOutput, **ERRORS})
    def get(self, request, endpoint_id):
        return Response(s.EndpointOutput(selectors.get_endpoint(request.user, mode_of(request), endpoint_id)).data)

    @extend_schema(operation_id="webhook_endpoints_update", request=s.EndpointUpdateInput,
                   parameters=[IDEMPOTENCY_HEADER], responses={200: s.EndpointOutput, **ERRORS})
    @idempotent
    def post(self, request, endpoint_id):
        endpoint = selectors.get_endpoint(request.user, mode_of(request), endpoint_id)
        data = validated(s.EndpointUpdateInput, request)
        endpoint = endpoint_services.update_endpoint(
            endpoint_pk=endpoint.pk, url=data.get("url"), enabled_events=data.get("enabled_events"),
            description=data.get("description"), disabled=data.get("disabled"))
        return Response(s.EndpointOutput(endpoint).data)

    @extend_schema(operation_id="webhook_endpoints_delete", responses={200: s.DeletedOutput, **ERRORS})
    def delete(self, request, endpoint_id):
        endpoint = selectors.get_endpoint(request.user, mode_of(request), endpoint_id)
        endpoint_services.delete_endpoint(endpoint_pk=endpoint.pk)
        return Response({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})


class EventListView(GenericAPIView):
    pagination_class = CreatedCursorPagination
    serializer_class = s.EventOutput

    @extend_schema(operation_id="events_list", parameters=[s.EventListFilters],
                   responses={200: s.EventOutput(many=True), **ERRORS})
    def get(self, request):
        params = list_parameters(s.EventListFilters, request.query_params.dict())
        queryset = selectors.events_for(request.user, mode_of(request), type=params.get("type"),
                                        payment=params.get("payment"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.EventOutput(page, many=True).data)


class EventDetailView(GenericAPIView):
    serializer_class = s.EventOutput

    @extend_schema(operation_id="events_retrieve", responses={200: s.EventOutput, **ERRORS})
    def get(self, request, event_id):
        return Response(s.EventOutput(selectors.get_event(request.user, mode_of(request), event_id)).data)


class EventResendView(GenericAPIView):
    serializer_class = s.EventOutput

    @extend_schema(operation_id="events_resend", request=s.EventResendInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={202: s.EventOutput, **ERRORS})
    @idempotent
    def post(self, request, event_id):
        event = selectors.get_event(request.user, mode_of(request), event_id)
        data = validated(s.EventResendInput, request)
        endpoint = (selectors.get_endpoint(request.user, mode_of(request), data["endpoint"])
                    if data.get("endpoint") else None)
        outbound.resend_event(event=event, endpoint=endpoint)
        event = selectors.get_event(request.user, mode_of(request), event_id)
        return Response(s.EventOutput(event).data, status=http.HTTP_202_ACCEPTED)
