"""A fake of Alpaca's trade_updates WebSocket stream, served on loopback beside ``FakeAlpaca``.

alpaca-py's ``TradingStream`` connects to it with ``url_override=fake.stream_url``: it authenticates
with the fake's key and secret, listens to ``trade_updates`` and then receives one event for every
order state change the fake makes (``FakeAlpaca._emit``), with the order as the REST API shows it.
The server runs its own asyncio loop in a thread, on its own loopback port; it starts when a test
first asks for ``fake.stream_url`` (or calls ``fake.stream.start()``), so fakes that no test streams
from cost nothing. While it runs, fills that come due (``fill_delay``, ``partial``) are carried out
and pushed when due, as Alpaca pushes them, instead of at the next REST request.

Controls: ``drop()`` cuts every connection, ``refuse(True, how=...)`` keeps new ones out,
``delay`` holds each event back, ``binary`` picks the frame type; ``connections``,
``events_sent``, ``auth_failures``, ``published`` and ``received`` count what happened.

Documents cited (one per behaviour):
  STREAMING  "Websocket Streaming" (docs.alpaca.markets/docs/websocket-streaming): the endpoint, frames,
             codecs, listen/listening
  STREAMING_V2  the API v2 "Streaming" page it replaced (github.com/alpacahq/user-docs,
             content/api-documentation/api-v2/streaming/_index.md): authenticate, authorization
             replies, the trade_updates events and their fields
  REPLACE    "Replace an Order" (docs.alpaca.markets/reference/replaceorderforaccount)
Observed, not documented, cited by the public thread that quotes it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import msgpack
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

if TYPE_CHECKING:
    from tests.fakes.alpaca_server import FakeAlpaca

PATH = "/stream"  # STREAMING: wss://paper-api.alpaca.markets/stream or wss://api.alpaca.markets/stream
STREAMS = ("trade_updates",)  # STREAMING: the one stream it names (the older page also had account_updates)
TICK = 0.02  # seconds between checks for fills that have come due
REFUSALS = ("close", "unauthorized", "http")


def trade_update(event: str, order: dict, timestamp: str, *, price: str | None = None, qty: str | None = None,
                 position_qty: str | None = None) -> dict:
    """One trade_updates message.

    STREAMING_V2: every message holds an ``event`` and the ``order`` "same as the order object that
    is returned from the REST API"; fills add ``price`` and ``position_qty`` (strings in the docs'
    example), the newer events carry ``execution_id`` and ``qty`` (alpaca-py's TradeUpdate reads both).
    ``timestamp`` goes on every event: the docs list it for fills, cancels, expiries and rejections,
    and alpaca-py's TradeUpdate requires it, so Alpaca must send it on ``new`` too.
    """
    data: dict[str, Any] = {"event": event, "timestamp": timestamp, "order": order}
    if event in ("fill", "partial_fill"):
        data.update(execution_id=str(uuid.uuid4()), price=price, qty=qty, position_qty=position_qty)
    return {"stream": "trade_updates", "data": data}


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    packed: bool  # MessagePack instead of JSON
    authorized: bool = False
    listening: bool = False
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)  # (published at, message, is an event)


class TradeStream:
    """The trade_updates WebSocket of one FakeAlpaca account (see the module's docstring)."""

    def __init__(self, fake: "FakeAlpaca", tick: Callable[[], None] | None = None):
        self._fake = fake
        self._tick = tick  # carries out fills that came due (FakeAlpaca.advance)
        self.delay = 0.0  # seconds each event is held back before it is sent
        self.binary = True  # STREAMING: the paper stream "uses binary frames"; False: text frames
        self.connections = 0  # WebSocket handshakes the server saw (refused ones too)
        self.refused = 0  # of which refuse() turned away
        self.auth_failures = 0  # "unauthorized" answers to authenticate
        self.events_sent = 0  # trade_updates frames written to clients
        self.published: list[dict] = []  # every trade_updates message made while the stream ran
        self.received: list[Any] = []  # every message clients sent, decoded
        self._refusing: str | None = None
        self._refuse_status = 429
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._port: int | None = None

    # -- controls ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._stopping.is_set()

    @property
    def url(self) -> str:
        """ws://127.0.0.1:PORT/stream (starts the server if need be)."""
        self.start()
        return f"ws://127.0.0.1:{self._port}{PATH}"

    @property
    def open_connections(self) -> int:
        return len(self._clients)

    @property
    def listening(self) -> int:
        """Connections that are authorized and listen to trade_updates."""
        return sum(1 for c in list(self._clients) if c.authorized and c.listening)

    def wait_listening(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` connections listen to trade_updates (events before that are lost,
        as on Alpaca's stream: nothing is replayed)."""
        deadline = time.monotonic() + timeout
        while self.listening < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.listening} of {count} stream connections listening after {timeout}s")
            time.sleep(0.01)

    def drop(self) -> int:
        """Cut every connection at once, without a close frame (a network drop); returns how many."""
        if self._loop is None:
            return 0
        return asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(timeout=5)

    def refuse(self, on: bool = True, how: str = "close", status: int = 429) -> None:
        """Keep new connections out until ``refuse(False)``; open ones stay.

        ``how``: "close" cuts the connection right after the handshake, before any answer;
        "unauthorized" answers authenticate as it answers bad keys; "http" refuses the WebSocket
        handshake itself with ``status`` (not documented; alpaca-py's source says a stale
        connection holding the "single-connection slot" makes new ones meet HTTP 429).
        """
        if how not in REFUSALS:
            raise ValueError(f"how must be one of {REFUSALS}")
        self._refusing = how if on else None
        self._refuse_status = status

    # -- server --------------------------------------------------------------------------

    def start(self) -> "TradeStream":
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-alpaca-stream", daemon=True)
        self._thread.start()
        if not ready.wait(5) or self._port is None:
            raise RuntimeError("the fake trade stream did not start")
        if self._tick is not None:
            self._ticker = threading.Thread(target=self._advance, name="fake-alpaca-ticker", daemon=True)
            self._ticker.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=5)
        if self._ticker is not None:
            self._ticker.join(timeout=5)

    def publish(self, message: dict) -> None:
        """Send a trade_updates message to every listening connection (any thread; keeps order)."""
        loop = self._loop
        if loop is None or self._stopping.is_set():
            return
        self.published.append(message)
        try:
            loop.call_soon_threadsafe(self._fan_out, message, time.monotonic())
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(self._open())
            self._port = self._server.sockets[0].getsockname()[1]
            self._loop = loop
            ready.set()
            loop.run_forever()
        finally:
            ready.set()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _open(self) -> Server:
        return await serve(self._serve, "127.0.0.1", 0, process_request=self._handshake, compression=None)

    async def _shutdown(self) -> None:
        await self._drop()
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _drop(self) -> int:
        clients = list(self._clients)
        for client in clients:
            client.ws.transport.abort()
        return len(clients)

    def _advance(self) -> None:
        while not self._stopping.wait(TICK):
            self._tick()

    # -- protocol ------------------------------------------------------------------------

    def _handshake(self, ws: ServerConnection, request: Request):
        self.connections += 1
        if request.path.split("?")[0] != PATH:
            return ws.respond(404, "Not Found\n")
        if self._refusing == "http":
            self.refused += 1
            return ws.respond(self._refuse_status, "connection refused by the fake\n")
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        # STREAMING: "to request with MessagePack, add the header: Content-Type: application/msgpack".
        packed = (ws.request.headers.get("Content-Type") or "").startswith("application/msgpack")
        client = _Client(ws, packed)
        if self._refusing == "close":
            self.refused += 1
            ws.transport.abort()
            return
        refused_auth = self._refusing == "unauthorized"
        if refused_auth:
            self.refused += 1
        self._clients.add(client)
        sender = asyncio.create_task(self._send_loop(client))
        try:
            async for frame in ws:
                message = self._decode(frame, packed)
                self.received.append(message)
                if isinstance(message, dict):
                    self._answer(client, message, refused_auth)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            sender.cancel()

    def _answer(self, client: _Client, message: dict, refused_auth: bool) -> None:
        action = message.get("action")
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        if action in ("auth", "authenticate"):
            # STREAMING_V2: {"action": "authenticate", "data": {"key_id", "secret_key"}}; the
            # newer STREAMING form is {"action": "auth", "key", "secret"}. Both are taken.
            key, secret = ((message.get("key"), message.get("secret")) if action == "auth"
                           else (data.get("key_id"), data.get("secret_key")))
            client.authorized = (not refused_auth and key == self._fake.key_id
                                 and secret == self._fake.secret_key)
            reply = {"status": "authorized" if client.authorized else "unauthorized", "action": "authenticate"}
            if not client.authorized:
                self.auth_failures += 1
                client.listening = False
                # Observed words (github.com/alpacahq/alpaca-ts/issues/24); the connection stays
                # open (STREAMING_V2 answers a later listen on it with "unauthorized").
                reply["message"] = "access key verification failed"
            # STREAMING_V2: the answer comes on the "authorization" stream.
            self._queue(client, {"stream": "authorization", "data": reply})
        elif action == "listen":
            if not client.authorized:
                # STREAMING_V2: listen before authorization is answered on "authorization".
                self._queue(client, {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}})
                return
            asked = data.get("streams") if isinstance(data.get("streams"), list) else []
            # STREAMING: streams not available are left out of the answer; an empty list stops them.
            streams = [s for s in asked if s in STREAMS]
            client.listening = "trade_updates" in streams
            self._queue(client, {"stream": "listening", "data": {"streams": streams}})
        # Anything else: the docs give no answer; the fake ignores it.

    def _queue(self, client: _Client, message: dict, at: float | None = None, event: bool = False) -> None:
        client.queue.put_nowait((time.monotonic() if at is None else at, message, event))

    def _fan_out(self, message: dict, at: float) -> None:
        for client in list(self._clients):
            if client.authorized and client.listening:
                self._queue(client, message, at, event=True)

    async def _send_loop(self, client: _Client) -> None:
        try:
            while True:
                at, message, event = await client.queue.get()
                if event and self.delay > 0:
                    wait = at + self.delay - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                if event:
                    # Counted before the frame goes: the client may read it before this coroutine
                    # runs again, and a test that has read an event must see it counted.
                    self.events_sent += 1
                await client.ws.send(self._encode(message, client.packed))
        except ConnectionClosed:
            pass

    def _encode(self, message: dict, packed: bool) -> str | bytes:
        if packed:
            return msgpack.packb(message)  # STREAMING: MessagePack is one of the two codecs
        text = json.dumps(message)
        # STREAMING: the paper stream "uses binary frames, which differs from the text frames" of
        # the data stream: JSON in binary frames unless a test asks for text.
        return text.encode() if self.binary else text

    @staticmethod
    def _decode(frame: str | bytes, packed: bool) -> Any:
        try:
            if packed and isinstance(frame, bytes):
                return msgpack.unpackb(frame)
            return json.loads(frame)
        except ValueError:
            return frame  # not a message the docs describe: kept in received, not answered
