"""``Idempotency-Key`` on every POST: the first answer is kept and replayed.

The same key with the same body replays the first response without calling the connector
again; the same key with another body is refused; a repeat that arrives while the first is
still running is told so (409) instead of running twice. The key is claimed by inserting a
row under a unique constraint, so two concurrent requests cannot both win.
"""

import functools
import hashlib

from django.db import IntegrityError, connection, transaction
from rest_framework.response import Response

from payments.models import IdempotencyRecord
from payments.services.errors import PaymentError

HEADER = "Idempotency-Key"


def idempotent(view_method):
    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise PaymentError("Idempotency-Key must be 1 to 255 printable characters", code="idempotency_key_invalid",
                               param=HEADER)
        fingerprint = hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), request.path.encode(),
                                                     request.body)).hexdigest()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(merchant=request.user, key=key,
                                                          request_fingerprint=fingerprint)
        except IntegrityError:
            return _replay(request, key, fingerprint)
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            # Nothing was kept: the request may be retried with the same key.
            _forget(record.pk)
            raise
        if response.status_code >= 500:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyRecord.State.COMPLETED, response_status=response.status_code, response_body=response.data)
        return response

    return wrapper


def _forget(record_pk: int) -> None:
    """Free the key after a failed request, even when the failure was the database connection
    itself (dropped mid-request): a dead connection is closed so this runs on a fresh one."""
    if connection.errors_occurred and not connection.in_atomic_block and not connection.is_usable():
        connection.close()
    IdempotencyRecord.objects.filter(pk=record_pk).delete()


def _replay(request, key: str, fingerprint: str) -> Response:
    record = IdempotencyRecord.objects.filter(merchant=request.user, key=key).first()
    if record is None:
        raise PaymentError("a request with this Idempotency-Key failed a moment ago; retry it",
                           code="idempotency_request_in_progress", type="idempotency_error", http_status=409,
                           param=HEADER)
    if record.request_fingerprint != fingerprint:
        raise PaymentError("this Idempotency-Key was used with another request; use a new key for a new request",
                           code="idempotency_key_reused", type="idempotency_error", param=HEADER)
    if record.state != IdempotencyRecord.State.COMPLETED:
        raise PaymentError("a request with this Idempotency-Key is still being processed",
                           code="idempotency_request_in_progress", type="idempotency_error", http_status=409,
                           param=HEADER)
    return Response(record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"})
