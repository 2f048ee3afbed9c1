"""An outage is told once after two minutes of failing, and its end once; a blip is not told."""

from __future__ import annotations

from novalgo.engine.outages import ALPACA, SHEET, OutageWatch, source_of
from novalgo.errors import RetryableError, SheetUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_told_after_two_minutes_once_and_its_end_once():
    told: list[tuple[str, str]] = []
    clock = Clock()
    watch = OutageWatch(lambda kind, text: told.append((kind, text)), clock=clock)
    for _ in range(60):  # a tracker failing every 2 s for 119 s
        watch.failed(ALPACA, "could not reach Alpaca")
        clock.now += 119 / 60
    assert told == []
    clock.now += 2
    watch.failed(ALPACA, "could not reach Alpaca")
    watch.failed(ALPACA, "could not reach Alpaca")
    assert told == [("outage", "Alpaca unreachable for 2 min: could not reach Alpaca. Alerts are kept and retried.")]
    clock.now += 60
    watch.ok(ALPACA)
    watch.ok(ALPACA)
    assert told[1:] == [("recovered", "Alpaca reachable again after 3 min")]


def test_a_blip_is_not_told_and_sources_are_apart():
    told: list[tuple[str, str]] = []
    clock = Clock()
    watch = OutageWatch(lambda kind, text: told.append((kind, text)), clock=clock)
    watch.failed(SHEET, "429")
    clock.now += 60
    watch.ok(SHEET)
    clock.now += 100
    watch.failed(SHEET, "429")  # a new outage starts its own two minutes
    watch.failed(ALPACA, "timeout")
    clock.now += 119
    watch.failed(SHEET, "429")
    assert told == []
    assert source_of(SheetUnavailable("x")) == SHEET and source_of(RetryableError("x")) == ALPACA
    assert source_of(ValueError("bug")) is None
