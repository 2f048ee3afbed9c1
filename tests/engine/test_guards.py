"""Guards at work: what an entry is refused for, what it costs in broker reads, and what a trip does."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from novalgo.broker.base import Account, Position
from novalgo.domain.config_rows import parse_config
from novalgo.domain.decision import CLOSING, OPEN, OrderLeg, OrderPlan
from novalgo.domain.guards import AccountGuards, LossLimit
from novalgo.engine.flatten import GUARD
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
