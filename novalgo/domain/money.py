"""Numbers as a trader reads them: quantities without trailing zeros, money to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


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
