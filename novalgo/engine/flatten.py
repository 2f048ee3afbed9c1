"""Flatten At: the leader closes a day-trading row's position at the row's time, each trading day.

The close is an ordinary CLOSE alert in the journal (source ``schedule``), so it is traded by
the same executor, shown in /alerts and the Activity tab, and resumed after a restart. It is
journalled at most once per row and day: the day's key and the alert are one transaction, so
a restart, a second run or a new leader finds the key and queues nothing more. A row holding
nothing that day is marked done without an alert.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timezone
from typing import Callable, Iterable

from novalgo.broker.base import Broker
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.alerts import CLOSE, Alert
from novalgo.domain.config_rows import FLATTEN_AT, ConfigRow
from novalgo.domain.guards import FlattenAt, flatten_due, parse_flatten_at, trading_day, weekday
from novalgo.domain.symbols import is_crypto
from novalgo.engine.journal import Journal
from novalgo.sheet.cache import ConfigCache

log = logging.getLogger(__name__)

# Where a webhook's address is journalled, alerts the leader makes itself say why they exist.
SCHEDULE, GUARD = "schedule", "guard"
SOURCES = (SCHEDULE, GUARD)
FLATTEN_EVERY = 15.0  # seconds between looks at the rows' Flatten At times
DONE_FLAT = "flat"  # the meta value of a row's day when it held nothing to close


def flatten_key(row: ConfigRow, day: date) -> str:
    return f"flatten:{row.symbol}:{row.timeframe_minutes}:{day.isoformat()}"


def journal_close(journal: Journal, row: ConfigRow, source: str, key: str, why: str) -> str | None:
    """Queue a CLOSE for ``row`` once per ``key``; returns its alert id (None if queued before)."""
    body = json.dumps({"action": CLOSE, "symbol": row.symbol, "timeframe": row.timeframe, "source": source,
                       "reason": why}, sort_keys=True)
    alert = Alert(CLOSE, row.symbol, row.timeframe, row.timeframe_minutes)
    alert_id = journal.add_once(key, alert, body, source)
    if alert_id:
        log.info("%s: CLOSE %s queued (%s)", source, row.label, why)
    return alert_id


class FlattenSchedule:
    """The leader's loop: ``run_once`` every few seconds queues the CLOSEs that are due."""

    def __init__(self, journal: Journal, broker: Broker, config: ConfigCache, clock: Callable[[], float] = SYSTEM_CLOCK,
                 is_trading_day: Callable[[date], bool] = weekday, wake: Callable[[], None] = lambda: None,
                 session_close: Callable[[date], datetime | None] = lambda day: None):
        self.journal = journal
        self.broker = broker
        self.config = config
        self.clock = clock
        # Stocks flatten on exchange days only; crypto trades (and is flattened) every day.
        self.is_trading_day = is_trading_day
        # The day's close from the calendar: on an early close (13:00) a 15:55 flatten comes first.
        self.session_close = session_close
        self.wake = wake
        self._bad_cells: set[str] = set()

    def run_once(self) -> list[str]:
        """Queue the CLOSE of every active row whose Flatten At has passed today; returns their ids."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        due = [(row, at, key) for row, at in self._rows_with_flatten() for key in [flatten_key(row, at.day(now))]
               if self._due(row, at, now) and self._trades_on(row, now) and self.journal.get_meta(key) is None]
        if not due:
            return []
        held = self._held_symbols()  # one broker read, only when a row is due
        queued = []
        for row, at, key in due:
            if row.symbol not in held:
                self.journal.set_meta_once(key, DONE_FLAT)
                continue
            alert_id = journal_close(self.journal, row, SCHEDULE, key, f"Flatten At {at.text}")
            if alert_id:
                queued.append(alert_id)
        if queued:
            self.wake()
        return queued

    def _rows_with_flatten(self) -> Iterable[tuple[ConfigRow, FlattenAt]]:
        for row in self.config.snapshot().active_rows():
            text = row.options.get(FLATTEN_AT, "").strip()
            if not text:
                continue
            try:
                yield row, parse_flatten_at(text)
            except ValueError as e:
                if text not in self._bad_cells:  # once per bad cell, not every pass
                    self._bad_cells.add(text)
                    log.warning("%s: %s; this row is not flattened until it is fixed", row.label, e)

    def _due(self, row: ConfigRow, at: FlattenAt, now: datetime) -> bool:
        """The row's effective flatten time has come: its Flatten At, or a few minutes before an early
        close (a close sent after it would wait for the next open: a position held overnight). The
        domain's one rule, which the entry check uses too: entries stop when the flatten comes."""
        close = None if is_crypto(row.symbol) else self.session_close(trading_day(now))
        return flatten_due(at, close, now)

    def _trades_on(self, row: ConfigRow, now: datetime) -> bool:
        """Stocks by the exchange's day of ``now`` (its US/Eastern date); crypto every day."""
        return is_crypto(row.symbol) or self.is_trading_day(trading_day(now))

    def _held_symbols(self) -> set[str]:
        """Symbols with a position at the broker or an order of ours that may still fill."""
        held = {p.symbol for p in self.broker.positions() if p.qty != 0}
        return held | {order["symbol"] for order in self.journal.open_orders()}
