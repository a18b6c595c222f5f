"""Cursor pagination with the list shape merchants know: ``data``, ``has_more``, ``next_cursor``.

A cursor is opaque to the merchant but has a format the schema can state, so that every cursor
the schema allows is one we can read: the position (the last object's ``created_at`` as
microseconds since the Unix epoch), then ``o<n>`` to skip objects created in the same
microsecond, then ``r`` when paging backwards, e.g. ``1764461506123456o2``. Anything else,
tampered or not ours, is a 400 naming ``cursor``: a client must never be sent back to the first
page in a loop, nor make the database compare a date with ``notadate`` (a 500).

``limit`` is checked the same way: an integer from 1 to 100, or the request is refused.
"""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from rest_framework.pagination import Cursor, CursorPagination, replace_query_param
from rest_framework.response import Response

from payments.errors import PaymentError

MAX_LIMIT = 100
# 17 digits of microseconds reach the year 5138: every cursor the pattern allows is a valid time.
# A cursor with no position ("o10") starts from the newest object, skipping that many.
CURSOR_PATTERN = r"^([0-9]{1,17}(o[0-9]{1,4})?|o[0-9]{1,4})r?$"
LIMIT_PATTERN = r"^[0-9]{1,3}$"
_CURSOR_RE = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def invalid(param: str, message: str) -> PaymentError:
    return PaymentError(f"{param}: {message}", code="parameter_invalid", param=param)


class CreatedCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 10
    page_size_query_param = "limit"
    max_page_size = MAX_LIMIT

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not re.fullmatch(LIMIT_PATTERN, raw) or not 1 <= int(raw) <= MAX_LIMIT:
            raise invalid("limit", f"must be an integer from 1 to {MAX_LIMIT}")
        return int(raw)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        match = _CURSOR_RE.fullmatch(encoded)
        if match is None:
            raise invalid("cursor", "not a cursor from this API; pass next_cursor from the previous page")
        reverse = encoded.endswith("r")
        micros, _, offset = encoded.removesuffix("r").partition("o")
        position = (_EPOCH + int(micros) * _MICROSECOND).isoformat() if micros else None
        offset = int(offset) if offset else 0
        return Cursor(offset=min(offset, self.offset_cutoff), reverse=reverse, position=position)

    def encode_cursor(self, cursor):
        return replace_query_param(self.base_url, self.cursor_query_param, self.cursor_token(cursor))

    @staticmethod
    def cursor_token(cursor) -> str:
        token = ""
        if cursor.position is not None:
            token = str((datetime.fromisoformat(cursor.position) - _EPOCH) // _MICROSECOND)
        if cursor.offset or not token:
            token += f"o{cursor.offset}"
        return token + ("r" if cursor.reverse else "")

    def _get_position_from_instance(self, instance, ordering):
        return instance.created_at.isoformat()

    def get_paginated_response(self, data):
        next_link = self.get_next_link()
        next_cursor = parse_qs(urlparse(next_link).query).get("cursor", [None])[0] if next_link else None
        return Response({"object": "list", "data": data, "has_more": next_link is not None,
                         "next_cursor": next_cursor, "next": next_link})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["object", "data", "has_more"],
            "properties": {
                "object": {"type": "string", "example": "list"},
                "data": schema,
                "has_more": {"type": "boolean"},
                "next_cursor": {"type": "string", "nullable": True, "pattern": CURSOR_PATTERN},
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }
