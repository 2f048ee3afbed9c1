"""One way to open the service's SQLite files: WAL, a busy timeout, one connection per thread."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path

BUSY_TIMEOUT_MS = 30000  # how long a write waits for another connection's lock


class ThreadConnections:
    """Hands each thread its own connection to one file (sqlite3 connections are not thread-safe)."""

    def __init__(self, path: Path, *pragmas: str):
        self.path = Path(path)
        self.pragmas = (f"busy_timeout={BUSY_TIMEOUT_MS}",) + pragmas
        self._local = threading.local()

    def prepare(self, schema: str, columns: dict[str, dict[str, str]] | None = None) -> None:
        """Put the file in WAL mode and create its schema, one process at a time.

        Several gunicorn workers open a fresh data dir at once. Switching a new file to WAL
        needs an exclusive lock that SQLite may refuse at once with "database is locked"
        (its busy timeout does not cover that step) while another process creates the
        schema; an advisory lock beside the file lines the processes up instead. WAL mode
        is kept in the file, so later connections need not ask for it.

        ``columns`` ({table: {column: declaration}}) are added to files made by an older version,
        under the same lock, so two processes never add one twice.
        """
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            db = self.get()
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
            for table, wanted in (columns or {}).items():
                present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                for name, declaration in wanted.items():
                    if name not in present:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

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
