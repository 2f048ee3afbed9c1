"""How the tabs should look to a trader: dropdowns, checkboxes and colours `novalgo sheet init` sets up."""

from __future__ import annotations

from novalgo.domain import statuses

# The choices offered in the Time Frame dropdown (other values stay allowed, with a warning).
TIMEFRAME_CHOICES = ("1 Min", "5 Min", "15 Min", "30 Min", "45 Min", "1 Hour", "4 Hour", "1 Day")

# Order Status colours, as Google's 0..1 RGB.
_GREEN = {"red": 0.80, "green": 0.94, "blue": 0.81}
_RED = {"red": 0.96, "green": 0.78, "blue": 0.76}
_YELLOW = {"red": 1.0, "green": 0.95, "blue": 0.70}
_BLUE_GREY = {"red": 0.81, "green": 0.85, "blue": 0.91}
_GREY = {"red": 0.85, "green": 0.85, "blue": 0.85}
_LIGHT = {"red": 0.95, "green": 0.96, "blue": 0.98}

STATUS_COLOURS = (
    (statuses.FILLED, _GREEN),
    (statuses.FAILED, _RED),
    (statuses.ORDER_SUBMITTED, _YELLOW),
    (statuses.ALREADY_LONG, _BLUE_GREY),
    (statuses.ALREADY_SHORT, _BLUE_GREY),
    (statuses.INACTIVE, _GREY),
    (statuses.WAITING, _LIGHT),
)

PERFORMANCE_HEADERS = ("symbol", "total_trades", "winning_trades", "losing_trades", "win_rate", "total_pnl",
                       "avg_pnl_per_trade", "best_trade", "worst_trade", "last_updated")

PROTECTION_NOTE = "Written by NovAlgo: edits here are overwritten"


def activity_headers() -> tuple[str, ...]:
    """The Activity tab's header row, as the service writes its rows."""
    from novalgo.activity import ACTIVITY_HEADERS

    return tuple(ACTIVITY_HEADERS)
