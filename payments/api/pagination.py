"""Cursor pagination with the list shape merchants know: ``data``, ``has_more``, ``next_cursor``."""

from urllib.parse import parse_qs, urlparse

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class CreatedCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 10
    page_size_query_param = "limit"
    max_page_size = 100

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
                "next_cursor": {"type": "string", "nullable": True},
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }
