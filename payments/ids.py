"""Opaque, prefixed public ids (``pay_...``, ``re_...``): what merchants and banks see."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def id_factory(prefix: str):
    """A callable for a model field default (Django migrations need a named, importable callable)."""
    return _Factory(prefix)


class _Factory:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self) -> str:
        return new_id(self.prefix)

    def deconstruct(self):
        return ("payments.ids.id_factory", (self.prefix,), {})

    def __eq__(self, other):
        return isinstance(other, _Factory) and other.prefix == self.prefix

    def __hash__(self):
        return hash(self.prefix)
