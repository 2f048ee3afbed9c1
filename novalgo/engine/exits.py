"""Exit orders at the broker, the executor's side of them: placing a trailing stop once its entry
has filled, cancelling a row's exits before anything else trades the symbol, and telling the row
when one fills (TAKE PROFIT, STOP LOSS, TRAILING STOP), from a stream event or a batched read.

A mixin of ``Executor`` (it uses the executor's journal, broker, writer, submit and waits), kept
apart so each file stays about one thing. A bracket's exits are the broker's orders (their ids
are Alpaca's), kept in the journal with the alert that placed them; see journal.record_exits.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

from novalgo.broker.base import REJECTED, STOP_LOSS, TAKE_PROFIT, TRAILING_STOP, OrderState
from novalgo.domain import statuses
from novalgo.domain.money import plain
from novalgo.domain.protection import Protection, protective_legs
from novalgo.domain.row_rules import exit_price
from novalgo.engine.journal import OPEN_AT_BROKER, REPLANNED, SENDING, SUPERSEDED, VOID, order_details
from novalgo.engine.order_requests import PositionWasWrong, order_request, rejected
from novalgo.errors import OrderRejected, RetryableError

log = logging.getLogger(__name__)
EXITS_CANCELLED = "exits-cancelled:"  # meta key + alert id: the exit orders an alert cancelled to trade
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

    # -- exits put back: a refused close, a part-filled entry --------------------------------

    def _cancel_exits_for(self, alert: dict[str, Any], exits: list[dict[str, Any]]) -> bool:
        """``_cancel_exits``, remembering which, so a close refused afterwards can put them back."""
        self.journal.set_meta(EXITS_CANCELLED + alert["id"], json.dumps([o["client_order_id"] for o in exits]))
        return self._cancel_exits(exits)

    def _put_exits_back(self, alert: dict[str, Any]) -> str:
        """The alert's close was refused after it had cancelled the row's exits: place them again for
        what is held, so the shares never sit without the stop the trader set. Returns what to say."""
        cids = json.loads(self.journal.get_meta(EXITS_CANCELLED + alert["id"]) or "[]")
        exits = [o for o in (self.journal.order(cid) for cid in cids) if o is not None]
        if not exits:
            return ""
        held = self.broker.held_now(alert["symbol"]).qty
        if held == 0 or (held > 0) != (exits[0]["side"] == "sell"):
            return ""  # an exit filled meanwhile: nothing left of what they protected
        self.journal.set_meta(EXITS_CANCELLED + alert["id"], "[]")  # once
        return "its exits were put back: " + self._protect(alert, held, _protection_of(exits))

    def _protect_part_fill(self, alert: dict[str, Any], entry: dict[str, Any], filled: Decimal,
                           fill: Decimal | None, trailing: bool = False) -> str:
        """An entry that carried exits ended with only part filled (cancelled, expired): Alpaca cancels
        a bracket's legs with it, so the filled shares get their exits of their own. ``trailing``: the
        alert's trailing stop, never placed, is placed here too (its alert was replaced)."""
        if filled <= 0 or self._exits_still_work(alert["id"], entry["client_order_id"]):
            return ""
        details = order_details(entry)
        reference = fill if fill is not None else details.get("limit_price")
        prices = []
        for profit in (True, False):
            distance = details.get("take_profit_from" if profit else "stop_loss_from")
            if distance is not None and reference is not None:
                prices.append(exit_price(reference, distance, entry["side"], profit))
            else:
                prices.append(details.get("take_profit" if profit else "stop_loss"))
        protection = Protection(*prices)
        if trailing:
            unplaced = [o for o in self.journal.orders_for(alert["id"]) if o["purpose"] == TRAILING_STOP
                        and o["state"] in (SUPERSEDED, VOID) and not o["broker_order_id"]]
            if unplaced:
                follow = order_details(unplaced[-1])
                protection = Protection(trail_percent=follow.get("trail_percent"), trail_price=follow.get("trail_price"))
        if not protection.any:
            return ""
        signed = filled if entry["side"] == "buy" else -filled
        return f"the entry ended with {plain(filled)} filled: " + self._protect(alert, signed, protection)

    def _protect_replaced(self, entry_cid: str) -> None:
        """An older alert's resting entry that a newer one replaced filled in part before the cancel
        took: its shares are the row's now, with the exits (or trailing stop) that alert set."""
        entry = self.journal.order(entry_cid)
        if entry is None or entry["state"] in OPEN_AT_BROKER:
            return
        filled = Decimal(entry["filled_qty"] or 0)
        older = self.journal.get(entry["alert_id"])
        if filled > 0 and older is not None:
            fill = Decimal(entry["filled_avg_price"]) if entry["filled_avg_price"] else None
            said = self._protect_part_fill(older, entry, filled, fill, trailing=True)
            if said:
                self.journal.set_status(older["id"], older["status"], f"{older['reason']}; {said}")

    def _exits_still_work(self, alert_id: str, entry_cid: str) -> bool:
        """Are the entry's own exits still working? Asked of the broker, not only the journal: the
        legs' cancel events may trail their entry's."""
        legs = [o["client_order_id"] for o in self.journal.orders_for(alert_id) if o["purpose"] in (TAKE_PROFIT, STOP_LOSS)
                and o["state"] in OPEN_AT_BROKER and order_details(o).get("parent") == entry_cid]
        if not legs:
            return False
        for cid, state in self.broker.orders(legs).items():
            self._record(cid, state)
        return any((self.journal.order(cid) or {}).get("state") in OPEN_AT_BROKER for cid in legs)

    def _protect(self, alert: dict[str, Any], held: Decimal, protection: Protection) -> str:
        """Place exit orders for ``held`` shares; returns the sentence the alert's reason carries."""
        legs, why_not = protective_legs(held, protection)
        if not legs:
            return f"no exit orders: {why_not}"
        cids = self.journal.plan(alert["id"], alert["symbol"], legs, None, alert["plan_status"],
                                 alert["plan_reason"] or "")
        refused = []
        for cid in cids:
            order = self.journal.order(cid)
            try:
                state = self._submit(alert, order)
            except PositionWasWrong as e:
                state = rejected(order_request(order), str(e))
            self._record(cid, state)
            if state.status == REJECTED:
                refused.append(state.reason)
        qty = plain(abs(legs[0].qty))
        if refused:
            log.warning("%s: exits for %s shares refused: %s", alert["symbol"], qty, "; ".join(refused))
            return f"{protection.describe()} for {qty} {alert['symbol']} refused: {refused[0]}"
        log.info("%s: %s placed for %s shares", alert["symbol"], protection.describe(), qty)
        return f"{protection.describe()} placed for {qty} {alert['symbol']}"


def _protection_of(exits: list[dict[str, Any]]) -> Protection:
    """What a set of exit orders (journal rows) protected the position with, the newest of each kind."""
    found: dict[str, Decimal | None] = {}
    for order in exits:
        details = order_details(order)
        if order["purpose"] == TAKE_PROFIT:
            found["take_profit"] = details.get("limit_price")
            if details.get("oco") and details.get("stop_loss") is not None:
                found["stop_loss"] = details.get("stop_loss")
        elif order["purpose"] == STOP_LOSS:
            found["stop_loss"] = details.get("stop_price")
        elif order["purpose"] == TRAILING_STOP:
            found["trail_percent"] = details.get("trail_percent")
            found["trail_price"] = details.get("trail_price")
    return Protection(**found)
