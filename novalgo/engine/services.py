"""Wiring: the journal, broker, sheet, executor and the leader's loops, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from novalgo.broker.base import Broker
from novalgo.clock import SYSTEM_CLOCK, Clock
from novalgo.engine.activity import ActivityAppender
from novalgo.engine.chat_wiring import chat_loops
from novalgo.engine.exchange_days import ExchangeDays
from novalgo.engine.executor import Executor
from novalgo.engine.flatten import FLATTEN_EVERY, FlattenSchedule
from novalgo.engine.guards import WATCH_EVERY, Guards
from novalgo.engine.journal import Journal
from novalgo.engine.outages import OutageWatch
from novalgo.engine.outbox import Outbox
from novalgo.engine.performance import PerformanceUpdater
from novalgo.engine.wakeup import Wakeup
from novalgo.settings import Settings
from novalgo.sheet.base import SheetBackend
from novalgo.sheet.cache import ConfigCache
from novalgo.sheet.settings_tab import SettingsTabCache
from novalgo.sheet.status_writer import StatusWriter

JOURNAL_FILE = "journal.sqlite3"
SNAPSHOT_FILE = "config_snapshot.json"
SETTINGS_SNAPSHOT_FILE = "settings_snapshot.json"  # the Settings tab as last read, for /health
LEADER_FILE = "leader.lock"
TRACK_EVERY = 2.0  # seconds between batched reads of orders still open at the broker
ASSETS_EVERY = 5.0  # seconds between passes looking up the Config rows' assets ahead of their alerts
ASSETS_PER_PASS = 10  # at most 120 asset reads a minute: most of Alpaca's 200 stays for trading while a new sheet warms
# Activity appends share the sheet's write budget with status flushes: a batch every few
# seconds locally, every 15 s on Google (4 writes a minute at most).
ACTIVITY_EVERY = {"local": 2.0, "google": 15.0}


@dataclass
class Services:
    settings: Settings
    journal: Journal  # the request path's: durable on every commit, never checkpoints
    work_journal: Journal  # the background's: same file, tuned for many small updates
    broker: Broker
    sheet: SheetBackend
    config: ConfigCache
    writer: StatusWriter
    executor: Executor
    performance: PerformanceUpdater
    wakeup: Wakeup  # the request path wakes the leader's dispatcher, in whichever process it runs
    outbox: Outbox  # live notifications: add_event() for what is not an alert's outcome
    guards: Guards | None = None  # the guard rails: ask ``check_entry`` before an entry goes
    clock: Clock = SYSTEM_CLOCK  # the one time of day everything here reads


def make_broker(settings: Settings, clock: Clock | None = None) -> Broker:
    """Alpaca when its keys are set, else the simulated broker in the data dir."""
    clock = clock or settings.make_clock()
    if settings.broker_kind == "alpaca":
        from novalgo.broker.alpaca import AlpacaBroker

        return AlpacaBroker.from_settings(settings, wall_clock=clock)
    from novalgo.broker.simulated import SimulatedBroker

    return SimulatedBroker(settings.data_dir, clock=clock)


def make_sheet_backend(settings: Settings) -> SheetBackend:
    """The Google Sheet when one is set, else CSV files in the data dir."""
    if settings.sheet_kind == "google":
        from novalgo.sheet.google import GoogleSheetBackend

        return GoogleSheetBackend.from_settings(settings)
    from novalgo.sheet.local import LocalSheetBackend

    return LocalSheetBackend.from_settings(settings)


def build_services(settings: Settings, broker: Broker | None = None, sheet: SheetBackend | None = None,
                   clock: Clock | None = None) -> Services:
    """Everything one process needs; adapters and the clock may be injected (tests, benchmarks).

    One clock (the wall clock, or NOVALGO_CLOCK_START's) goes to everything that reads the time of
    day, so a guard, the journal and the broker never disagree about what day it is."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock = clock or settings.make_clock()
    journal = Journal(settings.data_dir / JOURNAL_FILE, sync=settings.journal_sync, clock=clock, checkpoints=False)
    # The executor's own writes may skip the fsync: each is either re-derived on resume or
    # guarded by the broker's client_order_id check, so a power cut cannot turn one into a
    # second order. Only the alert itself (the request path) must be on disk before the 202.
    work_journal = Journal(settings.data_dir / JOURNAL_FILE, sync="normal", clock=clock)
    broker = broker or make_broker(settings, clock)
    sheet = sheet or make_sheet_backend(settings)
    ttl = settings.config_ttl if sheet.kind == "google" else min(settings.config_ttl, 2.0)
    config = ConfigCache(sheet, ttl, settings.data_dir / SNAPSHOT_FILE,
                         refresh_in_background=sheet.kind == "google", wall_clock=clock)
    writer = StatusWriter(sheet, settings.timezone, wall_clock=clock)
    wakeup = Wakeup(settings.data_dir, enabled=settings.wake)
    tab = SettingsTabCache(sheet, ttl, settings.data_dir / SETTINGS_SNAPSHOT_FILE,
                           refresh_in_background=sheet.kind == "google", wall_clock=clock)
    outbox = Outbox(settings.data_dir / JOURNAL_FILE, settings, clock=clock)
    # A guard's trip (daily loss) is told once, to every channel that hears failures.
    guards = Guards(work_journal, broker, config, settings.guards, tab, clock=clock, wake=wakeup.notify,
                    on_trip=lambda text: outbox.add_event("guard", text, "failures"),
                    days=ExchangeDays.of(broker, clock))
    outages = OutageWatch(lambda kind, text: outbox.add_event(kind, text, "failures"))
    executor = Executor(work_journal, broker, config, writer, settings.max_alert_age, settings.fill_wait,
                        skip_outside_hours=settings.outside_hours == "skip",
                        cancel_other_orders=settings.cancel_other_orders, guards=guards, outages=outages,
                        clock=clock)
    performance = PerformanceUpdater(broker, sheet, work_journal, settings, clock=clock.now)
    return Services(settings, journal, work_journal, broker, sheet, config, writer, executor, performance, wakeup,
                    outbox, guards, clock)


def warm_assets(services: Services) -> int:
    """The Config rows' assets, looked up ahead of their alerts (a few a pass, within Alpaca's budget)."""
    warm = getattr(services.broker, "warm_assets", None)
    if warm is None:
        return 0
    return warm([row.symbol for row in services.config.snapshot().active_rows()], ASSETS_PER_PASS)


def leader_loops(services: Services) -> list[tuple[str, float, object]]:
    """(thread name, seconds between runs, callable): every timed loop the leader runs."""
    appender = ActivityAppender(services.work_journal, services.sheet, services.settings)
    days = services.guards.days  # one calendar for the flatten and the entry check: they cannot disagree
    flatten = FlattenSchedule(services.work_journal, services.broker, services.config, clock=services.clock,
                              wake=services.wakeup.notify,
                              is_trading_day=days.trades_on, session_close=lambda day: days.session(day).close)
    return [
        ("novalgo-tracker", TRACK_EVERY, services.executor.track),
        ("novalgo-performance", services.settings.performance_interval, services.performance.run_once),
        ("novalgo-activity", ACTIVITY_EVERY.get(services.sheet.kind, 15.0), appender.run_once),
        *services.outbox.loops(),  # one sender per notification channel
        ("novalgo-flatten", FLATTEN_EVERY, flatten.run_once),
        ("novalgo-assets", ASSETS_EVERY, lambda: warm_assets(services)),
        # Also keeps the Settings tab's copy for /health fresh: a local file costs nothing to read.
        ("novalgo-guards", 2.0 if services.sheet.kind == "local" else WATCH_EVERY, services.guards.watch),
        # Commands from a phone (Telegram's poller, Slack's queued actions): none unless configured.
        *chat_loops(services),
    ]
