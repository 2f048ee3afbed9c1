"""One way to open the service's SQLite files: WAL, a busy timeout, one connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadConnections:
    """Hands each thread its own connection to one file (sqlite3 connections are not thread-safe)."""

    def __init__(self, path: Path, *pragmas: str):
        self.path = Path(path)
        self.pragmas = ("journal_mode=WAL", "busy_timeout=30000") + pragmas
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE) where they matter.
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            for pragma in self.pragmas:
                db.execute(f"PRAGMA {pragma}")
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
