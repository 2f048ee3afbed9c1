"""Numbers as a trader reads them: quantities without trailing zeros, money to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal(0)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
QTY_STEP = Decimal("0.000000001")  # Alpaca's fractional precision: 9 decimal places


def plain(value: Decimal | None) -> str | None:
    """A quantity or amount as a trader writes it: ``25``, ``0.5``, ``-4668.3`` (no exponent, no -0)."""
    return None if value is None else format((Decimal(value) + 0).normalize(), "f")


def json_number(value: Decimal) -> int | float:
    """An amount for a JSON answer: ``5000`` when whole, ``2500.5`` otherwise."""
    return int(value) if value == value.to_integral_value() else float(value)


def cents(value: Decimal) -> Decimal:
    """Rounded half up to the cent, as statements do."""
    return Decimal(value).quantize(CENT, ROUND_HALF_UP)


def cents_text(value: Decimal | None) -> str | None:
    """Money for JSON and CSV: an exact string to the cent (``250.50``), or None."""
    return None if value is None else str(cents(value))


def parse_dollars(text: str, name: str) -> Decimal:
    """A dollar amount as people type it (``5000``, ``$5,000``, ``$ 1,234.56``), above zero;
    ValueError naming the cell otherwise."""
    cleaned = str(text).strip().replace("$", "").replace(",", "").replace(" ", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{name} {text!r} is not a dollar amount") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} {text!r} must be above zero")
    return value
