"""The guard rules at their edges: the minute before and after a window, the trade that reaches
the cap, the loss that trips the limit, and what a trader may type in each cell."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from novalgo.domain.config_rows import FLATTEN_AT, MAX_TRADES, TRADING_HOURS
from novalgo.domain.guards import (
    AccountGuards,
    LossLimit,
    Session,
    account_guards,
    effective_flatten,
    exposure_refusal,
    flatten_due,
    hours_refusal,
    loss_tripped,
    parse_flatten_at,
    parse_settings_tab,
    parse_trading_hours,
    positions_refusal,
    row_guards,
    stricter,
    trades_refusal,
    trading_day,
    weekday_session,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def at(hour: int, minute: int, zone=NY, day: int = 4) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=zone)  # Monday 4 May 2026


def regular(moment: datetime) -> Session:
    """The exchange's day of ``moment`` with no holiday or early close in it."""
    return weekday_session(trading_day(moment), "Alpaca's calendar")


@pytest.mark.parametrize("moment, open_", [
    (at(9, 44), False), (at(9, 45), True), (at(15, 29), True), (at(15, 30), False)])
def test_trading_hours_let_entries_in_from_the_first_minute_up_to_the_last(moment, open_):
    guards = row_guards({TRADING_HOURS: "09:45-15:30"})
    reason = hours_refusal(guards, moment, regular(moment))
    assert (reason is None) == open_
    if not open_:
        assert "outside the row's Trading Hours 09:45-15:30 US/Eastern" in reason


def test_trading_hours_are_eastern_whatever_zone_the_moment_is_in():
    guards = row_guards({TRADING_HOURS: "09:45-15:30"})
    assert hours_refusal(guards, at(6, 45, ZoneInfo("America/Los_Angeles")), regular(at(9, 45))) is None  # 09:45 in New York
    assert hours_refusal(guards, at(6, 44, ZoneInfo("America/Los_Angeles")), regular(at(9, 44))) is not None


def test_a_zone_after_the_hours_is_used_and_a_window_may_wrap_midnight():
    london = parse_trading_hours("08:00-16:30 Europe/London")
    assert london.contains(at(8, 0, LONDON)) and not london.contains(at(7, 59, LONDON))
    night = parse_trading_hours("20:00-04:00 UTC")
    assert night.contains(at(23, 0, ZoneInfo("UTC"))) and night.contains(at(3, 59, ZoneInfo("UTC")))
    assert not night.contains(at(4, 0, ZoneInfo("UTC")))


def test_no_entry_after_the_rows_flatten_time_that_day():
    guards = row_guards({FLATTEN_AT: "15:55"})
    assert hours_refusal(guards, at(15, 54), regular(at(15, 54))) is None
    assert "after the row's Flatten At 15:55 US/Eastern" in hours_refusal(guards, at(15, 55), regular(at(15, 55)))
    assert hours_refusal(guards, at(9, 30, day=5), regular(at(9, 30, day=5))) is None  # the next morning


# -- the exchange's calendar (issue 19, items 8 and 9) -----------------------------------------

def ny(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


SATURDAY = date(2026, 12, 12)
THANKSGIVING, BLACK_FRIDAY = date(2026, 11, 26), date(2026, 11, 27)
HOLIDAY = Session(THANKSGIVING, None)
EARLY = Session(BLACK_FRIDAY, ny(BLACK_FRIDAY, 13, 0))  # Alpaca's calendar: close "13:00"


def test_a_saturday_inside_the_rows_hours_is_not_a_trading_day():
    guards = row_guards({TRADING_HOURS: "09:45-15:30"})
    saturday = ny(SATURDAY, 10, 0)
    assert hours_refusal(guards, saturday, Session(SATURDAY, None)) == (
        "Saturday 12 Dec is not a trading day (Alpaca's calendar): entries are skipped")


def test_a_holiday_inside_the_rows_hours_is_not_a_trading_day():
    guards = row_guards({TRADING_HOURS: "09:45-15:30"})
    reason = hours_refusal(guards, ny(THANKSGIVING, 10, 0), HOLIDAY)
    assert reason.startswith("Thursday 26 Nov is not a trading day (Alpaca's calendar)")


def test_crypto_has_no_calendar_so_a_saturday_inside_the_hours_goes():
    guards = row_guards({TRADING_HOURS: "09:45-15:30", FLATTEN_AT: "15:55"})
    assert hours_refusal(guards, ny(SATURDAY, 10, 0), None) is None


def test_on_an_early_close_entries_stop_at_1255_not_at_the_rows_flatten_time():
    guards = row_guards({TRADING_HOURS: "09:45-15:30", FLATTEN_AT: "15:55"})
    assert hours_refusal(guards, ny(BLACK_FRIDAY, 12, 50), EARLY) is None
    assert hours_refusal(guards, ny(BLACK_FRIDAY, 12, 54), EARLY) is None
    assert hours_refusal(guards, ny(BLACK_FRIDAY, 12, 58), EARLY) == (
        "the market closes early at 13:00 ET on Friday 27 Nov (Alpaca's calendar): the row is flattened and "
        "entries stopped at 12:55 ET; no new entries until the next trading day")


def test_a_flatten_time_before_the_early_close_still_rules():
    guards = row_guards({FLATTEN_AT: "11:00"})
    assert effective_flatten(guards.flatten_at, EARLY.close, ny(BLACK_FRIDAY, 9, 0)) == ny(BLACK_FRIDAY, 11, 0)
    assert "after the row's Flatten At 11:00" in hours_refusal(guards, ny(BLACK_FRIDAY, 11, 0), EARLY)


def test_trading_hours_end_at_the_close_of_an_early_close_day_even_without_flatten_at():
    guards = row_guards({TRADING_HOURS: "09:45-15:30"})
    assert hours_refusal(guards, ny(BLACK_FRIDAY, 12, 59), EARLY) is None, "no Flatten At: nothing to flatten"
    assert hours_refusal(guards, ny(BLACK_FRIDAY, 13, 0), EARLY) == (
        "after the market's close at 13:00 ET on Friday 27 Nov (Alpaca's calendar): entries are skipped until "
        "the next trading day")
    assert hours_refusal(guards, ny(BLACK_FRIDAY, 13, 0), EARLY, extended_hours=True) is None, \
        "an extended-hours row trades after the close"


def test_without_trading_hours_a_weekend_is_left_to_the_outside_hours_setting():
    """Flatten At alone does not refuse a Saturday: the order waits for Monday and is flattened then."""
    guards = row_guards({FLATTEN_AT: "15:55"})
    assert hours_refusal(guards, ny(SATURDAY, 10, 0), Session(SATURDAY, None)) is None


# Which exchange day a moment belongs to: its US/Eastern date, whatever the row's zone.
MONDAY, TUESDAY = date(2026, 12, 14), date(2026, 12, 15)
UTC = ZoneInfo("UTC")


@pytest.mark.parametrize("hours, moment, session, refused", [
    # Overnight hours on a stock row: the early morning of a trading day is admitted (the order waits
    # for the open); the evening is after that day's close; Saturday's early morning is a Saturday.
    ("20:00-04:00", ny(TUESDAY, 2, 0), weekday_session(TUESDAY), None),
    ("20:00-04:00", ny(MONDAY, 21, 0), weekday_session(MONDAY), "after the market's close at 16:00 ET on Monday 14 Dec"),
    ("20:00-04:00", ny(SATURDAY, 2, 0), weekday_session(SATURDAY), "Saturday 12 Dec is not a trading day"),
    # London hours: 08:00 London on Monday is 03:00 in New York, Monday: admitted.
    ("08:00-16:30 Europe/London", datetime(2026, 12, 14, 8, 0, tzinfo=LONDON), weekday_session(MONDAY), None),
    # Tokyo's Monday morning is Sunday evening in New York: Sunday's session, none.
    ("09:00-15:00 Asia/Tokyo", datetime(2026, 12, 14, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
     weekday_session(date(2026, 12, 13)), "Sunday 13 Dec is not a trading day"),
])
def test_a_moment_belongs_to_the_exchange_day_of_its_eastern_date(hours, moment, session, refused):
    assert trading_day(moment) == session.day
    reason = hours_refusal(row_guards({TRADING_HOURS: hours}), moment, session)
    assert (reason is None) if refused is None else (reason is not None and reason.startswith(refused)), reason


@pytest.mark.parametrize("moment", [ny(BLACK_FRIDAY, h, m) for h, m in
                                    [(9, 30), (12, 54), (12, 55), (12, 58), (13, 0), (15, 54), (15, 55), (23, 59)]])
@pytest.mark.parametrize("close", [EARLY.close, ny(BLACK_FRIDAY, 16, 0), None])
def test_the_flatten_and_the_entry_stop_are_one_time(moment, close):
    """Whenever the schedule would flatten the row, an entry is refused, and never before."""
    guards = row_guards({FLATTEN_AT: "15:55"})
    refused = hours_refusal(guards, moment, Session(BLACK_FRIDAY, close) if close else None) is not None
    assert refused == flatten_due(guards.flatten_at, close, moment)


def test_the_entry_that_reaches_the_cap_goes_and_the_next_is_skipped():
    guards = row_guards({MAX_TRADES: "3"})
    assert trades_refusal(guards, 2) is None
    assert "Max Trades/Day 3 reached (3 entries today" in trades_refusal(guards, 3)
    assert trades_refusal(row_guards({MAX_TRADES: "0"}), 0) is not None


@pytest.mark.parametrize("column, text", [
    (TRADING_HOURS, "9:45 to lunch"), (TRADING_HOURS, "25:00-26:00"), (TRADING_HOURS, "09:45-15:30 Mars/Base"),
    (TRADING_HOURS, "10:00-10:00"), (FLATTEN_AT, "3pm"), (FLATTEN_AT, "15:55 nowhere"), (MAX_TRADES, "two"),
    (MAX_TRADES, "1.5"), (MAX_TRADES, "-1")])
def test_a_cell_that_cannot_be_read_names_its_column(column, text):
    with pytest.raises(ValueError) as refused:
        row_guards({column: text})
    assert str(refused.value).startswith(column)


def test_empty_cells_guard_nothing():
    guards = row_guards({})
    assert not guards.any
    assert hours_refusal(guards, at(3, 0), regular(at(3, 0))) is None and trades_refusal(guards, 99) is None


def test_flatten_at_takes_a_zone():
    flatten = parse_flatten_at("15:55 Europe/London")
    assert flatten.due(at(15, 55, LONDON)) and not flatten.due(at(15, 54, LONDON))
    assert flatten.text == "15:55 Europe/London"


def test_the_trading_day_is_new_york_s():
    late_in_la = datetime(2026, 5, 4, 22, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert str(trading_day(late_in_la)) == "2026-05-05"


@pytest.mark.parametrize("limit, equity, trips", [
    ("500", "99501", False), ("500", "99500", True), ("2%", "98001", False), ("2%", "98000", True)])
def test_the_loss_that_reaches_the_limit_trips_it(limit, equity, trips):
    guards, problems = account_guards({"max daily loss": limit})
    assert problems == []
    sentence = loss_tripped(Decimal(equity), Decimal(100000), guards.loss_limits)
    assert (sentence is not None) == trips
    if trips:
        assert "max daily loss reached" in sentence and "until the next trading day" in sentence


def test_positions_cap_counts_only_new_symbols():
    guards = AccountGuards(max_open_positions=2)
    assert positions_refusal(guards, held=1, opens_new=True) is None
    assert "max open positions 2 reached" in positions_refusal(guards, held=2, opens_new=True)
    assert positions_refusal(guards, held=2, opens_new=False) is None  # adding to one already held


def test_exposure_cap_is_gross_market_value_after_the_entry():
    guards = AccountGuards(max_exposure=Decimal(10000))
    assert exposure_refusal(guards, Decimal(5000), Decimal(5000)) is None
    assert "max exposure $10000 would be passed" in exposure_refusal(guards, Decimal(5000), Decimal("5000.01"))
    assert exposure_refusal(guards, Decimal(10000), None) is not None  # size unknown, already at the cap


def test_the_settings_tab_is_read_by_name_in_any_row_order():
    guards, problems = parse_settings_tab([
        ["Setting", "Value", "What it does"],
        ["Max Exposure", "$50,000", ""], ["trading", "off", ""], ["max_daily_loss", "2%", ""],
        ["Flatten on max loss", "TRUE", ""], ["max open positions", "", ""], ["my own note", "anything"]])
    assert problems == []
    assert guards == AccountGuards(trading=False, max_daily_loss=LossLimit(Decimal(2), True),
                                   flatten_on_max_loss=True, max_exposure=Decimal(50000))


def test_an_unreadable_trading_cell_pauses_rather_than_trades():
    guards, problems = parse_settings_tab([["Setting", "Value"], ["trading", "maybe"]])
    assert guards.paused
    assert problems == ["trading 'maybe' must be on or off: entries are paused until it reads on or off"]


def test_a_bad_limit_is_a_problem_and_leaves_that_limit_unset():
    guards, problems = parse_settings_tab([["Setting", "Value"], ["max daily loss", "lots"], ["trading", "on"]])
    assert guards == AccountGuards(trading=True)
    assert problems == ["max daily loss 'lots' is not dollars (500) or a percent (2%)"]


def test_the_stricter_of_environment_and_sheet_wins():
    env = AccountGuards(trading=True, max_daily_loss=LossLimit(Decimal(500), False), max_open_positions=5)
    tab = AccountGuards(trading=False, max_daily_loss=LossLimit(Decimal(300), False), max_open_positions=8,
                        max_exposure=Decimal(20000))
    merged = stricter(env, tab)
    assert merged.paused
    assert merged.loss_limits == (LossLimit(Decimal(300), False),)
    assert (merged.max_open_positions, merged.max_exposure) == (5, Decimal(20000))
    both = stricter(env, AccountGuards(max_daily_loss=LossLimit(Decimal(1), True)))
    assert both.loss_limits == (LossLimit(Decimal(500), False), LossLimit(Decimal(1), True))
    assert not stricter(AccountGuards(), AccountGuards()).paused
