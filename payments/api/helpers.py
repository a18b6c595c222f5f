"""What every API view shares, the payments app's and the webhooks app's alike: the error
responses and the ``Idempotency-Key`` header they document, the mode the API key is in, and
input validation that refuses a body that is not a JSON object (in the one error shape)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.exceptions import ValidationError

from payments.api.idempotency import KEY_PATTERN
from payments.api.serializers import ErrorOutput

ERRORS = {code: OpenApiResponse(ErrorOutput, description=text) for code, text in {
    400: "Invalid request (the error names the parameter)", 401: "Missing or invalid API key",
    402: "The connector declined", 404: "No such object (or not yours)", 409: "The object's state forbids it",
    502: "The connector failed or its outcome is unknown", 503: "The connector is unavailable",
}.items()}
IDEMPOTENCY_HEADER = OpenApiParameter("Idempotency-Key", {"type": "string", "pattern": KEY_PATTERN},
                                      OpenApiParameter.HEADER, required=False,
                                      description="Replays the first answer for a repeated request.")


def mode_of(request) -> str:
    """``test`` or ``live``: the mode of the API key that authenticated the request."""
    return request.auth.mode


def validated(serializer_class, request) -> dict:
    """The request body validated by ``serializer_class``; raises ``ValidationError`` (a 400 in
    the one error shape, naming the field) when the body is not a JSON object or is invalid."""
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": ["the body must be a JSON object"]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def list_parameters(serializer_class, query: dict) -> dict:
    """The validated query parameters of a list (a 400 naming the first bad one): the same
    serializer generates the list's parameters in the schema, so the two cannot disagree."""
    filters = serializer_class(data=query)
    filters.is_valid(raise_exception=True)
    return filters.validated_data
