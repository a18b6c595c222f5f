"""Masking of card data and secrets before anything is logged or stored in a call log.

The rules, applied to URLs, headers and bodies alike:
- a run of 12 to 19 digits (optionally grouped by spaces or dashes) that passes the Luhn
  check is a card number: only its last four digits survive;
- the value of a field whose name says it holds a CVV, a card number or a secret is masked
  whatever it looks like (JSON, form and query-string encodings). Names are compared after
  normalisation: the last segment of ``card[cvc]`` or ``card.cvc``, lower case, without ``_``
  and ``-``, so ``cardCode``, ``cvv_code``, ``card[cvc]`` and ``CVV2`` are all seen;
- the fields each connector declares secret (``Connector.secret_fields``: dotted paths into its
  JSON, e.g. Authipay's ``paymentToken.value``, a token that can charge the card again) are
  masked wherever any text shows them: declared once, by the adapter that knows its bank;
- any value the caller lists as secret (a connector's credentials, the request's own card
  number, CVC and payment token) is masked wherever it appears, as are the values found in
  declared fields (a token echoed in a message is masked too).
"""

import importlib
import logging
import re

MASK = "********"

# Normalised (see ``normalize_field_name``) names whose value is a card secret or a credential.
SENSITIVE_FIELD_NAMES = {
    "cvc", "cvv", "cvv2", "cvc2", "cvn", "cvd", "securitycode", "cardcvc", "cardcvv", "cardcode",
    "cvvcode", "cvccode", "cardsecuritycode", "cardverificationvalue", "verificationvalue",
    "number", "cardnumber", "pan", "accountnumber", "primaryaccountnumber",
    "password", "secret", "apisecret", "merchantkey", "webhooksecret", "clientsecret",
    "authorization", "proxyauthorization", "apikey", "xapikey", "messagesignature", "signature", "checksumhash",
    "paymenttoken", "cardtoken", "accesstoken", "refreshtoken",
}
# A name containing one of these is sensitive whatever surrounds it (``shopper_cvv_value``).
_SENSITIVE_MARKERS = ("cvv", "cvc", "securitycode", "cardnumber", "password", "secret", "apikey", "privatekey")

_PAN_RE = re.compile(r"(?<![\d])(?:\d[ -]?){11,18}\d(?![\d])")
_JSON_FIELD_RE = re.compile(r'"(?P<name>[A-Za-z0-9_\-\[\]\.%]+)"\s*:\s*(?P<value>"(?:[^"\\]|\\.)*"|-?\d+)')
_FORM_FIELD_RE = re.compile(r"(?P<prefix>(?:^|[?&;]))(?P<name>[A-Za-z0-9_\-\[\]\.%]+)=(?P<value>[^&;#\s]*)")

# Dotted paths declared secret by the connectors (``declare_secret_fields``).
_declared_paths: set[tuple[str, ...]] = set()
_declared_res: list[re.Pattern] = []


def normalize_field_name(name: str) -> str:
    """``card[cvc]`` -> ``cvc``, ``card%5BCVC%5D`` -> ``cvc``, ``cvv_code`` -> ``cvvcode``."""
    name = name.replace("%5B", "[").replace("%5b", "[").replace("%5D", "]").replace("%5d", "]")
    segments = [segment for segment in re.split(r"[\[\].]", name) if segment]
    last = segments[-1] if segments else name
    return re.sub(r"[_\-]", "", last.lower())


def is_sensitive_field(name: str) -> bool:
    normalized = normalize_field_name(name)
    return normalized in SENSITIVE_FIELD_NAMES or any(marker in normalized for marker in _SENSITIVE_MARKERS)


def declare_secret_fields(paths) -> None:
    """Register dotted JSON paths whose string values are secrets (called for each connector
    class, see ``Connector.__init_subclass__``)."""
    for path in paths:
        segments = tuple(path.split("."))
        if segments in _declared_paths:
            continue
        _declared_paths.add(segments)
        # "a.b" -> "a" : { ...no nested object... "b" : "<value>"
        pattern = r"\s*:\s*\{[^{}]*?".join(f'"{re.escape(segment)}"' for segment in segments)
        _declared_res.append(re.compile(pattern + r'\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"'))
        _declared_res.append(re.compile(
            r"(?:^|[?&;])" + re.escape(segments[0]) + "".join(rf"(?:\[|%5B|\.){re.escape(s)}(?:\]|%5D)?"
                                                               for s in segments[1:])
            + r"=(?P<value>[^&;#\s]*)", re.IGNORECASE))


def declared_secret_values(text: str) -> list[str]:
    """The values the declared secret fields hold in ``text`` (JSON or form encoded)."""
    if not text:
        return []
    return [m.group("value") for pattern in _declared_res for m in pattern.finditer(text)
            if m.group("value") and m.group("value") != MASK]


def _mask_values(text: str, values) -> str:
    """Long values are masked wherever they appear; short ones (a CVC) only where they are a
    whole quoted or form value, so that an amount or a year that happens to match survives."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        if luhn_valid(value):
            text = text.replace(value, mask_card_number(value))  # the last four, as for any PAN
        elif len(value) >= 4:
            text = text.replace(value, MASK)
        else:
            text = re.sub(rf'(?<=["=]){re.escape(value)}(?=["&;]|$)', MASK, text)
    return text


def mask_declared_fields(text: str) -> str:
    """Mask the declared secret fields' values, and their echoes, in ``text`` (idempotent)."""
    return _mask_values(text, declared_secret_values(text)) if text else text


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_card_number(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return f"{'*' * max(len(digits) - 4, 0)}{digits[-4:]}"


def _mask_pans(text: str) -> str:
    def replace(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return mask_card_number(digits) if luhn_valid(digits) else match.group(0)

    return _PAN_RE.sub(replace, text)


def _is_sensitive(name: str) -> bool:
    return is_sensitive_field(name)


def mask_text(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Mask card numbers, sensitive and declared fields and the given secret values in any text."""
    if not text:
        return text
    values = [*secrets, *declared_secret_values(text)]

    def json_field(match: re.Match) -> str:
        if not _is_sensitive(match.group("name")):
            return match.group(0)
        value = match.group("value")
        quote = '"' if value.startswith('"') else ""
        inner = value.strip('"')
        masked = mask_card_number(inner) if luhn_valid(re.sub(r"[ -]", "", inner)) else MASK
        return f'"{match.group("name")}": {quote}{masked}{quote}'

    def form_field(match: re.Match) -> str:
        if not _is_sensitive(match.group("name")):
            return match.group(0)
        return f"{match.group('prefix')}{match.group('name')}={MASK}"

    text = _JSON_FIELD_RE.sub(json_field, text)
    text = _FORM_FIELD_RE.sub(form_field, text)
    return _mask_pans(_mask_values(text, values))


_CVC_FIELD_RE = re.compile(r'(?P<prefix>"[A-Za-z0-9_\-\[\].]*(?:cvc|cvv|cvn|security_?code|card_?code)[A-Za-z0-9_\-]*"'
                           r'\s*:\s*)"[^"]*"', re.IGNORECASE)


def mask_card_data(text: str) -> str:
    """Mask only card numbers and CVCs (for a simulator's own request log, where tests still
    need to read signatures and credentials they sent)."""
    return _mask_pans(_CVC_FIELD_RE.sub(lambda m: f'{m.group("prefix")}"{MASK}"', text))


def mask_headers(headers: dict, secrets=()) -> dict:
    return {
        name: (MASK if _is_sensitive(name) else mask_text(str(value), secrets))
        for name, value in headers.items()
    }


def mask_secret_for_display(value: str) -> str:
    """How a stored secret is shown to staff: bullets and at most its last four characters."""
    if not value:
        return ""
    visible = value[-4:] if len(value) >= 12 else ""
    return "••••••••" + visible


class MaskingFormatter(logging.Formatter):
    """The formatter of every handler in ``settings.LOGGING``: a card number that reaches a log
    line by any path (a bank's error message, an exception text, a traceback) keeps its last four
    digits, and declared secret fields are masked. The record itself is left as it is, so the
    test suite's secrets scan still sees, and fails on, code that logs card data."""

    def __init__(self, *args, wrapped: str = "", wrapped_options: dict | None = None, **kwargs):
        """``wrapped``: the dotted path of another formatter (a JSON one) whose output is masked."""
        super().__init__(*args, **kwargs)
        self.wrapped = None
        if wrapped:
            module, _, name = wrapped.rpartition(".")
            self.wrapped = getattr(importlib.import_module(module), name)(**(wrapped_options or {}))

    def format(self, record: logging.LogRecord) -> str:
        text = self.wrapped.format(record) if self.wrapped is not None else super().format(record)
        return mask_declared_fields(_mask_pans(text))
