"""The clock: a pinned one starts where it is told and ticks on; the tests' instant can be chosen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from novalgo.clock import SYSTEM_CLOCK, PinnedClock, parse_instant
from tests.support.clock import DEFAULT_TEST_NOW, TEST_NOW_VARIABLE, pinned_start

NY = ZoneInfo("America/New_York")


def test_a_pinned_clock_starts_at_its_instant_ticks_on_and_can_be_moved():
    start = datetime(2026, 12, 7, 16, 30, tzinfo=NY)
    clock = PinnedClock(start)
    first = clock()
    assert 0 <= first - start.timestamp() < 5
    assert clock() >= first, "it ticks on, never back"
    assert clock.now(NY).replace(microsecond=0, second=0) == start.replace(second=0)
    clock.advance(3600)
    assert clock.now(NY).hour == 17
    clock.set(datetime(2026, 12, 12, 11, 0, tzinfo=NY))
    assert clock.now(NY).date().isoformat() == "2026-12-12"
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 12, 12, 11, 0))  # naive: which 11:00?


def test_the_system_clock_is_the_wall_clock_in_any_zone():
    assert SYSTEM_CLOCK.now().tzinfo is not None
    assert abs(SYSTEM_CLOCK.now(NY) - SYSTEM_CLOCK.now()) < timedelta(seconds=5)


def test_an_instant_needs_its_offset():
    assert parse_instant("2026-11-27T13:30:00-05:00") == datetime(2026, 11, 27, 18, 30, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="offset"):
        parse_instant("2026-11-27T13:30:00")


def test_the_tests_instant_is_pinned_unless_told(monkeypatch):
    monkeypatch.delenv(TEST_NOW_VARIABLE, raising=False)
    assert pinned_start() == parse_instant(DEFAULT_TEST_NOW)
    monkeypatch.setenv(TEST_NOW_VARIABLE, "2026-12-12T11:00:00-05:00")
    assert pinned_start() == datetime(2026, 12, 12, 16, 0, tzinfo=timezone.utc)
    monkeypatch.setenv(TEST_NOW_VARIABLE, "now")
    assert abs(pinned_start() - SYSTEM_CLOCK.now()) < timedelta(seconds=5)


def test_the_fixture_clock_is_where_the_services_read_the_time(clock, services):
    clock.set(datetime(2026, 12, 7, 21, 0, tzinfo=NY))
    assert services.clock.now(NY).hour == 21
    assert services.journal.clock is clock and services.guards.clock is clock and services.executor.clock is clock
