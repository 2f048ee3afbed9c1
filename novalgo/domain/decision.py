"""The decision table: given an alert, its Config row and what we hold, what orders to send.

BUY  → close a short first, then a long of the row's size; already long → ALREADY LONG.
SELL → close a long first, then a short of whole shares; already short → ALREADY SHORT.
       (No fractional shorts: Alpaca does not allow them.)
CLOSE → flatten, then WAITING. Inactive row → INACTIVE, no order. A row with a cell that
       cannot be read → FAILED with the reason.
Crypto cannot be shorted at Alpaca, so on crypto SELL means "go flat": close a long, WAITING.
``long only`` turns SELL into that same "go flat"; ``short only`` does it to BUY.

The row's rules shape the opening order (see row_rules): its size in dollars, shares, percent
of equity or the alert's quantity; a limit at the alert's price ± offset; pre/post-market as
an extended-hours limit; take-profit / stop-loss as a bracket (or OTO) at the broker, and a
trailing stop as its own order once the entry fills. Exits are good-till-cancelled, and
Alpaca takes those only in whole shares, so a row with exits trades whole shares.

Pure: the executor gathers the inputs (position, our unfilled orders, price, asset, equity,
session) and runs the plan; tests check this table as a table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from novalgo.domain import statuses
from novalgo.domain.alert_parts import PERCENT, PIPS, PRICE, ExitTarget
from novalgo.domain.alerts import BUY, CLOSE, SELL
from novalgo.domain.config_rows import ConfigRow
from novalgo.domain.money import CENT, QTY_STEP, ZERO, plain
from novalgo.domain.row_rules import (
    ALERT,
    LIMIT,
    LONG_ONLY,
    SHARES,
    SHORT_ONLY,
    Distance,
    broker_price,
    exit_price,
    limit_price,
)
from novalgo.domain.row_rules import PERCENT as SIZE_PERCENT

OPEN, CLOSING, TRAILING = "open", "close", "trailing_stop"  # a leg's purpose
TAKE_PROFIT, STOP_LOSS = "take_profit", "stop_loss"  # an exit order's purpose (a bracket's legs, an OCO)


@dataclass(frozen=True)
class OrderLeg:
    purpose: str  # "close" (flatten what is held), "open" (the new position) or "trailing_stop"
    side: str  # buy | sell
    qty: Decimal | None = None
    notional: Decimal | None = None
    order_type: str = "market"  # market | limit | trailing_stop
    limit_price: Decimal | None = None
    time_in_force: str = "day"
    extended_hours: bool = False
    take_profit: Decimal | None = None  # a bracket's / OTO's exits, as prices
    stop_loss: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    # The exits' distances (2%, $1.50), to place them again from the entry's fill price once it is
    # known; None for an absolute price the alert gave.
    take_profit_from: Distance | None = None
    stop_loss_from: Distance | None = None
    # Exits for shares already held (put back after a refused close, or for what a cancelled entry
    # filled): a lone stop-loss is a stop order; take-profit and stop-loss together one OCO order,
    # the take-profit limit with the stop as its leg, so Alpaca holds the shares once.
    stop_price: Decimal | None = None
    oco: bool = False


@dataclass(frozen=True)
class OrderPlan:
    """Legs to send in order, and the row status once they have all filled (or at once, if none)."""

    legs: tuple[OrderLeg, ...]
    status: str
    reason: str = ""
    # Our own unfilled orders point the other way: cancel them, then decide again with what is
    # left (a cancelled order may have partly filled, so the holding must be read afresh).
    cancel_first: bool = False


@dataclass(frozen=True)
class Holding:
    """What we hold in one symbol: the broker's position and our own orders not yet filled."""

    held: Decimal = ZERO  # signed, from the broker
    pending: Decimal = ZERO  # signed, our unfilled orders (estimated for dollar orders)

    @property
    def exposure(self) -> Decimal:
        return self.held + self.pending


@dataclass(frozen=True)
class Tradability:
    fractionable: bool = True
    can_short: bool = True
    short_refusal: str = ""  # why not, in the broker's words
    crypto: bool = False  # the broker's asset class: SELL goes flat instead of short

CRYPTO_NO_SHORT = "crypto cannot be sold short"
NO_PRICE = 'add "price": "{{close}}" to the alert'


@dataclass(frozen=True)
class Context:
    """What else the decision needs beyond the row and the holding."""

    regular_hours: bool = True  # the symbol trades in regular hours now (crypto: always)
    equity: Decimal | None = None  # the account's equity, for a size in percent
    alert_qty: Decimal | None = None  # what the alert carries, for a size of "alert"
    alert_take_profit: ExitTarget | None = None  # used where the row leaves Take Profit empty
    alert_stop_loss: ExitTarget | None = None
    # The last trade, for a close that must go as a limit (pre/post-market) when the alert has no
    # price: the leader's own CLOSEs (Flatten At, a loss limit) carry none. Never an entry's price.
    close_reference: Decimal | None = None
    # A flip's opening leg is decided when it is about to go, once the close has filled: what only it
    # needs (a price, the equity, whether the account may short) is read then, so the close (the
    # plan's first order) never waits on a read.
    size_opening_later: bool = False


def decide(action: str, row: ConfigRow, holding: Holding, price: Decimal | None,
           tradability: Tradability = Tradability(), context: Context = Context()) -> OrderPlan:
    """The plan for one alert on one row."""
    if not row.active:
        return OrderPlan((), statuses.INACTIVE, f"{row.label} is not active in the Config tab")
    if row.problem:
        return OrderPlan((), statuses.FAILED, f"row {row.row_number} of the Config tab: {row.problem}")
    wanted = {BUY: 1, SELL: -1, CLOSE: 0}.get(action)
    if wanted is None:
        raise ValueError(f"unknown action {action!r}")
    if _pending_opposes(wanted, holding):
        return OrderPlan((), statuses.PROCESSING, "our unfilled orders point the other way", cancel_first=True)
    closes = _closing_style(row, price, tradability, context)
    one_way = _one_way(action, row, tradability)
    if one_way:
        if holding.exposure == 0 or _sign(holding.exposure) == wanted:
            return OrderPlan((), statuses.WAITING, f"already flat; {one_way}" if holding.exposure == 0
                             else f"nothing to close; {one_way}")
        return _close(holding.exposure, closes, one_way)
    if action == CLOSE:
        if holding.exposure == 0:
            return OrderPlan((), statuses.WAITING, "already flat")
        return _close(holding.exposure, closes, "")
    if _sign(holding.exposure) == wanted:
        return OrderPlan((), statuses.ALREADY_LONG if action == BUY else statuses.ALREADY_SHORT)
    legs: tuple[OrderLeg, ...] = ()
    if holding.exposure != 0:
        # Alpaca will not cross zero in one order: flatten first (net of our own pending close).
        if isinstance(closes, str):
            return OrderPlan((), statuses.FAILED, closes)
        legs = (_flatten(holding.exposure, closes),)
    side = "buy" if action == BUY else "sell"
    if side == "sell" and not tradability.can_short:
        return _refuse_open(legs, tradability.short_refusal or f"{row.symbol} cannot be sold short")
    if legs and context.size_opening_later:
        return OrderPlan(legs + (OrderLeg(OPEN, side),), statuses.FILLED)
    opening = _opening(side, row, price, tradability, context)
    if isinstance(opening, str):
        return _refuse_open(legs, opening)
    return OrderPlan(legs + opening, statuses.FILLED)


def _one_way(action: str, row: ConfigRow, tradability: Tradability) -> str:
    """Why this signal may only close, never open the other side ("" when it may)."""
    if action == SELL and tradability.crypto:
        return CRYPTO_NO_SHORT  # a crypto SELL is an exit: Alpaca lends no crypto to sell short
    if action == SELL and row.rules.direction == LONG_ONLY:
        return "the row is long only: SELL closes a long and never shorts"
    if action == BUY and row.rules.direction == SHORT_ONLY:
        return "the row is short only: BUY closes a short and never goes long"
    return ""


@dataclass(frozen=True)
class _Style:
    """How an order goes now: a market order, or a limit (asked for, or the only kind Alpaca
    takes in pre/post-market) at the reference price and the row's offset."""

    limit: bool = False
    extended: bool = False
    reference: Decimal | None = None
    offset: Distance | None = None


def _closing_style(row: ConfigRow, price: Decimal | None, tradability: Tradability, context: Context) -> _Style | str:
    """A close goes as a market order, except in pre/post-market on an Extended Hours row: Alpaca
    takes only limit day orders there. A string is why it cannot go."""
    if not _extended(row, tradability, context):
        return _Style()
    price = price if price is not None else context.close_reference
    if price is None:
        return f"an extended-hours close is a limit order and needs a price: {NO_PRICE}"
    return _Style(limit=True, extended=True, reference=price, offset=row.rules.limit_offset)


def _extended(row: ConfigRow, tradability: Tradability, context: Context) -> bool:
    return row.rules.extended_hours and not context.regular_hours and not tradability.crypto


def _close(exposure: Decimal, style: _Style | str, reason: str) -> OrderPlan:
    if isinstance(style, str):
        return OrderPlan((), statuses.FAILED, style)
    return OrderPlan((_flatten(exposure, style),), statuses.WAITING, reason)


def _opening(side: str, row: ConfigRow, price: Decimal | None, tradability: Tradability,
             context: Context) -> tuple[OrderLeg, ...] | str:
    """The opening leg (and a trailing stop to follow it), or why there is none."""
    rules = row.rules
    extended = _extended(row, tradability, context)
    limit = rules.order_type == LIMIT or extended
    if limit and price is None:
        why = "an extended-hours order is a limit order" if extended else "the row's Order Type is limit"
        return f"{why} and needs the alert's price: {NO_PRICE}"
    exits = _exit_distances(row, context)
    if isinstance(exits, str):
        return exits
    take_profit, stop_loss = exits
    trailing = rules.trailing_stop
    has_exits = bool(take_profit or stop_loss or trailing)
    if has_exits and tradability.crypto:
        return "Alpaca takes no take-profit, stop-loss or trailing-stop orders for crypto; clear those cells"
    if has_exits and extended:
        return ("Alpaca takes only simple limit orders in pre/post-market, so exits cannot go with an "
                "extended-hours entry: it waits for regular hours, or clear Extended Hours")
    style = _Style(limit=limit, extended=extended, reference=price, offset=rules.limit_offset)
    order_price = limit_price(price, style.offset, side) if limit else price
    # Exits are good-till-cancelled; Alpaca takes complex and trailing orders in whole shares only.
    whole = side == "sell" or has_exits or not tradability.fractionable
    size = _size(row, order_price, whole, context)
    if isinstance(size, str):
        return size
    qty, notional = size
    if limit and notional is not None:
        qty, notional = _qty_for(notional, order_price, whole=False), None
        if not qty:
            return f"position size ${notional} buys nothing at ${order_price}"
    leg = OrderLeg(OPEN, side, qty=qty, notional=notional, order_type=LIMIT if limit else "market",
                   limit_price=order_price if limit else None, extended_hours=extended)
    if take_profit or stop_loss:
        reference = order_price if order_price is not None else price
        if reference is None:
            return f"take-profit and stop-loss are placed from the entry's price, and there is none: {NO_PRICE}"
        targets = _exit_prices(side, reference, take_profit, stop_loss)
        if isinstance(targets, str):
            return targets
        leg = _with(leg, time_in_force="gtc", take_profit=targets[0], stop_loss=targets[1],
                    take_profit_from=_distance_of(take_profit), stop_loss_from=_distance_of(stop_loss))
    legs = (leg,)
    if trailing:
        exit_side = "sell" if side == "buy" else "buy"
        legs += (OrderLeg(TRAILING, exit_side, qty=qty, order_type="trailing_stop", time_in_force="gtc",
                          trail_percent=trailing.amount if trailing.percent else None,
                          trail_price=None if trailing.percent else trailing.amount),)
    return legs


def _size(row: ConfigRow, price: Decimal | None, whole: bool,
          context: Context) -> tuple[Decimal | None, Decimal | None] | str:
    """(qty, notional) of the opening order, or why there is none."""
    size = row.size
    if size.kind in (SHARES, ALERT):
        qty = size.amount if size.kind == SHARES else context.alert_qty
        if qty is None:
            return ("position_size is alert, and the alert carries no quantity: add "
                    '"quantity": "{{strategy.order.contracts}}"')
        if whole:
            qty = qty.to_integral_value(ROUND_DOWN)
            if qty < 1:
                return f"the alert's quantity {context.alert_qty} is less than one whole share"
        return qty, None
    if size.kind == SIZE_PERCENT:
        if context.equity is None or context.equity <= 0:
            return "position_size is a percent of equity, and the account's equity is unknown"
        dollars = context.equity * size.amount / 100
    else:
        dollars = size.amount
    if whole:
        shares, why_not = whole_shares(dollars, price)
        return (shares, None) if shares else why_not
    return None, dollars.quantize(CENT, ROUND_DOWN)


def _exit_distances(row: ConfigRow, context: Context) -> tuple[Distance | ExitTarget | None, ...] | str:
    """Take-profit and stop-loss: the row's, else the alert's (a row value always wins)."""
    chosen: list[Distance | ExitTarget | None] = []
    for mine, alerts, name in ((row.rules.take_profit, context.alert_take_profit, "take_profit"),
                               (row.rules.stop_loss, context.alert_stop_loss, "stop_loss")):
        if mine is None and alerts is not None and row.rules.trailing_stop is not None:
            alerts = None  # the row's trailing stop is its exit: one exit order holds the shares
        if mine is None and alerts is not None and alerts.kind == PIPS:
            return f"the alert's {name} is in pips, which Alpaca's stocks and crypto have none of: use a percent or a price"
        chosen.append(mine if mine is not None else alerts)
    return tuple(chosen)


def _exit_prices(side: str, entry: Decimal, take_profit, stop_loss) -> tuple[Decimal | None, Decimal | None] | str:
    def price_of(target, profit: bool) -> Decimal | None:
        if target is None:
            return None
        if isinstance(target, Distance):
            return exit_price(entry, target, side, profit)
        if target.kind == PRICE:
            return broker_price(target.value)
        return exit_price(entry, Distance(target.value, target.kind == PERCENT), side, profit)

    tp, sl = price_of(take_profit, True), price_of(stop_loss, False)
    above = side == "buy"
    # Alpaca refuses legs on the wrong side of the entry; say so in the trader's words first.
    if tp is not None and (tp <= entry if above else tp >= entry):
        return f"take-profit {tp} is not {'above' if above else 'below'} the entry price {entry}"
    if sl is not None and (sl >= entry if above else sl <= entry):
        return f"stop-loss {sl} is not {'below' if above else 'above'} the entry price {entry}"
    if sl is not None and sl <= 0:
        return f"stop-loss {sl} is not a price"
    return tp, sl


def _distance_of(target: Distance | ExitTarget | None) -> Distance | None:
    if target is None or isinstance(target, Distance):
        return target
    return None if target.kind == PRICE else Distance(target.value, target.kind == PERCENT)


def _qty_for(dollars: Decimal, price: Decimal, whole: bool) -> Decimal:
    qty = dollars / price
    return qty.to_integral_value(ROUND_DOWN) if whole else qty.quantize(QTY_STEP, ROUND_DOWN)


def unsized(leg_qty: object, leg_notional: object, purpose: str) -> bool:
    """An opening leg planned without its size (a flip's, sized once the close has filled)."""
    return purpose == OPEN and leg_qty is None and leg_notional is None


def _with(leg: OrderLeg, **changes) -> OrderLeg:
    return replace(leg, **changes)


def whole_shares(dollars: Decimal, price: Decimal | None) -> tuple[Decimal, str]:
    """floor(dollars / price) shares, or 0 and the reason there are none."""
    if price is None:
        return ZERO, "no price to size the order: add \"price\": \"{{close}}\" to the alert"
    shares = (dollars / price).to_integral_value(ROUND_DOWN)
    if shares < 1:
        return ZERO, f"position size ${plain(dollars.quantize(CENT, ROUND_DOWN))} buys no whole share at ${price}"
    return shares, ""


def _flatten(exposure: Decimal, style: _Style = _Style()) -> OrderLeg:
    side = "sell" if exposure > 0 else "buy"
    if not style.limit:
        return OrderLeg(CLOSING, side, qty=abs(exposure))
    return OrderLeg(CLOSING, side, qty=abs(exposure), order_type=LIMIT, extended_hours=style.extended,
                    limit_price=limit_price(style.reference, style.offset, side))


def _refuse_open(closing: tuple[OrderLeg, ...], why_not: str) -> OrderPlan:
    # The signal still says "not the other side": close what we hold, then report why no new position.
    reason = f"closed the old position; {why_not}" if closing else why_not
    return OrderPlan(closing, statuses.FAILED, reason)


def _pending_opposes(wanted: int, holding: Holding) -> bool:
    """Do our unfilled orders work against the signal? A close already under way does not."""
    if holding.pending == 0:
        return False
    if wanted != 0:
        return _sign(holding.pending) != wanted
    # CLOSE: an order that only reduces what we hold is a close in progress; keep it.
    reducing = holding.held != 0 and _sign(holding.pending) != _sign(holding.held)
    return not (reducing and abs(holding.pending) <= abs(holding.held))


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)
