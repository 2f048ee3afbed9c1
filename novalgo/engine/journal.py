"""The journal: every accepted alert and every order we meant to send, in SQLite (WAL).

An alert is written here before TradingView gets its 202, and an order is written here
(``planned``, then ``sending``) before it goes to the broker. After a crash the next leader
reads this file to resume: nothing accepted is lost and nothing is sent twice.
Each thread gets its own connection; several gunicorn workers share the file.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from novalgo.broker.base import ORDER_FINAL, STOP_LOSS, TAKE_PROFIT, TRAILING_STOP
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain import statuses
from novalgo.domain.alert_parts import ExitTarget
from novalgo.domain.alerts import Alert
from novalgo.domain.decision import OrderLeg
from novalgo.domain.fifo import Fill
from novalgo.domain.money import plain
from novalgo.domain.row_rules import Distance, parse_distance
from novalgo.engine import outbox
from novalgo.sqlite import BUSY_TIMEOUT_MS, ThreadConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    received_at REAL NOT NULL,
    body_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    source_ip TEXT,
    action TEXT, symbol TEXT, timeframe TEXT, timeframe_minutes INTEGER, price TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    row_timeframe TEXT, row_minutes INTEGER, amount TEXT,
    plan_status TEXT, plan_reason TEXT,
    duplicate_of TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    in_activity INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    started_at REAL, finished_at REAL,
    in_progress INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_by_status ON alerts(status, seq);
CREATE INDEX IF NOT EXISTS alerts_by_hash ON alerts(body_hash, received_at);
CREATE INDEX IF NOT EXISTS alerts_by_symbol ON alerts(symbol, seq);
CREATE INDEX IF NOT EXISTS alerts_for_activity ON alerts(finished_at) WHERE in_activity = 0;
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    leg INTEGER NOT NULL,
    purpose TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
    qty TEXT, notional TEXT, price_hint TEXT,
    state TEXT NOT NULL,
    broker_order_id TEXT, filled_qty TEXT, filled_avg_price TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_alert ON orders(alert_id, leg);
CREATE INDEX IF NOT EXISTS orders_by_symbol ON orders(symbol, state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order the broker listed them in
    account TEXT NOT NULL,  -- the broker account's id: another account's keys start a new history
    activity_id TEXT NOT NULL,
    time TEXT NOT NULL,  -- ISO 8601 UTC, microseconds
    symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL, price TEXT NOT NULL,
    order_id TEXT NOT NULL, client_order_id TEXT,
    UNIQUE (account, activity_id)
);
"""

# Columns added after the first release: files made before get them when opened.
ADDED_COLUMNS = {
    # quantity and exits: what the alert said about size and exits, for rows that defer to it.
    # failures: tries that raised an error nobody foresaw (the dispatcher gives up after a few).
    "alerts": {"in_progress": "INTEGER NOT NULL DEFAULT 0", "quantity": "TEXT", "exits": "TEXT",
               "failures": "INTEGER NOT NULL DEFAULT 0"},
    # details: how the order goes beyond side and size (limit, extended hours, exits), as JSON.
    # account: the broker account that holds the order (an order of another account never blocks this one).
    "orders": {"details": "TEXT", "account": "TEXT"},
}

# Order states in the journal: the broker's normalised states plus our own.
PLANNED = "planned"  # decided, not yet sent
SENDING = "sending"  # handed to the broker; if we crash here, look it up by client_order_id
SUPERSEDED = "superseded"  # never sent: a newer alert for the symbol decided otherwise
VOID = "void"  # never sent: the alert expired first
REPLANNED = "replanned"  # never sent: the position was not as planned, so the rest was planned again
UNKNOWN = "unknown"  # sent and answered, then the broker answered 404 for it: the account was reset or changed
UNKNOWN_REASON = "unknown at the broker: the account was reset or the keys changed"
OPEN_AT_BROKER = ("sending", "pending", "partially_filled")
# The purpose of an order row that records someone else's order we cancelled to clear the way.
CANCELLED_OTHER = "cancelled other"
# A close that ended short (part-filled, then expired or cancelled) and was followed by a new plan.
ENDED_SHORT = "close ended short"
OUR_PREFIX = "nva-"  # every client_order_id we send starts with it
# Exit orders at the broker: a bracket's legs (their ids are the broker's) and our trailing stops.
# They hold the row's shares until they fill or we cancel them; they are not "in flight" for a plan.
EXIT_PURPOSES = (TAKE_PROFIT, STOP_LOSS, TRAILING_STOP)
_NOT_EXIT = f"purpose NOT IN ({','.join(repr(p) for p in EXIT_PURPOSES)})"
# How each order field beyond side and size is kept in an order's details.
_DETAILS = ("order_type", "limit_price", "time_in_force", "extended_hours", "take_profit", "stop_loss",
            "trail_percent", "trail_price", "take_profit_from", "stop_loss_from", "stop_price", "oco")


EAGER_TRY = 0.0005  # seconds between tries for the write lock on the request path
EAGER_FOR = 30.0  # seconds before giving up, as the busy timeout would


def _begin_eagerly(db: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, retried every half millisecond while another connection writes."""
    db.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + EAGER_FOR
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(EAGER_TRY)
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def client_order_id(alert_id: str, leg: int) -> str:
    """The broker-side idempotency key of one leg: the same alert and leg always give the same id."""
    return f"{OUR_PREFIX}{alert_id}-{leg}"


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class Journal:
    def __init__(self, path: Path, sync: str = "full", clock=SYSTEM_CLOCK, checkpoints: bool = True):
        """``checkpoints=False`` for the request path: WAL checkpoints then run in the background
        (the leader commits every second), never inside a webhook's answer."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        # FULL: a 202 means the alert survives a power cut, not only a crash.
        pragmas = [f"synchronous={'FULL' if sync == 'full' else 'NORMAL'}"]
        if not checkpoints:
            pragmas.append("wal_autocheckpoint=0")
        # The request path takes the write lock the moment the leader lets it go, instead of
        # SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25 ms… between tries: a webhook's
        # ack waiting behind the executor's bookkeeping waits for its commits, not for a backoff.
        self._eager = not checkpoints
        self._connections = ThreadConnections(self.path, *pragmas)
        # The broker account trading now (set once known): orders journalled under another account
        # are history, not open orders of this one. Orders from before accounts were kept still count.
        self.account: str | None = None
        self._connections.prepare(SCHEMA + outbox.SCHEMA, ADDED_COLUMNS)

    # -- connections -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        if self._eager:
            _begin_eagerly(db)
        else:
            db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        self._connections.close()

    # -- the request path: one transaction per alert ----------------------------------

    def add(self, alert: Alert, stored_body: str, source_ip: str | None, dedupe_window: float) -> tuple[str, str, str | None]:
        """Record an accepted alert. Returns (alert id, status, id of the alert it duplicates).

        TradingView re-sends a delivery it thinks failed (a slow answer, a 502 while gunicorn
        restarts), 5 s apart, up to 3 times. So a body is DUPLICATE, and never traded, when it
        repeats the newest alert for its symbol and that alert (or the first delivery it repeats)
        arrived within ``dedupe_window`` seconds. Whether the first has been traded yet does not
        matter: a re-delivery is the same signal. Any other alert for the symbol in between (BUY,
        SELL, BUY) means the repeat is a new signal, decided like any other.
        """
        now = self.clock()
        digest = body_hash(stored_body)
        alert_id = secrets.token_hex(8)
        with self._tx() as db:
            original = self._redelivered(db, alert.symbol, digest, now - dedupe_window) if dedupe_window > 0 else None
            status = statuses.DUPLICATE if original else statuses.QUEUED
            db.execute(
                "INSERT INTO alerts (id, received_at, body_hash, body, source_ip, action, symbol, timeframe, "
                "timeframe_minutes, price, status, reason, duplicate_of, finished_at, quantity, exits) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (alert_id, now, digest, stored_body, source_ip, alert.action, alert.symbol, alert.timeframe,
                 alert.timeframe_minutes, _text(alert.price), status,
                 f"same body as alert {original} (a re-delivery)" if original else "",
                 original, now if original else None, _text(alert.quantity), _exits_json(alert)),
            )
        return alert_id, status, original

    @staticmethod
    def _redelivered(db: sqlite3.Connection, symbol: str, digest: str, since: float) -> str | None:
        """The id of the first delivery this body repeats, or None if it is a new signal.

        One indexed read inside the request's transaction: the symbol's newest alert, and the
        first delivery it itself repeats. The window counts from that first delivery, so a body
        re-sent again and again does not stay a duplicate for ever.
        """
        newest = db.execute(
            "SELECT a.body_hash, COALESCE(o.id, a.id) AS first_id, COALESCE(o.received_at, a.received_at) AS first_at "
            "FROM alerts a LEFT JOIN alerts o ON o.id = a.duplicate_of WHERE a.symbol=? ORDER BY a.seq DESC LIMIT 1",
            (symbol,)).fetchone()
        if newest is None or newest["body_hash"] != digest or newest["first_at"] < since:
            return None
        return newest["first_id"]

    # -- reading -----------------------------------------------------------------------

    def get(self, alert_id: str) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM alerts WHERE id=?", (alert_id,)).fetchone()
        return self._with_orders([row])[0] if row else None

    def status_of(self, alert_id: str) -> str | None:
        row = self._db().execute("SELECT status FROM alerts WHERE id=?", (alert_id,)).fetchone()
        return row["status"] if row else None

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._db().execute("SELECT * FROM alerts ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return self._with_orders(rows)

    def not_in_activity(self, limit: int = 500) -> list[dict[str, Any]]:
        """Settled alerts not yet written to the Activity tab, in the order they settled."""
        rows = self._db().execute(
            "SELECT * FROM alerts WHERE in_activity=0 AND finished_at IS NOT NULL ORDER BY finished_at, seq LIMIT ?",
            (limit,)).fetchall()
        return self._with_orders(rows)

    def mark_in_activity(self, alert_ids: Sequence[str]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE alerts SET in_activity=1 WHERE id=?", [(i,) for i in alert_ids])

    def _with_orders(self, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
        records = []
        for row in rows:
            record = dict(row)
            record["orders"] = [dict(o) for o in self._db().execute(
                "SELECT * FROM orders WHERE alert_id=? ORDER BY leg", (row["id"],))]
            records.append(record)
        return records

    def queued(self) -> list[sqlite3.Row]:
        """Alerts waiting for the executor, oldest first (including those told to wait a while)."""
        return self._db().execute(
            "SELECT seq, id, symbol, not_before FROM alerts WHERE status=? ORDER BY seq LIMIT 1000",
            (statuses.QUEUED,),
        ).fetchall()

    def queue_depth(self) -> int:
        return self._db().execute(
            "SELECT COUNT(*) FROM alerts WHERE status IN (?,?)", (statuses.QUEUED, statuses.PROCESSING)
        ).fetchone()[0]

    def order(self, cid: str) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM orders WHERE client_order_id=?", (cid,)).fetchone()
        return dict(row) if row else None

    def orders_for(self, alert_id: str) -> list[dict[str, Any]]:
        return [dict(o) for o in self._db().execute(
            "SELECT * FROM orders WHERE alert_id=? ORDER BY leg", (alert_id,))]

    def open_orders(self, symbol: str | None = None, exclude_alert: str | None = None) -> list[dict[str, Any]]:
        """Our orders the broker may still fill (sent, not final), exit orders aside."""
        query = f"SELECT * FROM orders WHERE state IN ({','.join('?' * len(OPEN_AT_BROKER))}) AND {_NOT_EXIT}"
        args: list[Any] = list(OPEN_AT_BROKER)
        query, args = self._this_account(query, args)
        if symbol is not None:
            query += " AND symbol=?"
            args.append(symbol)
        if exclude_alert is not None:
            query += " AND alert_id<>?"
            args.append(exclude_alert)
        return [dict(o) for o in self._db().execute(query, args)]

    def open_exits(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Our exit orders still working at the broker (take-profits, stop-losses, trailing stops)."""
        query = (f"SELECT * FROM orders WHERE state IN ({','.join('?' * len(OPEN_AT_BROKER))}) "
                 f"AND purpose IN ({','.join('?' * len(EXIT_PURPOSES))})")
        args: list[Any] = [*OPEN_AT_BROKER, *EXIT_PURPOSES]
        query, args = self._this_account(query, args)
        if symbol is not None:
            query += " AND symbol=?"
            args.append(symbol)
        return [dict(o) for o in self._db().execute(query, args)]

    def _this_account(self, query: str, args: list[Any]) -> tuple[str, list[Any]]:
        if self.account is None:
            return query, args
        return query + " AND (account IS NULL OR account=?)", [*args, self.account]

    def alerts_waiting_on_broker(self) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT * FROM alerts WHERE status=? ORDER BY seq", (statuses.ORDER_SUBMITTED,)).fetchall()
        return self._with_orders(rows)

    def rows_for_orders(self, client_order_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """client_order_id → (symbol, Time Frame) of the Config row whose alert placed it."""
        ids = list(client_order_ids)
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self._db().execute(
                f"SELECT o.client_order_id, a.symbol, a.row_timeframe FROM orders o JOIN alerts a ON a.id=o.alert_id "
                f"WHERE o.client_order_id IN ({','.join('?' * len(chunk))})", chunk):
                if row["row_timeframe"]:
                    found[row["client_order_id"]] = (row["symbol"], row["row_timeframe"])
        return found

    def latest_row_statuses(self, since: float) -> list[tuple[str, int, str, float]]:
        """The newest sheet status per Config row among alerts settled since a time."""
        rows = self._db().execute(
            "SELECT symbol, row_minutes, status, finished_at FROM alerts WHERE row_minutes IS NOT NULL "
            "AND finished_at>=? ORDER BY seq", (since,)).fetchall()
        latest: dict[tuple[str, int], tuple[str, int, str, float]] = {}
        for row in rows:
            if row["status"] in statuses.SHEET_STATUSES:
                latest[(row["symbol"], row["row_minutes"])] = (row["symbol"], row["row_minutes"], row["status"], row["finished_at"])
        for row in self._db().execute(
                "SELECT symbol, row_minutes, status, started_at FROM alerts WHERE status=? AND row_minutes IS NOT NULL",
                (statuses.ORDER_SUBMITTED,)):
            latest[(row["symbol"], row["row_minutes"])] = (row["symbol"], row["row_minutes"], row["status"], row["started_at"])
        return list(latest.values())

    # -- the executor's writes ---------------------------------------------------------

    def claim(self, alert_id: str) -> bool:
        """QUEUED → PROCESSING; False if someone else took it or it is no longer queued."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE alerts SET status=?, started_at=COALESCE(started_at, ?), attempts=attempts+1 "
                "WHERE id=? AND status=?",
                (statuses.PROCESSING, self.clock(), alert_id, statuses.QUEUED))
        return cursor.rowcount == 1

    def requeue(self, alert_id: str, reason: str = "", delay: float = 0.0, only_from: str | None = None) -> None:
        """Back to the queue; with ``only_from``, only if the alert is still in that status (the
        tracker must not revive an alert that a newer one settled meanwhile)."""
        query = "UPDATE alerts SET status=?, reason=?, not_before=? WHERE id=?"
        args: list[Any] = [statuses.QUEUED, reason, self.clock() + delay, alert_id]
        if only_from is not None:
            query += " AND status=?"
            args.append(only_from)
        with self._tx() as db:
            db.execute(query, args)

    def record_failure(self, alert_id: str) -> int:
        """One more try of the alert ended in an unforeseen error; returns how many have."""
        with self._tx() as db:
            db.execute("UPDATE alerts SET failures=failures+1 WHERE id=?", (alert_id,))
            return db.execute("SELECT failures FROM alerts WHERE id=?", (alert_id,)).fetchone()[0]

    def resume_interrupted(self) -> int:
        """After a crash or a leader change: alerts left PROCESSING go back to the queue."""
        with self._tx() as db:
            cursor = db.execute("UPDATE alerts SET status=? WHERE status=?", (statuses.QUEUED, statuses.PROCESSING))
        return cursor.rowcount

    def set_row(self, alert_id: str, row_timeframe: str, row_minutes: int, amount: Decimal) -> None:
        with self._tx() as db:
            db.execute("UPDATE alerts SET row_timeframe=?, row_minutes=?, amount=? WHERE id=?",
                       (row_timeframe, row_minutes, _text(amount), alert_id))

    def plan(self, alert_id: str, symbol: str, legs: Sequence[OrderLeg], price_hint: Decimal | None,
             plan_status: str, plan_reason: str) -> list[str]:
        """Write the legs as PLANNED orders (intent before action); returns their client ids."""
        now = self.clock()
        with self._tx() as db:
            first = db.execute("SELECT COALESCE(MAX(leg), -1) + 1 FROM orders WHERE alert_id=?", (alert_id,)).fetchone()[0]
            ids = []
            for offset, leg in enumerate(legs):
                cid = client_order_id(alert_id, first + offset)
                ids.append(cid)
                db.execute(
                    "INSERT INTO orders (client_order_id, alert_id, leg, purpose, symbol, side, qty, notional, "
                    "price_hint, state, created_at, updated_at, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (cid, alert_id, first + offset, leg.purpose, symbol, leg.side, _text(leg.qty),
                     _text(leg.notional), _text(price_hint), PLANNED, now, now, _details_json(leg)))
            db.execute("UPDATE alerts SET plan_status=?, plan_reason=? WHERE id=?", (plan_status, plan_reason, alert_id))
        return ids

    def update_order(self, cid: str, **changes: Any) -> None:
        changes = {k: _text(v) for k, v in changes.items()}
        changes["updated_at"] = self.clock()
        assignments = ", ".join(f"{key}=?" for key in changes)
        with self._tx() as db:
            db.execute(f"UPDATE orders SET {assignments} WHERE client_order_id=?", (*changes.values(), cid))

    def record_broker_state(self, cid: str, state: Any) -> bool:
        """What the broker says of one of our orders (an OrderState), only ever moving it forward.

        Two sources report the same order, the trade stream and our own REST answers, and either
        may arrive late: a "pending" answer read before the fill must not undo the stream's
        "filled". A broker-final state stays; a working state never lowers what has filled.
        Returns whether anything changed.
        """
        with self._tx() as db:
            row = db.execute("SELECT state, filled_qty FROM orders WHERE client_order_id=?", (cid,)).fetchone()
            if row is None or row["state"] in ORDER_FINAL:
                return False
            filled = Decimal(row["filled_qty"] or 0)
            if state.status not in ORDER_FINAL and state.filled_qty < filled:
                return False
            db.execute("UPDATE orders SET state=?, broker_order_id=COALESCE(?, broker_order_id), filled_qty=?, "
                       "filled_avg_price=?, reason=?, updated_at=? WHERE client_order_id=?",
                       (state.status, state.broker_order_id or None, _text(state.filled_qty),
                        _text(state.filled_avg_price), state.reason, self.clock(), cid))
        return True

    def drop_unsent(self, symbol: str, exclude_alert: str, state: str) -> list[str]:
        """Mark other alerts' never-sent legs on a symbol SUPERSEDED or VOID; returns their alert ids."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT DISTINCT alert_id FROM orders WHERE symbol=? AND state=? AND alert_id<>?",
                (symbol, PLANNED, exclude_alert)).fetchall()
            db.execute("UPDATE orders SET state=?, updated_at=? WHERE symbol=? AND state=? AND alert_id<>?",
                       (state, self.clock(), symbol, PLANNED, exclude_alert))
        return [row["alert_id"] for row in rows]

    def mark_in_progress(self, alert_id: str) -> None:
        """The plan has begun (an order sent, or a wait for another started): it finishes, however old."""
        with self._tx() as db:
            db.execute("UPDATE alerts SET in_progress=1 WHERE id=?", (alert_id,))

    def record_cancelled_other(self, alert_id: str, order: Any) -> None:
        """Someone else's order (an OrderState) we cancelled for this alert, shown with its orders."""
        now = self.clock()
        with self._tx() as db:
            leg = db.execute("SELECT COALESCE(MAX(leg), -1) + 1 FROM orders WHERE alert_id=?", (alert_id,)).fetchone()[0]
            db.execute(
                "INSERT OR IGNORE INTO orders (client_order_id, alert_id, leg, purpose, symbol, side, qty, notional, "
                "state, broker_order_id, filled_qty, reason, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (order.client_order_id or f"other-{order.broker_order_id}", alert_id, leg, CANCELLED_OTHER,
                 order.symbol, order.side, _text(order.qty), _text(order.notional), "canceled", order.broker_order_id,
                 _text(order.filled_qty), f"cancelled to clear the way: {order.description}", now, now))

    def record_exits(self, alert_id: str, parent_cid: str, legs: Sequence[Any]) -> None:
        """A bracket's or OTO's exit orders (OrderStates, as the broker made them), kept with the
        alert that placed them so their fills are credited to its row. Recording again is harmless:
        an entry has one exit of each kind, even after one was moved to a new order (moved_exit)."""
        now = self.clock()
        with self._tx() as db:
            for state in legs:
                purpose = TAKE_PROFIT if state.order_type == "limit" else STOP_LOSS
                if db.execute("SELECT 1 FROM orders WHERE alert_id=? AND purpose=? AND "
                              "json_extract(details, '$.parent')=?", (alert_id, purpose, parent_cid)).fetchone():
                    continue
                leg = db.execute("SELECT COALESCE(MAX(leg), -1) + 1 FROM orders WHERE alert_id=?",
                                 (alert_id,)).fetchone()[0]
                details = {"order_type": state.order_type, "limit_price": _text(state.limit_price),
                           "stop_price": _text(state.stop_price), "time_in_force": "gtc", "parent": parent_cid}
                db.execute(
                    "INSERT OR IGNORE INTO orders (client_order_id, alert_id, leg, purpose, symbol, side, qty, state, "
                    "broker_order_id, filled_qty, reason, created_at, updated_at, details) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (state.client_order_id, alert_id, leg, purpose, state.symbol, state.side, _text(state.qty),
                     state.status, state.broker_order_id, _text(state.filled_qty), "", now, now,
                     json.dumps({k: v for k, v in details.items() if v is not None})))

    def moved_exit(self, cid: str, moved: Any) -> None:
        """An exit order the broker replaced at a new price (an OrderState, under its new id)."""
        with self._tx() as db:
            row = db.execute("SELECT details FROM orders WHERE client_order_id=?", (cid,)).fetchone()
            if row is None:
                return
            details = json.loads(row["details"] or "{}")
            details.update(limit_price=_text(moved.limit_price), stop_price=_text(moved.stop_price))
            db.execute("UPDATE orders SET client_order_id=?, broker_order_id=?, details=?, updated_at=? "
                       "WHERE client_order_id=?", (moved.client_order_id, moved.broker_order_id,
                                                  json.dumps({k: v for k, v in details.items() if v is not None}),
                                                  self.clock(), cid))

    def record_exit_outcome(self, cid: str, status: str, reason: str) -> str | None:
        """An exit order filled: its own settled alert record (for the row, Activity and /alerts),
        which takes the order over so its qty and price show there. Returns the record's id, or
        None when it was recorded before."""
        now = self.clock()
        with self._tx() as db:
            order = db.execute("SELECT * FROM orders WHERE client_order_id=?", (cid,)).fetchone()
            if order is None:
                return None
            parent = db.execute("SELECT * FROM alerts WHERE id=?", (order["alert_id"],)).fetchone()
            if parent is None or parent["source_ip"] == EXIT_SOURCE:
                return None  # already recorded: the order belongs to its exit record
            exit_id = secrets.token_hex(8)
            body = json.dumps({"exit": order["purpose"], "order": cid, "alert": parent["id"]})
            db.execute(
                "INSERT INTO alerts (id, received_at, body_hash, body, source_ip, action, symbol, timeframe, "
                "timeframe_minutes, price, status, reason, row_timeframe, row_minutes, amount, started_at, finished_at, "
                "in_progress) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
                (exit_id, now, body_hash(body), body, EXIT_SOURCE, order["side"], order["symbol"],
                 parent["timeframe"], parent["timeframe_minutes"], order["filled_avg_price"], status, reason,
                 parent["row_timeframe"], parent["row_minutes"], parent["amount"], now, now))
            db.execute("UPDATE orders SET alert_id=?, updated_at=? WHERE client_order_id=?", (exit_id, now, cid))
            outbox.record_outcome(db, exit_id, status, reason, now)  # a trade: notified like one
        return exit_id

    def set_status(self, alert_id: str, status: str, reason: str = "") -> None:
        with self._tx() as db:
            db.execute("UPDATE alerts SET status=?, reason=? WHERE id=?", (status, reason, alert_id))

    def finish(self, alert_id: str, status: str, reason: str = "") -> None:
        """The alert's final status, and its notice in the outbox, in one transaction."""
        now = self.clock()
        with self._tx() as db:
            db.execute("UPDATE alerts SET status=?, reason=?, finished_at=? WHERE id=?",
                       (status, reason, now, alert_id))
            outbox.record_outcome(db, alert_id, status, reason, now)

    # -- the account's fill history (the Performance tab matches over all of it) ---------

    def add_fills(self, account: str, fills: Sequence[Fill]) -> int:
        """Store fills in the order given (oldest first); one already stored is skipped. Returns how many were new."""
        with self._tx() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO fills (account, activity_id, time, symbol, side, qty, price, order_id, "
                "client_order_id) VALUES (?,?,?,?,?,?,?,?,?)",
                [(account, f.activity_id, f.time.astimezone(timezone.utc).isoformat(timespec="microseconds"),
                  f.symbol, f.side, plain(f.qty), plain(f.price), f.order_id, f.client_order_id) for f in fills])
            return db.total_changes - before

    def last_fill_id(self, account: str) -> str | None:
        """The activity id of the newest stored fill: the next read starts after it."""
        row = self._db().execute("SELECT activity_id FROM fills WHERE account=? ORDER BY seq DESC LIMIT 1",
                                 (account,)).fetchone()
        return row["activity_id"] if row else None

    def fills(self, account: str) -> list[Fill]:
        """Every stored fill of the account, oldest first."""
        rows = self._db().execute("SELECT * FROM fills WHERE account=? ORDER BY time, seq", (account,)).fetchall()
        return [Fill(datetime.fromisoformat(row["time"]), row["symbol"], row["side"], Decimal(row["qty"]),
                     Decimal(row["price"]), row["order_id"], row["client_order_id"], row["activity_id"])
                for row in rows]

    # -- meta: heartbeat and cursors --------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def beat(self) -> None:
        self.set_meta("executor_heartbeat", f"{self.clock():.3f}")

    def heartbeat(self) -> float | None:
        value = self.get_meta("executor_heartbeat")
        return float(value) if value else None

    # -- guard rails: alerts the leader makes itself, once; the day's entries ----------------

    def add_once(self, key: str, alert: Alert, stored_body: str, source: str) -> str | None:
        """Queue an alert the leader makes itself (a scheduled or guard CLOSE) at most once per
        ``key``, across restarts and workers: the key and the alert are one transaction.
        ``source`` is kept where a webhook's address goes. Returns its id, or None if done before."""
        now = self.clock()
        alert_id = secrets.token_hex(8)
        with self._tx() as db:
            if db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?,?)", (key, alert_id)).rowcount == 0:
                return None
            db.execute(
                "INSERT INTO alerts (id, received_at, body_hash, body, source_ip, action, symbol, timeframe, "
                "timeframe_minutes, price, status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (alert_id, now, body_hash(stored_body), stored_body, source, alert.action, alert.symbol,
                 alert.timeframe, alert.timeframe_minutes, _text(alert.price), statuses.QUEUED))
        return alert_id

    def set_meta_once(self, key: str, value: str) -> bool:
        """Store ``key`` unless it is there already; True if this call stored it."""
        with self._tx() as db:
            return db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?,?)", (key, value)).rowcount == 1

    def entries_since(self, symbol: str, row_minutes: int, since: float) -> int:
        """Alerts of one Config row since a time whose opening order went to the broker and did not
        end unfilled (an entry that was refused or cancelled empty is not a trade)."""
        return self._db().execute(
            "SELECT COUNT(DISTINCT a.id) FROM alerts a JOIN orders o ON o.alert_id = a.id "
            "WHERE a.symbol=? AND a.row_minutes=? AND o.purpose='open' AND o.created_at>=? "
            f"AND (o.state IN ({','.join('?' * len(OPEN_AT_BROKER))}) OR CAST(o.filled_qty AS REAL) > 0)",
            (symbol, row_minutes, since, *OPEN_AT_BROKER)).fetchone()[0]

    # -- reads for the reports (analytics' threshold check): read-only, a block of their own --

    def failed_since(self, since: float) -> list[FailedAlert]:
        """Alerts that ended FAILED at or after ``since`` (epoch seconds), oldest first."""
        rows = self._db().execute("SELECT id, symbol, reason, finished_at FROM alerts WHERE status=? "
                                  "AND finished_at>=? ORDER BY finished_at", (statuses.FAILED, since)).fetchall()
        return [FailedAlert(str(r["id"]), r["symbol"] or "?", r["reason"] or "", float(r["finished_at"]))
                for r in rows]


EXIT_SOURCE = "exit"  # the source of an exit's own alert record (where a webhook's IP would be)


def alert_of(record: dict[str, Any]) -> Alert:
    """The alert as it was read, from its journal record."""
    exits = json.loads(record.get("exits") or "{}")

    def target(name: str) -> ExitTarget | None:
        value = exits.get(name)
        return ExitTarget(value["kind"], Decimal(value["value"])) if value else None

    return Alert(record["action"], record["symbol"], record["timeframe"], record["timeframe_minutes"],
                 Decimal(record["price"]) if record["price"] else None,
                 Decimal(record["quantity"]) if record.get("quantity") else None,
                 target("take_profit"), target("stop_loss"))


def order_details(order: dict[str, Any]) -> dict[str, Any]:
    """An order row's details: order type, prices and time in force, as written when planned."""
    details = json.loads(order.get("details") or "{}")
    for key in ("limit_price", "take_profit", "stop_loss", "trail_percent", "trail_price", "stop_price"):
        if details.get(key) is not None:
            details[key] = Decimal(details[key])
    for key in ("take_profit_from", "stop_loss_from"):
        if details.get(key):
            details[key] = parse_distance(details[key])
    return details


def _exits_json(alert: Alert) -> str | None:
    exits = {name: {"kind": target.kind, "value": plain(target.value)}
             for name, target in (("take_profit", alert.take_profit), ("stop_loss", alert.stop_loss)) if target}
    return json.dumps(exits) if exits else None


def _details_json(leg: OrderLeg) -> str | None:
    details = {name: getattr(leg, name) for name in _DETAILS}
    if details["order_type"] == "market" and details["time_in_force"] == "day" and not any(
            value for name, value in details.items() if name not in ("order_type", "time_in_force")):
        return None  # a plain market order, as every order was before
    return json.dumps({k: (plain(v) if isinstance(v, Decimal) else v.text if isinstance(v, Distance) else v)
                       for k, v in details.items() if v is not None and not (k == "oco" and not v)})


def _text(value: Any) -> str | None:
    if isinstance(value, Decimal):
        return plain(value)
    return None if value is None else str(value)


# -- the journal read by another process (the analytics cron job) ---------------------------------


@dataclass(frozen=True)
class FailedAlert:
    alert_id: str
    symbol: str
    reason: str
    finished_at: float  # epoch seconds


class ReadOnlyJournal(Journal):
    """The service's journal opened by another process: never created, migrated or written
    (SQLite's read-only mode refuses any write), read through the Journal's own readers."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.clock = SYSTEM_CLOCK  # reads only: nothing here stamps a time
        self.account = None
        self._eager = False  # a write is refused by SQLite itself (mode=ro), not raced for
        self._connections = _ReadOnlyConnection(self.path)


class _ReadOnlyConnection:
    """One ``mode=ro`` connection, in the shape of ThreadConnections (get, close)."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5,
                                   isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row

    def get(self) -> sqlite3.Connection:
        return self._db

    def close(self) -> None:
        self._db.close()
