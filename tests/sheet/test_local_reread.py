"""An edit to the local Config.csv reaches the server at the next alert, as `novalgo try` sees it at once."""

from __future__ import annotations

import os

from novalgo.sheet.cache import ConfigCache
from novalgo.sheet.local import LocalSheetBackend
from tests.sheet.test_local_sheet import edit_size


def touched(backend: LocalSheetBackend, seconds: int) -> None:
    """Move the file's mtime on, as a later save would (file systems keep coarse mtimes)."""
    stat = os.stat(backend.config_path)
    os.utime(backend.config_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def test_an_edit_to_the_local_file_is_read_at_once_whatever_the_ttl(tmp_path):
    backend = LocalSheetBackend(tmp_path / "sheet")
    cache = ConfigCache(backend, ttl=600, snapshot_path=None, clock=lambda: 0.0)
    assert cache.snapshot().find("AAPL", 15).position_size == 5000
    edit_size(backend, "AAPL", "$7,500")
    touched(backend, 1)
    assert cache.snapshot().find("AAPL", 15).position_size == 7500


def test_an_unchanged_file_is_not_read_again_before_the_ttl(tmp_path):
    backend = LocalSheetBackend(tmp_path / "sheet")
    cache = ConfigCache(backend, ttl=600, snapshot_path=None, clock=lambda: 0.0)
    for _ in range(5):
        cache.snapshot()
    assert cache.reads == 1
    touched(backend, 1)
    cache.snapshot()
    cache.snapshot()
    assert cache.reads == 2
