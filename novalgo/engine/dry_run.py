"""A dry run: what NovAlgo would do with an alert right now, without journalling or trading it.

``novalgo try 'BODY'`` and ``POST /webhook?dry_run=1`` both answer with ``dry_run``: what was read,
the Config row it matches (or why none), what we hold, and the orders the decision table would
send. It only reads: the Config cache, the broker's position and asset, and our unfilled orders
in the journal. It never writes an alert or an order, and never marks the simulator to the
alert's price (the executor does that only for an alert it trades).

The inputs are gathered by ``engine.planning.plan_alert``, as for the executor;
tests/engine/test_dry_run.py runs the same alert through both and checks that the dry run named
the orders that were then sent.
"""

from __future__ import annotations

from typing import Any

from novalgo.broker.base import Broker
from novalgo.domain import statuses
from novalgo.domain.alerts import Alert, ExitTarget
from novalgo.domain.decision import OrderLeg, OrderPlan
from novalgo.domain.money import plain
from novalgo.engine.journal import Journal
from novalgo.engine.planning import plan_alert
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
    answer["config_row"] = {"row": row.label, "row_number": row.row_number,
                            "position_size": plain(row.position_size) if row.position_size is not None else row.size.text,
                            "active": row.active}
    our_orders = journal.open_orders(alert.symbol) if journal is not None else []
    holding, plan = plan_alert(alert, row, broker, our_orders)
    answer["holding"] = {"held": plain(holding.held), "pending": plain(holding.pending)}
    if plan.cancel_first:
        # The executor cancels our unfilled orders on the symbol, then decides on what is held.
        answer["cancels_unfilled_orders"] = True
        plan = plan_alert(alert, row, broker, [])[1]
    exits = journal.open_exits(alert.symbol) if journal is not None and plan.legs else []
    if exits:
        # The executor cancels the symbol's working exits first, so the shares are never held twice.
        answer["cancels_exit_orders"] = [f"{o['purpose'].replace('_', '-')} {o['side']} {o['qty']} {o['symbol']}"
                                         for o in exits]
    if plan.legs and skip_outside_hours and not broker.market_open():
        plan = OrderPlan((), statuses.SKIPPED, "market closed and NOVALGO_OUTSIDE_HOURS=skip")
    orders = [_order(leg) for leg in plan.legs]
    return {**answer, "orders": orders, "status": plan.status, "reason": plan.reason}


def _order(leg: OrderLeg) -> dict[str, Any]:
    order = {"purpose": leg.purpose, "side": leg.side, "qty": plain(leg.qty), "notional": plain(leg.notional)}
    if leg.order_type != "market":
        order["type"] = leg.order_type
    for name in ("limit_price", "take_profit", "stop_loss", "trail_percent", "trail_price"):
        if getattr(leg, name) is not None:
            order[name] = plain(getattr(leg, name))
    if leg.time_in_force != "day":
        order["time_in_force"] = leg.time_in_force
    if leg.extended_hours:
        order["extended_hours"] = True
    return order


def _exit(target: ExitTarget | None) -> dict[str, str] | None:
    return {"kind": target.kind, "value": plain(target.value)} if target else None
