"""The recovery point of a request made with an ``Idempotency-Key``.

A service that creates an object (a payment, a refund, a saved card) calls ``remember_created``
right after the row exists. If the request then dies (the database connection drops after the
bank was called, say), the key is not freed: its retry resumes the object it created instead of
creating, and charging, a second one.
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
    from payments.models import IdempotencyRecord

    record_pk = _current_record_pk.get()
    if record_pk is not None:
        IdempotencyRecord.objects.filter(pk=record_pk).update(resource_id=obj.public_id)
