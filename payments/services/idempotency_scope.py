"""The recovery point of a request made with an ``Idempotency-Key``.

A service that creates an object (a payment, a refund, a saved card) calls ``remember_created``
right after the row exists; one that asks the bank to act on an existing object (a capture) calls
``remember_sending`` with the reservation it commits before the call. If the request then dies
(the database connection drops after the bank was called, a statement runs past its bound, the
answer is lost), the key is not freed: its retry resumes that object (asks the bank what
happened) instead of creating, or capturing, a second time.
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


def remember_sending(obj) -> None:
    """Record on the current idempotency record (if any) the public id of the object the bank is
    about to be asked to act on (a capture of a payment), in the transaction that commits the
    request's reservation: from here the bank may act, so a retry of the request must ask the bank
    what happened (a sync), never send again."""
    _record_resource(obj.public_id)


def forget_sending() -> None:
    """The bank's answer is known and the request changed nothing (a declined capture, its
    reservation released): a retry may simply run the request again."""
    _record_resource("")


def _record_resource(public_id: str) -> None:
    from payments.models import IdempotencyRecord

    record_pk = _current_record_pk.get()
    if record_pk is not None:
        IdempotencyRecord.objects.filter(pk=record_pk).update(resource_id=public_id)
