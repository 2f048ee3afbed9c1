"""The notifications outbox: notices written to the journal's file, sent by the leader.

An alert's outcome goes into the ``outbox`` table in the same transaction as its final status
(``Journal.finish``), so a notice exists exactly when the outcome does, across any crash. Other
happenings (a guard trip, a restart, an outage) go in through ``Outbox.add_event``.

Each channel has its own leader thread and its own cursor (``outbox_delivered``: every notice
up to ``through_seq`` has been sent to it or is not for its level), so a channel that is down
only falls behind: it delays no order and no other channel, loses nothing, and after a restart
carries on from its cursor. A burst shares one message: a channel sends at most once every
``NOVALGO_NOTIFY_EVERY`` seconds, listing every notice since its last message (as many as fit).
A failed send waits (the service's ``retry_after`` on a rate limit, else an exponential
backoff) and tries the same notices again.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable

from novalgo import channels as wire
from novalgo.channels import Channel, configured_channels
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.money import plain
from novalgo.domain.notify_messages import ALL, FAILURES, TRADES, level_of, outcome_line, pack, scrub, wanted
from novalgo.settings import NotifySettings, Settings, secret_values
from novalgo.sqlite import ThreadConnections

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    kind TEXT NOT NULL,  -- 'outcome' (an alert settled), or an event's kind: guard, restart, outage, …
    level TEXT NOT NULL,  -- trades | failures | all: the narrowest channel level that wants it
    alert_id TEXT,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_delivered (
    channel TEXT PRIMARY KEY,
    through_seq INTEGER NOT NULL,  -- every notice up to this one was sent to the channel (or is not for it)
    updated_at REAL NOT NULL
);
"""

BACKOFF = (2.0, 300.0)  # seconds: the first wait after a failure, doubling up to the second
NEW_CHANNEL_BACKLOG = 3600.0  # a channel seen for the first time gets the last hour's notices
KEEP = 7 * 86400.0  # notices every channel has passed are deleted after a week
BATCH = 500  # notices read per attempt; more wait for the next message
# The journal's purpose for a row recording someone else's order we cancelled: not our trade.
CANCELLED_OTHER = "cancelled other"


# -- writing, inside the caller's transaction ------------------------------------------------


def record_outcome(db: sqlite3.Connection, alert_id: str, status: str, reason: str, now: float) -> None:
    """One notice for an alert's final status; call inside the transaction that writes it."""
    alert = db.execute("SELECT symbol, timeframe, row_timeframe, action, price FROM alerts WHERE id=?",
                       (alert_id,)).fetchone()
    if alert is None:
        return
    orders = db.execute("SELECT qty, notional, filled_qty, filled_avg_price FROM orders "
                        "WHERE alert_id=? AND purpose<>? ORDER BY leg", (alert_id, CANCELLED_OTHER)).fetchall()
    qty, price = _qty_and_price(orders, alert["price"])
    text = outcome_line(alert["symbol"], alert["row_timeframe"] or alert["timeframe"], alert["action"], status,
                        qty, price, reason)
    db.execute("INSERT INTO outbox (created_at, kind, level, alert_id, text) VALUES (?,?,?,?,?)",
               (now, "outcome", level_of(status), alert_id, text))


def record_event(db: sqlite3.Connection, kind: str, text: str, level: str, now: float) -> int:
    """A notice that is not an alert's outcome; returns its sequence number."""
    if level not in (ALL, TRADES, FAILURES):
        raise ValueError(f"level must be one of all, trades, failures, not {level!r}")
    cursor = db.execute("INSERT INTO outbox (created_at, kind, level, text) VALUES (?,?,?,?)",
                        (now, kind, level, text))
    return cursor.lastrowid


def _qty_and_price(orders: list[sqlite3.Row], alert_price: str | None) -> tuple[str | None, str | None]:
    """What the last leg that filled did; if none filled, what was planned at the alert's price."""
    for order in reversed(orders):
        if _number(order["filled_qty"]):
            return plain(_number(order["filled_qty"])), order["filled_avg_price"]
    planned = sum((_number(o["qty"]) or Decimal(0) for o in orders), Decimal(0))
    if planned:
        return plain(planned), alert_price
    notional = sum((_number(o["notional"]) or Decimal(0) for o in orders), Decimal(0))
    return (f"${plain(notional)}" if notional else None), alert_price


def _number(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


# -- the channels: the one registry, in novalgo.channels ------------------------------------


def live_channels(notify: NotifySettings) -> list[Channel]:
    """The configured channels that take live notices (SMS carries reports only)."""
    return [channel for channel in configured_channels(notify) if channel.live]


@dataclass
class _Pace:
    next_try: float = 0.0
    failures: int = 0


# -- the outbox ------------------------------------------------------------------------------


class Outbox:
    """Notices in the journal's file and the leader's senders of them."""

    def __init__(self, path: Path, settings: Settings, *, channels: list[Channel] | None = None,
                 clock=SYSTEM_CLOCK, backoff: tuple[float, float] = BACKOFF):
        self._connections = ThreadConnections(Path(path), "synchronous=NORMAL")
        self._connections.prepare(SCHEMA)
        self.channels = {c.name: c for c in (live_channels(settings.notify) if channels is None else channels)}
        self.every = settings.notify.every
        self.secrets = secret_values(settings)
        self.clock = clock
        self.backoff = backoff
        self._pace = {name: _Pace() for name in self.channels}

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def add_event(self, kind: str, text: str, level: str = FAILURES) -> int:
        """Queue a notice that is not an alert's outcome (a guard trip, a restart, an outage).

        ``level``: ``failures`` (the default) reaches channels at ``failures`` and ``all``,
        ``trades`` those at ``trades`` and ``all``, ``all`` only those at ``all``. Never blocks
        on a channel: the leader's senders deliver it. Returns the notice's sequence number.
        """
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = record_event(db, kind, text, level, self.clock())
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return seq

    def loops(self) -> list[tuple[str, float, Callable[[], object]]]:
        """(thread name, seconds between runs, callable): one sender per channel, and the pruning."""
        tick = min(1.0, self.every / 2)
        found: list[tuple[str, float, Callable[[], object]]] = [
            (f"novalgo-notify-{name}", tick, lambda name=name: self.send_due(name)) for name in self.channels]
        found.append(("novalgo-notify-prune", 3600.0, self.prune))
        return found

    def run_once(self) -> None:
        """Give every channel its turn (tests and ``novalgo notify``; the leader runs one thread each)."""
        for name in self.channels:
            self.send_due(name)

    def send_due(self, name: str) -> bool:
        """Send a channel the notices it has not had, if its pace allows; True if a message went."""
        channel, pace = self.channels[name], self._pace[name]
        now = self.clock()
        if now < pace.next_try:
            return False
        through = self._cursor(name, now)
        rows = self._db().execute("SELECT seq, level, text FROM outbox WHERE seq>? ORDER BY seq LIMIT ?",
                                  (through, BATCH)).fetchall()
        if not rows:
            return False
        mine = [row for row in rows if wanted(channel.level, row["level"])]
        if not mine:
            self._advance(name, rows[-1]["seq"])
            return False
        text, count = pack([scrub(row["text"], self.secrets) for row in mine], channel.limit)
        last = rows[-1]["seq"] if count == len(mine) else mine[count]["seq"] - 1
        try:
            channel.send(scrub(text, self.secrets))
        except Exception as e:  # any failure: this channel waits; nothing else does
            pace.failures += 1
            retry_after = getattr(e, "retry_after", None)
            wait = retry_after if retry_after is not None else min(self.backoff[1], self.backoff[0] * 2 ** (pace.failures - 1))
            pace.next_try = now + wait
            log.warning("notification to %s failed (%s); %d notice(s) wait, next try in %.1fs", name,
                        scrub(f"{type(e).__name__}: {e}" if not isinstance(e, wire.ChannelError) else str(e),
                              self.secrets), count, wait)
            return False
        self._advance(name, last)
        pace.failures = 0
        pace.next_try = now + self.every
        return True

    def pending(self, name: str) -> int:
        """Notices a channel has not had (counting those not for its level)."""
        return self._db().execute("SELECT COUNT(*) FROM outbox WHERE seq>?",
                                  (self._cursor(name, self.clock()),)).fetchone()[0]

    def prune(self) -> int:
        """Delete notices older than a week that every configured channel has passed."""
        db = self._db()
        cursors = [self._cursor(name, self.clock()) for name in self.channels]
        below = min(cursors) if cursors else None
        query, args = "DELETE FROM outbox WHERE created_at<?", [self.clock() - KEEP]
        if below is not None:
            query += " AND seq<=?"
            args.append(below)
        return db.execute(query, args).rowcount

    def _cursor(self, name: str, now: float) -> int:
        db = self._db()
        row = db.execute("SELECT through_seq FROM outbox_delivered WHERE channel=?", (name,)).fetchone()
        if row is not None:
            return row["through_seq"]
        # A new channel starts with recent notices, not the whole history.
        start = db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox WHERE created_at<?",
                           (now - NEW_CHANNEL_BACKLOG,)).fetchone()[0]
        db.execute("INSERT OR IGNORE INTO outbox_delivered (channel, through_seq, updated_at) VALUES (?,?,?)",
                   (name, start, now))
        return db.execute("SELECT through_seq FROM outbox_delivered WHERE channel=?", (name,)).fetchone()[0]

    def _advance(self, name: str, seq: int) -> None:
        self._db().execute("UPDATE outbox_delivered SET through_seq=MAX(through_seq, ?), updated_at=? WHERE channel=?",
                           (seq, self.clock(), name))

    def close(self) -> None:
        self._connections.close()
