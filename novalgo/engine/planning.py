"""The decision's inputs, gathered once for the executor and the dry run alike.

What we hold (the broker's position plus our unfilled orders), whether the asset may be traded
or shorted (the broker's word, crypto included), a price to size whole shares and place exits,
whether regular hours are on (for an Extended Hours row) and the account's equity (for a size
in percent), then the decision table. Reads only: the executor writes the plan, the dry run
shows it. Each read is made only when the row and the signal need it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from novalgo.broker.base import ZERO, Broker
from novalgo.domain import statuses
from novalgo.domain.alerts import Alert
from novalgo.domain.config_rows import ConfigRow
from novalgo.domain.decision import Context, Holding, OrderPlan, Tradability, decide
from novalgo.domain.row_rules import LIMIT, PERCENT
from novalgo.domain.symbols import is_crypto
from novalgo.errors import OrderRejected


def plan_alert(alert: Alert, row: ConfigRow, broker: Broker, our_open_orders: Iterable[dict[str, Any]],
               size_later: bool = False) -> tuple[Holding, OrderPlan]:
    """What we hold and what the decision table would do about the alert now.

    ``size_later``: a flip (a close, then the other side) plans the close now and leaves the opening
    leg to be decided once the close has filled (the executor does): what only that leg needs (a
    price the alert lacks, the equity for a percent size, whether the account may short) is read
    then, so the close goes first and never waits on a read."""
    action, symbol, alert_price = alert.action, alert.symbol, alert.price
    # From the stream's fills when current: no read first. A close planned on a stale belief cannot
    # open the other side: it goes as a close (position_intent), which Alpaca refuses, and the
    # refusal reads the position afresh and decides again (executor._plan_again).
    held = broker.position(symbol).qty
    pending = sum((_signed_open_qty(o, alert_price) for o in our_open_orders), ZERO)
    holding = Holding(held, pending)
    opens_after_close = action != "close" and holding.exposure != 0 and (holding.exposure > 0) != (action == "buy")
    tradability = Tradability()
    price = alert_price
    rules = row.rules
    if not row.active or row.problem:
        return holding, decide(action, row, holding, price, tradability)
    # Opening needs the asset's rules; a SELL always does, since on crypto it only goes flat.
    # An Extended Hours row closes differently outside regular hours, unless it is crypto.
    closes_extended = rules.extended_hours and _sells_or_covers(action, holding.exposure)
    needs_price = False
    # A market flip in regular hours: the opening leg is decided after the close (see above).
    later = size_later and opens_after_close and rules.order_type != LIMIT and _regular_hours(
        rules.extended_hours, is_crypto(symbol), broker)
    if action == "sell" or (action == "buy" and holding.exposure <= 0) or rules.direction != "both" \
            or closes_extended:
        try:
            asset = broker.asset(symbol)
        except OrderRejected as e:
            return holding, OrderPlan((), statuses.FAILED, str(e))
        if not asset.tradable:
            return holding, OrderPlan((), statuses.FAILED, f"{symbol} is not tradable at the broker")
        can_short, refusal = asset.shortable and asset.easy_to_borrow, ""
        if action == "sell" and not asset.crypto:
            if not can_short:
                refusal = f"{symbol} is not shortable (or not easy to borrow) at the broker"
            elif not later and not broker.account().shorting_enabled:
                can_short, refusal = False, "the account is not allowed to sell short"
        tradability = Tradability(asset.fractionable, can_short, refusal, crypto=asset.crypto)
        # A price sizes whole shares and places exits; a limit takes only the alert's (the
        # trader's intent), never a quote we fetched.
        needs_price = (action == "sell" and not asset.crypto) or not asset.fractionable or rules.has_exits \
            or alert.take_profit is not None or alert.stop_loss is not None
    regular = _regular_hours(rules.extended_hours, tradability.crypto, broker)
    later = later and regular
    if price is None and needs_price and rules.order_type != LIMIT and regular and not later:
        price = broker.latest_price(symbol)
    close_reference = None
    if closes_extended and not regular and price is None:
        # A pre/post-market close is a limit order: priced from the last trade when the alert has
        # no price (the leader's own CLOSEs), rather than failing and holding the position overnight.
        close_reference = broker.latest_price(symbol)
    context = Context(
        regular_hours=regular, close_reference=close_reference,
        equity=broker.account().equity if row.size.kind == PERCENT and action != "close" and not later else None,
        alert_qty=alert.quantity, alert_take_profit=alert.take_profit, alert_stop_loss=alert.stop_loss,
        size_opening_later=later)
    return holding, decide(action, row, holding, price, tradability, context)


def _sells_or_covers(action: str, held: Decimal) -> bool:
    """Would the signal trade against what is held (a close, or the first leg of a flip)?"""
    if held == 0:
        return False
    return action == "close" or (held > 0) == (action == "sell")


def _regular_hours(extended_hours: bool, crypto: bool, broker: Broker) -> bool:
    """Only an Extended Hours row trades differently outside regular hours (the broker's clock is cached)."""
    return crypto or not extended_hours or broker.market_open()


def _signed_open_qty(order: dict[str, Any], price: Decimal | None) -> Decimal:
    """How much an unfilled order of ours will add to the position (estimated for dollar orders)."""
    filled = Decimal(order["filled_qty"] or 0)
    if order["qty"]:
        remaining = Decimal(order["qty"]) - filled
    else:
        hint = Decimal(order["price_hint"]) if order["price_hint"] else price
        # Without a price, count a dollar buy as one share: the sign is what the decision needs.
        remaining = Decimal(order["notional"]) / hint - filled if hint else Decimal(1)
    remaining = max(remaining, ZERO)
    return remaining if order["side"] == "buy" else -remaining
