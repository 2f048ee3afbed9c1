"""How numbers read to a trader: money with a sign and cents, percents, and "n/a"."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from novalgo.domain.money import cents, cents_text, plain

NA = "n/a"


def money(value: Decimal | None, signed: bool = False) -> str:
    """$1,234.50, -$12.30 (and +$5.00 when ``signed``); n/a for None."""
    if value is None:
        return NA
    value = cents(value)
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}${abs(value):,.2f}"


def percent(fraction: float | None, digits: int = 2, signed: bool = False) -> str:
    """A fraction as a percent: 0.1234 → 12.34%; n/a for None."""
    if fraction is None:
        return NA
    return f"{fraction * 100:{'+' if signed else ''}.{digits}f}%"


def pct_value(value: Decimal | None, digits: int = 1) -> str:
    """A value already in percent (a win rate of 55.5) → 55.5%."""
    return NA if value is None else f"{float(value):.{digits}f}%"


def ratio(value: float | None, digits: int = 2) -> str:
    return NA if value is None else f"{value:.{digits}f}"


def day(value: date | None) -> str:
    """A calendar date as YYYY-MM-DD (a pandas Timestamp too); n/a for None."""
    if value is None:
        return NA
    if isinstance(value, datetime):  # Timestamp is a datetime: keep only its day
        value = value.date()
    return value.isoformat()


def qty(value: Decimal) -> str:
    """A share count without trailing zeros: 10, 0.5, -19."""
    return plain(value)


money_text = cents_text  # money for JSON/CSV: an exact string to the cent, or None
