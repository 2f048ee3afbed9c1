"""The exchange's day as the guards and the flatten schedule see it: the broker's calendar, or the
weekday rule while that calendar cannot be read.

Alpaca's adapter caches its calendar (one read covers a month), so asking per entry is cheap. When
the read fails (Alpaca down, a timeout) neither refusing every entry nor letting a holiday through
unmarked is right: the day is taken as Mon-Fri with a 16:00 ET close, the refusal says so, the
failure is logged once per day, and the calendar is asked again after ``RETRY_AFTER`` seconds.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Callable

from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.guards import Session, weekday_session
from novalgo.errors import RetryableError

log = logging.getLogger(__name__)

RETRY_AFTER = 60.0  # seconds the weekday rule stands in before the calendar is read again
SOURCES = {"alpaca": "Alpaca's calendar", "simulated": "the simulator's calendar: Mon-Fri, no holidays"}


class ExchangeDays:
    """``session(day)``: the exchange on that US/Eastern date, from ``session_close``."""

    def __init__(self, session_close: Callable[[date], datetime | None], source: str = "the broker's calendar",
                 clock: Callable[[], float] = SYSTEM_CLOCK):
        self.session_close = session_close
        self.source = source
        self.clock = clock
        self._failed_at: float | None = None
        self._told: set[date] = set()

    @classmethod
    def of(cls, broker, clock: Callable[[], float] = SYSTEM_CLOCK) -> "ExchangeDays":
        return cls(broker.session_close, SOURCES.get(getattr(broker, "kind", ""), "the broker's calendar"), clock)

    def session(self, day: date) -> Session:
        now = self.clock()
        if self._failed_at is None or now - self._failed_at >= RETRY_AFTER:
            try:
                close = self.session_close(day)
            except RetryableError as e:
                self._failed_at = now
                if day not in self._told:
                    self._told.add(day)
                    log.warning("%s could not be read (%s): taking %s as Mon-Fri, 09:30-16:00 ET until it can",
                                self.source, e, day.isoformat())
            else:
                self._failed_at = None
                return Session(day, close, self.source)
        return weekday_session(day, f"weekday rule: {self.source} could not be read")

    def trades_on(self, day: date) -> bool:
        return self.session(day).close is not None
