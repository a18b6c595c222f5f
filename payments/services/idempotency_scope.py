"""The recovery point of a request made with an ``Idempotency-Key``.

A service that creates an object (a payment, a refund, a saved card) calls ``remember_created``
right after the row exists; a capture calls ``remember_capture_reserved`` with the reservation it
commits before the bank is called. If the request then dies (the database connection drops after
the bank was called, a statement runs past its bound, the bank's answer is lost), the key is not
freed: its retry resumes the object created (asks the bank what happened) instead of creating,
and charging, a second one, and a retried capture is refused (409) instead of capturing again.
"""

from contextvars import ContextVar

_current_record_pk: ContextVar[int | None] = ContextVar("idempotency_record_pk", default=None)


def bind(record_pk: int | None):
    """Make ``record_pk`` the current request's idempotency record; returns the reset token."""
    return _current_record_pk.set(record_pk)


def unbind(token) -> None:
    _current_record_pk.reset(token)


def remember_created(obj) -> None:
    """Record on the current idempotency record (if any) the public id of the object just made."""
    _record_resource(obj.public_id)


def remember_capture_reserved(payment) -> None:
    """In the transaction that commits a capture's reservation: the bank may be asked from here on,
    so a retry of the request must never capture again (``capture.interrupted_capture``)."""
    _record_resource(payment.public_id)


def forget_capture_reserved() -> None:
    """The bank's word is that the request's capture did not happen (refused, its reservation
    released): a retry may simply run the request again."""
    _record_resource("")


def _record_resource(public_id: str) -> None:
    from payments.models import IdempotencyRecord

    record_pk = _current_record_pk.get()
    if record_pk is not None:
        IdempotencyRecord.objects.filter(pk=record_pk).update(resource_id=public_id)
