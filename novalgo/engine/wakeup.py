"""Waking the leader's dispatcher the moment an alert is journalled, whichever worker took it.

The leader binds a Unix datagram socket in the data dir (``wake.sock``, mode 600); after
``journal.add`` commits, the request sends it one byte. That is a local datagram, no network:
a few microseconds, never blocking and never raising. Nobody listening, a full queue (a wake is
pending anyway) or no socket file yet: the byte is dropped and the dispatcher's poll, kept as a
safety net, finds the alert a little later. In the leader's own process the wake goes through
a socket pair instead, so it works even when the socket could not be bound.

A new leader replaces the old one's socket file (the old process is dead or has let go of the
lock, so the file is stale). A data dir whose path is too long for a Unix socket address
(108 bytes) is reached through ``/proc/self/fd`` on Linux; where that is not possible the
dispatcher only polls, and says so once in the log.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
from pathlib import Path

log = logging.getLogger(__name__)
WAKE_FILE = "wake.sock"
MAX_ADDRESS = 107  # bytes of a Unix socket path (sun_path is 108, with the closing NUL)


class Wakeup:
    """One per process: ``wake()`` from anywhere; ``listen()``, ``wait()``, ``close()`` by the leader."""

    def __init__(self, data_dir: Path, enabled: bool = True):
        self.path = Path(data_dir) / WAKE_FILE
        self.enabled = enabled
        self._dir_fd: int | None = None
        self.address = self._address() if enabled else None
        self._sender: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._bound_inode: int | None = None
        self._leading = False
        # The leader's own threads (and stop()) wake the dispatcher through this pair.
        self._inside, self._outside = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._inside.setblocking(False)
        self._outside.setblocking(False)
        self._selector: selectors.BaseSelector | None = None

    # -- any process, on the request path ---------------------------------------------

    def wake(self) -> None:
        """Tell the leader an alert is waiting. Never raises, never blocks."""
        if not self.enabled:
            return
        if self._leading:
            self.notify()
            return
        if self.address is None:
            return
        try:
            sender = self._sender
            if sender is None:
                sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sender.setblocking(False)
                self._sender = sender
            sender.sendto(b"\0", self.address)
        except OSError:
            pass  # no leader listening, its queue full, no socket yet: the poll finds the alert

    def notify(self) -> None:
        """Wake the dispatcher of this process (a finished alert, a requeue)."""
        if self.enabled:
            self.interrupt()

    def interrupt(self) -> None:
        """End the dispatcher's current wait, even with waking switched off (stopping)."""
        try:
            self._outside.send(b"\0")
        except OSError:
            pass  # full: a wake is pending already

    # -- the leader ---------------------------------------------------------------------

    def listen(self) -> bool:
        """Bind the wake socket (call holding the leader lock). False: only the poll and this process wake it."""
        self._leading = True
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._inside, selectors.EVENT_READ)
        if not self.enabled:
            return False
        if self.address is None:
            log.warning("no wake socket: %s is longer than a Unix socket address allows; other workers' "
                        "alerts are found by the dispatcher's poll only", self.path)
            return False
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            os.fchmod(listener.fileno(), 0o600)  # Linux creates the file with this mode: no window
            try:
                os.unlink(self.address)  # a leader before us left it; we hold the lock now
            except FileNotFoundError:
                pass
            listener.bind(self.address)
            os.chmod(self.address, 0o600)
            listener.setblocking(False)
            self._bound_inode = os.stat(self.address).st_ino
        except OSError as e:
            listener.close()
            log.warning("no wake socket at %s (%s): other workers' alerts are found by the dispatcher's poll only",
                        self.path, e)
            return False
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ)
        return True

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def wait(self, timeout: float) -> bool:
        """Sleep until woken or ``timeout`` seconds pass; every pending wake is drained. True if woken."""
        if self._selector is None:
            raise RuntimeError("wait() before listen()")
        ready = self._selector.select(max(timeout, 0.0))
        for key, _ in ready:
            _drain(key.fileobj)
        return bool(ready)

    def close(self) -> None:
        """Stop listening (call before releasing the leader lock): the socket file goes with us."""
        self._leading = False
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._listener is not None:
            try:
                if os.stat(self.address).st_ino == self._bound_inode:
                    os.unlink(self.address)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        _drain(self._inside)

    # -- the address ----------------------------------------------------------------------

    def _address(self) -> str | None:
        plain = str(self.path)
        if len(os.fsencode(plain)) <= MAX_ADDRESS:
            return plain
        # Too long: name the directory by an open descriptor, a short path Linux resolves.
        try:
            self._dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return None
        short_dir = f"/proc/self/fd/{self._dir_fd}"
        try:
            if os.path.samefile(short_dir, self.path.parent):
                return f"{short_dir}/{WAKE_FILE}"
        except OSError:  # no /proc
            pass
        os.close(self._dir_fd)
        self._dir_fd = None
        return None


def _drain(sock) -> None:
    while True:
        try:
            if not sock.recv(64):
                return
        except OSError:  # BlockingIOError: nothing left
            return
