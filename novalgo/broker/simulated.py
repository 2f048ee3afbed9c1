"""A simulated broker: market orders fill at once at the alert's price, resting orders when a later
price reaches them.

Used when no Alpaca keys are set, so a trader can point TradingView at NovAlgo and watch it
trade $100,000 of pretend money. It keeps Alpaca's rules that shape the executor (an order
may not take a position across zero; shorts are whole shares; client_order_id is unique; open
orders hold the shares they would sell) so the same code path is exercised locally. State
lives in SQLite in the data dir.

The simulator has no market data: a price is whatever was last observed for the symbol, from an
alert (``observe_price``, or an order's ``price_hint``) or from ``novalgo sim price``. Each new
price is checked against the symbol's resting orders (limits, stops, a bracket's or OTO's take-profit
and stop-loss legs, an OCO's take-profit and its stop-loss leg, trailing stops); see ``simulated_exits.py`` for when they fill and at what.
The simulator's market is always open, so a DAY order never expires here and an extended-hours
limit is simply a limit. So that a demo on a Sunday does not teach the wrong thing, a stock order
it fills at once outside Mon-Fri 09:30-16:00 ET says in its reason when Alpaca would fill it.

Who hears about a fill made in another process. Listeners (``listen``) live in the process that
registered them, the service's leader, but ``novalgo sim price`` fills orders from its own
process. Every change to an order row bumps a change counter kept in the row (``version``, one
more than the highest in the table, assigned inside the writing transaction, so versions commit
in order) and records which broker object wrote it (``writer``). Changes made by this object are
pushed to its listeners at once, from the thread that made them; each ``listen`` also starts a
small watcher thread that every ``watch_every`` seconds reads the rows with a newer version
written by anyone else and pushes their states too. One indexed query a second when nothing
changed, no duplicates, and the REST path (``orders``/``open_orders``) reads the same rows anyway.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator, Sequence

from novalgo.broker import simulated_exits as exits
from novalgo.broker.base import (
    CANCELED,
    CRYPTO,
    FILLED,
    PARTIALLY_FILLED,
    PENDING,
    REJECTED,
    TRAILING_STOP,
    ZERO,
    Account,
    AssetInfo,
    Fill,
    OrderRequest,
    OrderState,
    Position,
)
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.guards import EASTERN, trading_day
from novalgo.domain.money import plain
from novalgo.domain.symbols import is_crypto
from novalgo.errors import BlockedByOpenOrders, OrderRejected
from novalgo.sqlite import ThreadConnections

log = logging.getLogger(__name__)

STARTING_CASH = Decimal(100000)

WATCH_EVERY = 0.5  # seconds between a listener's looks for changes made by other processes
OPEN = (PENDING, PARTIALLY_FILLED)  # orders the simulator may still fill (part-filled only by fill_part)
# A first price for the default local sheet's symbols: on a fresh simulator the README's first
# alert ("BUY AAPL 15", no price in it) fills, as `novalgo try` predicts. Any alert's price replaces it.
SEED_PRICES = {"AAPL": Decimal(190), "TSLA": Decimal(250), "HOOD": Decimal(25), "MSFT": Decimal(420)}

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, broker_order_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
    qty TEXT, notional TEXT, status TEXT NOT NULL, filled_qty TEXT NOT NULL, filled_avg_price TEXT,
    reason TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
    qty TEXT NOT NULL, price TEXT NOT NULL, order_id TEXT NOT NULL, client_order_id TEXT
);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, qty TEXT NOT NULL, avg_price TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prices (symbol TEXT PRIMARY KEY, price TEXT NOT NULL, time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cash (id INTEGER PRIMARY KEY CHECK (id = 1), amount TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS equity_daily (day TEXT PRIMARY KEY, equity TEXT NOT NULL);
"""
# After the columns of simulated_exits.ORDER_COLUMNS exist (an older file gains them in prepare).
INDEXES = """
CREATE INDEX IF NOT EXISTS orders_by_version ON orders (version);
CREATE INDEX IF NOT EXISTS orders_by_symbol ON orders (symbol, status);
CREATE INDEX IF NOT EXISTS orders_by_parent ON orders (parent);
"""


class SimulatedBroker:
    kind = "simulated"
    mode = "simulated"

    def __init__(self, data_dir: Path, starting_cash: Decimal = STARTING_CASH, clock=SYSTEM_CLOCK,
                 watch_every: float = WATCH_EVERY):
        self.path = Path(data_dir) / "simbroker.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.watch_every = watch_every
        self._token = uuid.uuid4().hex
        self._listeners: list[Callable[[OrderState], None]] = []
        self._connections = ThreadConnections(self.path)
        self._connections.prepare(SCHEMA, {"orders": exits.ORDER_COLUMNS})
        self._connections.prepare(INDEXES)  # under the same lock: several workers open a new file at once
        self._db().execute("INSERT OR IGNORE INTO cash (id, amount) VALUES (1, ?)", (str(starting_cash),))

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    @property
    def _writer(self) -> str:
        # The pid too: a broker made before a fork is two writers after it.
        return f"{self._token}-{os.getpid()}"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- prices --------------------------------------------------------------------------

    def observe_price(self, symbol: str, price: Decimal) -> None:
        """Mark the symbol to a price seen in an alert (the simulator has no market data)."""
        self.mark(symbol, price)

    def mark(self, symbol: str, price: Decimal) -> list[OrderState]:
        """Record a new price for the symbol and fill the resting orders it reaches; returns every
        order that changed (fills, and the exits cancelled by them), each also pushed to listeners."""
        with self._transaction() as db:
            self._set_price(db, symbol, price)
            changed = self._trigger(db, symbol, price)
        return self._announce(changed)

    def _set_price(self, db: sqlite3.Connection, symbol: str, price: Decimal) -> None:
        db.execute("INSERT INTO prices (symbol, price, time) VALUES (?,?,?) ON CONFLICT(symbol) DO UPDATE "
                   "SET price=excluded.price, time=excluded.time", (symbol, str(price), self.clock()))

    def seed_prices(self, prices: dict[str, Decimal] = SEED_PRICES) -> bool:
        """Give a simulator that has seen no price yet these first prices; False if it had some."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM prices LIMIT 1").fetchone():
                return False
            for symbol, price in prices.items():
                self._set_price(db, symbol, price)
        return True

    def latest_price(self, symbol: str) -> Decimal | None:
        row = self._db().execute("SELECT price FROM prices WHERE symbol=?", (symbol,)).fetchone()
        return Decimal(row["price"]) if row else None

    def trading_day(self, day: date) -> bool:
        """Monday to Friday: the simulator has no exchange calendar (and trades around the clock)."""
        return day.weekday() < 5

    def session_close(self, day: date) -> datetime | None:
        """16:00 New York on weekdays (no holidays, no early closes in the simulator)."""
        return datetime.combine(day, dtime(16, 0), EASTERN) if self.trading_day(day) else None

    def market_open(self) -> bool:
        return True  # the simulator trades around the clock

    def _alpaca_would_wait(self) -> datetime | None:
        """The next regular open (09:30 ET on a weekday) when now is outside regular hours, else None.
        Weekends only: the simulator knows no holidays."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc).astimezone(EASTERN)
        if self.trading_day(now.date()) and dtime(9, 30) <= now.time() < dtime(16, 0):
            return None
        day = now.date() if now.time() < dtime(9, 30) else now.date() + timedelta(days=1)
        while not self.trading_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, dtime(9, 30), EASTERN)


    # -- account and positions --------------------------------------------------------

    def asset(self, symbol: str) -> AssetInfo:
        # Alpaca does not lend crypto: no crypto shorts here either.
        crypto = is_crypto(symbol)
        return AssetInfo(symbol, shortable=not crypto, easy_to_borrow=not crypto,
                         asset_class=CRYPTO if crypto else "us_equity")

    def positions(self) -> list[Position]:
        rows = self._db().execute("SELECT symbol, qty, avg_price FROM positions ORDER BY symbol").fetchall()
        return [self._position(row) for row in rows if Decimal(row["qty"]) != 0]

    def position(self, symbol: str) -> Position:
        row = self._db().execute("SELECT symbol, qty, avg_price FROM positions WHERE symbol=?", (symbol,)).fetchone()
        return self._position(row) if row else Position(symbol, ZERO)

    def held_now(self, symbol: str) -> Position:
        """The simulator keeps no cache: the same as ``position``."""
        return self.position(symbol)

    def _position(self, row: sqlite3.Row) -> Position:
        qty, avg = Decimal(row["qty"]), Decimal(row["avg_price"])
        last = self.latest_price(row["symbol"]) or avg
        return Position(row["symbol"], qty, avg, market_value=qty * last, unrealized_pl=(last - avg) * qty)

    def account(self) -> Account:
        cash = self._cash(self._db())
        equity = cash + sum((p.market_value or ZERO for p in self.positions()), ZERO)
        self._record_equity(equity)
        return Account(mode=self.mode, status="ACTIVE", cash=cash, equity=equity, buying_power=max(cash, ZERO),
                       account_id="simulated")

    def equity_history(self) -> list[tuple[date, Decimal]]:
        """End-of-day equity as recorded on each fill and account read, oldest first."""
        rows = self._db().execute("SELECT day, equity FROM equity_daily ORDER BY day").fetchall()
        return [(date.fromisoformat(row["day"]), Decimal(row["equity"])) for row in rows]

    def _record_equity(self, equity: Decimal) -> None:
        # The Eastern trading date, like the guards' loss limit: at 21:00 New York it is already
        # tomorrow in UTC, and a UTC key would start "the day" five hours early.
        day = trading_day(datetime.fromtimestamp(self.clock(), timezone.utc)).isoformat()
        self._db().execute("INSERT INTO equity_daily (day, equity) VALUES (?,?) ON CONFLICT(day) DO UPDATE "
                           "SET equity=excluded.equity", (day, str(equity)))

    @staticmethod
    def _cash(db: sqlite3.Connection) -> Decimal:
        return Decimal(db.execute("SELECT amount FROM cash WHERE id=1").fetchone()["amount"])

    # -- orders ------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> OrderState:
        """Place an order, idempotent by client_order_id: a market order fills now; a limit fills
        now if the price allows, else rests; a stop or trailing stop rests; a bracket's or OTO's exits
        are made with it and work once it fills; an OCO (exits for shares held) rests as its take-profit
        with its stop-loss leg working at once, one filling cancels the other. Raises OrderRejected (the request itself is refused)
        or BlockedByOpenOrders (open orders hold the shares it would sell), like Alpaca; other
        refusals are recorded as a rejected order, as before."""
        existing = self._order(self._db(), order.client_order_id)
        changed: list[str] = []
        if existing is None:
            exits.check_request(order, self.asset(order.symbol))
            if order.price_hint is not None:
                self.mark(order.symbol, order.price_hint)  # the alert's price reaches resting orders first
            with self._transaction() as db:
                if self._row(db, order.client_order_id) is None:  # another process may have placed it
                    changed = self._execute(db, order)
            existing = self._order(self._db(), order.client_order_id)
        assert existing is not None
        self._announce(changed or [order.client_order_id])
        return existing

    def listen(self, on_update: Callable[[OrderState], None], on_connected: Callable[[], None]) -> "_Listening":
        """Every order change is pushed to ``on_update``: at once when made by this object, within
        ``watch_every`` seconds when made by another process on the same data dir (module docstring)."""
        listening = _Listening(self, on_update)
        self._listeners.append(on_update)
        on_connected()
        if self.watch_every > 0:
            listening.start(self.watch_every)
        return listening

    def _execute(self, db: sqlite3.Connection, order: OrderRequest) -> list[str]:
        """Record a new order (rejected, resting or filled); returns the client_order_ids it changed."""
        price = self.latest_price(order.symbol)
        held = self.position(order.symbol).qty
        basis = order.limit_price if order.order_type == "limit" else price
        qty, reason = order.qty, ""
        # time_in_force is kept but never acted on: the simulator's market never closes, so a DAY
        # order never expires here (and an extended-hours limit is just a limit).
        if basis is None and (order.order_type == "market" or qty is None):
            reason = (f"no price for {order.symbol}: the simulator fills at the alert's price, "
                      "so add \"price\": \"{{close}}\" to the alert")
        else:
            qty = exits.share_qty(order.qty, order.notional, basis)
        if not reason:
            exits.check_oco(order, held, price)
            exits.check_exit_prices(order, basis)
            reason = self._refusal(db, order, qty, held, basis)
        created = self._insert(db, order, REJECTED if reason else PENDING, reason,
                               leg=exits.TAKE_PROFIT if order.oco else None)
        if reason:
            return created
        for leg, kind, leg_price in exits.legs_of(order):
            # A bracket's exits sell what the entry buys and wait for it; an OCO's stop-loss is on the
            # OCO's own side and works at once (the shares are already held).
            created += self._insert(db, OrderRequest(
                str(uuid.uuid4()), order.symbol, order.side if order.oco else exits.opposite(order.side), qty=qty,
                time_in_force=order.time_in_force,
            ), PENDING, "", order_type=kind, parent=order.client_order_id, leg=leg, waiting=not order.oco,
                limit_price=leg_price if kind == "limit" else None, stop_price=leg_price if kind == "stop" else None)
        if exits.marketable(order, price):
            created += self._fill_order(db, self._row(db, order.client_order_id), price)
            waits_until = None if is_crypto(order.symbol) or order.extended_hours else self._alpaca_would_wait()
            if waits_until is not None:
                self._update(db, order.client_order_id, reason=(
                    "filled by the simulator, which trades around the clock; on Alpaca a stock order sent now "
                    f"would wait for {waits_until:%a} {waits_until.day} {waits_until:%b %H:%M} ET"))
        if price is not None:
            created += self._trigger(db, order.symbol, price)  # a trailing stop's start; exits already crossed
        return list(dict.fromkeys(created))

    def _refusal(self, db: sqlite3.Connection, order: OrderRequest, qty: Decimal, held: Decimal,
                 basis: Decimal | None) -> str:
        """Why the simulator would not take this order now ("" if it would): Alpaca's rules on
        positions. Shares held by open orders raise BlockedByOpenOrders, as the Alpaca adapter does."""
        signed = qty if order.side == "buy" else -qty
        reducing = held != 0 and (held > 0) == (order.side == "sell")
        reserved = self._held_for_orders(db, order.symbol, order.side) if reducing else ZERO
        if reserved > 0 and qty > abs(held) - reserved:
            raise BlockedByOpenOrders(f"insufficient qty available for order (requested: {plain(qty)}, "
                                      f"available: {plain(max(abs(held) - reserved, ZERO))})")
        if order.closing and (held == 0 or (held > 0) != (order.side == "sell")):
            # As Alpaca does with position_intent *_to_close: a close never opens the other side.
            inferred = "sell to open" if order.side == "sell" else "buy to open"
            return f"position intent mismatch. inferred {inferred}"
        if held != 0 and (held + signed) * held < 0:
            return f"insufficient qty available for order (requested: {plain(qty)}, available: {plain(abs(held))})"
        if held + signed < 0 and held <= 0 and qty != qty.to_integral_value():
            return "fractional orders cannot be sold short"
        cash = self._cash(db)
        if order.side == "buy" and held >= 0 and basis is not None and qty * basis > cash:
            return f"insufficient buying power (needs ${qty * basis:.2f}, has ${cash:.2f})"
        return ""

    def _held_for_orders(self, db: sqlite3.Connection, symbol: str, side: str) -> Decimal:
        """Shares the open orders on this side hold (an exit waiting for its entry holds none yet)."""
        rows = db.execute("SELECT client_order_id, parent, qty, notional, limit_price, filled_qty FROM orders "
                          "WHERE symbol=? AND side=? AND status IN (?,?) AND waiting=0", (symbol, side, *OPEN)).fetchall()
        held: dict[str, Decimal] = {}
        for row in rows:
            # Only a buy limit rests with dollars, not shares: its shares are the dollars at its limit.
            qty = exits.share_qty(_dec(row["qty"]), _dec(row["notional"]), _dec(row["limit_price"])) \
                - Decimal(row["filled_qty"])
            key = row["parent"] or row["client_order_id"]  # a bracket's two exits hold the shares once
            held[key] = max(held.get(key, ZERO), qty)
        return sum(held.values(), ZERO)

    def _insert(self, db: sqlite3.Connection, order: OrderRequest, status: str, reason: str, *,
                order_type: str | None = None, parent: str | None = None, leg: str | None = None,
                waiting: bool = False, limit_price: Decimal | None = None,
                stop_price: Decimal | None = None) -> list[str]:
        db.execute(
            "INSERT INTO orders (client_order_id, broker_order_id, symbol, side, qty, notional, status, filled_qty, "
            "reason, created_at, order_type, limit_price, stop_price, trail_percent, trail_price, time_in_force, "
            "extended_hours, parent, leg, waiting, oco, version, writer) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,(SELECT COALESCE(MAX(version), 0) + 1 FROM orders),?)",
            (order.client_order_id, str(uuid.uuid4()), order.symbol, order.side, plain(order.qty),
             plain(order.notional), status, "0", reason, self.clock(), order_type or order.order_type,
             plain(limit_price or order.limit_price), plain(stop_price or order.stop_price),
             plain(order.trail_percent), plain(order.trail_price), order.time_in_force, int(order.extended_hours),
             parent, leg, int(waiting), int(order.oco), self._writer))
        return [order.client_order_id]

    def _update(self, db: sqlite3.Connection, client_order_id: str, **values) -> None:
        """Change an order row and bump its version, so other processes' listeners hear of it."""
        names = ", ".join(f"{name}=?" for name in values)
        db.execute(f"UPDATE orders SET {names}, version=(SELECT COALESCE(MAX(version), 0) + 1 FROM orders), "
                   "writer=? WHERE client_order_id=?", (*values.values(), self._writer, client_order_id))

    def _trigger(self, db: sqlite3.Connection, symbol: str, price: Decimal) -> list[str]:
        """Fill, one at a time, every resting order on the symbol this price reaches (a fill may
        free or cancel others); trailing stops follow the price first."""
        changed: list[str] = []
        while True:
            rows = db.execute("SELECT * FROM orders WHERE symbol=? AND status IN (?,?) AND waiting=0 "
                              "ORDER BY created_at, rowid", (symbol, *OPEN)).fetchall()
            for row in rows:
                if row["order_type"] == TRAILING_STOP:
                    water, stop = exits.trailed(row, price)
                    if (plain(water), plain(stop)) != (row["water"], row["stop_price"]):
                        # Not a state change Alpaca streams (its hwm moves silently): no version bump.
                        db.execute("UPDATE orders SET water=?, stop_price=? WHERE client_order_id=?",
                                   (plain(water), plain(stop), row["client_order_id"]))
                        row = self._row(db, row["client_order_id"])
                at = exits.fill_price(row, price)
                if at is not None:
                    changed += self._fill_order(db, row, at)
                    break
            else:
                return changed

    def _fill_order(self, db: sqlite3.Connection, row: sqlite3.Row, price: Decimal) -> list[str]:
        """Fill what is left of an open order at a price; an entry's exits start working, an exit's other
        half (a bracket's sibling leg, an OCO's take-profit or stop-loss) is cancelled."""
        cid = row["client_order_id"]
        qty = exits.share_qty(_dec(row["qty"]), _dec(row["notional"]), _dec(row["limit_price"]) or price)
        before = Decimal(row["filled_qty"])
        self._fill(db, row["symbol"], row["side"], cid, row["broker_order_id"], qty - before, price)
        average = (before * (_dec(row["filled_avg_price"]) or ZERO) + (qty - before) * price) / qty
        self._update(db, cid, status=FILLED, filled_qty=plain(qty), filled_avg_price=plain(average))
        changed = [cid]
        if not row["oco"]:
            for leg in db.execute("SELECT client_order_id FROM orders WHERE parent=? AND status=?", (cid, PENDING)):
                self._update(db, leg["client_order_id"], waiting=0, qty=plain(qty))
                changed.append(leg["client_order_id"])
        others = self._one_cancels_other(db, row)
        if others:
            changed += self._cancel_pending(db, others, f"the {exits.label(row)} filled: one cancels the other")
        return changed

    def _fill(self, db: sqlite3.Connection, symbol: str, side: str, client_order_id: str, broker_id: str,
              qty: Decimal, price: Decimal) -> None:
        signed = qty if side == "buy" else -qty
        row = db.execute("SELECT qty, avg_price FROM positions WHERE symbol=?", (symbol,)).fetchone()
        held, avg = (Decimal(row["qty"]), Decimal(row["avg_price"])) if row else (ZERO, ZERO)
        new_qty = held + signed
        if held == 0 or (held > 0) == (signed > 0):  # opening or adding: weighted average entry
            avg = (avg * abs(held) + price * qty) / abs(new_qty)
        elif new_qty == 0:
            avg = ZERO
        elif (new_qty > 0) != (held > 0):  # a resting order that crossed zero opens at its price
            avg = price
        db.execute("INSERT INTO positions (symbol, qty, avg_price) VALUES (?,?,?) ON CONFLICT(symbol) DO UPDATE "
                   "SET qty=excluded.qty, avg_price=excluded.avg_price", (symbol, plain(new_qty), str(avg)))
        db.execute("UPDATE cash SET amount=? WHERE id=1", (str(self._cash(db) - signed * price),))
        db.execute("INSERT INTO fills (time, symbol, side, qty, price, order_id, client_order_id) VALUES (?,?,?,?,?,?,?)",
                   (self.clock(), symbol, side, plain(qty), plain(price), broker_id, client_order_id))

    def _siblings(self, db: sqlite3.Connection, row: sqlite3.Row) -> list[str]:
        return [r["client_order_id"] for r in db.execute(
            "SELECT client_order_id FROM orders WHERE parent=? AND client_order_id<>?",
            (row["parent"], row["client_order_id"]))]

    def _one_cancels_other(self, db: sqlite3.Connection, row: sqlite3.Row) -> list[str]:
        """The exits that go when this exit fills or is cancelled: a bracket leg's sibling; an OCO's
        stop-loss for its take-profit (the parent row) and the take-profit for its stop-loss."""
        if row["oco"]:
            return [r["client_order_id"] for r in db.execute(
                "SELECT client_order_id FROM orders WHERE parent=?", (row["client_order_id"],))]
        if not row["parent"]:
            return []
        parent = self._row(db, row["parent"])
        return self._siblings(db, row) + ([parent["client_order_id"]] if parent is not None and parent["oco"] else [])

    def _cancel_pending(self, db: sqlite3.Connection, client_order_ids: Sequence[str], reason: str) -> list[str]:
        changed = []
        for cid in client_order_ids:
            row = self._row(db, cid)
            if row is not None and row["status"] in OPEN:  # a part-filled order keeps its fills
                self._update(db, cid, status=CANCELED, reason=reason)
                changed.append(cid)
        return changed

    def _row(self, db: sqlite3.Connection, client_order_id: str) -> sqlite3.Row | None:
        return db.execute("SELECT * FROM orders WHERE client_order_id=?", (client_order_id,)).fetchone()

    def _order(self, db: sqlite3.Connection, client_order_id: str) -> OrderState | None:
        row = self._row(db, client_order_id)
        return None if row is None else self._state(db, row)

    def _state(self, db: sqlite3.Connection, row: sqlite3.Row) -> OrderState:
        legs = tuple(exits.state(leg) for leg in db.execute(
            "SELECT * FROM orders WHERE parent=? ORDER BY rowid", (row["client_order_id"],)))
        return exits.state(row, legs)

    def find_order(self, client_order_id: str) -> OrderState | None:
        return self._order(self._db(), client_order_id)

    def label(self, client_order_id: str) -> str:
        """What a trader calls the order: take-profit, stop-loss, trailing stop, limit or market."""
        row = self._row(self._db(), client_order_id)
        return exits.label(row) if row is not None else "order"

    def orders(self, client_order_ids: Sequence[str]) -> dict[str, OrderState]:
        found = {}
        for cid in client_order_ids:
            state = self._order(self._db(), cid)
            if state is not None:
                found[cid] = state
        return found

    def open_orders(self, symbol: str) -> list[OrderState]:
        """Resting orders on the symbol: limits, trailing stops, exit legs (waiting ones included)."""
        db = self._db()
        rows = db.execute("SELECT * FROM orders WHERE symbol=? AND status IN (?,?) ORDER BY created_at, rowid",
                          (symbol, *OPEN)).fetchall()
        return [self._state(db, row) for row in rows]

    def warm_assets(self, symbols: Sequence[str], at_most: int) -> int:
        return 0  # the simulator knows its assets without asking

    def open_orders_known(self, symbol: str) -> list[OrderState]:
        return self.open_orders(symbol)

    def reconcile(self) -> None:
        """Nothing to re-read: the simulator's own database is the truth."""

    def cancel_by_id(self, broker_order_id: str) -> None:
        row = self._db().execute("SELECT client_order_id FROM orders WHERE broker_order_id=?",
                                 (broker_order_id,)).fetchone()
        if row is not None:
            self.cancel(row["client_order_id"])

    def fill_part(self, client_order_id: str, qty: Decimal, price: Decimal) -> OrderState:
        """Fill ``qty`` of a resting order at ``price`` now, as a thin market does; the rest keeps
        resting. The simulator's only way to a partial fill (rehearsals and tests). A bracket's exits
        keep waiting: Alpaca's "won't be active until the first order is completely filled"."""
        with self._transaction() as db:
            row = self._row(db, client_order_id)
            if row is None or row["status"] not in OPEN or row["waiting"]:
                raise OrderRejected(f"order {client_order_id} is not working: it cannot be filled")
            total = exits.share_qty(_dec(row["qty"]), _dec(row["notional"]), _dec(row["limit_price"]) or price)
            before = Decimal(row["filled_qty"])
            if not ZERO < qty < total - before:
                raise ValueError(f"a part fill is more than nothing and less than the {plain(total - before)} left")
            self._fill(db, row["symbol"], row["side"], client_order_id, row["broker_order_id"], qty, price)
            average = (before * (_dec(row["filled_avg_price"]) or ZERO) + qty * price) / (before + qty)
            self._update(db, client_order_id, status=PARTIALLY_FILLED, filled_qty=plain(before + qty),
                         filled_avg_price=plain(average))
        return self._announce([client_order_id])[0]

    def cancel(self, client_order_id: str) -> None:
        """Cancel an open order. An entry takes its exits with it; an exit takes its sibling (they
        are one-cancels-other), an OCO's take-profit its stop-loss and the other way round. A filled,
        rejected or cancelled order is left as it is."""
        with self._transaction() as db:
            row = self._row(db, client_order_id)
            if row is None or row["status"] not in OPEN:
                return
            changed = self._cancel_pending(db, [client_order_id], "the order was canceled in the simulator")
            if row["parent"] or row["oco"]:
                changed += self._cancel_pending(db, self._one_cancels_other(db, row),
                                                f"the {exits.label(row)} was canceled: one cancels the other")
            else:
                legs = [r["client_order_id"] for r in db.execute(
                    "SELECT client_order_id FROM orders WHERE parent=?", (client_order_id,))]
                changed += self._cancel_pending(db, legs, "its entry order was canceled")
        self._announce(changed)

    def replace_exit(self, broker_order_id: str, new_client_order_id: str, limit_price: Decimal | None = None,
                     stop_price: Decimal | None = None) -> OrderState:
        """Move a working exit's price. Alpaca makes a new order of a replaced one; the simulator
        moves the order in place and takes the new client_order_id, which is what a caller sees."""
        if limit_price is None and stop_price is None:
            raise ValueError("a replaced exit needs a new limit_price or stop_price")
        with self._transaction() as db:
            row = db.execute("SELECT * FROM orders WHERE broker_order_id=?", (broker_order_id,)).fetchone()
            if row is None or row["status"] not in OPEN:
                raise OrderRejected(f"order {broker_order_id} is not open: it cannot be replaced")
            changes = {}
            if limit_price is not None:
                changes["limit_price"] = plain(limit_price)
            if stop_price is not None:
                changes["stop_price"] = plain(stop_price)
            db.execute("UPDATE orders SET client_order_id=? WHERE client_order_id=?",
                       (new_client_order_id, row["client_order_id"]))
            self._update(db, new_client_order_id, **changes)
        return self._announce([new_client_order_id])[0]

    # -- pushing changes -------------------------------------------------------------------

    def _announce(self, client_order_ids: Sequence[str]) -> list[OrderState]:
        """Push these orders' states to this object's listeners (an exit's entry follows it, with
        its legs as they are now); returns the states of the orders named."""
        db = self._db()
        states = [s for s in (self._order(db, cid) for cid in dict.fromkeys(client_order_ids)) if s is not None]
        if any(s.status == FILLED for s in states):
            self.account()  # keeps the daily equity curve current
        for pushed in self._with_entries(db, states):
            for listener in list(self._listeners):
                listener(pushed)  # the same event path as Alpaca's trade stream
        return states

    def _with_entries(self, db: sqlite3.Connection, states: list[OrderState]) -> list[OrderState]:
        cids = {s.client_order_id for s in states}
        out: list[OrderState] = []
        for state in states:
            out.append(state)
            row = self._row(db, state.client_order_id)
            if row is not None and row["parent"] and row["parent"] not in cids:
                cids.add(row["parent"])
                parent = self._order(db, row["parent"])
                if parent is not None:
                    out.append(parent)
        return out

    def last_change(self) -> int:
        """The change counter now: changes after it are what a listener has not heard of yet."""
        return self._db().execute("SELECT COALESCE(MAX(version), 0) AS v FROM orders").fetchone()["v"]

    def changes_after(self, version: int) -> tuple[list[OrderState], int]:
        """States of the orders other broker objects (other processes) changed after ``version``,
        each exit followed by its entry, and the counter to ask from next time."""
        db = self._db()
        rows = db.execute("SELECT client_order_id, writer, version FROM orders WHERE version>? ORDER BY version",
                          (version,)).fetchall()
        if not rows:
            return [], version
        mine = self._writer
        states = [s for s in (self._order(db, r["client_order_id"]) for r in rows if r["writer"] != mine)
                  if s is not None]
        return self._with_entries(db, states), rows[-1]["version"]

    def fills(self, since: datetime) -> list[Fill]:
        rows = self._db().execute("SELECT * FROM fills WHERE time>=? ORDER BY seq", (since.timestamp(),)).fetchall()
        return [Fill(datetime.fromtimestamp(row["time"], timezone.utc), row["symbol"], row["side"],
                     Decimal(row["qty"]), Decimal(row["price"]), row["order_id"], row["client_order_id"])
                for row in rows]


    def fills_after(self, activity_id: str | None) -> list[Fill]:
        """Fills after the one with this id (its row number), labelled as Alpaca labels them: a sell
        that opens or adds to a short is a sell_short. The label needs the position before each
        fill, so the whole table is replayed (a simulator's history is small)."""
        after = int(activity_id) if activity_id else 0
        held: dict[str, Decimal] = {}
        fills = []
        for row in self._db().execute("SELECT * FROM fills ORDER BY seq"):
            qty, before = Decimal(row["qty"]), held.get(row["symbol"], ZERO)
            side = "sell_short" if row["side"] == "sell" and before <= 0 else row["side"]
            held[row["symbol"]] = before + (qty if row["side"] == "buy" else -qty)
            if row["seq"] > after:
                fills.append(Fill(datetime.fromtimestamp(row["time"], timezone.utc), row["symbol"], side, qty,
                                  Decimal(row["price"]), row["order_id"], row["client_order_id"], str(row["seq"])))
        return fills


class _Listening:
    """The simulator's stream: always live until stopped. Changes this broker object makes reach
    the listener directly; a watcher thread brings those made by other processes (``check``)."""

    live = True

    def __init__(self, broker: SimulatedBroker, listener: Callable[[OrderState], None]):
        self._broker, self._listener = broker, listener
        self._seen = broker.last_change()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, every: float) -> None:
        self._thread = threading.Thread(target=self._watch, args=(every,), name="novalgo-sim-watch", daemon=True)
        self._thread.start()

    def check(self) -> int:
        """Push the changes other processes made since the last look; returns how many."""
        with self._lock:
            if not self.live:
                return 0
            states, self._seen = self._broker.changes_after(self._seen)
            for state in states:
                self._listener(state)
        return len(states)

    def _watch(self, every: float) -> None:
        while not self._stopped.wait(every):
            try:
                self.check()
            except Exception:  # a locked or vanished file now and then: look again next time
                log.exception("the simulator's watcher could not read order changes")

    def stop(self) -> None:
        listeners = self._broker._listeners
        if self._listener in listeners:
            listeners.remove(self._listener)
        self.live = False
        self._stopped.set()


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
