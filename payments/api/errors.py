"""The one error shape of the API:

    {"error": {"type": "invalid_request_error", "code": "amount_invalid",
               "message": "...", "param": "amount"}}

Every 4xx and 5xx the API answers, from DRF, from the services or from Django itself, goes
through here.
"""

import logging
import math

from django import db
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from payments.services.errors import PaymentError

logger = logging.getLogger("pagoflex.api")


def error_body(type_: str, code: str, message: str, param: str | None = None, **extra) -> dict:
    error = {"type": type_, "code": code, "message": message}
    if param:
        error["param"] = param
    error.update(extra)
    return {"error": error}


# Seconds a client is told to wait after the database was unreachable, or a statement or lock wait
# ran past its bound (DATABASE_STATEMENT_TIMEOUT, DATABASE_LOCK_TIMEOUT in pagoflex/settings.py).
DATABASE_UNAVAILABLE_RETRY_AFTER = "1"


def database_unavailable_body() -> dict:
    """503 ``service_unavailable``: the request's transaction was rolled back whole, so a retry
    with the same ``Idempotency-Key`` is safe and counts once."""
    return error_body("api_error", "service_unavailable",
                      "a temporary failure interrupted the request; retry it with the same Idempotency-Key")


def _first_validation_error(detail, path: str = "") -> tuple[str, str, str]:
    """(param, code, message) of the first error in a nested DRF ValidationError detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            return _first_validation_error(value, name)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)) and not _is_leaf_list(value):
                return _first_validation_error(value, f"{path}[{index}]" if isinstance(value, dict) else path)
            return _first_validation_error(value, path)
    code = getattr(detail, "code", "invalid") or "invalid"
    return path, str(code), str(detail)


def _is_leaf_list(value) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


_DRF_CODES = {"required": "parameter_missing", "null": "parameter_missing", "blank": "parameter_missing",
              "invalid": "parameter_invalid", "invalid_choice": "parameter_invalid",
              "max_length": "parameter_invalid", "min_length": "parameter_invalid",
              "max_value": "parameter_invalid", "min_value": "parameter_invalid",
              "not_a_dict": "parameter_invalid", "not_a_list": "parameter_invalid",
              "max_string_length": "parameter_invalid", "date": "parameter_invalid",
              "datetime": "parameter_invalid", "empty": "parameter_missing"}


# The rules a request can break while matching the OpenAPI schema (JSON Schema cannot state them:
# a checksum, the calendar, what exists, the rules between two fields): each answers 400 with its
# own code, never a generic one, and the schema's description lists them (below).
RULES_BEYOND_THE_SCHEMA = {
    "card_number_invalid": "the card number fails the Luhn check",
    "card_expired": "the card's expiry month has passed",
    "connector_not_eligible": "the connector account cannot take this payment (mode, currency, method, capture)",
    "payment_method_conflict": "payment_method and payment_method_data, or a saved method saved again",
    "payment_method_required": "a payment to confirm needs a payment method",
    "parameter_dependency": "a field that needs another (payment_method_type and its data, a collect UPI and its "
                            "VPA, save_payment_method and customer.id)",
    "routing_split_invalid": "volume split shares that do not add up to 100",
    "routing_connector_unknown": "a routing outcome names a connector account that does not exist",
    "routing_connector_incapable": "a routing outcome names an account that cannot take what the rule matches",
    "text_not_storable": "a string or an object key holding a NUL character or a lone surrogate",
    "metadata_key_invalid": "a metadata key that is empty or longer than 40 characters",
    "resource_missing": "an id in the body (payment, payment_method, connector) names nothing of yours",
    "idempotency_key_reused": "the Idempotency-Key was used with other parameters",
    "amount_too_large": "more than the payment has left to capture or refund",
}


def describe_rules_beyond_the_schema(result, generator, request, public):
    """drf-spectacular postprocessing hook: the API description lists RULES_BEYOND_THE_SCHEMA,
    and every request object says what the strict input serializers do: a field the schema does
    not name is refused (``parameter_unknown``)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object" and "properties" in component:
            component.setdefault("additionalProperties", False)
    lines = [f"- `{code}`: {text}" for code, text in RULES_BEYOND_THE_SCHEMA.items()]
    result["info"]["description"] += ("\n\nA request that matches this schema can still break a rule the schema "
                                       "cannot state; it is answered 400 with one of these codes:\n"
                                       + "\n".join(lines))
    return result


def exception_handler(exc, context):
    if isinstance(exc, PaymentError):
        return Response(error_body(exc.type, exc.code, exc.message, exc.param), status=exc.http_status)
    if isinstance(exc, exceptions.ValidationError):
        param, code, message = _first_validation_error(exc.detail)
        code = _DRF_CODES.get(code, code)
        if param and not message.startswith(param):
            message = f"{param}: {message}"
        return Response(error_body("invalid_request_error", code, message, param or None), status=400)
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body("invalid_request_error", "invalid_json", f"the body is not valid JSON: {exc.detail}"),
                        status=400)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "api_key_invalid"
        if isinstance(exc, exceptions.NotAuthenticated):
            code = "api_key_missing"
        return Response(error_body("authentication_error", code, str(exc.detail), "Authorization"), status=401,
                        headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return Response(error_body("invalid_request_error", "resource_missing", "no such object"), status=404)
    if isinstance(exc, (PermissionDenied, exceptions.PermissionDenied)):
        return Response(error_body("authentication_error", "permission_denied", "this key cannot do that"), status=403)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(error_body("invalid_request_error", "method_not_allowed", str(exc.detail)), status=405)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(error_body("invalid_request_error", "unsupported_media_type",
                                   "send the body as application/json"), status=415)
    if isinstance(exc, exceptions.NotAcceptable):
        return Response(error_body("invalid_request_error", "not_acceptable", str(exc.detail)), status=406)
    if isinstance(exc, exceptions.Throttled):
        # Rounded up: a wait of 0.3 s must not be announced as "Retry-After: 0".
        wait = max(1, math.ceil(exc.wait or 1))
        return Response(error_body("rate_limit_error", "rate_limited", f"too many requests; retry in {wait} s"),
                        status=429, headers={"Retry-After": str(wait)})
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("invalid_request_error", "body_too_large", "the request body is too large"),
                        status=413)
    if isinstance(exc, exceptions.APIException):
        return Response(error_body("api_error", str(exc.get_codes()), str(exc.detail)), status=exc.status_code)
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        # The database went away mid-request (failover, restart): the services commit each step
        # whole, so the merchant may safely retry, and the key makes the retry count once.
        logger.warning("database unavailable in %s: %s", context.get("view").__class__.__name__ if context else "API",
                       exc)
        return Response(database_unavailable_body(), status=503,
                        headers={"Retry-After": DATABASE_UNAVAILABLE_RETRY_AFTER})
    logger.exception("unexpected error in %s", context.get("view").__class__.__name__ if context else "API")
    return Response(error_body("api_error", "internal_error", "something went wrong on our side"), status=500)


def json_not_found(request, exception=None):
    """Django's 404 for unknown URLs: in the error shape for machines, the usual page for people."""
    if not request.path.startswith(("/v1/", "/webhooks/")):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)
    return JsonResponse(error_body("invalid_request_error", "resource_missing",
                                   f"unrecognized request URL ({request.method} {request.path})"), status=404)


def json_server_error(request):
    return JsonResponse(error_body("api_error", "internal_error", "something went wrong on our side"), status=500)
