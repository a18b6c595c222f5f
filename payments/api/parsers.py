"""The API's JSON parser: DRF's, plus the limits no serializer can enforce after the fact.

- Depth: Python's parser recurses once per level and raised ``RecursionError`` (a 500) on a body
  nested 100 000 levels deep; below that, a deep value would still reach ``metadata`` and the
  database. No request of this API nests deeper than a few levels, so past ``MAX_DEPTH`` the
  body is refused, without recursion.
- NUL characters and lone surrogates (``"\\ud800"``): PostgreSQL cannot store U+0000 in a text
  or ``jsonb`` value, and a lone surrogate cannot be encoded to UTF-8 at all (either failed the
  INSERT, a 500). No field of this API may hold one; the error names the field, as every 400 does.
"""

from rest_framework import exceptions, parsers

MAX_DEPTH = 32


def storable(text: str) -> bool:
    """True when PostgreSQL can store ``text``: no NUL character, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse(path: str, message: str):
    # Its own code: the schema cannot state this rule for free-form keys (payments.api.errors).
    return exceptions.ValidationError({path or "non_field_errors": [exceptions.ErrorDetail(
        message, code="text_not_storable")]})


def check_depth_and_text(data, max_depth: int = MAX_DEPTH) -> None:
    """Raise a ValidationError naming the first value nested deeper than ``max_depth`` or holding
    text that cannot be stored (in a key or a string). Iterative: safe on any depth."""
    stack = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if not storable(value):
                raise _refuse(path, "must be text without NUL characters or lone surrogates")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > max_depth:
            raise exceptions.ParseError(f"the body nests deeper than {max_depth} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and not storable(key):
                raise _refuse(path, "names must be text without NUL characters or lone surrogates")
            name = f"{path}.{key}" if path and isinstance(value, dict) else (
                f"{path}[{key}]" if isinstance(value, list) else str(key))
            stack.append((item, name, depth + 1))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(f"the body nests deeper than {MAX_DEPTH} levels") from None
        check_depth_and_text(data)
        return data
