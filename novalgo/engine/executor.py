"""The executor: turns journalled alerts into orders, one symbol at a time.

For each alert: find its Config row, read what we hold (the broker's position plus our own
unfilled orders), decide, write the legs to the journal as PLANNED, then send them in order,
waiting for a close to fill before opening the other side. Every step is recorded first, so
an alert interrupted anywhere is resumed by ``process`` without sending anything twice:
a leg left SENDING is looked up at the broker by its client_order_id before any resend.

Alpaca judges an opening order against the position it holds, not against our intent, so an
opening leg goes only from flat and only while no order of ours on the symbol is still open
(a close queued for the open, another alert's close): until then the alert waits, ORDER
SUBMITTED, and the tracker wakes it. ``NOVALGO_MAX_ALERT_AGE`` decides whether an alert is
acted on at all; once its plan has begun it finishes, even at the next open, unless a newer
alert for the symbol replaces it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any

from novalgo.broker.base import (
    CANCELED,
    EXPIRED,
    FILLED,
    ORDER_FINAL,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    Broker,
    OrderRequest,
    OrderState,
)
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain import statuses
from novalgo.domain.config_rows import ConfigRow
from novalgo.domain.decision import OrderPlan, unsized
from novalgo.domain.guards import EASTERN
from novalgo.domain.money import plain
from novalgo.domain.symbols import is_crypto
from novalgo.engine.exits import ExitOrders
from novalgo.engine.journal import (
    CANCELLED_OTHER,
    ENDED_SHORT,
    EXIT_PURPOSES,
    OPEN_AT_BROKER,
    OUR_PREFIX,
    PLANNED,
    REPLANNED,
    SENDING,
    SUPERSEDED,
    UNKNOWN,
    UNKNOWN_REASON,
    VOID,
    Journal,
    alert_of,
    order_details,
)
from novalgo.engine.order_requests import PositionWasWrong, order_request, rejected
from novalgo.engine.outages import ALPACA, source_of
from novalgo.engine.planning import plan_alert
from novalgo.errors import BlockedByOpenOrders, NotPlaced, OrderRejected, RetryableError, SheetUnavailable
from novalgo.sheet.cache import ConfigCache
from novalgo.sheet.status_writer import StatusWriter

log = logging.getLogger(__name__)
RETRY_DELAY = 2.0  # seconds before an alert whose broker call failed is tried again
POLL = 0.25  # seconds between order-state reads while waiting for a fill
CANCEL_POLL = 0.02  # seconds between looks at a cancelled order (the stream's word, or one list)
MAX_LEGS = 8  # an alert re-planned this often (closes that keep expiring part-filled) gives up
# Alpaca's extended hours: pre-market from 04:00, after-hours until 20:00 (New York).
EXTENDED_SESSION = (dtime(4, 0), dtime(20, 0))
RECONCILE_EVERY = 60.0  # seconds: with the trade stream up, one REST read of our open orders a minute


@dataclass
class Executor(ExitOrders):
    journal: Journal
    broker: Broker
    config: ConfigCache
    writer: StatusWriter
    max_alert_age: float
    fill_wait: float
    skip_outside_hours: bool = False
    cancel_other_orders: bool = True
    guards: Any = None  # the guard rails (engine/guards.py): asked before any entry goes
    outages: Any = None  # OutageWatch: a long outage of Alpaca or the sheet is told once
    clock: Any = SYSTEM_CLOCK  # also ages alerts against the journal's received_at: the same clock
    sleep: Any = time.sleep
    _read_since_close: bool = field(default=False, init=False)  # the tracker's pass after the close
    # Set by the leader while the broker's trade stream runs: fills arrive as events, not polls.
    stream_live: Any = field(default_factory=lambda: _never, init=False)
    on_requeue: Any = field(default_factory=lambda: _nothing, init=False)  # wakes the dispatcher
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False)
    _last_reconcile: float = field(default=0.0, init=False)  # 0: reconcile at the next tracker pass
    _last_exit_read: float = field(default=0.0, init=False)
    _account: str | None = field(default=None, init=False)  # the broker account's id, once read

    def process(self, alert_id: str) -> str:
        """Take one claimed (PROCESSING) alert as far as it can go now; returns its status."""
        alert = self.journal.get(alert_id)
        try:
            if not alert["orders"]:
                status = self._decide(alert)
            else:
                status = self._send_legs(self.journal.get(alert_id))
        except (RetryableError, SheetUnavailable) as e:
            if self.outages is not None:
                self.outages.failed(source_of(e), str(e))
            return self._retry_later(alert, str(e))
        if self.outages is not None:
            self.outages.ok(ALPACA)
        return status

    # -- deciding ----------------------------------------------------------------------

    def _decide(self, alert: dict[str, Any]) -> str:
        if self._too_old(alert):
            return self._finish(alert, statuses.EXPIRED, f"received {self._age(alert):.0f}s ago, older than "
                                "NOVALGO_MAX_ALERT_AGE: a stale signal is not traded")
        row, why_not = self.config.lookup(alert["symbol"], alert["timeframe_minutes"])
        if row is None:
            return self._finish(alert, statuses.SKIPPED, why_not)
        self.journal.set_row(alert["id"], row.timeframe, row.timeframe_minutes,
                             row.position_size if row.position_size is not None else row.size.text)
        alert.update(row_timeframe=row.timeframe, row_minutes=row.timeframe_minutes)
        symbol = alert["symbol"]
        price = Decimal(alert["price"]) if alert["price"] else None
        if price is not None:
            self.broker.observe_price(symbol, price)
        # Everything that can refuse the alert is decided before anything is cancelled: an alert
        # that may not trade (a row switched off, a guard, the market closed with skip) leaves the
        # older alert's resting limit and the row's take-profit and stop-loss as they were.
        preview, opposing, resting = self._preview(alert, row)
        permit = _Permit(self, symbol, row, price)
        allowed = permit.apply(preview)
        # Orders of ours against the signal go whatever it may do; a resting limit only gives way
        # to a newer entry that may go (the preview names it only for a plan with orders).
        if not allowed.legs and not opposing:
            kept = f"; the limit order of alert {resting[0]['alert_id']} keeps resting" if resting else ""
            return self._finish(alert, allowed.status, allowed.reason + kept, row=row)
        replaced = opposing + resting
        if allowed.legs and self._skipped_outside_hours(symbol, allowed):
            return self._finish(alert, statuses.SKIPPED, "market closed and NOVALGO_OUTSIDE_HOURS=skip", row=row)
        # A newer signal replaces an older alert's legs that were never sent.
        for older in self.journal.drop_unsent(symbol, alert["id"], SUPERSEDED):
            self._settle_superseded(older, alert["id"])
        plan = allowed
        if replaced:
            # Our older orders this signal replaces (a resting limit, orders pointing the other way).
            self.journal.mark_in_progress(alert["id"])
            alert["in_progress"] = 1
            self._cancel_open_orders(symbol, alert["id"], replaced)
            for _ in range(4):
                # Decided again: a cancelled order may have filled in part meanwhile.
                plan = permit.apply(self._plan(alert, row))
                if not plan.cancel_first:
                    break
                self._cancel_open_orders(symbol, alert["id"])  # one of ours opened meanwhile
            else:
                return self._finish(alert, statuses.FAILED, "our earlier orders on this symbol could not be cancelled")
        if resting and not any(leg.purpose == "close" for leg in plan.legs):
            for entry in resting:  # what filled of a replaced entry before the cancel took keeps exits
                self._protect_replaced(entry["client_order_id"])
        if not plan.legs:
            return self._finish(alert, plan.status, plan.reason, row=row)
        if self._skipped_outside_hours(symbol, plan):
            return self._finish(alert, statuses.SKIPPED, "market closed and NOVALGO_OUTSIDE_HOURS=skip", row=row)
        exits = self.journal.open_exits(symbol)
        if exits:
            # A close, a flip or a new entry that may go: the row's own exits go first, so the shares
            # are never held twice (Alpaca holds them for the exit orders until those end).
            self.journal.mark_in_progress(alert["id"])
            alert["in_progress"] = 1
            if not self._cancel_exits_for(alert, exits):
                return self._finish(alert, statuses.FAILED, "our exit orders on this symbol could not be "
                                    "cancelled, so nothing was sent", row=row)
            plan = permit.apply(self._plan(alert, row))  # an exit may have filled while it was cancelled
            if not plan.legs:
                return self._finish(alert, plan.status, plan.reason, row=row)
        # The alert's price rides along as a hint (the simulator fills at it; Alpaca ignores it).
        self.journal.plan(alert["id"], symbol, plan.legs, price, plan.status, plan.reason)
        return self._send_legs(self.journal.get(alert["id"]))

    def _preview(self, alert: dict[str, Any], row: ConfigRow) -> tuple[OrderPlan, list[dict[str, Any]],
                                                                       list[dict[str, Any]]]:
        """The plan as it will stand once the older orders of ours this alert replaces are cancelled,
        with those orders: every one pointing against the signal, or else a resting limit entry on
        the same side (the newer signal sets the price). Cancels nothing."""
        others = self.journal.open_orders(alert["symbol"], exclude_alert=alert["id"])
        # Decided on what Alpaca says of them now (one batched read, only when there are any the
        # stream may not have told of): one it no longer knows (a paper reset) must not make this
        # signal ALREADY LONG. While the stream is up, an order heard of lately is as the journal says.
        stale = self.clock() - RECONCILE_EVERY
        sent = [o for o in others if o["state"] != SENDING and (not self.stream_live() or o["updated_at"] < stale)]
        if sent:
            states = self.broker.orders([o["client_order_id"] for o in sent])
            for cid, state in states.items():
                self._record(cid, state)
            self._end_unknown(sent, states)
            others = self.journal.open_orders(alert["symbol"], exclude_alert=alert["id"])
        plan = self._plan(alert, row, others)
        if plan.cancel_first:
            return self._plan(alert, row, []), others, []
        resting = {o["client_order_id"] for o in others if _resting_limit(o)}
        if not resting:
            return plan, [], []
        replacing = self._plan(alert, row, [o for o in others if o["client_order_id"] not in resting])
        if not replacing.legs:
            return plan, [], []
        return replacing, [], [o for o in others if o["client_order_id"] in resting]

    def _skipped_outside_hours(self, symbol: str, plan: OrderPlan) -> bool:
        extended = any(leg.extended_hours for leg in plan.legs)
        return self.skip_outside_hours and not extended and not self._trades_now(symbol)

    def _plan(self, alert: dict[str, Any], row: ConfigRow,
              open_orders: list[dict[str, Any]] | None = None) -> OrderPlan:
        if open_orders is None:
            open_orders = self.journal.open_orders(alert["symbol"])
        return plan_alert(alert_of(alert), row, self.broker, open_orders, size_later=True)[1]

    def _cancel_open_orders(self, symbol: str, alert_id: str, older: list[dict[str, Any]] | None = None) -> None:
        if older is None:
            older = self.journal.open_orders(symbol, exclude_alert=alert_id)
        if not older:
            return
        for order in older:
            if order["state"] != SENDING:
                self.broker.cancel(order["client_order_id"])
        self._wait_for([o["client_order_id"] for o in older], self.fill_wait)
        for older_id in dict.fromkeys(o["alert_id"] for o in older):
            self._settle_superseded(older_id, alert_id)

    # -- sending -----------------------------------------------------------------------

    def _send_legs(self, alert: dict[str, Any]) -> str:
        filled_any = False
        notes: list[str] = []  # what a filled order says besides filling (the simulator after hours)
        partly = ""  # an entry that ended with part of it filled: how much
        for order in alert["orders"]:
            cid = order["client_order_id"]
            if order["purpose"] in (CANCELLED_OTHER, ENDED_SHORT, TAKE_PROFIT, STOP_LOSS) or order["state"] == REPLANNED:
                continue  # someone else's order we cancelled, what a re-plan replaced, a bracket's exits
            if order["purpose"] == TRAILING_STOP:
                if order["state"] in (PLANNED, SENDING):
                    refused = self._place_trailing_stop(alert, order)
                    if refused:
                        return self._finish(alert, statuses.FAILED, refused)
                continue  # an exit works on at the broker; the alert's outcome is its entry's
            if order["state"] in (SUPERSEDED, VOID):
                return self._finish(alert, alert["status"] if alert["status"] in statuses.FINAL else statuses.WAITING,
                                    order["reason"] or "a newer alert replaced this one")
            if order["state"] == PLANNED:
                if not alert["in_progress"] and self._too_old(alert):
                    # Nothing of this plan has begun: a stale signal is not acted on.
                    self.journal.update_order(cid, state=VOID, reason="alert expired before this order was sent")
                    return self._finish(alert, statuses.EXPIRED, f"not sending: the alert is {self._age(alert):.0f}s "
                                        "old (NOVALGO_MAX_ALERT_AGE)")
                if order["purpose"] == "open":
                    held_back = self._before_opening(alert, order)
                    if held_back is not None:
                        return held_back
                    if unsized(order["qty"], order["notional"], order["purpose"]):
                        return self._size_opening(alert, order)
                try:
                    state = self._submit(alert, order)
                except PositionWasWrong as e:
                    return self._plan_again(alert, order, str(e))
            elif order["state"] == SENDING:
                try:
                    state = self.broker.find_order(cid)
                    if state is None and self._too_old(alert) and not _filled_any(alert):
                        # Never reached the broker (an outage, a restart), and nothing of the alert
                        # has traded: sending it now would make a stale signal a fresh order.
                        self.journal.update_order(cid, state=VOID, reason="alert expired before the broker "
                                                  "received this order")
                        return self._finish(alert, statuses.EXPIRED, f"not sending: the alert is "
                                            f"{self._age(alert):.0f}s old and the broker never received its order "
                                            "(NOVALGO_MAX_ALERT_AGE)")
                    if state is None:
                        state = self._submit(alert, order)
                    else:
                        self._begun(alert)
                except PositionWasWrong as e:
                    return self._plan_again(alert, order, str(e))
            elif order["state"] in OPEN_AT_BROKER:
                state = self.broker.find_order(cid)
                if state is None:  # the broker answered for it once, and 404 now
                    order = self._unknown_at_broker(order)
            else:
                state = None
            if state is not None:
                self._record(cid, state)
                if not state.is_final and self._trades_now(order["symbol"]):
                    state = self._wait_for([cid], self.fill_wait).get(cid, state)
                if not state.is_final:
                    # Market closed (queued for the open) or slow: the tracker picks it up from here.
                    return self._leave_submitted(alert, order)
                status = state.status
            else:
                status = order["state"]
            filled_qty = state.filled_qty if state else Decimal(order["filled_qty"] or 0)
            if order["purpose"] == "close" and status in (CANCELED, EXPIRED):
                # The close ended short of its quantity (part-filled, then expired or cancelled).
                return self._after_short_close(alert, order, filled_qty, status)
            if status != FILLED and filled_qty == 0:
                reason = (state.reason if state else order["reason"]) or f"order {status}"
                done = "the closing order filled, but the opening order failed: " if filled_any else ""
                put_back = self._put_exits_back(alert) if order["purpose"] == "close" else ""
                return self._finish(alert, statuses.FAILED, "; ".join(filter(None, [done + reason, put_back])))
            filled_any = True
            if order["purpose"] == "open" and status != FILLED:
                partly = _partly_filled(order, state, filled_qty)
                if status in (CANCELED, EXPIRED):
                    # What filled keeps the exits the entry carried (Alpaca cancels a bracket's legs
                    # with their entry).
                    notes.append(self._protect_part_fill(alert, order, filled_qty,
                                                         state.filled_avg_price if state else None))
            note = state.reason if state else order["reason"]
            if status == FILLED and note and note not in notes:
                notes.append(note)
            if order["purpose"] == "open":
                self._exits_from_fill(alert, order, state.filled_avg_price if state else
                                      (Decimal(order["filled_avg_price"]) if order["filled_avg_price"] else None))
        reason = "; ".join(filter(None, [partly or alert["plan_reason"], *notes]))
        return self._finish(alert, statuses.PARTIAL if partly else alert["plan_status"], reason)

    def _before_opening(self, alert: dict[str, Any], order: dict[str, Any]) -> str | None:
        """Hold an opening leg until it can only open: nothing of ours open on the symbol, and flat.

        Returns the alert's status when it must wait or stop, None when the leg may go.
        """
        symbol = order["symbol"]
        blocking = self.journal.open_orders(symbol, exclude_alert=alert["id"])
        if blocking:
            self.journal.mark_in_progress(alert["id"])
            alert["in_progress"] = 1
            waiting = f"waiting for order {blocking[0]['client_order_id']} to settle before opening"
            self.journal.set_status(alert["id"], statuses.ORDER_SUBMITTED, waiting)
            if alert.get("row_minutes"):
                self.writer.set((symbol, alert["row_minutes"]), statuses.ORDER_SUBMITTED)
            return statuses.ORDER_SUBMITTED
        if order["leg"] == 0 and not alert["in_progress"]:
            return None  # decided on a position read moments ago, with nothing of ours in flight
        held = self.broker.position(symbol).qty  # read again: the close may have filled only in part
        if held == 0:
            return None
        opening_long = order["side"] == "buy"
        if (held > 0) == opening_long:
            self._void_unsent(alert, "the position is already open at the broker", VOID)
            return self._finish(alert, statuses.ALREADY_LONG if opening_long else statuses.ALREADY_SHORT,
                                f"already {'long' if held > 0 else 'short'} {plain(abs(held))} {symbol} at the broker")
        return self._after_short_close(alert, order, None, "left open")

    def _size_opening(self, alert: dict[str, Any], order: dict[str, Any]) -> str:
        """A flip's opening leg, planned without its size so the close went first: flat now, so
        decide again (reading the price or equity it needs now) and send what that plans."""
        self.journal.update_order(order["client_order_id"], state=REPLANNED, reason="sized once the close filled")
        row, why_not = self.config.lookup(alert["symbol"], alert["row_minutes"] or alert["timeframe_minutes"])
        if row is None:
            return self._finish(alert, statuses.FAILED, f"closed the old position; {why_not}")
        plan = self._plan(alert, row)
        if not plan.legs:
            reason = plan.reason if plan.status != statuses.FAILED else f"closed the old position; {plan.reason}"
            return self._finish(alert, plan.status, reason, row=row)
        price = Decimal(alert["price"]) if alert["price"] else None
        self.journal.plan(alert["id"], alert["symbol"], plan.legs, price, plan.status, plan.reason)
        return self._send_legs(self.journal.get(alert["id"]))

    def _after_short_close(self, alert: dict[str, Any], order: dict[str, Any], filled: Decimal | None,
                           how: str) -> str:
        """A close that did not flatten: close the rest while the alert is current, else say what is held."""
        self._void_unsent(alert, "the position was not flat after the closing order", REPLANNED)
        if filled is not None:  # this close is done with; a new plan takes over from the position
            self.journal.update_order(order["client_order_id"], purpose=ENDED_SHORT)
        symbol = alert["symbol"]
        held = self.broker.position(symbol).qty
        done = f"the closing order was {how}" + (f" after filling {plain(filled)}" if filled is not None else "")
        if held == 0:
            if alert["action"] == "close":
                return self._finish(alert, statuses.WAITING, alert["plan_reason"] or "")
        elif self._too_old(alert) or len(alert["orders"]) >= MAX_LEGS:
            side = "long" if held > 0 else "short"
            return self._finish(alert, statuses.FAILED, f"{done}; still {side} {plain(abs(held))} {symbol}: "
                                "not flat, so nothing more was sent")
        row, why_not = self.config.lookup(symbol, alert["row_minutes"] or alert["timeframe_minutes"])
        if row is None:
            return self._finish(alert, statuses.FAILED, f"{done}; {why_not}")
        price = Decimal(alert["price"]) if alert["price"] else None
        plan = self._plan(alert, row)
        if not plan.legs:
            return self._finish(alert, plan.status, plan.reason, row=row)
        self.journal.plan(alert["id"], symbol, plan.legs, price, plan.status, plan.reason)
        log.info("alert %s: %s; sending %d more order(s)", alert["id"], done, len(plan.legs))
        return self._send_legs(self.journal.get(alert["id"]))

    def _plan_again(self, alert: dict[str, Any], order: dict[str, Any], refusal: str) -> str:
        """The broker refused because the position was not what we believed (a fill the stream did
        not tell, a position changed outside any order): read it afresh and decide once more."""
        self._void_unsent(alert, "the position was read again", REPLANNED)
        self.journal.update_order(order["client_order_id"], state=REPLANNED, reason=f"{REFUSED_AS_STALE}{refusal}")
        self.broker.reconcile()
        row, why_not = self.config.lookup(alert["symbol"], alert["row_minutes"] or alert["timeframe_minutes"])
        if row is None:
            return self._finish(alert, statuses.FAILED, f"{refusal}; {why_not}")
        price = Decimal(alert["price"]) if alert["price"] else None
        plan = self._plan(alert, row)
        log.info("alert %s: %s; planned again on the position read afresh", alert["id"], refusal)
        if not plan.legs:
            return self._finish(alert, plan.status, plan.reason, row=row)
        self.journal.plan(alert["id"], alert["symbol"], plan.legs, price, plan.status, plan.reason)
        return self._send_legs(self.journal.get(alert["id"]))

    def _void_unsent(self, alert: dict[str, Any], reason: str, state: str) -> None:
        for other in alert["orders"]:
            if other["state"] == PLANNED:
                self.journal.update_order(other["client_order_id"], state=state, reason=reason)

    def _trades_now(self, symbol: str) -> bool:
        """Would an order on the symbol fill now? Crypto trades around the clock; stocks in market hours."""
        return self.broker.market_open() or self._is_crypto(symbol)

    def _is_crypto(self, symbol: str) -> bool:
        """By the broker's asset class (cached by the adapter), not by the look of the symbol alone."""
        if is_crypto(symbol):
            return True
        try:
            return self.broker.asset(symbol).crypto
        except OrderRejected:
            return False

    def _submit(self, alert: dict[str, Any], order: dict[str, Any]) -> OrderState:
        cid = order["client_order_id"]
        self.journal.update_order(cid, state=SENDING, account=self._account_id())
        request = order_request(order)
        if order["purpose"] == "close":
            # Orders the trader placed (a GTC stop, say) hold the shares a close needs: Alpaca
            # would refuse it (insufficient qty, held_for_orders). Released first, not after a refusal.
            holding = self._holding_the_shares(request)
            if holding:
                refused = self._release(alert, request, holding, "insufficient qty available: held for orders")
                if refused is not None:
                    self._begun(alert)
                    return refused
        try:
            state = self.broker.submit(request)
        except NotPlaced:
            # The broker said it placed nothing: the leg is unsent again, and its retry is judged on
            # the alert's age like any first send (a stale signal must not become a fresh order).
            self.journal.update_order(cid, state=PLANNED)
            raise
        except BlockedByOpenOrders as e:
            state = self._clear_the_way(alert, request, str(e))
        except OrderRejected as e:
            if order["purpose"] == "close" and not _planned_again(alert):
                # A close is refused when we do not hold what we meant to close (it goes as a close,
                # position_intent, and Alpaca will not let it open the other side): read and decide again.
                raise PositionWasWrong(str(e)) from e
            state = rejected(request, str(e))
        self._begun(alert)
        return state

    def learn_account(self) -> str:
        """Which broker account trades now (the leader asks when it starts): our orders are kept
        per account, and another account's never block this one's symbols."""
        account = self.broker.account().account_id or self.broker.kind
        self._account = self.journal.account = account
        return account

    def _account_id(self) -> str:
        return self._account if self._account is not None else self.learn_account()

    def _end_unknown(self, asked: list[dict[str, Any]], answered: dict[str, OrderState]) -> None:
        """Orders a batched read did not answer for (404 for their ids) end as unknown at the broker.
        A SENDING leg may be in its POST right now: its alert decides what a 404 means (not placed)."""
        for order in asked:
            if order["client_order_id"] not in answered and order["state"] != SENDING:
                self._unknown_at_broker(order)

    def _unknown_at_broker(self, order: dict[str, Any]) -> dict[str, Any]:
        """An order the broker answered for once and now answers 404 for: it can never fill, so it
        ends (recorded, with why) and its symbol is free for the next alert."""
        log.warning("order %s of alert %s: %s", order["client_order_id"], order["alert_id"], UNKNOWN_REASON)
        self.journal.update_order(order["client_order_id"], state=UNKNOWN, reason=UNKNOWN_REASON)
        return {**order, "state": UNKNOWN, "reason": UNKNOWN_REASON}

    def live_at_broker(self, alert_id: str) -> bool:
        """Is one of the alert's orders working at the broker now? A leg left SENDING is looked up."""
        live = False
        for order in self.journal.orders_for(alert_id):
            if order["purpose"] in EXIT_PURPOSES or order["purpose"] == CANCELLED_OTHER:
                continue
            if order["state"] == SENDING:
                state = self.broker.find_order(order["client_order_id"])
                if state is not None:
                    self._record(order["client_order_id"], state)
                    live = live or not state.is_final
            elif order["state"] in OPEN_AT_BROKER:
                live = True
        return live

    def _begun(self, alert: dict[str, Any]) -> None:
        """The broker has one of the alert's orders: its plan finishes, however old it grows."""
        self.journal.mark_in_progress(alert["id"])
        alert["in_progress"] = 1
        # Said only now, not when planned: a plan that expires unsent (or that the broker answered
        # 'not placed') must not leave the row saying ORDER SUBMITTED with nothing at the broker.
        if alert.get("row_minutes"):
            self.writer.set((alert["symbol"], alert["row_minutes"]), statuses.ORDER_SUBMITTED)

    def _clear_the_way(self, alert: dict[str, Any], request: OrderRequest, refusal: str) -> OrderState:
        """Orders we did not place hold the shares or would wash-trade: cancel them and send again,
        or (NOVALGO_CANCEL_OTHER_ORDERS=false) fail naming them."""
        others = [o for o in self.broker.open_orders(request.symbol) if not self._ours(o)]
        if not others:
            if not _planned_again(alert):
                raise PositionWasWrong(refusal)  # nothing else in the way: what we held was not so
            return rejected(request, refusal)
        refused = self._release(alert, request, others, refusal)
        if refused is not None:
            return refused
        try:
            return self.broker.submit(request)
        except OrderRejected as e:
            names = "; ".join(o.description or o.broker_order_id for o in others)
            return rejected(request, f"{e} (after cancelling {names})")

    def _ours(self, order: OrderState) -> bool:
        """Placed by NovAlgo: our prefix, or a bracket's exit the journal keeps."""
        cid = order.client_order_id or ""
        return cid.startswith(OUR_PREFIX) or (bool(cid) and self.journal.order(cid) is not None)

    def _holding_the_shares(self, request: OrderRequest) -> list[OrderState]:
        """Open orders we did not place on the close's side of the symbol: they hold the shares (a
        long's sell stop) or the cover (a short's buy stop). From the stream when it is current."""
        known = self.broker.open_orders_known(request.symbol)
        # Unknown just after the stream (re)connects: sent as it is; a refusal still clears the way.
        return [o for o in known or () if o.side == request.side and not self._ours(o)]

    def _open_at_broker(self, symbol: str) -> list[OrderState]:
        known = self.broker.open_orders_known(symbol)
        return known if known is not None else self.broker.open_orders(symbol)

    def _release(self, alert: dict[str, Any], request: OrderRequest, others: list[OrderState],
                 refusal: str) -> OrderState | None:
        """Cancel orders we did not place that stand in the request's way and wait until they are
        gone; None when the request may go, else its refusal (they stay, or will not go)."""
        names = "; ".join(o.description or o.broker_order_id for o in others)
        if not self.cancel_other_orders:
            return rejected(request, f"{refusal} — blocked by open orders NovAlgo did not place: {names} "
                                     "(NOVALGO_CANCEL_OTHER_ORDERS=false leaves them alone)")
        for other in others:
            self.broker.cancel_by_id(other.broker_order_id)
            self.journal.record_cancelled_other(alert["id"], other)
        log.info("alert %s: cancelled %d order(s) NovAlgo did not place on %s: %s", alert["id"], len(others),
                 request.symbol, names)
        ids = {o.broker_order_id for o in others}
        deadline = self.clock() + self.fill_wait
        while any(o.broker_order_id in ids for o in self._open_at_broker(request.symbol)):
            if self.clock() >= deadline:
                return rejected(request, f"{refusal} — cancelled {names}, but the broker still shows it open")
            self.sleep(CANCEL_POLL if self.stream_live() else POLL)
        return None

    def _record(self, cid: str, state: OrderState) -> bool:
        """What the broker says of one of our orders, with what follows from it: a bracket's exits
        kept with the alert, an exit's fill shown on its row. Returns whether anything changed."""
        changed = self.journal.record_broker_state(cid, state)
        if state.legs or (changed and state.is_final):
            order = self.journal.order(cid)
            if order is not None and state.legs:
                self.journal.record_exits(order["alert_id"], cid, state.legs)
            if order is not None and changed and order["purpose"] in EXIT_PURPOSES and state.status == FILLED:
                self._exit_filled(order, state)
        return changed

    def _wait_for(self, cids: list[str], timeout: float) -> dict[str, OrderState]:
        """Until the orders are final or the time is up: from the trade stream's events when it is
        up (no request), else by batched reads."""
        if self.stream_live():
            return self._wait_for_events(cids, timeout)
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

    def _wait_for_events(self, cids: list[str], timeout: float) -> dict[str, OrderState]:
        deadline = self.clock() + timeout
        with self._changed:
            while True:
                rows = [self.journal.order(cid) for cid in cids]
                if all(row is not None and row["state"] in ORDER_FINAL for row in rows):
                    break
                remaining = deadline - self.clock()
                if remaining <= 0 or not self.stream_live():
                    break
                # Woken by the event; the bound covers one that came between the read and the wait.
                self._changed.wait(min(remaining, 1.0))
        return {row["client_order_id"]: _journalled_state(row) for row in rows if row is not None}

    # -- the trade stream ----------------------------------------------------------------

    def on_order_update(self, state: OrderState) -> None:
        """One event from the broker's stream: record it, wake whoever waits on it."""
        cid = state.client_order_id or ""
        # Ours by our prefix, or a bracket's exit (the broker named it) that the journal keeps.
        if not cid or (not cid.startswith(OUR_PREFIX) and self.journal.order(cid) is None):
            return
        if not self._record(cid, state):
            return
        with self._changed:
            self._changed.notify_all()
        if state.is_final:
            order = self.journal.order(cid)
            if order is not None and self._requeue_settled(order["symbol"]):
                self.on_requeue()

    def reconcile_soon(self) -> None:
        """After a (re)connect the stream has replayed nothing: the next tracker pass reads over REST."""
        self._last_reconcile = 0.0

    def _requeue_settled(self, symbol: str, waiting: list[dict[str, Any]] | None = None) -> int:
        """Alerts waiting on the broker for a symbol with none of our orders open go back to the queue."""
        if self.journal.open_orders(symbol):
            return 0
        waiting = [a for a in (waiting if waiting is not None else self.journal.alerts_waiting_on_broker())
                   if a["symbol"] == symbol]
        for alert in waiting:
            self.journal.requeue(alert["id"], "order settled at the broker", only_from=statuses.ORDER_SUBMITTED)
        return len(waiting)

    # -- outcomes ----------------------------------------------------------------------

    def _leave_submitted(self, alert: dict[str, Any], order: dict[str, Any]) -> str:
        waiting = "the closing order is waiting to fill before the new position is opened" \
            if order["purpose"] == "close" and len(alert["orders"]) > 1 else "waiting for the order to fill"
        self.journal.set_status(alert["id"], statuses.ORDER_SUBMITTED, waiting)
        return statuses.ORDER_SUBMITTED

    def _finish(self, alert: dict[str, Any], status: str, reason: str, row: ConfigRow | None = None) -> str:
        self.journal.finish(alert["id"], status, reason)
        if self.guards is not None and alert.get("in_progress"):
            self.guards.positions_changed()  # it traded: the caps count positions afresh
        key = row.key if row else ((alert["symbol"], alert["row_minutes"]) if alert.get("row_minutes") else None)
        if key and status in statuses.SHEET_STATUSES:
            self.writer.set(key, status)
        log.info("alert %s %s %s: %s %s", alert["id"], alert["action"], alert["symbol"], status, reason)
        return status

    def _settle_superseded(self, older_id: str, newer_id: str) -> None:
        """An older alert whose orders a newer one replaced or cancelled ends here: SKIPPED, never
        FAILED for it (the row shows the newer alert's outcome)."""
        older = self.journal.get(older_id)
        if older is None or older["status"] in statuses.FINAL or any(o["state"] in OPEN_AT_BROKER
                                                                     for o in older["orders"]):
            return
        filled = sum((Decimal(o["filled_qty"] or 0) for o in older["orders"] if o["purpose"] != CANCELLED_OTHER),
                     Decimal(0))
        done = f"after {plain(filled)} filled" if filled else "before its orders filled"
        # WAITING, as after a CLOSE: the row may have said ORDER SUBMITTED for it, and it now holds
        # nothing of its own (a newer alert on the same row writes its outcome after this).
        self._finish(older, statuses.WAITING, f"alert {newer_id} replaced it {done}")

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
        """One batched read of our orders still open (when needed); wake the alerts waiting on them.

        An alert waits while any order of ours on its symbol is open (its own legs, or another
        alert's close it must not trade against). Returns how many orders were read.
        """
        self._account_id()  # before reading open orders: another account's are not ours to follow
        waiting = self.journal.alerts_waiting_on_broker()
        symbols = {a["symbol"] for a in waiting}
        open_orders = [o for symbol in symbols for o in self.journal.open_orders(symbol)]
        readable = self._orders_to_read(open_orders)
        if readable:
            states = self.broker.orders(readable)
            for cid, state in states.items():
                self._record(cid, state)
            self._end_unknown([o for o in open_orders if o["client_order_id"] in readable], states)
        if sum(self._requeue_settled(symbol, waiting) for symbol in symbols):
            self.on_requeue()
        return len(readable) + self._track_exits()

    def _orders_to_read(self, open_orders: list[dict[str, Any]]) -> list[str]:
        """Which open orders the tracker reads over REST now."""
        if self.stream_live():
            # Events bring every change; a REST read only after a (re)connect, and once a minute.
            if time.monotonic() - self._last_reconcile < RECONCILE_EVERY:
                return []
            self.broker.reconcile()
            self._last_reconcile = time.monotonic()
            return [o["client_order_id"] for o in open_orders]
        # While the market is closed, stock orders can only fill at the open: not read, except in
        # one pass after each close (DAY orders expire then, and a close that expired part-filled
        # must be completed while its alert is current).
        # An extended-hours order can fill in pre- and post-market too: followed through those sessions.
        market_open = self.broker.market_open()
        read_all = market_open or not self._read_since_close
        self._read_since_close = not market_open and (self._read_since_close or bool(open_orders))
        extended = {o["client_order_id"] for o in open_orders if order_details(o).get("extended_hours")}
        session = bool(extended) and not read_all and self._in_extended_session()
        return [o["client_order_id"] for o in open_orders
                if read_all or self._is_crypto(o["symbol"]) or (session and o["client_order_id"] in extended)]

    def _in_extended_session(self) -> bool:
        """Pre- or post-market on a trading day (04:00-20:00 New York, the regular session aside)."""
        now = datetime.fromtimestamp(self.clock(), EASTERN)
        return EXTENDED_SESSION[0] <= now.time() < EXTENDED_SESSION[1] and self.broker.trading_day(now.date())

REFUSED_AS_STALE = "refused, so the position was read again: "


def _planned_again(alert: dict[str, Any]) -> bool:
    return any((o["reason"] or "").startswith(REFUSED_AS_STALE) for o in alert["orders"])


def _filled_any(alert: dict[str, Any]) -> bool:
    """Has any order the alert placed filled, even in part (someone else's order we cancelled aside)?"""
    return any(Decimal(o["filled_qty"] or 0) > 0 for o in alert["orders"] if o["purpose"] != CANCELLED_OTHER)


def _partly_filled(order: dict[str, Any], state: OrderState | None, filled: Decimal) -> str:
    """'filled 4 of 10 AAPL' (or of a dollar amount, for an order by notional)."""
    qty = state.qty if state is not None and state.qty else (Decimal(order["qty"]) if order["qty"] else None)
    if qty is not None:
        return f"filled {plain(filled)} of {plain(qty)} {order['symbol']}"
    notional = state.notional if state is not None and state.notional else order["notional"]
    return f"filled {plain(filled)} {order['symbol']} of ${plain(Decimal(notional))}" if notional \
        else f"filled {plain(filled)} {order['symbol']}"


def _resting_limit(order: dict[str, Any]) -> bool:
    """An older alert's limit entry still waiting at the broker for its price."""
    return order["purpose"] == "open" and order_details(order).get("order_type") == "limit"


class _Permit:
    """What the guard rails allow of an alert's plans: asked once (an entry they let through counts
    against the caps at once), then applied to every plan the alert makes. A refused entry is
    SKIPPED, but a flip's close still goes (closes and exits always do), leaving the row flat."""

    def __init__(self, executor: "Executor", symbol: str, row: ConfigRow, price: Decimal | None):
        self._executor, self._symbol, self._row, self._price = executor, symbol, row, price
        self._asked = False
        self._refusal: str | None = None
        self._failed = False

    def apply(self, plan: OrderPlan) -> OrderPlan:
        guards = self._executor.guards
        if guards is None or not any(leg.purpose == "open" for leg in plan.legs):
            return plan
        if not self._asked:
            self._asked = True
            try:
                self._refusal = guards.check_plan(self._symbol, self._row, plan, self._price)
            except ValueError as e:  # a guard cell of the row that cannot be read
                self._refusal, self._failed = str(e), True
        if not self._refusal:
            return plan
        closes = tuple(leg for leg in plan.legs if leg.purpose == "close")
        if closes:
            return OrderPlan(closes, statuses.WAITING, f"closed the position; no new entry: {self._refusal}")
        return OrderPlan((), statuses.FAILED if self._failed else statuses.SKIPPED, self._refusal)


def _never() -> bool:
    return False


def _nothing() -> None:
    return None


def _journalled_state(row: dict[str, Any]) -> OrderState:
    def number(text: str | None) -> Decimal | None:
        return Decimal(text) if text else None

    return OrderState(row["client_order_id"], row["broker_order_id"] or "", row["symbol"], row["side"], row["state"],
                      number(row["qty"]), number(row["notional"]), number(row["filled_qty"]) or Decimal(0),
                      number(row["filled_avg_price"]), row["reason"] or "")
