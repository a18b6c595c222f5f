"""Public ids: prefixed, 24 characters of base 62, unguessable and evenly spread."""

import collections
import string

from payments.ids import new_id


def test_an_id_is_its_prefix_and_24_base62_characters():
    ids = [new_id("pay") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        prefix, _, body = value.partition("_")
        assert prefix == "pay" and len(body) == 24
        assert set(body) <= set(string.ascii_letters + string.digits)


def test_every_character_is_about_as_likely_in_every_position():
    bodies = [new_id("x")[2:] for _ in range(6200)]
    for position in (0, 12, 23):
        counts = collections.Counter(body[position] for body in bodies)
        assert len(counts) == 62  # 100 expected draws each: every character shows up
        assert max(counts.values()) < 170 and min(counts.values()) > 45
