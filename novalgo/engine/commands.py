"""Commands from a phone, carried out: answers from stored state, actions by the leader.

``Desk.handle`` answers a parsed ``Command``. Its reads (/status, /positions, /pnl, /alerts) come
from the journal, the Config and Settings tabs as last read, and the positions the leader last
read; a web worker answering Slack inside its 3 s never calls Google or Alpaca. The leader's
Telegram bot reads the broker itself, at most every few seconds.

Actions (pause, resume, flatten) are ``Action``s handed to ``act``: in the leader, the
``Switchboard`` carries one out at once; in a web worker, the ``ActionQueue`` journals it and the
leader's loop carries it out within a second. Pause and resume write the sheet (the Settings tab's
``trading``, or the rows' ``active``), so the executor's own rules apply and the sheet shows it.
A flatten queues ordinary CLOSE alerts (source ``chat``), traded with all the executor's rules,
once per command: the key is the chat's own message id, so a repeat after a crash queues nothing.
Every action is also told to the notification channels, so everyone watching sees who did what.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

from novalgo.broker.base import Position
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain import chat
from novalgo.domain.chat import Command
from novalgo.domain.config_rows import ConfigRow, ConfigSnapshot
from novalgo.domain.fifo import match_fifo
from novalgo.domain.guards import AccountGuards
from novalgo.domain.money import plain
from novalgo.domain.notify_messages import scrub
from novalgo.engine.flatten import journal_close
from novalgo.engine.guards import pause_reasons
from novalgo.engine.journal import Journal
from novalgo.errors import NovalgoError
from novalgo.settings import Settings, secret_values
from novalgo.sqlite import ThreadConnections

log = logging.getLogger(__name__)

CHAT = "chat"  # where a webhook's address is journalled: the CLOSEs a chat command queued
POSITIONS_KEY = "chat:positions"  # the leader's last read of the positions, for web workers
ASK_KEY = "chat:flatten-asked:{who}"  # a /flatten waiting for its confirmation
POSITIONS_TTL = 5.0  # seconds one broker read serves the leader's answers
ACTION_MAX_AGE = 300.0  # a queued action the leader finds older than this is not done (it was down)
ACTIONS_KEPT = 7 * 86400.0  # done actions are kept this long (who did what), then deleted
STATUS_WINDOW = 86400.0  # a row's newest status is looked for among the last day's alerts (else the sheet's cell)

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    verb TEXT NOT NULL, symbol TEXT,
    who TEXT NOT NULL,  -- e.g. slack:U012AB3CD
    key TEXT UNIQUE NOT NULL,  -- the chat's id of the message: one action per message
    done_at REAL, result TEXT
);
"""


@dataclass(frozen=True)
class Action:
    verb: str  # pause | resume | flatten
    symbol: str | None
    who: str
    key: str

    def describe(self) -> str:
        """``pause AAPL``, ``pause all entries``, ``flatten everything``."""
        everything = "everything" if self.verb == chat.FLATTEN else "all entries"
        return f"{self.verb} {self.symbol or everything}"


# -- what the answers read -------------------------------------------------------------------


@dataclass
class Readings:
    """Where the answers come from: the leader's live reads, or a web worker's stored ones."""

    config: Callable[[], ConfigSnapshot]
    tab_guards: Callable[[], AccountGuards]
    positions: Callable[[], tuple[list[Position], float | None]]  # and when they were read
    fills: Callable[[], list]


def stored_positions(journal: Journal) -> tuple[list[Position], float | None]:
    """The positions as the leader last read them (meta), and when."""
    raw = journal.get_meta(POSITIONS_KEY)
    if not raw:
        return [], None
    saved = json.loads(raw)
    return [Position(p["symbol"], Decimal(p["qty"]), Decimal(p["avg"]),
                     Decimal(p["value"]) if p.get("value") is not None else None,
                     Decimal(p["upl"]) if p.get("upl") is not None else None) for p in saved["positions"]], saved["at"]


class LeaderPositions:
    """The broker's positions, read at most every ``ttl`` seconds and kept for the web workers."""

    def __init__(self, broker, journal: Journal, clock: Callable[[], float] = SYSTEM_CLOCK, ttl: float = POSITIONS_TTL):
        self.broker, self.journal, self.clock, self.ttl = broker, journal, clock, ttl
        self._read: tuple[list[Position], float] | None = None

    def __call__(self) -> tuple[list[Position], float | None]:
        if self._read is None or self.clock() - self._read[1] >= self.ttl:
            self.refresh()
        return self._read

    def refresh(self) -> None:
        positions = [p for p in self.broker.positions() if p.qty != 0]
        self._read = (positions, self.clock())
        self.journal.set_meta(POSITIONS_KEY, json.dumps({"at": self._read[1], "positions": [
            {"symbol": p.symbol, "qty": plain(p.qty), "avg": plain(p.avg_entry_price),
             "value": plain(p.market_value), "upl": plain(p.unrealized_pl)} for p in positions]}))


# -- the desk ------------------------------------------------------------------------------


class Desk:
    """Answers commands; hands actions to ``act`` (the leader's Switchboard, or the queue)."""

    def __init__(self, journal: Journal, settings: Settings, readings: Readings, act: Callable[[Action], str],
                 clock: Callable[[], float] = SYSTEM_CLOCK):
        self.journal = journal
        self.settings = settings
        self.readings = readings
        self.act = act
        self.clock = clock
        self.secrets = secret_values(settings)

    def handle(self, command: Command, who: str, key: str, may_act: bool = True, prefix: str = "/") -> str:
        """The answer to one command from ``who`` (``telegram:<chat>``, ``slack:<user>``); ``key``
        names the message, so an action is done once per message. Never holds a secret."""
        return scrub(self._answer(command, who, key, may_act, prefix), self.secrets)

    def _answer(self, command: Command, who: str, key: str, may_act: bool, prefix: str) -> str:
        verb = command.verb
        try:
            if verb == chat.HELP:
                return chat.help_text(prefix, command.problem)
            if verb == chat.STATUS:
                return self.status()
            if verb == chat.POSITIONS:
                return self.positions()
            if verb == chat.PNL:
                return self.pnl(command.number or 1)
            if verb == chat.ALERTS:
                return self.alerts(command.number or chat.DEFAULT_ALERTS)
            if not may_act:
                return "Only listed people may pause, resume or flatten. Ask for status any time."
            if verb == chat.FLATTEN:
                return self._flatten(command, who, key, prefix)
            return self.act(Action(verb, command.symbol, who, key))
        except (NovalgoError, OSError, sqlite3.Error) as e:
            log.warning("chat command %s from %s failed: %s", verb, who, e)
            return f"Sorry, I could not answer that now: {e}"
        except Exception as e:  # a bug: said and logged, and the next command is still answered
            log.exception("chat command %s from %s failed", verb, who)
            return f"Sorry, something went wrong ({type(e).__name__}); it is in the log."

    # -- reads ------------------------------------------------------------------------------

    def status(self) -> str:
        now = self.clock()
        snapshot = self.readings.config()
        positions, read_at = self.readings.positions()
        held = {p.symbol: p.qty for p in positions}
        open_orders: dict[str, int] = {}
        for order in self.journal.open_orders():
            open_orders[order["symbol"]] = open_orders.get(order["symbol"], 0) + 1
        newest = {(symbol, minutes): status
                  for symbol, minutes, status, _ in self.journal.latest_row_statuses(now - STATUS_WINDOW)}
        rows = [chat.RowLine(row.label, row.active, newest.get(row.key, row.order_status),
                             held.get(row.symbol, Decimal(0)), open_orders.get(row.symbol, 0))
                for row in snapshot.rows]
        paused = pause_reasons(self.settings.guards, self.readings.tab_guards(), self.journal,
                               datetime.fromtimestamp(now, timezone.utc))
        lines = self._pnl_lines(1)
        return chat.status_text(paused, rows, sum((line.pnl for line in lines), Decimal(0)),
                                sum(line.trades for line in lines), self._as_of(read_at))

    def positions(self) -> str:
        positions, read_at = self.readings.positions()
        return chat.positions_text([chat.Holding(p.symbol, p.qty, p.avg_entry_price, p.market_value, p.unrealized_pl)
                                    for p in positions], self._as_of(read_at))

    def pnl(self, days: int) -> str:
        return chat.pnl_text(days, self._pnl_lines(days))

    def alerts(self, count: int) -> str:
        zone = self.settings.timezone
        return chat.alerts_text([
            chat.AlertLine(datetime.fromtimestamp(a["received_at"], zone), a["action"] or "", a["symbol"] or "",
                           a["row_timeframe"] or a["timeframe"] or "", a["status"], a["reason"] or "",
                           a["source_ip"] if a["source_ip"] and not a["source_ip"][0].isdigit()
                           and ":" not in a["source_ip"] else "")
            for a in self.journal.recent(count)])

    def _pnl_lines(self, days: int) -> list[chat.PnlLine]:
        """Realised P&L of the trades closed since the start of the day ``days - 1`` days ago, by
        the same FIFO (and Alpaca's sell labels) as the Performance tab, over the whole history."""
        zone = self.settings.timezone
        today = datetime.fromtimestamp(self.clock(), zone).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=days - 1)
        lines = []
        for symbol, result in match_fifo(self.readings.fills(), alpaca_sides=True).items():
            trades = [t for t in result.trades if t.closed_at >= start]
            if trades:
                lines.append(chat.PnlLine(symbol, sum((t.pnl for t in trades), Decimal(0)), len(trades),
                                          sum(1 for t in trades if t.pnl > 0)))
        return lines

    def _as_of(self, read_at: float | None) -> str:
        """A line on how old the positions shown are (none when fresh)."""
        if read_at is None:
            return "Positions not read yet: is the bot running?"
        if self.clock() - read_at < 30:
            return ""
        return f"Positions as of {datetime.fromtimestamp(read_at, self.settings.timezone):%H:%M:%S}"

    # -- flatten: asked, then confirmed ------------------------------------------------------

    def _flatten(self, command: Command, who: str, key: str, prefix: str) -> str:
        ask_key = ASK_KEY.format(who=who)
        if not command.confirm:
            self.journal.set_meta(ask_key, json.dumps({"symbol": command.symbol, "at": self.clock()}))
            held = sorted({p.symbol for p in self.readings.positions()[0]}
                          | {o["symbol"] for o in self.journal.open_orders()})
            held = [s for s in held if command.symbol in (None, s)]
            return chat.flatten_question(command.symbol, held, f"{prefix}{chat.FLATTEN} {chat.CONFIRM}")
        asked = json.loads(self.journal.get_meta(ask_key) or "{}")
        if not chat.confirmed_in_time(asked.get("at"), self.clock()):
            return (f"Nothing to confirm: send {prefix}{chat.FLATTEN} first, then {prefix}{chat.FLATTEN} "
                    f"{chat.CONFIRM} within {chat.CONFIRM_WINDOW:.0f} s.")
        if command.symbol and command.symbol != asked.get("symbol"):
            return f"You asked to close {asked.get('symbol') or 'everything'}, not {command.symbol}: nothing done."
        self.journal.set_meta(ask_key, "{}")  # a confirmation is used once
        return self.act(Action(chat.FLATTEN, asked.get("symbol"), who, key))


# -- the leader carries actions out ----------------------------------------------------------


class Switchboard:
    """Pause, resume and flatten, done in the leader (they read and write the sheet and the broker)."""

    def __init__(self, journal: Journal, settings: Settings, sheet, config, tab, broker, notify: Callable[[str], object],
                 wake: Callable[[], None] = lambda: None, clock: Callable[[], float] = SYSTEM_CLOCK):
        self.journal = journal
        self.settings = settings
        self.clock = clock
        self.sheet = sheet
        self.config = config  # the ConfigCache: refreshed at once, so the change is in force now
        self.tab = tab  # the SettingsTabCache (None: no Settings tab cached)
        self.broker = broker
        self.notify = notify  # a notice to every notification channel
        self.wake = wake

    def perform(self, action: Action) -> str:
        """Carry the action out; returns what happened in a few words (also told to the channels)."""
        from novalgo.sheet import switches

        try:
            if action.verb in (chat.PAUSE, chat.RESUME):
                on = action.verb == chat.RESUME
                text = self._row_switch(action.symbol, on) if action.symbol else self._trading(on)
            elif action.verb == chat.FLATTEN:
                text = self._flatten(action)
            else:
                return f"I don't know how to {action.verb}."
        except switches.SheetUnavailable as e:
            text = f"Could not write the sheet, nothing changed: {e}"
        except NovalgoError as e:
            text = f"Could not {action.verb}: {e}"
        except Exception as e:  # a bug must not leave the action to be retried for ever
            log.exception("chat: %s failed", action.describe())
            text = f"Could not {action.verb}: something went wrong ({type(e).__name__}); it is in the log."
        log.info("chat: %s by %s: %s", action.verb, action.who, text)
        try:
            self.notify(f"{text} (from {action.who})")
        except Exception:  # the answer matters more than the notice; the outbox is the journal
            log.exception("chat: the notice of %s could not be queued", action.verb)
        return text

    def _trading(self, on: bool) -> str:
        from novalgo.sheet.switches import set_trading

        set_trading(self.sheet, on)
        if self.tab is not None:
            self.tab.refresh()
        if not on:
            return "Paused: trading is off on the Settings tab. New entries are SKIPPED; closes and exits still go."
        still = pause_reasons(self.settings.guards, self.tab.guards()[0] if self.tab is not None else AccountGuards(),
                              self.journal, datetime.fromtimestamp(self.clock(), timezone.utc))
        if still:
            return "Trading is on again on the Settings tab, but entries stay paused: " + "; ".join(still)
        return "Resumed: trading is on; entries go again."

    def _row_switch(self, symbol: str, on: bool) -> str:
        from novalgo.sheet.switches import set_active

        timeframes = set_active(self.sheet, symbol, on)
        if not timeframes:
            return f"No Config row trades {symbol}: nothing changed."
        self.config.refresh()
        rows = f"{symbol} ({', '.join(t for t in timeframes if t) or 'its row'})"
        if on:
            return f"Resumed {rows}: active again."
        return f"Paused {rows}: active is off, its alerts are INACTIVE until you resume it."

    def _flatten(self, action: Action) -> str:
        held = {p.symbol for p in self.broker.positions() if p.qty != 0}
        held |= {order["symbol"] for order in self.journal.open_orders()}
        targets = sorted(s for s in held if action.symbol in (None, s))
        if not targets:
            return f"Nothing held{' in ' + action.symbol if action.symbol else ''}: nothing to close."
        rows: dict[str, ConfigRow] = {}
        inactive: set[str] = set()
        for row in self.config.snapshot().rows:
            if row.active:
                rows.setdefault(row.symbol, row)
            else:
                inactive.add(row.symbol)
        closing, unmanaged = [], []
        for symbol in targets:
            row = rows.get(symbol)
            if row is None:
                unmanaged.append(symbol)
                continue
            journal_close(self.journal, row, CHAT, f"chat:flatten:{action.key}:{symbol}", f"flatten from {action.who}")
            closing.append(symbol)
        if closing:
            self.wake()
        said = [f"Closing {', '.join(closing)}: a CLOSE each, through the executor."] if closing else []
        if unmanaged:
            paused = [s for s in unmanaged if s in inactive]
            said.append(f"Not closed (no active Config row): {', '.join(unmanaged)}"
                        + (f"; /resume {paused[0]} first, or close it at the broker" if paused else ""))
        return " ".join(said)


# -- a web worker queues actions for the leader ------------------------------------------------


class ActionQueue:
    """Actions asked where they cannot be done (a web worker), kept in the journal's file for the leader."""

    def __init__(self, path: Path, clock: Callable[[], float] = SYSTEM_CLOCK, max_age: float = ACTION_MAX_AGE):
        self._connections = ThreadConnections(Path(path), "synchronous=FULL")
        self._connections.prepare(SCHEMA)
        self.clock = clock
        self.max_age = max_age

    def add(self, action: Action) -> str:
        """Journal the action (once per message); returns what to answer now."""
        db = self._connections.get()
        db.execute("INSERT OR IGNORE INTO chat_actions (created_at, verb, symbol, who, key) VALUES (?,?,?,?,?)",
                   (self.clock(), action.verb, action.symbol, action.who, action.key))
        return f"OK, {action.describe()}: queued, the bot does it within seconds."

    def run_once(self, perform: Callable[[Action], str]) -> int:
        """The leader's loop: carry out what is queued, oldest first; returns how many were done."""
        db = self._connections.get()
        rows = db.execute("SELECT * FROM chat_actions WHERE done_at IS NULL ORDER BY seq").fetchall()
        for row in rows:
            action = Action(row["verb"], row["symbol"], row["who"], row["key"])
            if self.clock() - row["created_at"] > self.max_age:
                result = f"not done: asked {self.clock() - row['created_at']:.0f} s ago, while the bot was away"
                log.warning("chat: %s from %s %s", action.describe(), action.who, result)
            else:
                result = perform(action)
            db.execute("UPDATE chat_actions SET done_at=?, result=? WHERE seq=?", (self.clock(), result, row["seq"]))
        if rows:
            db.execute("DELETE FROM chat_actions WHERE done_at<?", (self.clock() - ACTIONS_KEPT,))
        return len(rows)

    def newest_fill_account(self) -> str | None:
        """The broker account whose fills the journal holds last (the one trading now)."""
        row = self._connections.get().execute("SELECT account FROM fills ORDER BY seq DESC LIMIT 1").fetchone()
        return row["account"] if row else None

    def close(self) -> None:
        self._connections.close()
