"""Alpaca's trade_updates stream, through alpaca-py's ``TradingStream``, in a thread of its own.

Every order event (new, fill, partial fill, canceled, expired, replaced, rejected) reaches
``on_event`` as alpaca-py's ``TradeUpdate``; ``on_connected`` runs after every (re)connect, because the
stream replays nothing that happened while it was down (Alpaca's Websocket Streaming docs):
the caller reconciles with one REST list then. alpaca-py reconnects by itself, with backoff.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from alpaca.trading.stream import TradingStream

log = logging.getLogger(__name__)


class OrderUpdates:
    """The running stream: ``live`` while connected and listening; ``stop()`` ends it."""

    def __init__(self, key_id: str, secret_key: str, *, paper: bool, url: str | None,
                 on_event: Callable[[Any], None], on_connected: Callable[[], None]):
        self._on_event, self._on_connected = on_event, on_connected
        updates = self

        class _Stream(TradingStream):
            # alpaca-py has no connect hook: its _start_ws (connect, authenticate, listen) is the
            # one step every (re)connect takes, so a reconcile follows each of them.
            async def _start_ws(self) -> None:
                await super()._start_ws()
                updates._connected()

        self._stream = _Stream(key_id, secret_key, paper=paper, url_override=url)
        self._stream.subscribe_trade_updates(self._event)
        self._thread = threading.Thread(target=self._run, name="novalgo-trade-updates", daemon=True)

    @property
    def live(self) -> bool:
        """Connected and listening now (alpaca-py's own flag, cleared on any drop)."""
        return bool(getattr(self._stream, "_running", False))

    def start(self) -> "OrderUpdates":
        self._thread.start()
        return self

    def stop(self) -> None:
        try:
            self._stream.stop()
        except Exception:  # not started yet, or already stopping: nothing more to stop
            log.debug("trade updates stream was not running", exc_info=True)

    def _run(self) -> None:
        try:
            self._stream.run()
        except Exception:
            log.exception("the trade updates stream stopped; orders are read over REST instead")

    async def _event(self, update: Any) -> None:
        # A handler error would only be logged by alpaca-py and the event lost: say which.
        try:
            self._on_event(update)
        except Exception:
            log.exception("could not record trade update %s", getattr(update, "event", "?"))

    def _connected(self) -> None:
        log.info("trade updates stream connected")
        try:
            self._on_connected()
        except Exception:
            log.exception("reconcile after the stream connected failed; the tracker will retry")
