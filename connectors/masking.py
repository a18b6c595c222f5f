"""Masking of card data and secrets before anything is logged or stored in a call log.

Three rules, applied to URLs, headers and bodies alike:
- a run of 12 to 19 digits (optionally grouped by spaces or dashes) that passes the Luhn
  check is a card number: only its last four digits survive;
- the value of a field whose name says it holds a CVV, a card number or a secret is masked
  whatever it looks like (JSON, form and query-string encodings);
- any value the caller lists as secret (a connector's credentials) is masked wherever it appears.
"""

import re

MASK = "********"

SENSITIVE_FIELD_NAMES = {
    "cvc", "cvv", "cvv2", "cvn", "securitycode", "card_cvc", "cardcvv",
    "number", "cardnumber", "card_number", "pan", "accountnumber",
    "password", "secret", "api_secret", "apisecret", "merchant_key", "merchantkey",
    "webhook_secret", "client_secret", "authorization", "api-key", "apikey", "api_key",
    "message-signature", "signature", "checksumhash", "x-api-key",
}

_PAN_RE = re.compile(r"(?<![\d])(?:\d[ -]?){11,18}\d(?![\d])")
_JSON_FIELD_RE = re.compile(r'"(?P<name>[A-Za-z0-9_\-]+)"\s*:\s*(?P<value>"(?:[^"\\]|\\.)*"|-?\d+)')
_FORM_FIELD_RE = re.compile(r"(?P<prefix>(?:^|[?&;]))(?P<name>[A-Za-z0-9_\-]+)=(?P<value>[^&;#\s]*)")


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
    return name.lower() in SENSITIVE_FIELD_NAMES


def mask_text(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Mask card numbers, sensitive fields and the given secret values in any text."""
    if not text:
        return text
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)

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
    return _mask_pans(text)


_CVC_FIELD_RE = re.compile(r'(?P<prefix>"(?:cvc|cvv|cvv2|securityCode|card_cvc)"\s*:\s*)"[^"]*"', re.IGNORECASE)


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
