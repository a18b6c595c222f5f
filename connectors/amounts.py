"""Money at the edge: minor units inside Pagoflex, a connector's own unit on the wire.

Every amount in the platform is an ``int`` of minor units. A connector that speaks major
units gets a ``Decimal`` with exactly the currency's ISO 4217 number of decimals; nothing
here ever goes through ``float``.
"""

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents of the currencies Pagoflex accepts.
CURRENCY_EXPONENTS: dict[str, int] = {
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # no decimals
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # two decimals
    "AED": 2, "ARS": 2, "AUD": 2, "BDT": 2, "BGN": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2,
    "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "GHS": 2, "HKD": 2, "HUF": 2,
    "IDR": 2, "ILS": 2, "INR": 2, "KES": 2, "LKR": 2, "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2,
    "NOK": 2, "NZD": 2, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2,
    "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "ZAR": 2,
}

# The largest amount the platform accepts, in minor units (fits a signed 64-bit column).
MAX_AMOUNT = 99_999_999_999


class AmountError(ValueError):
    """An amount that cannot be represented exactly in its currency."""


def is_supported_currency(currency: str) -> bool:
    return currency in CURRENCY_EXPONENTS


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency.upper()]
    except (KeyError, AttributeError):
        raise AmountError(f"unknown currency {currency!r}") from None


def to_major(amount_minor: int, currency: str) -> Decimal:
    """Minor units to a Decimal with exactly the currency's decimals: 1050 EUR -> Decimal('10.50')."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise AmountError(f"amount must be an integer of minor units, got {type(amount_minor).__name__}")
    digits = exponent(currency)
    return Decimal(amount_minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def format_major(amount_minor: int, currency: str) -> str:
    """The major-unit text a bank expects: 1050 EUR -> '10.50', 500 JPY -> '500', 1 KWD -> '0.001'."""
    return f"{to_major(amount_minor, currency):f}"


def to_minor(amount_major, currency: str) -> int:
    """Major units (Decimal, int or decimal text; never float) to minor units, refusing lost precision."""
    if isinstance(amount_major, float):
        raise AmountError("floats are not accepted for money; pass a Decimal or a string")
    if isinstance(amount_major, bool):
        raise AmountError("a boolean is not an amount")
    try:
        value = Decimal(str(amount_major)) if not isinstance(amount_major, Decimal) else amount_major
    except InvalidOperation:
        raise AmountError(f"not a decimal amount: {amount_major!r}") from None
    if not value.is_finite():
        raise AmountError(f"not a finite amount: {amount_major!r}")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{amount_major} has more decimals than {currency} allows")
    return int(scaled)
