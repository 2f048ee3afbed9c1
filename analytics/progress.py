"""Progress lines on a terminal (stderr), silent when run by cron or piped."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """Rewrites one status line on stderr while data is fetched; does nothing off a TTY."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._width = 0

    def step(self, text: str) -> None:
        if not self.enabled:
            return
        line = f"  {text}"
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def done(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
