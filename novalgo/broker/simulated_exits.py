"""The simulator's resting orders: limits, stops, trailing stops, a bracket's exit legs and OCO exits.

Pure rules on the order rows of ``simulated.py`` (no database here): what Alpaca refuses at the
door, when a resting order is crossed by a new price and at what price it fills, how a trailing
stop follows the market, and how an order reads to a trader.

Fill prices, chosen to be conservative for the trader and the same as a real market would give:
- a limit that can fill on arrival (a buy limit at or above the price) fills at the price, as a
  marketable limit does at an exchange;
- a limit resting in the book (take-profit legs included) fills at its limit price when a later
  price reaches it: the market went through the limit between two alerts, and the simulator does
  not credit the trader with the gap;
- a stop (stop-loss legs, trailing stops) becomes a market order when crossed and fills at the
  observed price, slippage included.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any, Mapping

from novalgo.broker.base import (
    CRYPTO,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    AssetInfo,
    OrderRequest,
    OrderState,
)
from novalgo.domain.money import CENT, HUNDRED, QTY_STEP, plain
from novalgo.errors import OrderRejected

# Columns beyond the first simulator's, added to an older file by ThreadConnections.prepare.
ORDER_COLUMNS = {
    "order_type": "TEXT NOT NULL DEFAULT 'market'",  # market | limit | stop | trailing_stop
    "limit_price": "TEXT",
    "stop_price": "TEXT",  # a stop-loss leg's stop; a trailing stop's current stop
    "trail_percent": "TEXT",
    "trail_price": "TEXT",
    "water": "TEXT",  # a trailing stop's high-water mark (sell) or low-water mark (buy)
    "time_in_force": "TEXT NOT NULL DEFAULT 'day'",
    "extended_hours": "INTEGER NOT NULL DEFAULT 0",
    "parent": "TEXT",  # an exit leg's entry order, or an OCO stop-loss's take-profit (client_order_id)
    "leg": "TEXT",  # take_profit | stop_loss, on exit legs and on an OCO's two orders
    "waiting": "INTEGER NOT NULL DEFAULT 0",  # an exit leg whose entry has not filled (Alpaca's "held")
    "oco": "INTEGER NOT NULL DEFAULT 0",  # an OCO's take-profit: its stop-loss leg works from the start
    "version": "INTEGER NOT NULL DEFAULT 0",  # the change counter when the row last changed
    "writer": "TEXT NOT NULL DEFAULT ''",  # which broker object (process) made that change
}

LABELS = {TAKE_PROFIT: "take-profit", STOP_LOSS: "stop-loss"}


def check_request(order: OrderRequest, asset: AssetInfo) -> None:
    """What Alpaca refuses whatever the market does (OrderRejected, in Alpaca's words)."""
    whole = order.qty is not None and order.qty == order.qty.to_integral_value()
    if asset.asset_class == CRYPTO:
        # Alpaca's crypto orders are market, limit and stop_limit, and simple (the fake Alpaca's words).
        if order.order_class == "oco":
            raise OrderRejected("crypto orders must be simple orders")
        if order.order_type == "stop":
            raise OrderRejected("invalid crypto order type: stop")
    if order.extended_hours and asset.asset_class != CRYPTO and (
            order.order_type != "limit" or order.time_in_force != "day"):
        raise OrderRejected("extended hours order must be DAY limit orders")
    if order.order_type == TRAILING_STOP:
        if order.order_class != "simple":
            raise OrderRejected("trailing_stop orders cannot have take_profit or stop_loss legs")
        if not whole:
            raise OrderRejected("fractional orders are not supported for trailing_stop orders: use whole shares")
        trail = order.trail_percent if order.trail_percent is not None else order.trail_price
        if trail is None or trail <= 0 or (order.trail_percent is not None and order.trail_percent >= HUNDRED):
            raise OrderRejected("trail_percent or trail_price must be > 0 (and trail_percent < 100)")
    if order.order_class != "simple" and not whole:
        raise OrderRejected(f"fractional orders are not supported for {order.order_class} orders: use whole shares")
    if order.limit_price is not None and order.limit_price <= 0:
        raise OrderRejected("limit_price must be > 0")
    if order.stop_price is not None and order.stop_price <= 0:
        raise OrderRejected("stop_price must be > 0")


def check_oco(order: OrderRequest, held: Decimal, market: Decimal | None) -> None:
    """An OCO only exits a position (Alpaca: "currently only exit order is supported"), and its stop lies
    at least a cent beyond the base prices: the take-profit's limit and the market price (Alpaca's
    "Threshold on stop price of stop-loss orders"; the words are Alpaca's)."""
    if not order.oco:
        return
    if held == 0 or (held > 0) != (order.side == "sell"):
        raise OrderRejected("oco orders must be exit orders")
    sells = order.side == "sell"
    for base in (order.limit_price, market):
        if base is not None and (order.stop_loss > base - CENT if sells else order.stop_loss < base + CENT):
            raise OrderRejected(f"stop_loss.stop_price must be {'<=' if sells else '>='} base_price "
                                f"{'-' if sells else '+'} 0.01 (base_price: {plain(base)})")


def check_exit_prices(order: OrderRequest, base: Decimal | None) -> None:
    """A bracket's or OTO's exits must lie on the right side of the entry's price (Alpaca's words);
    ``base`` is the entry's limit price, or the market price for a market entry."""
    if order.order_class in ("simple", "oco") or base is None:
        return
    up = order.side == "buy"  # a long's take-profit is above, its stop below; a short's the other way
    if order.take_profit is not None and (order.take_profit < base + CENT if up else order.take_profit > base - CENT):
        raise OrderRejected(f"take_profit.limit_price must be {'>=' if up else '<='} base_price "
                            f"{'+' if up else '-'} 0.01 (base_price: {plain(base)})")
    if order.stop_loss is not None and (order.stop_loss > base - CENT if up else order.stop_loss < base + CENT):
        raise OrderRejected(f"stop_loss.stop_price must be {'<=' if up else '>='} base_price "
                            f"{'-' if up else '+'} 0.01 (base_price: {plain(base)})")


def legs_of(order: OrderRequest) -> list[tuple[str, str, Decimal]]:
    """The exit legs a bracket/OTO entry makes: (leg, order_type, price), take-profit first; an OCO
    makes only its stop-loss (the OCO itself is the take-profit)."""
    if order.oco:
        return [(STOP_LOSS, "stop", order.stop_loss)]
    legs = []
    if order.take_profit is not None:
        legs.append((TAKE_PROFIT, "limit", order.take_profit))
    if order.stop_loss is not None:
        legs.append((STOP_LOSS, "stop", order.stop_loss))
    return legs


def opposite(side: str) -> str:
    return "sell" if side == "buy" else "buy"


def trailed(row: Mapping[str, Any], price: Decimal) -> tuple[Decimal, Decimal]:
    """A trailing stop's water mark after this price, and its stop: a sell trails below the highest
    price seen since it was placed, a buy above the lowest."""
    water = _dec(row["water"])
    sell = row["side"] == "sell"
    if water is None or (price > water if sell else price < water):
        water = price
    percent, dollars = _dec(row["trail_percent"]), _dec(row["trail_price"])
    offset = water * percent / HUNDRED if percent is not None else dollars
    return water, water - offset if sell else water + offset


def fill_price(row: Mapping[str, Any], price: Decimal) -> Decimal | None:
    """The price a resting order fills at when the market is at ``price``, or None if it rests on."""
    sell = row["side"] == "sell"
    kind = row["order_type"]
    if kind == "limit":
        limit = Decimal(row["limit_price"])
        return limit if (price >= limit if sell else price <= limit) else None
    if kind in ("stop", TRAILING_STOP):
        stop = _dec(row["stop_price"])
        if stop is not None and (price <= stop if sell else price >= stop):
            return price
    return None


def marketable(order: OrderRequest, price: Decimal | None) -> bool:
    """Would this new order fill on arrival at this price?"""
    if price is None:
        return False
    if order.order_type == "market":
        return True
    if order.order_type == "limit":
        return price <= order.limit_price if order.side == "buy" else price >= order.limit_price
    return False  # a trailing stop starts one trail away from the price


def share_qty(qty: Decimal | None, notional: Decimal | None, price: Decimal | None) -> Decimal:
    """The shares an order is for: its qty, or its dollars at a price (Alpaca's nine decimals)."""
    if qty is not None:
        return qty
    assert notional is not None and price is not None
    return (notional / price).quantize(QTY_STEP, ROUND_DOWN)


def state(row: Mapping[str, Any], legs: tuple[OrderState, ...] = ()) -> OrderState:
    """An order row as the broker reports it."""
    return OrderState(
        row["client_order_id"], row["broker_order_id"], row["symbol"], row["side"], row["status"],
        _dec(row["qty"]), _dec(row["notional"]), Decimal(row["filled_qty"]), _dec(row["filled_avg_price"]),
        row["reason"], order_type=row["order_type"], description=describe(row), legs=legs,
        limit_price=_dec(row["limit_price"]), stop_price=_dec(row["stop_price"]))


def describe(row: Mapping[str, Any]) -> str:
    """"sell 10 AAPL limit 102", "sell 10 AAPL stop 97", "sell 10 AAPL trailing_stop trail 5% (stop 104.5)"."""
    size = plain(_dec(row["qty"])) if row["qty"] is not None else f"${plain(_dec(row['notional']))}"
    words = [row["side"], size, row["symbol"]]
    kind = row["order_type"]
    if kind == "limit":
        words += ["limit", row["limit_price"]]
    elif kind == "stop":
        words += ["stop", row["stop_price"]]
    elif kind == TRAILING_STOP:
        trail = f"{row['trail_percent']}%" if row["trail_percent"] is not None else f"${row['trail_price']}"
        words += [TRAILING_STOP, "trail", trail]
        if row["stop_price"] is not None:
            words.append(f"(stop {plain(_dec(row['stop_price']))})")
    else:
        words.append(kind)
    return " ".join(words)


def label(row: Mapping[str, Any]) -> str:
    """What a trader calls the order: take-profit, stop-loss, trailing stop, limit or market."""
    if row["leg"]:
        return LABELS.get(row["leg"], row["leg"])
    return "trailing stop" if row["order_type"] == TRAILING_STOP else row["order_type"]


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)

