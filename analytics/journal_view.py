"""What the threshold check reads from the service's journal, through the journal's own readers,
strictly read-only (the cron job never creates, locks for writing or migrates the service's file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from novalgo.engine.journal import ReadOnlyJournal


@dataclass(frozen=True)
class FailedAlert:
    alert_id: str
    symbol: str
    reason: str
    finished_at: datetime


@dataclass
class JournalView:
    found: bool
    heartbeat: datetime | None = None
    failed: list[FailedAlert] = field(default_factory=list)


def read(path: Path, since: datetime) -> JournalView:
    """Failed alerts finished since a time, and the executor's last heartbeat."""
    if not path.is_file():
        return JournalView(found=False)
    journal = ReadOnlyJournal(path)
    try:
        failed = journal.failed_since(since.timestamp())
        beat = journal.heartbeat()
    finally:
        journal.close()
    return JournalView(
        found=True,
        heartbeat=_moment(beat) if beat else None,
        failed=[FailedAlert(f.alert_id, f.symbol, f.reason, _moment(f.finished_at)) for f in failed],
    )


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)
