"""Exit orders at the broker, the executor's side of them: placing a trailing stop once its entry
has filled, cancelling a row's exits before anything else trades the symbol, and telling the row
when one fills (TAKE PROFIT, STOP LOSS, TRAILING STOP), from a stream event or a batched read.

A mixin of ``Executor`` (it uses the executor's journal, broker, writer, submit and waits), kept
apart so each file stays about one thing. A bracket's exits are the broker's orders (their ids
are Alpaca's), kept in the journal with the alert that placed them; see journal.record_exits.
"""

from __future__ import annotations

import logging
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

from novalgo.broker.base import STOP_LOSS, TAKE_PROFIT, OrderState
from novalgo.domain import statuses
from novalgo.domain.money import plain
from novalgo.domain.row_rules import exit_price
from novalgo.engine.journal import OPEN_AT_BROKER, REPLANNED, SENDING, SUPERSEDED, VOID, order_details
from novalgo.errors import OrderRejected, RetryableError
from novalgo.engine.order_requests import PositionWasWrong, order_request, rejected

log = logging.getLogger(__name__)
EXITS_EVERY = 10.0  # seconds: without the stream, one batched read of our working exit orders
EXITS_RECONCILE = 60.0  # seconds: with the stream, the same read once a minute (what a reconnect missed)


class ExitOrders:
    def _exits_from_fill(self, alert: dict[str, Any], entry: dict[str, Any], fill: Decimal | None) -> None:
        """Place a bracket's exits again from the entry's fill price: they went with the entry at the
        price it was expected to fill at (Alpaca needs them then), and the row's 2% is from the fill.
        A move Alpaca refuses leaves the exits where they are (still on the right side)."""
        details = order_details(entry)
        if fill is None or not (details.get("take_profit_from") or details.get("stop_loss_from")):
            return
        for leg in self.journal.orders_for(alert["id"]):
            if leg["purpose"] not in (TAKE_PROFIT, STOP_LOSS) or leg["state"] not in OPEN_AT_BROKER \
                    or order_details(leg).get("parent") != entry["client_order_id"]:
                continue  # not this entry's working exits
            profit = leg["purpose"] == TAKE_PROFIT
            distance = details.get("take_profit_from" if profit else "stop_loss_from")
            if distance is None or not leg["broker_order_id"]:
                continue
            wanted = exit_price(fill, distance, entry["side"], profit)
            if order_details(leg).get("limit_price" if profit else "stop_price") == wanted:
                continue
            new_cid = f"{entry['client_order_id']}-{'tp' if profit else 'sl'}"
            try:
                moved = self.broker.replace_exit(leg["broker_order_id"], new_cid,
                                                 limit_price=wanted if profit else None,
                                                 stop_price=None if profit else wanted)
            except (OrderRejected, RetryableError) as e:
                log.warning("%s: kept the %s at its price: moving it to %s from the fill was refused: %s",
                            entry["symbol"], leg["purpose"].replace("_", "-"), wanted, e)
                continue
            self.journal.moved_exit(leg["client_order_id"], moved)

    def _place_trailing_stop(self, alert: dict[str, Any], order: dict[str, Any]) -> str:
        """The trailing stop follows its entry once that has filled, for what filled; returns why it
        was refused ("" when it is placed)."""
        entry = next((o for o in reversed(self.journal.orders_for(alert["id"])) if o["purpose"] == "open"
                      and o["leg"] < order["leg"] and o["state"] not in (REPLANNED, VOID, SUPERSEDED)), None)
        filled = Decimal(entry["filled_qty"] or 0) if entry else Decimal(0)
        if filled <= 0:
            self.journal.update_order(order["client_order_id"], state=VOID, reason="its entry did not fill")
            return ""
        whole = filled.to_integral_value(ROUND_DOWN)
        if whole < 1:
            self.journal.update_order(order["client_order_id"], state=VOID, reason="less than one whole share filled")
            return f"the entry filled {plain(filled)}, less than the whole share a trailing stop needs"
        self.journal.update_order(order["client_order_id"], qty=whole)
        order = {**order, "qty": plain(whole)}
        cid = order["client_order_id"]
        try:
            state = self.broker.find_order(cid) if order["state"] == SENDING else None
            state = state or self._submit(alert, order)
        except PositionWasWrong as e:
            state = rejected(order_request(order), str(e))
        self._record(cid, state)
        if state.status == "rejected":
            return f"the entry filled, but the trailing stop was refused: {state.reason}"
        return ""

    def _cancel_exits(self, exits: list[dict[str, Any]]) -> bool:
        """Cancel our exit orders and wait until the broker has ended them (one may fill meanwhile:
        it is then recorded as the exit it was). Returns whether none is left working."""
        for order in exits:
            self.broker.cancel(order["client_order_id"])
        cids = [o["client_order_id"] for o in exits]
        self._wait_for(cids, self.fill_wait)
        still = [cid for cid in cids if (self.journal.order(cid) or {}).get("state") in OPEN_AT_BROKER]
        if still:
            # The stream may lag the cancel: read the broker once before giving up.
            states = self.broker.orders(still)
            for cid, state in states.items():
                self._record(cid, state)
            self._end_unknown([o for o in exits if o["client_order_id"] in still], states)
            still = [cid for cid in still if (self.journal.order(cid) or {}).get("state") in OPEN_AT_BROKER]
        return not still

    def _exit_filled(self, order: dict[str, Any], state: OrderState) -> None:
        """An exit filled: the row says which, the Activity tab gets its line, Performance credits the row."""
        parent = self.journal.get(order["alert_id"])
        status = {TAKE_PROFIT: statuses.TAKE_PROFIT, STOP_LOSS: statuses.STOP_LOSS}.get(order["purpose"],
                                                                                    statuses.TRAILING_STOP)
        words = status.lower()
        reason = (f"{words}: {state.side} {plain(state.filled_qty)} {state.symbol} filled at "
                  f"{plain(state.filled_avg_price)}" if state.filled_avg_price is not None else f"{words} filled")
        if self.journal.record_exit_outcome(order["client_order_id"], status, reason) is None:
            return
        log.info("%s %s: %s", state.symbol, parent["row_timeframe"] if parent else "", reason)
        if parent is not None and parent["row_minutes"]:
            self.writer.set((parent["symbol"], parent["row_minutes"]), status)

    def check_exits(self) -> int:
        """One batched read of our exit orders (when the stream cannot be trusted to tell us); returns
        how many were read."""
        working = self.journal.open_exits()
        exits = [o["client_order_id"] for o in working]
        states = self.broker.orders(exits) if exits else {}
        for cid, state in states.items():
            self._record(cid, state)
        self._end_unknown(working, states)
        return len(exits)

    def _track_exits(self) -> int:
        """Exit fills come as stream events; without the stream (or once a minute with it, to catch
        what a reconnect missed) our working exits are read in one batch."""
        every = EXITS_RECONCILE if self.stream_live() else EXITS_EVERY
        if time.monotonic() - self._last_exit_read < every:
            return 0
        self._last_exit_read = time.monotonic()
        return self.check_exits()

