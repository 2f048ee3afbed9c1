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
    journal: Journal  # the request path's: durable on every commit, never checkpoints
    work_journal: Journal  # the background's: same file, tuned for many small updates
    broker: Broker
    sheet: SheetBackend
    config: ConfigCache
    writer: StatusWriter
    executor: Executor


def build_services(settings: Settings, broker: Broker | None = None, sheet: SheetBackend | None = None) -> Services:
    """Everything one process needs; adapters may be injected (tests, benchmarks)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(settings.data_dir / JOURNAL_FILE, sync=settings.journal_sync, checkpoints=False)
    # The executor's own writes may skip the fsync: each is either re-derived on resume or
    # guarded by the broker's client_order_id check, so a power cut cannot turn one into a
    # second order. Only the alert itself (the request path) must be on disk before the 202.
    work_journal = Journal(settings.data_dir / JOURNAL_FILE, sync="normal")
    broker = broker or make_broker(settings)
    sheet = sheet or make_sheet_backend(settings)
    ttl = settings.config_ttl if sheet.kind == "google" else min(settings.config_ttl, 2.0)
    config = ConfigCache(sheet, ttl, settings.data_dir / SNAPSHOT_FILE,
                         refresh_in_background=sheet.kind == "google")
    writer = StatusWriter(sheet, settings.timezone)
    executor = Executor(work_journal, broker, config, writer, settings.max_alert_age, settings.fill_wait,
                        skip_outside_hours=settings.outside_hours == "skip")
    return Services(settings, journal, work_journal, broker, sheet, config, writer, executor)
