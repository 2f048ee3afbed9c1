"""Guards at work: what an entry is refused for, what it costs in broker reads, and what a trip does."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from novalgo.broker.base import Account, Position
from novalgo.domain.config_rows import parse_config
from novalgo.domain.decision import CLOSING, OPEN, OrderLeg, OrderPlan
from novalgo.domain.guards import AccountGuards, LossLimit, parse_flatten_at, weekday_session
from novalgo.engine.exchange_days import ExchangeDays
from novalgo.engine.flatten import GUARD, FlattenSchedule
from novalgo.engine.guards import Guards, pause_reasons
from novalgo.sheet.settings_tab import SettingsTabCache
from tests.support.alerts import alert_body, journal_alert, run_queue
from tests.support.clock import Clock

NY = ZoneInfo("America/New_York")
HEADER = ["symbol", "position_size", "active", "Time Frame", "Trading Hours", "Max Trades/Day"]


def eastern(hour: int, minute: int, day: int = 4) -> float:
    return datetime(2026, 5, day, hour, minute, tzinfo=NY).timestamp()


def row(symbol="AAPL", hours="", max_trades=""):
    return parse_config([HEADER, [symbol, "5000", "TRUE", "15 Min", hours, max_trades]]).rows[0]


@dataclass
class StubBroker:
    """Just the account and positions, counting reads."""

    equity: Decimal = Decimal(100000)
    last_equity: Decimal | None = Decimal(100000)
    held: dict[str, Decimal] = field(default_factory=dict)  # symbol → market value
    reads: int = 0

    def account(self):
        self.reads += 1
        return Account("paper", "ACTIVE", self.equity, self.equity, self.equity, last_equity=self.last_equity)

    def positions(self):
        self.reads += 1
        return [Position(s, Decimal(1), market_value=v) for s, v in self.held.items()]

    def session_close(self, day):
        return weekday_session(day).close  # no holidays here: Alpaca's calendar is tested below


def guards_for(services, broker=None, clock=None, tab=None, **env) -> Guards:
    return Guards(services.journal, broker or StubBroker(), services.config, AccountGuards(**env), tab,
                  clock=clock or Clock(eastern(10, 0)))


# -- a row's hours and trades -----------------------------------------------------------------

def test_an_entry_a_minute_outside_the_rows_hours_is_skipped(services):
    clock = Clock(eastern(9, 44))
    guards = guards_for(services, clock=clock)
    aapl = row(hours="09:45-15:30")
    assert "outside the row's Trading Hours 09:45-15:30 US/Eastern (it is 09:44)" in guards.check_entry("AAPL", aapl)
    clock.now = eastern(9, 45)
    assert guards.check_entry("AAPL", aapl) is None
    clock.now = eastern(15, 29)
    assert guards.check_entry("AAPL", aapl) is None
    clock.now = eastern(15, 30)
    assert guards.check_entry("AAPL", aapl) is not None


def test_the_trade_that_reaches_the_days_cap_goes_and_the_next_is_skipped(services):
    guards = guards_for(services, clock=services.clock)  # the journal's clock: "today" is the entries' day
    aapl = row(max_trades="2")
    for action in ("buy", "close"):
        journal_alert(services, alert_body(action, price=200))
    assert run_queue(services) == ["FILLED", "WAITING"]
    assert guards.check_entry("AAPL", aapl) is None, "one entry today: the second may go"
    journal_alert(services, alert_body("buy", price=200))
    run_queue(services)
    reason = guards.check_entry("AAPL", aapl)
    assert "Max Trades/Day 2 reached (2 entries today, US/Eastern)" in reason
    assert guards.check_entry("AAPL", row(max_trades="3")) is None


def test_an_unreadable_guard_cell_raises_naming_the_column(services):
    with pytest.raises(ValueError, match="^Trading Hours"):
        guards_for(services).check_entry("AAPL", row(hours="mornings"))


# -- the pause --------------------------------------------------------------------------------

def test_trading_off_on_the_settings_tab_pauses_entries_and_on_resumes_them(services, settings):
    clock = Clock(0.0)
    tab = SettingsTabCache(services.sheet, ttl=2.0, snapshot_path=None, clock=clock)
    guards = guards_for(services, tab=tab)
    assert guards.check_entry("AAPL", row()) is None
    path = settings.data_dir / "sheet" / "Settings.csv"
    rows = list(csv.reader(open(path)))
    rows[1][1] = "off"
    csv.writer(open(path, "w", newline="")).writerows(rows)
    clock.now += 2
    assert guards.check_entry("AAPL", row()) == "entries are paused: trading is off on the Settings tab"
    rows[1][1] = "on"
    csv.writer(open(path, "w", newline="")).writerows(rows)
    clock.now += 2
    assert guards.check_entry("AAPL", row()) is None


def test_the_environment_can_pause_too(services):
    assert guards_for(services, trading=False).check_entry("AAPL", row()) == \
        "entries are paused: trading is off (NOVALGO_TRADING=off)"


def test_no_account_limit_means_no_broker_read(services):
    broker = StubBroker()
    guards = guards_for(services, broker)
    for _ in range(20):
        assert guards.check_entry("AAPL", row()) is None
    assert guards.watch() is None
    assert broker.reads == 0


# -- the day's loss ---------------------------------------------------------------------------

def test_the_loss_that_reaches_the_limit_trips_once_pauses_the_day_and_is_told_once(services):
    broker = StubBroker(equity=Decimal("99501"))
    clock = Clock(eastern(10, 0))
    told = []
    guards = guards_for(services, broker, clock, max_daily_loss=LossLimit(Decimal(500), False))
    guards.on_trip = told.append
    assert guards.check_entry("AAPL", row()) is None, "down $499: still trading"
    broker.equity = Decimal("99500")
    clock.now += 6  # past the account cache
    reason = guards.check_entry("AAPL", row())
    assert reason.startswith("entries are paused: max daily loss reached: the account is down $500.00 today")
    broker.equity = Decimal(100000)  # a bounce does not undo the day's trip
    clock.now += 6
    assert guards.check_entry("MSFT", row("MSFT")) is not None
    assert guards.watch() is not None
    assert len(told) == 1 and "limit $500" in told[0]
    assert pause_reasons(AccountGuards(), AccountGuards(), services.journal,
                         datetime.fromtimestamp(clock.now, NY))[0].startswith("max daily loss reached")
    clock.now = eastern(9, 30, day=5)
    assert guards.check_entry("AAPL", row()) is None, "the next trading day starts afresh"


def test_the_leaders_watch_trips_the_limit_without_any_alert(services):
    broker = StubBroker(equity=Decimal(97000))
    guards = guards_for(services, broker, max_daily_loss=LossLimit(Decimal(2), True))
    told = []
    guards.on_trip = told.append
    assert "limit 2% = $2,000.00" in guards.watch()
    assert len(told) == 1


def test_without_last_equity_the_first_equity_seen_that_day_is_the_start(services):
    broker = StubBroker(equity=Decimal(50000), last_equity=None)
    clock = Clock(eastern(9, 0))
    guards = guards_for(services, broker, clock, max_daily_loss=LossLimit(Decimal(1000), False))
    assert guards.watch() is None
    broker.equity = Decimal(49000)
    clock.now += 6
    assert guards.watch() is not None


def test_flatten_on_max_loss_queues_one_guard_close_per_held_row(services):
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    journal_alert(services, alert_body("buy", "TSLA", "30", 300))
    assert run_queue(services) == ["FILLED", "FILLED"]
    broker = services.broker
    equity = broker.account().equity
    guards = Guards(services.journal, broker, services.config,
                    AccountGuards(max_daily_loss=LossLimit(Decimal(100), False), flatten_on_max_loss=True),
                    clock=services.clock, account_ttl=0)
    told = []
    guards.on_trip = told.append
    assert guards.watch() is None, "the simulator has no last_equity: the day starts from this equity"
    journal_alert(services, alert_body("buy", "AAPL", "15", 150))
    assert run_queue(services) == ["ALREADY LONG"]  # the simulator marks AAPL down to 150: $1,250 lost
    assert broker.account().equity == equity - 1250
    assert guards.watch() is not None
    closes = [a for a in services.journal.recent(100) if a["source_ip"] == GUARD]
    assert sorted(a["symbol"] for a in closes) == ["AAPL", "TSLA"]
    assert "closing AAPL, TSLA" in told[0]
    assert guards.watch() is not None and len(told) == 1, "told once"
    run_queue(services)
    assert broker.positions() == []


# -- positions and exposure -------------------------------------------------------------------

def test_open_positions_cap_skips_a_new_symbol_but_lets_one_held_add(services):
    broker = StubBroker(held={"AAPL": Decimal(5000), "TSLA": Decimal(3000)})
    guards = guards_for(services, broker, max_open_positions=2)
    assert "max open positions 2 reached (2 open)" in guards.check_entry("MSFT", row("MSFT"), Decimal(1000))
    assert guards.check_entry("AAPL", row(), Decimal(1000)) is None


def test_a_burst_counts_the_entries_let_through_before_the_next_read(services):
    broker = StubBroker()
    guards = guards_for(services, broker, max_open_positions=5, max_exposure=Decimal(10000))
    answers = [guards.check_entry(symbol, row(symbol), Decimal(3000)) for symbol in ("A", "B", "C", "D")]
    assert answers[:3] == [None, None, None]
    assert "max exposure $10000 would be passed ($9,000.00 held + $3,000.00" in answers[3]
    assert broker.reads == 1, "one positions read serves the whole burst (no loss limit: no account read)"


def test_a_flip_replaces_the_symbols_exposure_rather_than_adding_to_it(services):
    broker = StubBroker(held={"AAPL": Decimal(8000)})
    guards = guards_for(services, broker, max_exposure=Decimal(10000))
    flip = OrderPlan((OrderLeg(CLOSING, "sell", qty=Decimal(40)), OrderLeg(OPEN, "sell", qty=Decimal(40))), "FILLED")
    add = OrderPlan((OrderLeg(OPEN, "buy", notional=Decimal(5000)),), "FILLED")
    assert guards.check_plan("AAPL", row(), flip, Decimal(200)) is None
    assert guards.check_plan("AAPL", row(), add, Decimal(200)) is not None
    close = OrderPlan((OrderLeg(CLOSING, "sell", qty=Decimal(40)),), "WAITING")
    assert guards.check_plan("AAPL", row(), close, None) is None, "a close is never refused"


def test_health_says_entries_are_paused_after_a_trip_without_showing_the_accounts_dollars(services, client):
    broker = StubBroker(equity=Decimal(90000))
    guards = Guards(services.journal, broker, services.config, AccountGuards(max_daily_loss=LossLimit(Decimal(500), False)),
                    clock=services.clock)  # the day /health asks about
    guards.on_trip = lambda text: None
    assert "$10,000.00" in guards.watch()
    seen = client.get("/health").get_json()["entries"]
    assert seen == {"paused": True, "why": ["max daily loss reached: entries stop until the next trading day"]}


# -- the exchange's calendar (issue 19, items 8 and 9) ----------------------------------------

CALENDAR_HEADER = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated",
                   "Trading Hours", "Flatten At"]
SATURDAY = datetime(2026, 12, 12, 10, 0, tzinfo=NY)
THANKSGIVING = datetime(2026, 11, 26, 10, 0, tzinfo=NY)
BLACK_FRIDAY = date(2026, 11, 27)  # closes at 13:00


def alpaca_calendar(day):
    """Session closes as Alpaca's calendar gives them for late November 2026."""
    if day == THANKSGIVING.date() or day.weekday() >= 5:
        return None
    return datetime.combine(day, dtime(13, 0) if day == BLACK_FRIDAY else dtime(16, 0), NY)


def trade_at(services, settings, moment: datetime, symbol="AAPL", hours="09:45-15:30", flatten="", price=200):
    """One BUY on a row with the given hours, decided at ``moment`` by Alpaca's calendar; returns the alert."""
    with open(settings.data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([CALENDAR_HEADER, [symbol, "5000", "TRUE", "15 Min", "", "", hours, flatten]])
    services.config.refresh()
    services.guards.clock = Clock(moment.timestamp())
    services.guards.days = ExchangeDays(alpaca_calendar, "Alpaca's calendar", clock=services.guards.clock)
    alert_id = journal_alert(services, alert_body("buy", symbol.replace("/", ""), "15", price))
    run_queue(services)
    return services.journal.get(alert_id)


def test_a_saturday_buy_inside_the_rows_hours_is_skipped_and_nothing_is_sent(services, settings):
    alert = trade_at(services, settings, SATURDAY)
    assert (alert["status"], alert["reason"]) == (
        "SKIPPED", "Saturday 12 Dec is not a trading day (Alpaca's calendar): entries are skipped")
    assert services.broker.open_orders("AAPL") == [] and services.broker.position("AAPL").qty == 0


def test_a_holiday_buy_inside_the_rows_hours_is_skipped(services, settings):
    alert = trade_at(services, settings, THANKSGIVING)
    assert alert["status"] == "SKIPPED"
    assert alert["reason"].startswith("Thursday 26 Nov is not a trading day (Alpaca's calendar)")
    assert services.broker.position("AAPL").qty == 0


def test_on_an_early_close_a_1258_reentry_is_skipped_and_a_1250_one_goes(services, settings):
    late = trade_at(services, settings, datetime(2026, 11, 27, 12, 58, tzinfo=NY), flatten="15:55")
    assert late["status"] == "SKIPPED"
    assert "closes early at 13:00 ET on Friday 27 Nov" in late["reason"]
    assert "entries stopped at 12:55 ET" in late["reason"]
    assert services.broker.position("AAPL").qty == 0
    early = trade_at(services, settings, datetime(2026, 11, 27, 12, 50, tzinfo=NY), flatten="15:55")
    assert early["status"] == "FILLED"


def test_a_crypto_row_trades_on_saturday_inside_its_hours(services, settings):
    alert = trade_at(services, settings, SATURDAY, symbol="BTC/USD", flatten="15:55", price=50000)
    assert alert["status"] == "FILLED"


def test_a_calendar_that_cannot_be_read_falls_back_to_weekdays_and_says_so_once(services, settings, caplog):
    from novalgo.errors import RetryableError

    def down(day):
        raise RetryableError("Alpaca answered 503")

    guards = guards_for(services, clock=Clock(THANKSGIVING.timestamp()))
    guards.days = ExchangeDays(down, "Alpaca's calendar", clock=guards.clock)
    aapl = row(hours="09:45-15:30")
    assert guards.check_entry("AAPL", aapl) is None, "a weekday goes: the holiday is unknown without the calendar"
    guards.clock.now = SATURDAY.timestamp()
    assert guards.check_entry("AAPL", aapl) == ("Saturday 12 Dec is not a trading day (weekday rule: Alpaca's "
                                                "calendar could not be read): entries are skipped")
    assert guards.check_entry("AAPL", aapl) is not None
    said = [r.message for r in caplog.records if "could not be read" in r.message]
    assert len(said) == 2 and "2026-12-12" in said[1], "once per day, not once per entry"


def test_only_a_stock_row_with_hours_or_flatten_at_reads_the_calendar(services):
    asked = []
    guards = guards_for(services, clock=Clock(SATURDAY.timestamp()))
    guards.days = ExchangeDays(lambda day: asked.append(day), "Alpaca's calendar", clock=guards.clock)
    assert guards.check_entry("AAPL", row()) is None
    assert guards.check_entry("BTC/USD", row("BTC/USD", hours="09:45-15:30")) is None
    assert asked == []


@pytest.mark.parametrize("hour, minute", [(9, 30), (12, 50), (12, 54), (12, 55), (12, 58), (13, 0), (15, 54),
                                          (15, 55), (16, 30), (23, 59)])
@pytest.mark.parametrize("day", [BLACK_FRIDAY, date(2026, 11, 30)])
def test_the_flatten_schedule_and_the_entry_check_agree(services, hour, minute, day):
    """At every instant, the row is flattened exactly when its entries are refused."""
    moment = datetime.combine(day, dtime(hour, minute), NY)
    clock = Clock(moment.timestamp())
    flatten_row = parse_config([["symbol", "position_size", "active", "Time Frame", "Flatten At"],
                                ["AAPL", "5000", "TRUE", "15 Min", "15:55"]]).rows[0]
    schedule = FlattenSchedule(services.journal, services.broker, services.config, clock=clock,
                               session_close=alpaca_calendar)
    guards = guards_for(services, clock=clock)
    guards.days = ExchangeDays(alpaca_calendar, "Alpaca's calendar", clock=clock)
    flattens = schedule._due(flatten_row, parse_flatten_at("15:55"), moment)
    refused = guards.check_entry("AAPL", flatten_row) is not None
    assert flattens == refused
    assert flattens == (moment.time() >= (dtime(12, 55) if day == BLACK_FRIDAY else dtime(15, 55)))
