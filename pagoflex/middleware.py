"""Project-wide request guards that no single view can own.

- ``RefuseNulCharacters``: PostgreSQL cannot hold U+0000 in a text value, and a query that
  compares one with a column fails (psycopg: "A string literal cannot contain NUL"), which became
  a 500 from any path id, filter, header or form field that carried ``%00``. No legitimate path,
  query, header or form value holds one, so such a request is refused before any view can pass it
  to a query: 404 for a path (there is no such object), 400 for a parameter or header. JSON bodies of the API are
  checked by its parser (``payments.api.parsers``), which can name the field.
- ``ApiErrorsAsJson``: every answer under ``/v1/`` (and to the banks, under ``/webhooks/``) is
  JSON; an error Django itself produced (the debug 404 page for an unknown route, a 405 from a
  plain view, a 400 for a bad Host) is rewritten into the one error shape (``payments.api.errors``).
- ``ReadApiBodyFirst``: an API request's body is read only once its API key is known good, and
  after the connection used to look the key up went back to the pool: a client that sends its
  body slowly holds one of the server's threads (cheap, hundreds of them) and never one of its
  database connections (a few per process, docs/deployment.md); a client without a good key is
  refused before its body is read. A chunked body is refused (411): Django reads none of it, so
  ``{"amount": 2000}`` on a capture would have been read as no amount at all.
- ``DatabaseUnavailableAs503``: a view outside the API's own error handler (the admin, the
  customer's pages, the banks' webhooks) that loses its database mid-request (a failover, or a
  statement or lock wait past its bound, ``DATABASE_STATEMENT_TIMEOUT``) answers 503 with
  ``Retry-After``, as the API does, not 500: nothing was half-done (each step commits whole), and
  a bank retries a webhook it was told to retry.
"""

import logging
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from rest_framework.exceptions import AuthenticationFailed

from connectors.waiting import release_database_connection
from observability.request_ids import route_of
from payments.api.authentication import ApiKeyAuthentication
from payments.api.errors import DATABASE_UNAVAILABLE_RETRY_AFTER, database_unavailable_body, error_body

logger = logging.getLogger("pagoflex.api")
MACHINE_PREFIXES = ("/v1/", "/webhooks/")
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_in_query(query_string: str) -> str | None:
    """The name of the first query parameter whose name or value holds a NUL character."""
    for pair in query_string.replace(";", "&").split("&"):
        name, _, value = pair.partition("=")
        raw_name = unquote_to_bytes(name.replace("+", " "))
        if b"\x00" in raw_name or b"\x00" in unquote_to_bytes(value.replace("+", " ")):
            return raw_name.replace(b"\x00", b"").decode("utf-8", "replace") or "query"
    return None


class RefuseNulCharacters:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        machine = request.path_info.startswith(MACHINE_PREFIXES)
        if "\x00" in request.path_info:
            if machine:
                return JsonResponse(error_body("invalid_request_error", "resource_missing", "no such object"),
                                    status=404)
            raise Http404("no such page")
        param = _nul_in_query(request.META.get("QUERY_STRING", ""))
        if param is None:  # headers: the inbound webhook views store them, the API looks keys up by them
            param = next((name.removeprefix("HTTP_").replace("_", "-").title() for name, value in request.META.items()
                          if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value), None)
        # The API takes JSON only (a form body is a 415 from its parser), and its body is read only
        # for a good API key (ReadApiBodyFirst): no form of it is parsed here.
        if (param is None and request.method == "POST" and request.content_type in FORM_CONTENT_TYPES
                and not request.path_info.startswith("/v1/")):
            param = next((name for name, values in request.POST.lists()
                          if "\x00" in name or any("\x00" in value for value in values)), None)
            param = param.replace("\x00", "") or "form" if param is not None else None
        if param is not None:
            if machine:
                return JsonResponse(error_body("invalid_request_error", "parameter_invalid",
                                               f"{param}: must not contain NUL characters", param), status=400)
            return HttpResponseBadRequest(f"{param}: must not contain NUL characters", content_type="text/plain")
        return self.get_response(request)


ERROR_CODES = {400: "parameter_invalid", 401: "api_key_missing", 403: "permission_denied",
               404: "resource_missing", 405: "method_not_allowed", 413: "body_too_large",
               415: "unsupported_media_type"}


class ApiErrorsAsJson:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code < 400 or not request.path_info.startswith(MACHINE_PREFIXES)
                or response.get("Content-Type", "").startswith("application/json")):
            return response
        status = response.status_code
        if status >= 500:
            body = error_body("api_error", "internal_error", "something went wrong on our side")
        elif status == 404:
            body = error_body("invalid_request_error", "resource_missing",
                              f"unrecognized request URL ({request.method} {request.path})")
        elif status == 405:
            body = error_body("invalid_request_error", "method_not_allowed",
                              f"method {request.method} is not allowed on {request.path}")
        else:
            body = error_body("authentication_error" if status in (401, 403) else "invalid_request_error",
                              ERROR_CODES.get(status, "invalid_request"), response.reason_phrase.lower())
        json_response = JsonResponse(body, status=status)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                json_response[header] = response[header]
        return json_response


class DatabaseUnavailableAs503:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if settings.DEBUG or not isinstance(exception, (OperationalError, InterfaceError)):
            return None  # in development, Django's debug page says more (a missing migration, say)
        # The route, never the raw path: a path can hold anything a client put in it.
        logger.warning("database unavailable in %s: %s", route_of(request), exception)
        if request.path_info.startswith(MACHINE_PREFIXES):
            response = JsonResponse(database_unavailable_body(), status=503)
        else:
            response = HttpResponse("The service is briefly unavailable. Please try again in a moment.\n",
                                    status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = DATABASE_UNAVAILABLE_RETRY_AFTER
        return response


class ReadApiBodyFirst:
    """For POST/PUT/PATCH/DELETE under /v1/: 411 for a chunked body; else, when the API key is good
    (``payments.api.authentication``), the connection taken to look it up is given back to the pool
    and the whole body is read, before any view runs, and a body shorter than its Content-Length
    (the client closed its side early) is a 400. Without a good key nothing is read: the view
    answers 401 unread. A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is not read here either: the
    API answers it 413, unread, as before. (The inbound webhook views read their own body first:
    ``webhooks.views``.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/v1/") and request.method in ("POST", "PUT", "PATCH", "DELETE"):
            refusal = self._read_body(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def _read_body(request):
        if request.META.get("HTTP_TRANSFER_ENCODING"):
            return JsonResponse(error_body("invalid_request_error", "length_required",
                                           "send the body with a Content-Length header (chunked bodies are not "
                                           "accepted)"), status=411)
        try:
            announced = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            announced = 0
        if announced <= 0 or not _authenticated(request):
            return None
        release_database_connection()
        try:
            body = request.body
        except RequestDataTooBig:
            return None  # the API's error handler answers 413 when the view asks for it
        except OSError:  # UnreadablePostError: the client went away mid-body
            body = b""
        if len(body) < announced:
            return JsonResponse(error_body("invalid_request_error", "parameter_invalid",
                                           "the request body ended before its announced Content-Length"),
                                status=400)
        return None


def _authenticated(request) -> bool:
    """Whether the request carries a good API key (kept on the request for the view). False when
    the key cannot be looked up (the database unreachable, the pool exhausted): the view's own
    lookup then fails the same way and answers 503 ``service_unavailable`` (payments.api.errors)."""
    try:
        return ApiKeyAuthentication().authenticate(request) is not None
    except (AuthenticationFailed, DatabaseError):
        return False
