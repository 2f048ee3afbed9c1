"""How a row trades: the optional Config columns that say it, read from what a trader types.

Every column is optional and found by header; a missing column or an empty cell keeps the
first version's behaviour (market orders of ``position_size`` dollars, long and short, no
exits). A cell that cannot be read is an error naming the column and the text, never a
silent default: the row then fails its alerts with that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Mapping

from novalgo.domain.cells import yes_no

DIRECTION, TAKE_PROFIT, STOP_LOSS, TRAILING_STOP = "Direction", "Take Profit", "Stop Loss", "Trailing Stop"
ORDER_TYPE, LIMIT_OFFSET, EXTENDED_HOURS = "Order Type", "Limit Offset", "Extended Hours"
TRADE_COLUMNS = (DIRECTION, TAKE_PROFIT, STOP_LOSS, TRAILING_STOP, ORDER_TYPE, LIMIT_OFFSET, EXTENDED_HOURS)

BOTH, LONG_ONLY, SHORT_ONLY = "both", "long only", "short only"
DIRECTIONS = (BOTH, LONG_ONLY, SHORT_ONLY)
MARKET, LIMIT = "market", "limit"
ORDER_TYPES = (MARKET, LIMIT)

DOLLARS, SHARES, PERCENT, ALERT = "dollars", "shares", "percent", "alert"



@dataclass(frozen=True)
class Distance:
    """A distance from a price: ``2%`` of it, or ``$1.50``."""

    amount: Decimal
    percent: bool

    def of(self, price: Decimal) -> Decimal:
        """The distance in dollars from ``price``."""
        return price * self.amount / 100 if self.percent else self.amount

    @property
    def text(self) -> str:
        return f"{_plain(self.amount)}%" if self.percent else f"${_plain(self.amount)}"


@dataclass(frozen=True)
class Size:
    """How much a row trades: dollars (``5000``), whole shares (``25 sh``), percent of equity
    (``10%``) or the quantity the alert carries (``alert``)."""

    kind: str
    amount: Decimal | None = None

    @property
    def text(self) -> str:
        if self.kind == DOLLARS:
            return f"${_plain(self.amount)}"
        if self.kind == SHARES:
            return f"{_plain(self.amount)} sh"
        if self.kind == PERCENT:
            return f"{_plain(self.amount)}%"
        return "alert"


@dataclass(frozen=True)
class TradeRules:
    """The row's choices; the defaults are the first version's behaviour."""

    direction: str = BOTH
    take_profit: Distance | None = None
    stop_loss: Distance | None = None
    trailing_stop: Distance | None = None
    order_type: str = MARKET
    limit_offset: Distance | None = None
    extended_hours: bool = False

    @property
    def has_exits(self) -> bool:
        return any((self.take_profit, self.stop_loss, self.trailing_stop))


def parse_size(text: str) -> Size:
    """``5000``, ``$5,000``, ``25 sh``, ``10%`` or ``alert``."""
    raw = str(text).strip()
    folded = raw.lower().replace(",", "").replace(" ", "")
    if folded == "alert":
        return Size(ALERT)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(sh|shares?)", folded)
    if match:
        shares = Decimal(match.group(1))
        if shares != shares.to_integral_value() or shares < 1:
            raise ValueError(f"position_size {raw!r}: shares must be a whole number, 1 or more")
        return Size(SHARES, shares)
    if folded.endswith("%"):
        percent = _number(folded[:-1], f"position_size {raw!r} is not a percent")
        if not 0 < percent <= 100:
            raise ValueError(f"position_size {raw!r} must be above 0% and at most 100%")
        return Size(PERCENT, percent)
    dollars = _number(folded.replace("$", ""), f"position_size {raw!r} is not a dollar amount, "
                      "shares (25 sh), a percent (10%) or alert")
    if dollars <= 0:
        raise ValueError(f"position_size {raw!r} must be above zero")
    return Size(DOLLARS, dollars)


def parse_rules(cells: Mapping[str, str]) -> TradeRules:
    """The row's rules from its optional cells (header → text); a ValueError names every bad cell."""
    problems: list[str] = []

    def read(parse, *args):
        try:
            return parse(*args)
        except ValueError as e:
            problems.append(str(e))
            return None

    def cell(name: str) -> str:
        return str(cells.get(name, "") or "").strip()

    rules = TradeRules(
        direction=read(_choice, cell(DIRECTION), DIRECTION, DIRECTIONS, BOTH) or BOTH,
        take_profit=read(_distance, cell(TAKE_PROFIT), TAKE_PROFIT),
        stop_loss=read(_distance, cell(STOP_LOSS), STOP_LOSS),
        trailing_stop=read(_distance, cell(TRAILING_STOP), TRAILING_STOP),
        order_type=read(_choice, cell(ORDER_TYPE), ORDER_TYPE, ORDER_TYPES, MARKET) or MARKET,
        limit_offset=read(_distance, cell(LIMIT_OFFSET), LIMIT_OFFSET, True),
        extended_hours=bool(read(_checkbox, cell(EXTENDED_HOURS), EXTENDED_HOURS)),
    )
    if problems:
        raise ValueError("; ".join(problems))
    if rules.trailing_stop and (rules.take_profit or rules.stop_loss):
        # Alpaca holds a position's shares for one exit order at a time, and a trailing stop
        # cannot be a bracket leg: the two cannot both be at the broker.
        raise ValueError(f"{TRAILING_STOP} cannot be combined with {TAKE_PROFIT} or {STOP_LOSS}: "
                         "Alpaca holds the shares for one exit order; use one or the other")
    if rules.trailing_stop and rules.trailing_stop.percent and not (Decimal("0.1") <= rules.trailing_stop.amount <= 80):
        raise ValueError(f"{TRAILING_STOP} {rules.trailing_stop.text}: a percent trail must be 0.1% to 80%")
    return rules


def exit_price(entry: Decimal, distance: Distance, side: str, profit: bool) -> Decimal:
    """Where an exit sits for an entry at ``entry``: a take-profit beyond it in the trade's
    favour, a stop-loss against it. ``side`` is the entry's (buy opens a long)."""
    up = (side == "buy") == profit
    price = entry + distance.of(entry) if up else entry - distance.of(entry)
    return broker_price(price, ROUND_HALF_UP)


def broker_price(price: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """A price Alpaca accepts: cents at $1 and above, four decimals below (its sub-penny rule)."""
    step = Decimal("0.01") if price >= 1 else Decimal("0.0001")
    return price.quantize(step, rounding)


def limit_price(reference: Decimal, offset: Distance | None, side: str) -> Decimal:
    """A limit a little through the reference price, so it fills like the alert meant:
    a buy at price + offset, a sell at price − offset (rounded away from filling worse)."""
    distance = offset.of(reference) if offset else Decimal(0)
    if side == "buy":
        return broker_price(reference + distance, ROUND_DOWN)
    return broker_price(max(reference - distance, Decimal("0.0001")), ROUND_HALF_UP)


def parse_distance(text: str) -> Distance:
    """A distance as ``Distance.text`` writes it (``2%``, ``$1.5``)."""
    distance = _distance(text, "distance")
    if distance is None:
        raise ValueError(f"no distance in {text!r}")
    return distance


def _distance(text: str, column: str, zero_ok: bool = False) -> Distance | None:
    if not text:
        return None
    folded = text.replace(" ", "").replace(",", "")
    percent = folded.endswith("%")
    body = folded[:-1] if percent else folded.lstrip("$")
    if not percent and not folded.startswith("$"):
        raise ValueError(f"{column} {text!r}: write a percent (2%) or a dollar distance ($1.50)")
    amount = _number(body, f"{column} {text!r}: write a percent (2%) or a dollar distance ($1.50)")
    if amount < 0 or (amount == 0 and not zero_ok):
        raise ValueError(f"{column} {text!r} must be above zero")
    if percent and amount >= 100:
        raise ValueError(f"{column} {text!r} must be under 100%")
    return Distance(amount, percent)


def _choice(text: str, column: str, allowed: tuple[str, ...], default: str) -> str:
    if not text:
        return default
    folded = " ".join(text.lower().replace("-", " ").replace("_", " ").split())
    if folded in allowed:
        return folded
    raise ValueError(f"{column} {text!r}: write one of {', '.join(allowed)}")


def _checkbox(text: str, column: str) -> bool:
    return yes_no(text, f"{column} {text!r}: tick the checkbox or write TRUE / FALSE", also_no={""})


def _number(text: str, error: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(error) from None
    if not value.is_finite():
        raise ValueError(error)
    return value


def _plain(value: Decimal | None) -> str:
    return format((Decimal(value or 0) + 0).normalize(), "f")
