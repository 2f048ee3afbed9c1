"""Chart intervals, compared by their length in minutes.

TradingView's ``{{interval}}`` gives ``15``, ``60``, ``240``, ``D``, ``1D``, ``W``, ``M``;
people type ``15m``, ``15 Min``, ``1 Hour``, ``1h`` into the sheet. They all reduce to
minutes so ``60`` finds a ``1 Hour`` row.
"""

from __future__ import annotations

import re

MINUTES_PER = {"minute": 1, "hour": 60, "day": 1440, "week": 10080, "month": 43200}
MAX_MINUTES = 366 * 1440

_UNITS = {
    "": "minute", "m": "minute", "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day", "daily": "day",
    "w": "week", "wk": "week", "week": "week", "weeks": "week", "weekly": "week",
    "mo": "month", "month": "month", "months": "month", "monthly": "month",
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*([A-Za-z]*)\s*$")


def interval_minutes(text: str) -> int:
    """Minutes in a chart interval such as ``15``, ``15 Min``, ``1h``, ``1D``; ValueError if unreadable."""
    match = _PATTERN.match(str(text))
    if not match or not (match.group(1) or match.group(2)):
        raise ValueError(f"unreadable interval {text!r}")
    count_text, unit_text = match.groups()
    # TradingView writes months as a capital M ("1M", "M"); a lower-case m is minutes.
    if unit_text == "M":
        unit = "month"
    elif unit_text.upper() == "S":
        raise ValueError(f"second intervals are not supported ({text!r})")
    else:
        unit = _UNITS.get(unit_text.lower())
    if unit is None:
        raise ValueError(f"unknown interval unit in {text!r}")
    count = float(count_text) if count_text else 1.0
    minutes = count * MINUTES_PER[unit]
    # Bounded so "1e300" or a 30-digit number is refused here, not an overflow (inf, or an
    # integer SQLite cannot store) when the alert is journalled.
    if minutes > MAX_MINUTES:
        raise ValueError(f"interval {text!r} is longer than a year")
    if minutes <= 0 or minutes != int(minutes):
        raise ValueError(f"interval {text!r} is not a whole number of minutes")
    return int(minutes)


def interval_label(minutes: int) -> str:
    """The sheet's way of writing an interval, as the original bot did: ``15 Min``, ``240 Min``, ``1 Day``."""
    if minutes % 10080 == 0:
        return f"{minutes // 10080} Week"
    if minutes % 1440 == 0:
        return f"{minutes // 1440} Day"
    return f"{minutes} Min"
