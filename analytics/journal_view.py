"""What the threshold check reads from the service's journal (SQLite), strictly read-only."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


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


def read(path: Path, since: datetime, failed_status: str = "FAILED") -> JournalView:
    """Failed alerts finished since a time, and the executor's last heartbeat."""
    if not path.is_file():
        return JournalView(found=False)
    # mode=ro: the cron job must never create, lock for writing, or migrate the service's file.
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute(
            "SELECT id, symbol, reason, finished_at FROM alerts WHERE status = ? AND finished_at >= ? "
            "ORDER BY finished_at", (failed_status, since.timestamp())).fetchall()
        beat = db.execute("SELECT value FROM meta WHERE key = 'executor_heartbeat'").fetchone()
    finally:
        db.close()
    return JournalView(
        found=True,
        heartbeat=_moment(beat[0]) if beat and beat[0] else None,
        failed=[FailedAlert(str(i), s or "?", r or "", _moment(f)) for i, s, r, f in rows],
    )


def _moment(epoch) -> datetime:
    return datetime.fromtimestamp(float(epoch), timezone.utc)
