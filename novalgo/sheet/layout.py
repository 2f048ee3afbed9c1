"""How the tabs look to a trader: every tab's headers, the sheet's time format, and the
dropdowns, checkboxes and colours `novalgo sheet init` sets up."""

from __future__ import annotations

from datetime import datetime, tzinfo

from novalgo.domain import config_rows as cols
from novalgo.domain import row_rules as rules
from novalgo.domain import statuses
from novalgo.domain.config_rows import FLATTEN_AT, MAX_TRADES, TRADING_HOURS
from novalgo.domain.guards import (
    FLATTEN_ON_MAX_LOSS,
    MAX_DAILY_LOSS,
    MAX_EXPOSURE,
    MAX_OPEN_POSITIONS,
    SETTING,
    TRADING,
    VALUE,
)

# Every time NovAlgo writes into the sheet (Last Updated, Activity, Performance) reads alike.
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S %Z"

# The choices offered in the Time Frame dropdown (other values stay allowed, with a warning).
TIMEFRAME_CHOICES = ("1 Min", "5 Min", "15 Min", "30 Min", "45 Min", "1 Hour", "4 Hour", "1 Day")

# Order Status colours, as Google's 0..1 RGB.
_GREEN = {"red": 0.80, "green": 0.94, "blue": 0.81}
_RED = {"red": 0.96, "green": 0.78, "blue": 0.76}
_YELLOW = {"red": 1.0, "green": 0.95, "blue": 0.70}
_AMBER = {"red": 0.99, "green": 0.86, "blue": 0.68}
_BLUE_GREY = {"red": 0.81, "green": 0.85, "blue": 0.91}
_GREY = {"red": 0.85, "green": 0.85, "blue": 0.85}
_LIGHT = {"red": 0.95, "green": 0.96, "blue": 0.98}

STATUS_COLOURS = (
    (statuses.FILLED, _GREEN),
    (statuses.PARTIAL, _AMBER),
    (statuses.FAILED, _RED),
    (statuses.ORDER_SUBMITTED, _YELLOW),
    (statuses.ALREADY_LONG, _BLUE_GREY),
    (statuses.ALREADY_SHORT, _BLUE_GREY),
    (statuses.INACTIVE, _GREY),
    (statuses.WAITING, _LIGHT),
    (statuses.TAKE_PROFIT, _GREEN),
    (statuses.STOP_LOSS, _RED),
    (statuses.TRAILING_STOP, _YELLOW),
)

# The Config tab's guard-rail columns, each with the note `sheet init` puts on its header.
GUARD_NOTES = (
    (TRADING_HOURS, "Entries only in this window, e.g. 09:45-15:30 (US/Eastern unless a zone follows: "
                    "08:00-16:30 Europe/London). Outside it, buys/sells that would open or add are SKIPPED; "
                    "closes and exits always go. Empty: any time."),
    (FLATTEN_AT, "On trading days, close this row's position at this time, e.g. 15:55 (US/Eastern unless a "
                 "zone follows), and take no new entry after it that day. Empty: positions may stay overnight."),
    (MAX_TRADES, "At most this many entries a day (US/Eastern trading day); later ones are SKIPPED. "
                 "Empty: no cap."),
)

# The optional Config columns `sheet init` adds (at the end, after the trader's own), each with
# the note a trader sees on its header and its input: a dropdown, a checkbox, or free text.
CHECKBOX, DROPDOWN, TEXT = "checkbox", "dropdown", "text"
OPTIONAL_COLUMNS = (
    (cols.SIZE, "Dollars (5000 or $5,000), whole shares (25 sh), percent of account equity (10%), "
                "or alert: the quantity the alert carries.", TEXT, ()),
    (rules.DIRECTION, "both (default), long only (SELL closes a long, never shorts) or short only "
                      "(BUY closes a short, never goes long).", DROPDOWN, rules.DIRECTIONS),
    (rules.TAKE_PROFIT, "Percent (2%) or dollars ($1.50) from the entry; placed at Alpaca with the entry "
                        "(good till cancelled). Empty: the alert's take_profit, if any.", TEXT, ()),
    (rules.STOP_LOSS, "Percent (1%) or dollars ($0.75) from the entry; placed at Alpaca with the entry "
                      "(good till cancelled). Empty: the alert's stop_loss, if any.", TEXT, ()),
    (rules.TRAILING_STOP, "Percent (1.5%) or dollars ($0.75) to trail by, placed once the entry fills. "
                          "Not with Take Profit / Stop Loss.", TEXT, ()),
    (rules.ORDER_TYPE, "market (default) or limit at the alert's price plus/minus Limit Offset.", DROPDOWN,
     rules.ORDER_TYPES),
    (rules.LIMIT_OFFSET, "For limit orders: percent (0.1%) or dollars ($0.05) through the alert's price "
                         "(buy above, sell below).", TEXT, ()),
    (rules.EXTENDED_HOURS, "Ticked: outside regular hours, trade pre/post-market with limit orders from the "
                           "alert's price.", CHECKBOX, ()),
    *((name, note, TEXT, ()) for name, note in GUARD_NOTES),
)

PERFORMANCE_HEADERS = ("symbol", "total_trades", "winning_trades", "losing_trades", "win_rate", "total_pnl",
                       "avg_pnl_per_trade", "best_trade", "worst_trade", "last_updated")
# Under the per-symbol rows, the same figures for each Config row (symbol and Time Frame).
BREAKDOWN_HEADERS = ("symbol", "Time Frame", "total_trades", "winning_trades", "losing_trades", "win_rate",
                     "total_pnl", "avg_pnl_per_trade", "best_trade", "worst_trade")
ACTIVITY_HEADERS = ("time", "symbol", "timeframe", "action", "status", "reason", "qty", "fill price", "latency ms")

# The Settings tab: one account-wide guard a row, by name; the environment has the same five.
SETTINGS_HEADERS = (SETTING, VALUE, "What it does")
SETTINGS_ROWS = (
    (TRADING, "on", "on or off. Off pauses every entry; closes and exits still go."),
    (MAX_DAILY_LOSS, "", "Dollars (500) or percent of the day's starting equity (2%). When the day's P&L "
                         "reaches it, entries stop until the next trading day. Empty: no limit."),
    (FLATTEN_ON_MAX_LOSS, "FALSE", "Checked: reaching the max daily loss also closes every position."),
    (MAX_OPEN_POSITIONS, "", "An entry in a new symbol beyond this many open positions is skipped. Empty: no cap."),
    (MAX_EXPOSURE, "", "Dollars of gross market value (longs + shorts) an entry may not pass. Empty: no cap."),
)

PROTECTION_NOTE = "Written by NovAlgo: edits here are overwritten"


def sheet_time(moment: datetime, zone: tzinfo | None = None) -> str:
    """``2026-12-02 07:30:00 PST``: a moment as the sheet shows it, in ``zone`` when given."""
    return (moment.astimezone(zone) if zone else moment).strftime(STAMP_FORMAT)
