"""A clock the test sets by hand: pass it where the code takes ``clock=time.time``."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Pass as ``sleep=``: waiting moves this clock on instead of the wall clock's time passing."""
        self.now += seconds
