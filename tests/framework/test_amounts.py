from decimal import Decimal

import pytest

from connectors.amounts import AmountError, format_major, to_major, to_minor


@pytest.mark.parametrize("minor, currency, major", [
    (1050, "EUR", "10.50"), (1, "EUR", "0.01"), (500, "JPY", "500"), (1, "KWD", "0.001"),
    (12345, "BHD", "12.345"), (0, "USD", "0.00"), (99_999_999_999, "EUR", "999999999.99"),
])
def test_minor_to_major_uses_the_iso_4217_exponent(minor, currency, major):
    assert format_major(minor, currency) == major
    assert to_major(minor, currency) == Decimal(major)
    assert to_minor(major, currency) == minor


def test_major_to_minor_refuses_more_decimals_than_the_currency_has():
    with pytest.raises(AmountError):
        to_minor("10.5", "JPY")
    with pytest.raises(AmountError):
        to_minor("1.0001", "KWD")


def test_floats_are_refused_both_ways():
    with pytest.raises(AmountError):
        to_minor(10.5, "EUR")
    with pytest.raises(AmountError):
        to_major(10.5, "EUR")


def test_unknown_currency_is_refused():
    with pytest.raises(AmountError):
        to_major(100, "XXX")


def test_conversion_is_exact_where_floats_are_not():
    # 0.1 + 0.2 is not 0.3 in binary floating point; in minor units it is.
    assert to_minor("0.10", "EUR") + to_minor("0.20", "EUR") == to_minor("0.30", "EUR")
    assert format_major(to_minor("1234567890.12", "EUR"), "EUR") == "1234567890.12"
