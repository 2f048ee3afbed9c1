"""The guard rails at work: what the rules need, gathered cheaply, and what a trip does.

``Guards.check_entry`` is asked before a plan that opens or adds a position is sent; it
answers the SKIPPED reason, or None. It reads, in order of cost: the pause (environment and the
Settings tab, cached), the row's hours (with the exchange's day from the broker's calendar, cached by the adapter,
only for a stock row with Trading Hours or Flatten At) and its entries today (the journal), the day's loss trip
(the journal), and only when an account limit is set, the account and positions (cached for a
few seconds, so a burst of alerts costs one read, not one each). Entries it lets through
count at once against the position and exposure caps, so a burst cannot slip past them while
the cache is stale.

``Guards.watch`` is the leader's loop: with a max daily loss set it reads the account and
trips the limit even when no alert comes. A trip is journalled once per day (a meta key),
notified once through ``on_trip``, and with ``flatten on max loss`` queues a CLOSE (source
``guard``) for every Config row's symbol the account holds.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from novalgo.broker.base import Account, Broker, Position
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.config_rows import ConfigRow
from novalgo.domain.decision import CLOSING, OPEN, OrderPlan, unsized
from novalgo.domain.guards import (
    AccountGuards,
    RowGuards,
    Session,
    day_start,
    exposure_refusal,
    hours_refusal,
    loss_tripped,
    positions_refusal,
    row_guards,
    stricter,
    trades_refusal,
    trading_day,
)
from novalgo.domain.row_rules import DOLLARS
from novalgo.domain.symbols import is_crypto
from novalgo.engine.exchange_days import ExchangeDays
from novalgo.engine.flatten import GUARD, journal_close
from novalgo.engine.journal import Journal
from novalgo.sheet.cache import ConfigCache
from novalgo.sheet.settings_tab import SettingsTabCache

log = logging.getLogger(__name__)

ACCOUNT_TTL = 5.0  # seconds an account / positions read serves every entry
WATCH_EVERY = 15.0  # seconds between the leader's looks at the day's loss
TRIP_KEY = "guards:loss-trip:{day}"
START_KEY = "guards:start-equity:{day}"
FLATTEN_KEY = "guards:flatten:{day}:{symbol}"
TRIPPED = "max daily loss reached: entries stop until the next trading day"


def tripped_on(journal: Journal, day: date) -> str | None:
    """The day's loss-limit trip as journalled (its sentence), or None."""
    return journal.get_meta(TRIP_KEY.format(day=day.isoformat()))


def pause_reasons(env: AccountGuards, tab: AccountGuards, journal: Journal, now: datetime,
                  amounts: bool = True) -> list[str]:
    """Why every entry is refused right now, from stored state only (no broker or sheet read).
    ``amounts=False`` leaves the account's dollars out (for the public /health)."""
    reasons = []
    if env.paused:
        reasons.append("trading is off (NOVALGO_TRADING=off)")
    if tab.paused:
        reasons.append("trading is off on the Settings tab")
    tripped = tripped_on(journal, trading_day(now))
    if tripped:
        reasons.append(tripped if amounts else TRIPPED)
    return reasons


@dataclass
class _Cached:
    at: float
    value: Any


class Guards:
    def __init__(self, journal: Journal, broker: Broker, config: ConfigCache, env: AccountGuards,
                 tab: SettingsTabCache | None = None, clock: Callable[[], float] = SYSTEM_CLOCK,
                 account_ttl: float = ACCOUNT_TTL, on_trip: Callable[[str], None] | None = None,
                 wake: Callable[[], None] = lambda: None, days: ExchangeDays | None = None):
        self.journal = journal
        self.broker = broker
        self.config = config
        self.env = env
        self.tab = tab
        self.clock = clock
        self.account_ttl = account_ttl
        # Told once per trip, e.g. ``lambda text: outbox.add_event("guard", text, "warning")``.
        self.on_trip = on_trip or (lambda text: log.warning("guard tripped: %s", text))
        self.wake = wake  # the dispatcher, after CLOSEs are queued
        self.days = days or ExchangeDays.of(broker, clock)  # the same as the flatten schedule's
        self._lock = threading.Lock()  # one entry decided at a time: two cannot take the last slot
        self._account: _Cached | None = None
        self._positions: _Cached | None = None
        self._approved: list[tuple[str, Decimal]] = []  # entries let through since the positions read

    # -- what is in force -------------------------------------------------------------------

    def tab_guards(self) -> AccountGuards:
        return self.tab.guards()[0] if self.tab is not None else AccountGuards()

    def in_force(self) -> AccountGuards:
        """The environment's and the Settings tab's guards together, the stricter winning."""
        return stricter(self.env, self.tab_guards())

    def paused(self) -> list[str]:
        """Why every entry is refused now (empty: entries may go, row by row)."""
        return pause_reasons(self.env, self.tab_guards(), self.journal, self._now())

    # -- the executor's question ------------------------------------------------------------

    def check_entry(self, symbol: str, row: ConfigRow, est_value: Decimal | None = None,
                    replaces_position: bool = False) -> str | None:
        """The SKIPPED reason for an entry on ``row`` now, or None to let it go.

        Call it only for a plan that opens or adds. ``est_value``: dollars the entry adds (None if
        unknown); ``replaces_position``: the plan closes the symbol's position first (a flip).
        Raises ValueError naming the column when a guard cell cannot be read (the alert FAILS).
        """
        now = self._now()
        row_rules = row_guards(row.options)
        reasons = self.paused()
        if reasons:
            return f"entries are paused: {'; '.join(reasons)}"
        reason = hours_refusal(row_rules, now, self._session(symbol, row_rules, now), row.rules.extended_hours)
        if reason is None and row_rules.max_trades is not None:
            since = day_start(trading_day(now)).timestamp()
            reason = trades_refusal(row_rules, self.journal.entries_since(symbol, row.timeframe_minutes, since))
        if reason is not None:
            return reason
        guards = self.in_force()
        if not guards.needs_account:
            return None
        with self._lock:
            tripped = self._check_loss(guards, now)
            if tripped:
                return f"entries are paused: {tripped}"
            reason = self._room_refusal(guards, symbol, est_value, replaces_position)
            if reason is None:
                self._approved.append((symbol, abs(est_value or Decimal(0))))
        return reason

    def check_plan(self, symbol: str, row: ConfigRow, plan: OrderPlan, price: Decimal | None) -> str | None:
        """``check_entry`` for a decided plan: None when it opens nothing, else the refusal (or None)."""
        opening = [leg for leg in plan.legs if leg.purpose == OPEN]
        if not opening:
            return None
        values = [leg.notional if leg.notional is not None else
                  (leg.qty * (leg.limit_price or price) if leg.qty is not None and (leg.limit_price or price) else None)
                  for leg in opening]
        # A flip's opening leg is sized once its close fills: a size in dollars is its value already.
        values = [row.size.amount if v is None and unsized(leg.qty, leg.notional, leg.purpose)
                  and row.size.kind == DOLLARS else v for v, leg in zip(values, opening)]
        est = None if any(v is None for v in values) else sum(values, Decimal(0))
        return self.check_entry(symbol, row, est, replaces_position=any(leg.purpose == CLOSING for leg in plan.legs))

    def _session(self, symbol: str, rules: RowGuards, now: datetime) -> Session | None:
        """The exchange's day of ``now`` when the row's hours need it; None for crypto (every day trades)."""
        if is_crypto(symbol) or (rules.hours is None and rules.flatten_at is None):
            return None
        return self.days.session(trading_day(now))

    # -- the leader's loop ------------------------------------------------------------------

    def watch(self) -> str | None:
        """Trip the day's loss limit if reached (one cached account read); returns the trip sentence."""
        guards = self.in_force()
        if not guards.loss_limits:
            return None
        with self._lock:
            return self._check_loss(guards, self._now())

    # -- the loss limit ---------------------------------------------------------------------

    def _check_loss(self, guards: AccountGuards, now: datetime) -> str | None:
        day = trading_day(now)
        tripped = tripped_on(self.journal, day)
        if tripped or not guards.loss_limits:
            return tripped
        account = self._read_account()
        sentence = loss_tripped(account.equity, self._start_equity(account, day), guards.loss_limits)
        if sentence is None:
            return None
        if self.journal.set_meta_once(TRIP_KEY.format(day=day.isoformat()), sentence):
            log.warning("max daily loss: %s", sentence)
            done = self._flatten_everything(day) if guards.flatten_on_max_loss else ""
            self.on_trip(sentence + done)
        return tripped_on(self.journal, day)

    def _start_equity(self, account: Account, day: date) -> Decimal:
        """The previous close's equity (the broker's ``last_equity``); without it, the first equity
        this service saw on the trading day, kept in the journal so a restart measures from it too."""
        last = account.last_equity
        if last:
            return Decimal(last)
        key = START_KEY.format(day=day.isoformat())
        self.journal.set_meta_once(key, str(account.equity))
        return Decimal(self.journal.get_meta(key))

    def _flatten_everything(self, day: date) -> str:
        """Queue a CLOSE (source guard) for each held symbol with a Config row; says what it did."""
        rows: dict[str, ConfigRow] = {}
        for row in self.config.snapshot().active_rows():
            rows.setdefault(row.symbol, row)
        closed, unmanaged = [], []
        for position in self.broker.positions():
            if position.qty == 0:
                continue
            row = rows.get(position.symbol)
            if row is None:
                unmanaged.append(position.symbol)
                continue
            key = FLATTEN_KEY.format(day=day.isoformat(), symbol=position.symbol)
            if journal_close(self.journal, row, GUARD, key, "flatten on max loss"):
                closed.append(position.symbol)
        if closed:
            self.wake()
        said = f"; closing {', '.join(closed)}" if closed else "; nothing to close"
        if unmanaged:
            said += f" (not closed, no active Config row: {', '.join(unmanaged)})"
        return said

    # -- positions and exposure -------------------------------------------------------------

    def _room_refusal(self, guards: AccountGuards, symbol: str, est_value: Decimal | None,
                      replaces_position: bool) -> str | None:
        if guards.max_open_positions is None and guards.max_exposure is None:
            return None
        values = self._values_held()
        held_here = values.pop(symbol, None)
        reason = positions_refusal(guards, len(values), opens_new=held_here is None or replaces_position)
        if reason is None:
            gross = sum(values.values(), Decimal(0)) + (Decimal(0) if replaces_position else held_here or Decimal(0))
            reason = exposure_refusal(guards, gross, est_value)
        return reason

    def _values_held(self) -> dict[str, Decimal]:
        """Gross dollars per symbol: the broker's positions, our orders still open, and entries let
        through since the positions were read (counted at their estimate)."""
        held: dict[str, Decimal] = {}
        for position in self._read_positions():
            if position.qty != 0:
                held[position.symbol] = abs(position.market_value or position.qty * position.avg_entry_price)
        for order in self.journal.open_orders():
            if order["purpose"] == OPEN and order["symbol"] not in held:
                held[order["symbol"]] = _order_value(order)
        for symbol, value in self._approved:
            held[symbol] = held.get(symbol, Decimal(0)) + value
        return held

    def positions_changed(self) -> None:
        """An alert has traded: the next room check reads positions afresh (what filled is in them,
        what has not is among our open orders), so a position just closed no longer counts."""
        with self._lock:
            self._positions = None
            self._approved = []

    # -- cached reads -----------------------------------------------------------------------

    def _read_account(self) -> Account:
        now = self.clock()
        if self._account is None or now - self._account.at >= self.account_ttl:
            self._account = _Cached(now, self.broker.account())
        return self._account.value

    def _read_positions(self) -> list[Position]:
        now = self.clock()
        if self._positions is None or now - self._positions.at >= self.account_ttl:
            self._positions = _Cached(now, self.broker.positions())
            self._approved = []  # the read includes what filled; what has not is in open_orders
        return self._positions.value

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)


def _order_value(order: dict[str, Any]) -> Decimal:
    """An open entry order's dollars: its notional, or its quantity at the alert's price."""
    if order["notional"]:
        return abs(Decimal(order["notional"]))
    if order["qty"] and order["price_hint"]:
        return abs(Decimal(order["qty"]) * Decimal(order["price_hint"]))
    return Decimal(0)
