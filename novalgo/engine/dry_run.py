"""A dry run: what NovAlgo would do with an alert right now, without journalling or trading it.

``novalgo try 'BODY'`` and ``POST /webhook?dry_run=1`` both answer with ``dry_run``: what was read,
the Config row it matches (or why none), what we hold, and the orders the decision table would
send. It only reads: the Config cache, the broker's position and asset, and our unfilled orders
in the journal. It never writes an alert or an order, and never marks the simulator to the
alert's price (the executor does that only for an alert it trades).

The inputs are gathered as ``Executor._plan`` gathers them; tests/engine/test_dry_run.py runs
the same alert through both and checks that the dry run named the orders that were then sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from novalgo.broker.base import ZERO, Broker
from novalgo.domain import statuses
from novalgo.domain.alerts import BUY, CLOSE, SELL, Alert, ExitTarget
from novalgo.domain.config_rows import ConfigRow
from novalgo.domain.decision import Holding, OrderPlan, Tradability, decide
from novalgo.domain.money import plain
from novalgo.engine.journal import Journal
from novalgo.errors import OrderRejected
from novalgo.sheet.cache import ConfigCache


def understood(alert: Alert) -> dict[str, Any]:
    """The alert as NovAlgo read it, every field named (None where the message had none)."""
    return {
        "action": alert.action,
        "symbol": alert.symbol,
        "timeframe": alert.timeframe,
        "timeframe_minutes": alert.timeframe_minutes,
        "price": plain(alert.price),
        "quantity": plain(alert.quantity),
        "take_profit": _exit(alert.take_profit),
        "stop_loss": _exit(alert.stop_loss),
    }


def dry_run(alert: Alert, config: ConfigCache, broker: Broker, journal: Journal | None,
            skip_outside_hours: bool = False) -> dict[str, Any]:
    """What the executor would decide for this alert now; ``journal`` None means no journal yet."""
    answer: dict[str, Any] = {"dry_run": True, "alert": understood(alert), "config_row": None}
    row, why_not = config.lookup(alert.symbol, alert.timeframe_minutes)
    if row is None:
        return {**answer, "holding": None, "orders": [], "status": statuses.SKIPPED, "reason": why_not}
    answer["config_row"] = {"row": row.label, "row_number": row.row_number, "position_size": plain(row.position_size),
                            "active": row.active}
    holding = Holding(broker.position(alert.symbol).qty, _pending(journal, alert.symbol, alert.price))
    answer["holding"] = {"held": plain(holding.held), "pending": plain(holding.pending)}
    plan = _plan(alert, row, holding, broker)
    if plan.cancel_first:
        # The executor cancels our unfilled orders on the symbol, then decides on what is held.
        answer["cancels_unfilled_orders"] = True
        plan = _plan(alert, row, Holding(holding.held), broker)
    if plan.legs and skip_outside_hours and not broker.market_open():
        plan = OrderPlan((), statuses.SKIPPED, "market closed and NOVALGO_OUTSIDE_HOURS=skip")
    orders = [{"purpose": leg.purpose, "side": leg.side, "qty": plain(leg.qty), "notional": plain(leg.notional)}
              for leg in plan.legs]
    return {**answer, "orders": orders, "status": plan.status, "reason": plan.reason}


def _plan(alert: Alert, row: ConfigRow, holding: Holding, broker: Broker) -> OrderPlan:
    """The decision with the executor's inputs: tradability only when a new side would open."""
    action, price = alert.action, alert.price
    tradability = Tradability()
    opens = action != CLOSE and holding.exposure * (1 if action == BUY else -1) <= 0
    if opens:
        try:
            asset = broker.asset(alert.symbol)
        except OrderRejected as e:
            return OrderPlan((), statuses.FAILED, str(e))
        if not asset.tradable:
            return OrderPlan((), statuses.FAILED, f"{alert.symbol} is not tradable at the broker")
        can_short, refusal = asset.shortable and asset.easy_to_borrow, ""
        if action == SELL:
            if not can_short:
                refusal = f"{alert.symbol} is not shortable (or not easy to borrow) at the broker"
            elif not broker.account().shorting_enabled:
                can_short, refusal = False, "the account is not allowed to sell short"
        tradability = Tradability(asset.fractionable, can_short, refusal)
        if price is None and (action == SELL or not asset.fractionable):
            price = broker.latest_price(alert.symbol)
    return decide(action, row, holding, price, tradability)


def _pending(journal: Journal | None, symbol: str, price: Decimal | None) -> Decimal:
    """How much our unfilled orders will add to the position (dollar buys estimated at their price)."""
    if journal is None:
        return ZERO
    total = ZERO
    for order in journal.open_orders(symbol):
        filled = Decimal(order["filled_qty"] or 0)
        if order["qty"]:
            remaining = Decimal(order["qty"]) - filled
        else:
            hint = Decimal(order["price_hint"]) if order["price_hint"] else price
            remaining = Decimal(order["notional"]) / hint - filled if hint else Decimal(1)
        remaining = max(remaining, ZERO)
        total += remaining if order["side"] == "buy" else -remaining
    return total


def _exit(target: ExitTarget | None) -> dict[str, str] | None:
    return {"kind": target.kind, "value": plain(target.value)} if target else None
