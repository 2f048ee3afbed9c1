"""Only the clock reads the wall clock: everything else is given one (novalgo/clock.py).

A stray ``datetime.now()`` makes behaviour depend on when it runs: a test that passes in the
morning fails after the close, and a rehearsal at NOVALGO_CLOCK_START is not what it says.
Elapsed time (``time.monotonic()``) is not the time of day and is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("novalgo", "analytics", "tests")
ALLOWED = {"novalgo/clock.py"}  # the wall clock itself (the tests' clocks build on it)
# time.time (called or passed as a clock=), datetime.now/utcnow/today, date.today.
WALL_CLOCK = re.compile(r"\btime\.time(_ns)?\b|\bdatetime\.(now|utcnow|today)\s*\(|\bdate\.today\s*\(")


def wall_clock_reads() -> list[str]:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in ALLOWED or name == "tests/test_clock_reads.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]  # a comment may name them
                if WALL_CLOCK.search(code):
                    found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_nothing_but_the_clock_reads_the_wall_clock():
    reads = wall_clock_reads()
    assert reads == [], ("read the time from the clock you are given (novalgo/clock.py; tests: the clock "
                         "fixture or tests/support/clock.py):\n" + "\n".join(reads))


def test_the_scan_finds_what_it_looks_for():
    for text in ("time.time()", "clock=time.time", "datetime.now(tz)", "dt.datetime.utcnow()", "date.today()",
                 "datetime.today()"):
        assert WALL_CLOCK.search(text), text
    for text in ("time.monotonic()", "clock.now()", "services.clock.now(zone)", "datetime.fromtimestamp(t)"):
        assert not WALL_CLOCK.search(text), text
