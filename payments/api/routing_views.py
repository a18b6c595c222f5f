"""``GET/PUT /v1/routing``: the merchant's routing configuration for the key's mode."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from payments.api.helpers import ERRORS
from payments.api.routing_serializers import RoutingInput, RoutingOutput, routing_output
from payments.services import routing
from payments.services.errors import PaymentError


class RoutingView(GenericAPIView):
    serializer_class = RoutingOutput

    @extend_schema(operation_id="routing_retrieve", responses={200: RoutingOutput, **ERRORS})
    def get(self, request):
        definition, configuration = routing.get_routing_configuration(merchant=request.user, mode=request.auth.mode)
        return Response(routing_output(definition, configuration, request.auth.mode))

    @extend_schema(operation_id="routing_update", request=RoutingInput, responses={200: RoutingOutput, **ERRORS})
    def put(self, request):
        if not isinstance(request.data, dict):
            raise PaymentError("the body must be a JSON object", code="parameter_invalid")
        configuration = routing.set_routing_configuration(
            merchant=request.user, mode=request.auth.mode, document=request.data, actor="api"
        )
        return Response(routing_output(configuration.definition, configuration, request.auth.mode))
