"""A simulated broker: market orders fill at once at the alert's price.

Used when no Alpaca keys are set, so a trader can point TradingView at NovAlgo and watch it
trade $100,000 of pretend money. It keeps Alpaca's rules that shape the executor (an order
may not take a position across zero; shorts are whole shares; client_order_id is unique) so
the same code path is exercised locally. State lives in SQLite in the data dir.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import date, datetime, timezone
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Callable, Sequence

from novalgo.broker.base import (
    CANCELED, CRYPTO, FILLED, REJECTED, ZERO, Account, AssetInfo, Fill, OrderRequest, OrderState, Position,
)
from novalgo.domain.money import plain
from novalgo.domain.symbols import is_crypto
from novalgo.sqlite import ThreadConnections

STARTING_CASH = Decimal(100000)
QTY_STEP = Decimal("0.000000001")  # Alpaca's fractional precision

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


class SimulatedBroker:
    kind = "simulated"
    mode = "simulated"

    def __init__(self, data_dir: Path, starting_cash: Decimal = STARTING_CASH, clock=time.time):
        self.path = Path(data_dir) / "simbroker.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._listeners: list[Callable[[OrderState], None]] = []
        self._connections = ThreadConnections(self.path)
        self._connections.prepare(SCHEMA)
        self._db().execute("INSERT OR IGNORE INTO cash (id, amount) VALUES (1, ?)", (str(starting_cash),))

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    # -- prices --------------------------------------------------------------------------

    def observe_price(self, symbol: str, price: Decimal) -> None:
        """Mark the symbol to a price seen in an alert (the simulator has no market data)."""
        self._db().execute(
            "INSERT INTO prices (symbol, price, time) VALUES (?,?,?) ON CONFLICT(symbol) DO UPDATE "
            "SET price=excluded.price, time=excluded.time", (symbol, str(price), self.clock()))

    def latest_price(self, symbol: str) -> Decimal | None:
        row = self._db().execute("SELECT price FROM prices WHERE symbol=?", (symbol,)).fetchone()
        return Decimal(row["price"]) if row else None

    def market_open(self) -> bool:
        return True  # the simulator trades around the clock

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
        day = datetime.fromtimestamp(self.clock(), timezone.utc).date().isoformat()
        self._db().execute("INSERT INTO equity_daily (day, equity) VALUES (?,?) ON CONFLICT(day) DO UPDATE "
                           "SET equity=excluded.equity", (day, str(equity)))

    @staticmethod
    def _cash(db: sqlite3.Connection) -> Decimal:
        return Decimal(db.execute("SELECT amount FROM cash WHERE id=1").fetchone()["amount"])

    # -- orders ------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> OrderState:
        """Fill a market order now, or record why not. Idempotent by client_order_id."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            existing = self._order(db, order.client_order_id)
            if existing is None:
                if order.price_hint is not None:
                    self.observe_price(order.symbol, order.price_hint)
                existing = self._execute(db, order)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if existing.status == FILLED:
            self.account()  # keeps the daily equity curve current
        for listener in list(self._listeners):
            listener(existing)  # the same event path as Alpaca's trade stream, in-process
        return existing

    def listen(self, on_update: Callable[[OrderState], None], on_connected: Callable[[], None]) -> "_Listening":
        """Every order this simulator settles is pushed to ``on_update`` as it happens."""
        self._listeners.append(on_update)
        on_connected()
        return _Listening(self._listeners, on_update)

    def _execute(self, db: sqlite3.Connection, order: OrderRequest) -> OrderState:
        price = self.latest_price(order.symbol)
        held = self.position(order.symbol).qty
        qty = order.qty
        reason = ""
        if price is None:
            reason = (f"no price for {order.symbol}: the simulator fills at the alert's price, "
                      "so add \"price\": \"{{close}}\" to the alert")
        elif qty is None:
            qty = (order.notional / price).quantize(QTY_STEP, ROUND_DOWN)
        if not reason:
            signed = qty if order.side == "buy" else -qty
            if held != 0 and (held + signed) * held < 0:
                reason = f"insufficient qty available for order (requested: {qty}, available: {abs(held)})"
            elif held + signed < 0 and held <= 0 and qty != qty.to_integral_value():
                reason = "fractional orders cannot be sold short"
            elif order.side == "buy" and held >= 0 and qty * price > self._cash(db):
                reason = f"insufficient buying power (needs ${qty * price:.2f}, has ${self._cash(db):.2f})"
        broker_id = str(uuid.uuid4())
        if reason:
            state = OrderState(order.client_order_id, broker_id, order.symbol, order.side, REJECTED,
                               order.qty, order.notional, reason=reason)
        else:
            self._fill(db, order, broker_id, qty, price, held)
            state = OrderState(order.client_order_id, broker_id, order.symbol, order.side, FILLED,
                               order.qty, order.notional, filled_qty=qty, filled_avg_price=price)
        db.execute(
            "INSERT INTO orders (client_order_id, broker_order_id, symbol, side, qty, notional, status, filled_qty, "
            "filled_avg_price, reason, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (state.client_order_id, broker_id, order.symbol, order.side, _text(order.qty), _text(order.notional),
             state.status, plain(state.filled_qty), _text(state.filled_avg_price), reason, self.clock()))
        return state

    def _fill(self, db: sqlite3.Connection, order: OrderRequest, broker_id: str, qty: Decimal, price: Decimal,
              held: Decimal) -> None:
        signed = qty if order.side == "buy" else -qty
        row = db.execute("SELECT avg_price FROM positions WHERE symbol=?", (order.symbol,)).fetchone()
        avg = Decimal(row["avg_price"]) if row else ZERO
        new_qty = held + signed
        if held == 0 or (held > 0) == (signed > 0):  # opening or adding: weighted average entry
            avg = (avg * abs(held) + price * qty) / abs(new_qty)
        elif new_qty == 0:
            avg = ZERO
        db.execute("INSERT INTO positions (symbol, qty, avg_price) VALUES (?,?,?) ON CONFLICT(symbol) DO UPDATE "
                   "SET qty=excluded.qty, avg_price=excluded.avg_price", (order.symbol, plain(new_qty), str(avg)))
        db.execute("UPDATE cash SET amount=? WHERE id=1", (str(self._cash(db) - signed * price),))
        db.execute("INSERT INTO fills (time, symbol, side, qty, price, order_id, client_order_id) VALUES (?,?,?,?,?,?,?)",
                   (self.clock(), order.symbol, order.side, plain(qty), plain(price), broker_id, order.client_order_id))

    def _order(self, db: sqlite3.Connection, client_order_id: str) -> OrderState | None:
        row = db.execute("SELECT * FROM orders WHERE client_order_id=?", (client_order_id,)).fetchone()
        if row is None:
            return None
        return OrderState(row["client_order_id"], row["broker_order_id"], row["symbol"], row["side"], row["status"],
                          _dec(row["qty"]), _dec(row["notional"]), Decimal(row["filled_qty"]),
                          _dec(row["filled_avg_price"]), row["reason"])

    def find_order(self, client_order_id: str) -> OrderState | None:
        return self._order(self._db(), client_order_id)

    def orders(self, client_order_ids: Sequence[str]) -> dict[str, OrderState]:
        found = {}
        for cid in client_order_ids:
            state = self._order(self._db(), cid)
            if state is not None:
                found[cid] = state
        return found

    def open_orders(self, symbol: str) -> list[OrderState]:
        return []  # orders fill or fail at once here: none stays open

    def reconcile(self) -> None:
        """Nothing to re-read: the simulator's own database is the truth."""

    def cancel_by_id(self, broker_order_id: str) -> None:
        """Nothing rests in the simulator, so there is nothing of anyone else's to cancel."""

    def cancel(self, client_order_id: str) -> None:
        # Orders fill at once here, so only a never-filled one can be cancelled.
        self._db().execute("UPDATE orders SET status=? WHERE client_order_id=? AND status NOT IN (?,?)",
                           (CANCELED, client_order_id, FILLED, REJECTED))

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


_text = plain


class _Listening:
    """The simulator's stream: always live (it is this process), until stopped."""

    live = True

    def __init__(self, listeners: list, listener: Callable[[OrderState], None]):
        self._listeners, self._listener = listeners, listener

    def stop(self) -> None:
        if self._listener in self._listeners:
            self._listeners.remove(self._listener)
        self.live = False


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
