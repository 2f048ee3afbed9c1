"""Advanced orders in the fake Alpaca: the legs of bracket, OTO and OCO orders, and what a price move
(``FakeAlpaca.set_price``) does to resting orders: limit, stop, stop_limit, trailing_stop, and those legs.

The functions work on the fake's order dicts under its lock. Fields that start with "_" never reach
the JSON: ``_legs`` (a parent's leg ids), ``_parent`` (a leg's parent id), ``_group`` (the exit orders
that cancel each other share it) and ``_triggered`` (a stop_limit whose stop was hit).

Documents, as in ``alpaca_rules``:
  ADVANCED  "Orders at Alpaca", Bracket / OCO / OTO / Trailing Stop Orders
            (github.com/alpacahq/user-docs, content/trading-on-alpaca/orders.md)
  ORDERS    "Orders at Alpaca" (docs.alpaca.markets/docs/orders-at-alpaca): order types and lifecycle
  FORUM     Alpaca's forum, forum.alpaca.markets/t/bracket-order-closing-positions/11938 (Alpaca staff:
            "Canceling one leg of a bracket order will cancel the other leg too")
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Iterator

from tests.fakes import alpaca_rules as rules
from tests.fakes.alpaca_rules import CENT, Exits

if TYPE_CHECKING:
    from tests.fakes.alpaca_server import FakeAlpaca

LIVE = ("new", "partially_filled")  # resting orders a price can reach
SUB_CENT = Decimal("0.0001")


def _closing_intent(side: str) -> str:
    return "sell_to_close" if side == "sell" else "buy_to_close"


# -- making the legs ---------------------------------------------------------------------------


def make_legs(fake: "FakeAlpaca", parent: dict, exits: Exits) -> None:
    """ADVANCED: a bracket "creates three orders": the entry, a take-profit limit order and a stop-loss
    (a stop order, or a stop_limit one when stop_loss has a limit_price), both on the other side and "for
    the same" quantity; an OTO makes the one exit it names. An OCO is two exit orders on the same side: the
    order itself is the take-profit ("the take-profit order shows up as the parent order while the stop-loss
    order appears as a child order"). Each leg is an order of its own: its own id, a client_order_id the
    broker makes, the parent's order_class and time_in_force. Bracket and OTO exits wait "held" (the
    OrderStatus Alpaca reports for them) until the entry is "completely filled"."""
    order_class = parent["order_class"]
    asset = fake._asset_of(parent)
    if order_class == "oco":
        exit_side, specs = parent["side"], []
        parent["_group"] = parent["id"]
    else:
        exit_side = "sell" if parent["side"] == "buy" else "buy"
        specs = [{"type": "limit", "limit_price": exits.take_profit}] if exits.take_profit is not None else []
    if exits.stop_price is not None:
        kind = "stop_limit" if exits.stop_limit is not None else "stop"
        specs.append({"type": kind, "stop_price": exits.stop_price, "limit_price": exits.stop_limit})
    ids = []
    for spec in specs:
        body = {"symbol": parent["symbol"], "side": exit_side, "time_in_force": parent["time_in_force"],
                "qty": parent["qty"], "order_class": order_class, **spec}
        leg = fake._new_order(body, asset, fake.now(), intent=_closing_intent(exit_side))
        leg.update(status="held" if order_class != "oco" else parent["status"], _parent=parent["id"],
                   _group=parent["id"])
        ids.append(leg["id"])
    parent["_legs"] = ids


def legs(fake: "FakeAlpaca", order: dict) -> list[dict]:
    return [fake.orders[i] for i in order.get("_legs") or ()]


def family(fake: "FakeAlpaca", order: dict) -> list[dict]:
    """The order, then the rest of its group: parent and legs (ADVANCED: "the group")."""
    root = fake.orders[order["_parent"]] if order.get("_parent") else order
    members = [root, *legs(fake, root)]
    return [order] + [o for o in members if o["id"] != order["id"]]


def is_complex(order: dict) -> bool:
    return bool(order.get("_legs") or order.get("_parent"))


# -- fills, cancels ----------------------------------------------------------------------------


def after_fill(fake: "FakeAlpaca", order: dict, done: bool) -> None:
    """What a fill does to the rest of the group.

    ADVANCED: the exits "won't be active until the first order is completely filled": then they turn
    "new" (a trade_updates "new" each). "Once one of the exit orders is filled, the other is canceled"
    (a "canceled" event); "If the take-profit order is partially filled, the stop-loss order will be
    adjusted to the remaining quantity" (the fake does this for either exit)."""
    if done and order["order_class"] in ("bracket", "oto") and not order.get("_parent"):
        for leg in legs(fake, order):
            if leg["status"] == "held":
                leg.update(status="new", updated_at=order["updated_at"])
                fake._emit("new", leg)
    group = order.get("_group")
    if group is None:
        return
    siblings = [o for o in fake.orders.values()
                if o.get("_group") == group and o["id"] != order["id"] and rules.is_open(o)]
    for sibling in siblings:
        if done:
            cancel(fake, sibling)
        else:
            left = Decimal(order["qty"]) - Decimal(order["filled_qty"])
            sibling.update(qty=rules.s(left), updated_at=order["updated_at"])


def cancel(fake: "FakeAlpaca", order: dict) -> None:
    stamp = fake._stamp()
    order.update(status="canceled", canceled_at=stamp, updated_at=stamp, _due=None)
    fake._emit("canceled", order)


def cancel_family(fake: "FakeAlpaca", order: dict) -> None:
    """ADVANCED: "If any one of the orders is canceled, any remaining open order in the group is canceled"
    (FORUM: cancelling one leg cancels the other). The order asked for goes first."""
    for member in family(fake, order):
        if rules.is_open(member):
            cancel(fake, member)


# -- prices ------------------------------------------------------------------------------------


def start_trailing(order: dict, price: Decimal) -> None:
    """ADVANCED (Trailing Stop): the order tracks "the highest (for sell, lowest for buy) prices (called
    high water mark, or hwm) since the order was submitted"; its stop_price "is derived from hwm and trail
    parameter"."""
    order["hwm"] = rules.s(price)
    order["stop_price"] = rules.s(trail_stop(order, price))


def trail_stop(order: dict, hwm: Decimal) -> Decimal:
    """ADVANCED: trail_price 2.00 on a sell makes the stop "hwm - 2.00", trail_percent 1.0 makes it
    "hwm * 0.99" (mirrored for a buy). The rounding is not documented: the fake rounds half up to the
    cent ($0.0001 under $1), the increments the sub-penny rule allows."""
    if order["trail_price"] is not None:
        offset = Decimal(order["trail_price"])
    else:
        offset = hwm * Decimal(order["trail_percent"]) / 100
    stop = hwm - offset if order["side"] == "sell" else hwm + offset
    return stop.quantize(CENT if stop >= 1 else SUB_CENT, ROUND_HALF_UP)


def _trail(order: dict, price: Decimal) -> None:
    hwm = Decimal(order["hwm"]) if order["hwm"] is not None else price
    hwm = max(hwm, price) if order["side"] == "sell" else min(hwm, price)
    order["hwm"] = rules.s(hwm)
    order["stop_price"] = rules.s(trail_stop(order, hwm))


def may_trade(fake: "FakeAlpaca", order: dict) -> bool:
    """Crypto trades at all hours (ORDERS); equities while the market is open, and in the extended session
    only extended_hours limit orders (ORDERS: "Only limit day orders will be accepted as extended hours
    eligible"). ADVANCED: "Trailing stop will not trigger outside of the regular market hours"."""
    if fake._asset_of(order).crypto or fake.market.is_open:
        return True
    return fake.market.extended and order["extended_hours"] and order["type"] == "limit"


def _reach(fake: "FakeAlpaca", order: dict, price: Decimal) -> bool:
    """One resting order against the price; True when it filled or was triggered.

    ORDERS: a stop order, once "the market price crosses the specified stop price", "becomes a market
    order" (filled here at the price that crossed it); a stop_limit "becomes a limit order"; a limit buy
    executes "at the specified limit price or lower", a sell at it or higher. Prices in the fake jump from
    one value to the next, so a resting limit order is met at its own limit on the way through."""
    kind, buy = order["type"], order["side"] == "buy"
    triggered = False
    if kind == "market":
        return False
    if kind == "trailing_stop":
        _trail(order, price)
    if kind in ("stop", "trailing_stop") or (kind == "stop_limit" and not order.get("_triggered")):
        stop = Decimal(order["stop_price"])
        if not (price >= stop if buy else price <= stop):
            return False
        if kind != "stop_limit":
            fake._fill_rest(order, price)
            return True
        order["_triggered"] = triggered = True
    limit = Decimal(order["limit_price"])
    if price <= limit if buy else price >= limit:
        fake._fill_rest(order, limit)
        return True
    return triggered


def on_price(fake: "FakeAlpaca", symbol: str) -> None:
    """A new price for ``symbol``: every resting order it reaches fills (or triggers). Runs until nothing
    moves, so an entry that fills can have its exits reached by the same price."""
    price = fake.assets[symbol].price
    for _ in range(8):
        moved = False
        for order in _resting(fake, symbol):
            if rules.is_open(order) and order["status"] in LIVE and may_trade(fake, order):
                moved = _reach(fake, order, price) or moved
        if not moved:
            return


def _resting(fake: "FakeAlpaca", symbol: str) -> Iterator[dict]:
    for order in list(fake.orders.values()):
        if order["symbol"] == symbol and order["status"] in LIVE:
            yield order
