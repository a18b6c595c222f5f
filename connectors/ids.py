"""Opaque, prefixed public ids (``pay_...``, ``re_...``, ``mca_...``): what merchants and banks see.

Every app's models draw their public ids here; it lives in connectors/, the bottom layer, so
that a connector account can have one without importing the payments app
(``payments.ids`` re-exports it, and the migrations written before the move still name it).
"""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    # One draw from the OS for the whole id (secrets.choice per character reads it 24 times),
    # written in base 62: every id of ``length`` characters is equally likely.
    number = secrets.randbelow(len(_ALPHABET) ** length)
    characters = []
    for _ in range(length):
        number, index = divmod(number, len(_ALPHABET))
        characters.append(_ALPHABET[index])
    return f"{prefix}_{''.join(characters)}"


def id_factory(prefix: str):
    """A callable for a model field default (Django migrations need a named, importable callable)."""
    return _Factory(prefix)


class _Factory:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self) -> str:
        return new_id(self.prefix)

    def deconstruct(self):
        return ("connectors.ids.id_factory", (self.prefix,), {})

    def __eq__(self, other):
        return isinstance(other, _Factory) and other.prefix == self.prefix

    def __hash__(self):
        return hash(self.prefix)
