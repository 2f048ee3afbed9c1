"""Wiring: the journal, broker, sheet and executor built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from novalgo.adapters import make_broker, make_sheet_backend
from novalgo.broker.base import Broker
from novalgo.executor import Executor
from novalgo.journal import Journal
from novalgo.settings import Settings
from novalgo.sheet.base import SheetBackend
from novalgo.sheet.cache import ConfigCache
from novalgo.sheet.status_writer import StatusWriter

JOURNAL_FILE = "journal.sqlite3"
SNAPSHOT_FILE = "config_snapshot.json"
LEADER_FILE = "leader.lock"


@dataclass
class Services:
    settings: Settings
    journal: Journal
    broker: Broker
    sheet: SheetBackend
    config: ConfigCache
    writer: StatusWriter
    executor: Executor


def build_services(settings: Settings, broker: Broker | None = None, sheet: SheetBackend | None = None) -> Services:
    """Everything one process needs; adapters may be injected (tests, benchmarks)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(settings.data_dir / JOURNAL_FILE, sync=settings.journal_sync)
    broker = broker or make_broker(settings)
    sheet = sheet or make_sheet_backend(settings)
    ttl = settings.config_ttl if sheet.kind == "google" else min(settings.config_ttl, 2.0)
    config = ConfigCache(sheet, ttl, settings.data_dir / SNAPSHOT_FILE)
    writer = StatusWriter(sheet, settings.timezone)
    executor = Executor(journal, broker, config, writer, settings.max_alert_age, settings.fill_wait,
                        skip_outside_hours=settings.outside_hours == "skip")
    return Services(settings, journal, broker, sheet, config, writer, executor)
