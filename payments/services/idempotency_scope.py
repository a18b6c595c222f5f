"""The recovery point of a request made with an ``Idempotency-Key``.

A service that creates an object (a payment, a refund, a saved card) calls ``remember_created``
right after the row exists; a capture calls ``remember_capture_reserved`` with the reservation it
commits before the bank is called. If the request then dies (the database connection drops after
the bank was called, a statement runs past its bound, the bank's answer is lost), the key is not
freed: its retry resumes that object (asks the bank what happened) instead of creating, or
capturing, a second time.
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
    _update_record(resource_id=obj.public_id)


def remember_capture_reserved(payment) -> None:
    """In the transaction that commits a capture's reservation: the bank may be asked from here on,
    so a retry of the request must never capture again (``capture.resume_capture``)."""
    _update_record(resource_id=payment.public_id)


def forget_capture_reserved() -> None:
    """The bank's word is that the request's capture did not happen (refused, its reservation
    released): a retry may simply run the request again."""
    _update_record(resource_id="")


def _update_record(**fields) -> None:
    from payments.models import IdempotencyRecord

    record_pk = _current_record_pk.get()
    if record_pk is not None:
        IdempotencyRecord.objects.filter(pk=record_pk).update(**fields)
