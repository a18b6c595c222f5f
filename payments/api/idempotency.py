"""``Idempotency-Key`` on every POST: the first answer is kept and replayed.

The same key with the same body replays the first response without calling the connector
again; the same key with another body is refused; a repeat that arrives while the first is
still running is told so (409) instead of running twice. The key is claimed by inserting a
row under a unique constraint, so two concurrent requests cannot both win.

Keys are scoped to the merchant and the mode of the API key: a live request never replays a test
answer. "The same request" means the same parameters (as Stripe compares them), not the same
bytes: a client library that re-serialises a retry, compact or spaced, keys in another order,
gets the replay. The record holds nothing that reveals the request or the answer (see
``IdempotencyRecord``): a keyed fingerprint, never an unkeyed hash of a body that held a card
number, and the answer encrypted, since it may hold a webhook signing secret.
"""

import functools
import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.response import Response

from connectors.crypto import decrypt_json, encrypt_json
from payments.models import IdempotencyRecord
from payments.services import idempotency_scope
from payments.services.errors import PaymentError

HEADER = "Idempotency-Key"
# Printable ASCII (what an HTTP header carries unchanged), 1 to 255 characters, no space at either
# end (HTTP strips them). The schema states the same pattern.
KEY_PATTERN = r"^[!-~](?:[ -~]{0,253}[!-~])?$"


def idempotent(view_method):
    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not re.fullmatch(KEY_PATTERN, key):
            raise PaymentError("Idempotency-Key must be 1 to 255 printable ASCII characters, not starting or ending "
                               "with a space", code="idempotency_key_invalid", param=HEADER)
        fingerprint = request_fingerprint(request.method, request.path, request.data)
        mode = request.auth.mode
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(merchant=request.user, mode=mode, key=key,
                                                          request_fingerprint=fingerprint)
        except IntegrityError:
            record = _resume_interrupted(request, mode, key, fingerprint)
            if record is None:
                return _replay(request, mode, key, fingerprint)
        request.idempotency_resource_id = record.resource_id
        token = idempotency_scope.bind(record.pk)
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            _forget_or_keep(record.pk)
            raise
        finally:
            idempotency_scope.unbind(token)
        if response.status_code >= 500:
            _forget_or_keep(record.pk)
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyRecord.State.COMPLETED, response_status=response.status_code,
            response_encrypted=encrypt_json({"body": response.data}, _answer_binding(record)))
        return response

    return wrapper


# Left out of the fingerprint: PCI DSS forbids keeping the card security code in any form, keyed
# or not. A retry that differs only in it replays the first answer, as the card is the same.
UNFINGERPRINTED_FIELDS = frozenset({"cvc", "cvv", "cvv2", "cvn", "security_code"})


def canonical_parameters(data) -> str:
    """The request's parameters as one canonical JSON text: keys sorted, compact, the card
    security code left out. Equal parameters give equal texts, however the client serialised them."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if str(k).lower() not in UNFINGERPRINTED_FIELDS}
        if isinstance(value, (list, tuple)):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_fingerprint(method: str, path: str, data) -> str:
    """HMAC-SHA256 (hex, 64 characters) of the method, path and canonical parameters, keyed with
    ``settings.IDEMPOTENCY_FINGERPRINT_KEY``: without the key, a stored fingerprint cannot be
    brute-forced back to the card number the request held."""
    message = f"{method} {path}\n{canonical_parameters(data)}"
    return salted_hmac("pagoflex.idempotency.request_fingerprint", message,
                       secret=settings.IDEMPOTENCY_FINGERPRINT_KEY, algorithm="sha256").hexdigest()


def _answer_binding(record: IdempotencyRecord) -> str:
    # Associated data of the encrypted answer: copied to another record, it fails to decrypt.
    return f"payments.IdempotencyRecord:{record.merchant_id}:{record.mode}:{record.key}"


def resumed_resource_id(request) -> str:
    """The public id of the object an interrupted earlier try of this request created, or ""."""
    return getattr(request, "idempotency_resource_id", "") or ""


def _resume_interrupted(request, mode: str, key: str, fingerprint: str):
    """Take over an interrupted record with the same request, so the retry finishes its work.

    A record left in progress longer than any request can run belongs to a worker that died
    (killed mid-call, say): it counts as interrupted too. Its ``created_at`` is pushed to now in
    the same update, so two retries cannot both take it over."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.IDEMPOTENCY_STALE_AFTER_SECONDS)
    claimed = IdempotencyRecord.objects.filter(
        Q(state=IdempotencyRecord.State.INTERRUPTED)
        | Q(state=IdempotencyRecord.State.IN_PROGRESS, created_at__lt=stale_before),
        merchant=request.user, mode=mode, key=key, request_fingerprint=fingerprint,
    ).update(state=IdempotencyRecord.State.IN_PROGRESS, created_at=now)
    if not claimed:
        return None
    return IdempotencyRecord.objects.get(merchant=request.user, mode=mode, key=key)


def _forget_or_keep(record_pk: int) -> None:
    """After a failed request: free the key if nothing was created, so the request can simply be
    retried; keep it as interrupted if something was, so the retry resumes that object."""
    if connection.errors_occurred and not connection.in_atomic_block and not connection.is_usable():
        connection.close()  # a dropped connection: do this on a fresh one
    record = IdempotencyRecord.objects.filter(pk=record_pk).first()
    if record is None:
        return
    if record.resource_id:
        IdempotencyRecord.objects.filter(pk=record_pk).update(state=IdempotencyRecord.State.INTERRUPTED)
    else:
        _forget(record_pk)


def _forget(record_pk: int) -> None:
    """Free the key after a failed request, even when the failure was the database connection
    itself (dropped mid-request): a dead connection is closed so this runs on a fresh one."""
    if connection.errors_occurred and not connection.in_atomic_block and not connection.is_usable():
        connection.close()
    IdempotencyRecord.objects.filter(pk=record_pk).delete()


def _replay(request, mode: str, key: str, fingerprint: str) -> Response:
    record = IdempotencyRecord.objects.filter(merchant=request.user, mode=mode, key=key).first()
    if record is None:
        raise PaymentError("a request with this Idempotency-Key failed a moment ago; retry it",
                           code="idempotency_request_in_progress", type="idempotency_error", http_status=409,
                           param=HEADER)
    if not record.request_fingerprint:
        raise PaymentError("this Idempotency-Key was used before an upgrade and its answer is no longer kept"
                           + (f"; it created {record.resource_id}" if record.resource_id else "")
                           + "; use a new key for a new request",
                           code="idempotency_key_reused", type="idempotency_error", param=HEADER)
    if record.request_fingerprint != fingerprint:
        raise PaymentError("this Idempotency-Key was used with another request; use a new key for a new request",
                           code="idempotency_key_reused", type="idempotency_error", param=HEADER)
    if record.state != IdempotencyRecord.State.COMPLETED:
        raise PaymentError("a request with this Idempotency-Key is still being processed",
                           code="idempotency_request_in_progress", type="idempotency_error", http_status=409,
                           param=HEADER)
    body = decrypt_json(record.response_encrypted, _answer_binding(record))["body"]
    return Response(body, status=record.response_status, headers={"Idempotent-Replayed": "true"})
