"""Inbound webhook endpoints. Banks post here: CSRF does not apply, nothing is trusted but a
verified signature, and the raw event is stored before anything else happens."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors.models import ConnectorAccount
from webhooks import inbound
from webhooks.models import WebhookOutcome


def _read_body(request) -> tuple[bytes, bool] | None:
    """The body, at most MAX_WEBHOOK_BYTES of it, and whether there was more; None when it could
    not be read whole (malformed chunks, or the sender went away mid-body).

    A bank may send its event chunked (no Content-Length). Django reads no body then, so the
    event would be stored empty and its signature fail; gunicorn, which decodes the chunks, says
    so (``wsgi.input_terminated``) and the body is read from its input directly. Its decoder
    raises its own parse errors (a bad chunk size, a missing terminator) for a malformed body."""
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and request.environ.get(
            "wsgi.input_terminated"):
        stream = request.environ["wsgi.input"]
    else:
        stream = request  # HttpRequest is file-like; reading it directly bypasses DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        body = stream.read(inbound.MAX_WEBHOOK_BYTES + 1)
    except Exception:  # noqa: BLE001 - the server's decoder errors (gunicorn's ParseException, OSError)
        return None
    return body[: inbound.MAX_WEBHOOK_BYTES], len(body) > inbound.MAX_WEBHOOK_BYTES


def _receive(request, connector: str, account_public_id: str | None) -> HttpResponse:
    """Read, store and process one bank event; what both endpoints do."""
    read = _read_body(request)
    if read is None:
        return JsonResponse({"received": False, "outcome": WebhookOutcome.MALFORMED.value,
                             "message": "the body could not be read whole"}, status=400)
    body, too_large = read
    result = inbound.receive(connector_key=connector, account_public_id=account_public_id,
                             headers=dict(request.headers), body=body, source_address=request.META.get("REMOTE_ADDR"),
                             too_large=too_large)
    return _answer(result)


def _answer(result: inbound.WebhookResult) -> HttpResponse:
    if result.event is None:
        return JsonResponse({"received": False, "outcome": result.outcome}, status=result.http_status)
    account: ConnectorAccount | None = result.event.connector_account
    if account is not None:
        custom = account.connector_class(credentials={}, base_url="").webhook_acknowledgement(result.outcome)
        if custom is not None and result.http_status < 300:
            status, content_type, text = custom
            return HttpResponse(text, status=status, content_type=content_type)
    return JsonResponse({"received": result.http_status < 300, "event": result.event.public_id,
                         "outcome": result.outcome}, status=result.http_status)


@csrf_exempt
@require_POST
def connector_webhook(request, connector: str, account_id: str):
    return _receive(request, connector, account_id)


@csrf_exempt
@require_POST
def legacy_webhook(request, connector: str):
    """``POST /webhooks/bancox``: for a bank that cannot be given a per-account URL, the
    connector finds the account named in the event itself."""
    return _receive(request, connector, None)
