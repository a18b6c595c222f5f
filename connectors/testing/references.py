"""Random references for the connector tests' factories (payment, attempt and refund ids)."""

import secrets
import string


def random_reference(prefix: str, length: int = 12) -> str:
    """``"<prefix>_"`` and ``length`` random lowercase letters: an id no other test shares.

    Letters only, not hex: a hex id now and then holds a run of 12 or more digits, and when the
    run passes the Luhn check it reads as a card number, so the masked copies of what was sent
    (a simulator's ``requests_seen``, the connector's call log) show it masked. A test comparing
    the id with such a copy then fails by chance (``att_`` and 16 hex digits: once in about a
    thousand runs).
    """
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))
    return f"{prefix}_{letters}"
