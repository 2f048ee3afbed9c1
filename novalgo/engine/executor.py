"""The executor: turns journalled alerts into orders, one symbol at a time.

For each alert: find its Config row, read what we hold (the broker's position plus our own
unfilled orders), decide, write the legs to the journal as PLANNED, then send them in order,
waiting for a close to fill before opening the other side. Every step is recorded first, so
an alert interrupted anywhere is resumed by ``process`` without sending anything twice:
a leg left SENDING is looked up at the broker by its client_order_id before any resend.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from novalgo.broker.base import FILLED, ZERO, Broker, OrderRequest, OrderState
from novalgo.domain import statuses
from novalgo.domain.config_rows import ConfigRow
from novalgo.domain.decision import Holding, OrderPlan, Tradability, decide
from novalgo.errors import AmbiguousOrderError, OrderRejected, RetryableError, SheetUnavailable
from novalgo.engine.journal import OPEN_AT_BROKER, PLANNED, SENDING, SUPERSEDED, VOID, Journal
from novalgo.sheet.cache import ConfigCache
from novalgo.sheet.status_writer import StatusWriter

log = logging.getLogger(__name__)
RETRY_DELAY = 2.0  # seconds before an alert whose broker call failed is tried again
POLL = 0.25  # seconds between order-state reads while waiting for a fill


@dataclass
class Executor:
    journal: Journal
    broker: Broker
    config: ConfigCache
    writer: StatusWriter
    max_alert_age: float
    fill_wait: float
    skip_outside_hours: bool = False
    clock: Any = time.time
    sleep: Any = time.sleep

    def process(self, alert_id: str) -> str:
        """Take one claimed (PROCESSING) alert as far as it can go now; returns its status."""
        alert = self.journal.get(alert_id)
        try:
            if not alert["orders"]:
                return self._decide(alert)
            return self._send_legs(self.journal.get(alert_id))
        except (RetryableError, SheetUnavailable) as e:
            return self._retry_later(alert, str(e))

    # -- deciding ----------------------------------------------------------------------

    def _decide(self, alert: dict[str, Any]) -> str:
        if self._too_old(alert):
            return self._finish(alert, statuses.EXPIRED, f"received {self._age(alert):.0f}s ago, older than "
                                "NOVALGO_MAX_ALERT_AGE: a stale signal is not traded")
        row, why_not = self.config.lookup(alert["symbol"], alert["timeframe_minutes"])
        if row is None:
            return self._finish(alert, statuses.SKIPPED, why_not)
        self.journal.set_row(alert["id"], row.timeframe, row.timeframe_minutes, row.position_size)
        alert.update(row_timeframe=row.timeframe, row_minutes=row.timeframe_minutes)
        symbol = alert["symbol"]
        price = Decimal(alert["price"]) if alert["price"] else None
        if price is not None:
            self.broker.observe_price(symbol, price)
        # A newer signal replaces an older alert's legs that were never sent.
        for older in self.journal.drop_unsent(symbol, alert["id"], SUPERSEDED):
            self._settle_superseded(older, alert["id"])
        for _ in range(3):
            plan = self._plan(alert["action"], row, symbol, price)
            if not plan.cancel_first:
                break
            self._cancel_open_orders(symbol, alert["id"])
        else:
            return self._finish(alert, statuses.FAILED, "our earlier orders on this symbol could not be cancelled")
        if not plan.legs:
            return self._finish(alert, plan.status, plan.reason, row=row)
        if self.skip_outside_hours and not self.broker.market_open():
            return self._finish(alert, statuses.SKIPPED, "market closed and NOVALGO_OUTSIDE_HOURS=skip", row=row)
        # The alert's price rides along as a hint (the simulator fills at it; Alpaca ignores it).
        self.journal.plan(alert["id"], symbol, plan.legs, price, plan.status, plan.reason)
        return self._send_legs(self.journal.get(alert["id"]))

    def _plan(self, action: str, row: ConfigRow, symbol: str, alert_price: Decimal | None) -> OrderPlan:
        held = self.broker.position(symbol).qty
        pending = sum((_signed_open_qty(o, alert_price) for o in self.journal.open_orders(symbol)), ZERO)
        holding = Holding(held, pending)
        tradability = Tradability()
        price = alert_price
        needs_asset = action != "close" and holding.exposure * (1 if action == "buy" else -1) <= 0
        if needs_asset:
            try:
                asset = self.broker.asset(symbol)
            except OrderRejected as e:
                return OrderPlan((), statuses.FAILED, str(e))
            if not asset.tradable:
                return OrderPlan((), statuses.FAILED, f"{symbol} is not tradable at the broker")
            can_short, refusal = asset.shortable and asset.easy_to_borrow, ""
            if action == "sell":
                if not can_short:
                    refusal = f"{symbol} is not shortable (or not easy to borrow) at the broker"
                elif not self.broker.account().shorting_enabled:
                    can_short, refusal = False, "the account is not allowed to sell short"
            tradability = Tradability(asset.fractionable, can_short, refusal)
            if price is None and (action == "sell" or not asset.fractionable):
                price = self.broker.latest_price(symbol)
        return decide(action, row, holding, price, tradability)

    def _cancel_open_orders(self, symbol: str, alert_id: str) -> None:
        for order in self.journal.open_orders(symbol, exclude_alert=alert_id):
            if order["state"] != SENDING:
                self.broker.cancel(order["client_order_id"])
        self._wait_for([o["client_order_id"] for o in self.journal.open_orders(symbol, exclude_alert=alert_id)],
                       self.fill_wait)

    # -- sending -----------------------------------------------------------------------

    def _send_legs(self, alert: dict[str, Any]) -> str:
        filled_any = False
        for order in alert["orders"]:
            cid = order["client_order_id"]
            if order["state"] in (SUPERSEDED, VOID):
                return self._finish(alert, alert["status"] if alert["status"] in statuses.FINAL else statuses.WAITING,
                                    order["reason"] or "a newer alert replaced this one")
            if order["state"] == PLANNED:
                if self._too_old(alert):
                    self.journal.update_order(cid, state=VOID, reason="alert expired before this order was sent")
                    closed = "the earlier order filled; " if filled_any else ""
                    if filled_any and alert.get("row_minutes"):
                        # The close went through, the opening order did not: the row is flat, as after a CLOSE.
                        self.writer.set((alert["symbol"], alert["row_minutes"]), statuses.WAITING)
                    return self._finish(alert, statuses.EXPIRED, f"{closed}not sending the rest: the alert is "
                                        f"{self._age(alert):.0f}s old (NOVALGO_MAX_ALERT_AGE)")
                state = self._submit(alert, order)
            elif order["state"] == SENDING:
                state = self.broker.find_order(cid) or self._submit(alert, order)
            elif order["state"] in OPEN_AT_BROKER:
                state = self.broker.find_order(cid)
                if state is None:
                    raise AmbiguousOrderError(f"order {cid} is not known to the broker")
            else:
                state = None
            if state is not None:
                self._record(cid, state)
                if not state.is_final:
                    state = self._wait_for([cid], self.fill_wait).get(cid, state)
                if not state.is_final:
                    # Market closed or slow: the tracker picks it up from here.
                    return self._leave_submitted(alert, order)
                status = state.status
            else:
                status = order["state"]
            filled_qty = state.filled_qty if state else Decimal(order["filled_qty"] or 0)
            if status != FILLED and filled_qty == 0:
                reason = (state.reason if state else order["reason"]) or f"order {status}"
                done = "the closing order filled, but the opening order failed: " if filled_any else ""
                return self._finish(alert, statuses.FAILED, done + reason)
            filled_any = True
        return self._finish(alert, alert["plan_status"], alert["plan_reason"] or "")

    def _submit(self, alert: dict[str, Any], order: dict[str, Any]) -> OrderState:
        cid = order["client_order_id"]
        self.journal.update_order(cid, state=SENDING)
        # Said only now, not when planned: a plan that expires unsent must not leave the row
        # saying ORDER SUBMITTED with nothing at the broker.
        if alert.get("row_minutes"):
            self.writer.set((alert["symbol"], alert["row_minutes"]), statuses.ORDER_SUBMITTED)
        request = OrderRequest(
            cid, order["symbol"], order["side"],
            qty=Decimal(order["qty"]) if order["qty"] else None,
            notional=Decimal(order["notional"]) if order["notional"] else None,
            price_hint=Decimal(order["price_hint"]) if order["price_hint"] else None)
        try:
            return self.broker.submit(request)
        except OrderRejected as e:
            return OrderState(cid, "", order["symbol"], order["side"], "rejected", reason=str(e))

    def _record(self, cid: str, state: OrderState) -> None:
        self.journal.update_order(cid, state=state.status, broker_order_id=state.broker_order_id or None,
                                  filled_qty=state.filled_qty, filled_avg_price=state.filled_avg_price,
                                  reason=state.reason)

    def _wait_for(self, cids: list[str], timeout: float) -> dict[str, OrderState]:
        """Read the orders' states (batched) until all are final or the time is up."""
        deadline = self.clock() + timeout
        states: dict[str, OrderState] = {}
        while cids:
            states = self.broker.orders(cids)
            for cid, state in states.items():
                self._record(cid, state)
            if all(s.is_final for s in states.values()) and len(states) == len(cids):
                break
            if self.clock() >= deadline:
                break
            self.sleep(POLL)
        return states

    # -- outcomes ----------------------------------------------------------------------

    def _leave_submitted(self, alert: dict[str, Any], order: dict[str, Any]) -> str:
        waiting = "the closing order is waiting to fill before the new position is opened" \
            if order["purpose"] == "close" and len(alert["orders"]) > 1 else "waiting for the order to fill"
        self.journal.set_status(alert["id"], statuses.ORDER_SUBMITTED, waiting)
        return statuses.ORDER_SUBMITTED

    def _finish(self, alert: dict[str, Any], status: str, reason: str, row: ConfigRow | None = None) -> str:
        self.journal.finish(alert["id"], status, reason)
        key = row.key if row else ((alert["symbol"], alert["row_minutes"]) if alert.get("row_minutes") else None)
        if key and status in statuses.SHEET_STATUSES:
            self.writer.set(key, status)
        log.info("alert %s %s %s: %s %s", alert["id"], alert["action"], alert["symbol"], status, reason)
        return status

    def _settle_superseded(self, older_id: str, newer_id: str) -> None:
        older = self.journal.get(older_id)
        if older and not any(o["state"] in OPEN_AT_BROKER for o in older["orders"]):
            self.journal.finish(older_id, statuses.WAITING if older["action"] == "close" else older["status"],
                                f"alert {newer_id} replaced the orders not yet sent")

    def _retry_later(self, alert: dict[str, Any], why: str) -> str:
        log.warning("alert %s: %s; will retry", alert["id"], why)
        self.journal.requeue(alert["id"], f"retrying: {why}", delay=RETRY_DELAY)
        return statuses.QUEUED

    def _age(self, alert: dict[str, Any]) -> float:
        return self.clock() - alert["received_at"]

    def _too_old(self, alert: dict[str, Any]) -> bool:
        return self._age(alert) > self.max_alert_age

    # -- the tracker: orders left at the broker ----------------------------------------

    def track(self) -> int:
        """One batched read of every order we still wait on; settle or resume their alerts."""
        waiting = self.journal.alerts_waiting_on_broker()
        cids = [o["client_order_id"] for a in waiting for o in a["orders"] if o["state"] in OPEN_AT_BROKER]
        if not cids:
            return 0
        for cid, state in self.broker.orders(cids).items():
            self._record(cid, state)
        for alert in waiting:
            orders = self.journal.orders_for(alert["id"])
            if not any(o["state"] in OPEN_AT_BROKER for o in orders):
                # Its sent orders are settled: let the executor finish or send the next leg.
                self.journal.requeue(alert["id"], "order settled at the broker")
        return len(cids)


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

