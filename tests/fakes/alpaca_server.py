"""An in-process fake of Alpaca's trading API (v2) and market data API, served on loopback.

It speaks the paths, JSON shapes and error bodies that alpaca-py sends and parses, and it
refuses what Alpaca documents it refuses: the rule checks live in ``alpaca_rules`` (one
document cited per rule), this module holds the account's state and the HTTP routes. Market
orders fill at once at the fake's price while the market is open and queue (``accepted``)
while it is closed, until the test calls ``fake.market.open()``; ``fake.market.close()``
expires the DAY orders still open. Orders of other types rest until ``fake.fill_order()``, or until
``fake.set_price()`` moves the price to them: limit orders fill at their limit, stops trigger and fill at
the price, trailing stops follow it (``hwm``, ``stop_price``); ``fake.market.extended_session()`` opens
pre/post-market for extended_hours limit orders. Bracket, OTO and OCO orders carry their exit ``legs``
(``alpaca_exits``), held until the entry fills, cancelling each other when one fills.
``fake.place_order()`` places one as the trader would (their own stop, say).

Tests can count requests per path and inject faults: error answers for the next N calls to a
path, an order that is placed but answered with an error, or one answered too late (the
ambiguous case that idempotent client_order_ids exist for).

``fake.stream_url`` serves Alpaca's trade_updates WebSocket (``alpaca_stream``): every order state
change below is pushed to listening clients once a test has asked for it.

    with FakeAlpaca() as fake:          # or fake.start() / fake.stop()
        client = TradingClient("PKTEST", "secret", url_override=fake.url)
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request
from werkzeug.serving import make_server

from novalgo.clock import Clock
from tests.fakes import alpaca_exits as exits
from tests.fakes import alpaca_rules as rules
from tests.fakes.alpaca_rules import OPEN_STATUSES, QTY_STEP, ZERO, AlpacaRefusal, dec
from tests.fakes.alpaca_stream import TradeStream, trade_update
from tests.support.clock import ticking_clock

NEW_YORK = ZoneInfo("America/New_York")
# The exchange's 2026 (NYSE's published holidays and early closes): what Alpaca's calendar leaves
# out, and the days it gives a 13:00 close. A test sets others on the fake's own copies.
HOLIDAYS_2026 = frozenset(date.fromisoformat(day) for day in (
    "2026-01-01",  # New Year's Day
    "2026-01-19",  # Martin Luther King Jr. Day
    "2026-02-16",  # Washington's Birthday
    "2026-04-03",  # Good Friday
    "2026-05-25",  # Memorial Day
    "2026-06-19",  # Juneteenth
    "2026-07-03",  # Independence Day, observed (4 July is a Saturday)
    "2026-09-07",  # Labor Day
    "2026-11-26",  # Thanksgiving
    "2026-12-25",  # Christmas
))
EARLY_CLOSES_2026 = {date(2026, 11, 27): "13:00", date(2026, 12, 24): "13:00"}  # after Thanksgiving; Christmas Eve

# Alpaca's own error bodies, as its API answers them.
UNAUTHORIZED = {"code": 40110000, "message": "request is not authorized"}
FAULT_BODIES = {
    429: {"code": 42910000, "message": "rate limit exceeded"},
    500: {"code": 50010000, "message": "internal server error occurred"},
    502: {"code": 50210000, "message": "bad gateway"},
    503: {"code": 50310000, "message": "service unavailable"},
    504: {"code": 50410000, "message": "gateway timeout"},
    # Client errors a fault can answer after placing the order (Fault(place=True)): Alpaca's codes
    # are the status followed by 10000 ("Trading API errors": 40010000, 40310000, 40410000, 42210000).
    400: {"code": 40010000, "message": "request body format is invalid"},
    401: UNAUTHORIZED,
    403: {"code": 40310000, "message": "forbidden"},
    404: {"code": 40410000, "message": "not found"},
    409: {"code": 40910000, "message": "conflict"},
    422: {"code": 42210000, "message": "unprocessable entity"},
}


@dataclass
class Fault:
    method: str
    path: str
    status: int | None  # the error answered, or None for a late but good answer
    times: int
    place: bool = False  # run the request (place the order) before answering the error
    stall: float = 0.0  # seconds to wait before answering
    body: dict | None = None  # the error body; None: Alpaca's usual body for the status

    def answer(self) -> Response:
        return _json(self.body or FAULT_BODIES.get(self.status, {"code": self.status * 100000 + 10000,
                                                                  "message": "error"}), self.status)


@dataclass
class FakeAsset:
    symbol: str
    price: Decimal
    asset_class: str = "us_equity"
    exchange: str = "NASDAQ"
    tradable: bool = True
    fractionable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # CRYPTO (Assets entity): each pair carries its min_order_size and min_trade_increment; the docs'
    # sample reads "0.0001" for both and warns "these values could change". The fake keeps 0.0001 as
    # the minimum and 9 decimals as the step (FRACTIONAL: qty takes "up to 9 decimal point values").
    min_order_size: str | None = None
    min_trade_increment: str | None = None

    def __post_init__(self) -> None:
        if self.crypto:
            self.min_order_size = self.min_order_size or "0.0001"
            self.min_trade_increment = self.min_trade_increment or "0.000000001"

    @property
    def crypto(self) -> bool:
        return self.asset_class == "crypto"

    def as_json(self) -> dict:
        return {
            "id": self.id, "class": self.asset_class, "exchange": self.exchange, "symbol": self.symbol,
            "name": f"{self.symbol} (fake)", "status": "active", "tradable": self.tradable,
            "marginable": not self.crypto, "maintenance_margin_requirement": 30, "shortable": self.shortable,
            "easy_to_borrow": self.easy_to_borrow, "fractionable": self.fractionable, "attributes": [],
            "min_order_size": self.min_order_size, "min_trade_increment": self.min_trade_increment,
            "price_increment": "0.01" if self.crypto else None,
        }


class Market:
    """The fake's market hours: open until a test closes it (crypto trades regardless)."""

    def __init__(self, fake: "FakeAlpaca"):
        self._fake = fake
        self.is_open = True
        self.extended = False  # pre/post-market running while the market is closed

    def extended_session(self, on: bool = True) -> None:
        """Run (or end) pre/post-market while the market is closed: extended_hours limit orders are routed
        and fill on ``set_price`` (ORDERS, Extended Hours: such orders are "eligible to execute in the
        pre-market or after-hours"); every other order keeps waiting for the open."""
        with self._fake.lock:
            self.extended = on and not self.is_open
            if self.extended:
                for order in list(self._fake.orders.values()):
                    if order["status"] == "accepted" and order["extended_hours"]:
                        self._fake._route(order)

    def open(self) -> None:
        """Open the market: queued market orders fill now, as at the opening cross (ORDERS: orders
        "submitted after 4:00pm ET will be queued up for release the next trading day"); queued
        orders of other types start resting ("new")."""
        with self._fake.lock:
            if self.is_open:
                return
            self.is_open, self.extended = True, False
            for order in list(self._fake.orders.values()):
                if order["status"] == "accepted":
                    self._fake._route(order)

    def close(self) -> None:
        """Close the market: DAY orders still open expire (see FakeAlpaca._expire_day_orders)."""
        with self._fake.lock:
            if not self.is_open:
                return
            self.is_open = self.extended = False
            self._fake._expire_day_orders()


class FakeAlpaca:
    """State of one fake Alpaca account plus the HTTP server that exposes it."""

    def __init__(self, key_id: str = "PKTESTKEY", secret_key: str = "test-secret", *, cash: Decimal = Decimal(100000),
                 shorting_enabled: bool = True, multiplier: Decimal = Decimal(2), status: str = "ACTIVE",
                 latency: float = 0.0, rate_limit: int | None = None, clock: Clock | None = None):
        self.key_id, self.secret_key = key_id, secret_key
        # The exchange's time of day (/v2/clock, the calendar, fills, bars): the tests' pinned
        # instant ticking on unless a test gives its own clock, never the machine's.
        self.clock = clock or ticking_clock()
        self.latency = latency  # seconds every answer takes (benchmarks: a real API is not instant)
        self.rate_limit = rate_limit  # requests a minute before 429, as Alpaca's 200; None: no limit
        self.rate_limited = 0  # 429s answered because of rate_limit
        self.lock = threading.RLock()
        self.market = Market(self)
        self.cash = Decimal(cash)
        # Account API: last_equity is "your equity value as of the previous trading day's close";
        # the fake's account opened with its cash, and a test may set another close.
        self.last_equity = Decimal(cash)
        self.holidays: set[date] = set(HOLIDAYS_2026)  # weekdays the exchange is closed (left out of the calendar)
        self.early_closes: dict[date, str] = dict(EARLY_CLOSES_2026)  # days trading ends early, and when
        self.shorting_enabled = shorting_enabled
        self.multiplier = Decimal(multiplier)
        self.status = status
        self.account_id = str(uuid.uuid4())
        self.assets: dict[str, FakeAsset] = {}
        self.orders: dict[str, dict] = {}  # by order id, in submission order
        self.positions: dict[str, list[Decimal]] = {}  # symbol -> [qty, avg_entry_price]
        self.activities: list[dict] = []  # FILL activities, oldest first
        self.activity_queries: list[dict] = []  # the query of each activities request, in order
        self.equity_history: list[tuple[date, Decimal]] = []
        self.daily_bars: dict[str, list[tuple[date, Decimal]]] = {}
        self.fill_delay = 0.0  # seconds an order stays "new" before it fills
        self.partial = False  # fill in two steps: half now, the rest after partial_delay
        self.partial_delay = 0.05
        self.bars_page_size = 1000
        self.iex_only = True  # like a free data plan: recent SIP data is refused
        self.calls: Counter[tuple[str, str]] = Counter()
        self.request_log: list[tuple[float, str, str]] = []  # (time, method, path)
        self.orders_refused: list[dict] = []  # the answer's body of every order POST Alpaca would refuse
        self.faults: list[Fault] = []
        self._stop = threading.Event()
        self._server = None
        self._quiet = False  # recording history (add_fills): no trade_updates events
        self.stream = TradeStream(self, tick=self.advance)  # trade_updates WebSocket, started on demand
        self._thread: threading.Thread | None = None
        for symbol, price in (("AAPL", "150"), ("MSFT", "400"), ("SPY", "500"), ("TSLA", "200")):
            self.add_asset(symbol, Decimal(price))
        self.add_asset("BTC/USD", Decimal("60000"), asset_class="crypto", exchange="CRYPTO",
                       shortable=False, easy_to_borrow=False)
        self.add_asset("ETH/USD", Decimal("3000"), asset_class="crypto", exchange="CRYPTO",
                       shortable=False, easy_to_borrow=False)
        self.app = self._build_app()

    # -- test controls -----------------------------------------------------------------

    def now(self, zone=timezone.utc) -> datetime:
        """The fake exchange's current time."""
        return self.clock.now(zone)

    def add_asset(self, symbol: str, price: Decimal | str | int, **traits: Any) -> FakeAsset:
        asset = FakeAsset(symbol, Decimal(str(price)), **traits)
        self.assets[symbol] = asset
        return asset

    def set_price(self, symbol: str, price: Decimal | str | int, *, trigger: bool = True) -> None:
        """The asset's price from now on. Unless ``trigger=False``, resting orders the price reaches fill
        (limit orders at their limit), stops trigger, trailing stops move their hwm and stop_price, and a
        bracket's exits go with them (``alpaca_exits.on_price``); crypto at any hour, equities while the
        market is open (extended_hours limit orders also in ``market.extended_session()``)."""
        with self.lock:
            self.assets[symbol].price = Decimal(str(price))
            if trigger:
                exits.on_price(self, symbol)

    def fail(self, method: str, path: str, status: int, times: int = 1, *, place: bool = False,
             body: dict | None = None) -> None:
        """Answer the next ``times`` calls to a path with Alpaca's error body for ``status``.

        With ``place=True`` the request is carried out first (the order is placed) and only
        the answer is lost, as when a gateway fails after the order reached Alpaca. Any status
        works, 4xx included; ``body`` replaces the usual body for it.
        """
        self.faults.append(Fault(method.upper(), path, status, times, place=place, body=body))

    def place_order(self, **fields: Any) -> dict:
        """Place an order as someone else on the account would (the trader's own stop, say).

        It passes the same rules as an order sent over HTTP and is answered the same way (an
        ``AlpacaRefusal`` if Alpaca would refuse it). Orders other than market orders rest until
        ``fill_order`` or a ``set_price`` that reaches them. Defaults: a DAY market buy of 1 AAPL.
        """
        body = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1", **fields}
        body = {k: (str(v) if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) else v)
                for k, v in body.items() if v is not None}
        return self._submit(body)

    def fill_order(self, order_id: str, qty: Decimal | str | int | None = None,
                   price: Decimal | str | int | None = None) -> dict:
        """Fill a resting order (all of what remains, or ``qty`` of it) at ``price`` or the asset's."""
        with self.lock:
            order = self._order(str(order_id))
            assert rules.is_open(order), f"order {order_id} is {order['status']}"
            at = Decimal(str(price)) if price is not None else self._asset_of(order).price
            if qty is None:
                self._fill_rest(order, at)
            else:
                self._fill(order, Decimal(str(qty)), at, self.now())
            return self._order_json(order)

    def stall(self, method: str, path: str, seconds: float, times: int = 1) -> None:
        """Carry out the next ``times`` calls, then answer only after ``seconds``."""
        self.faults.append(Fault(method.upper(), path, None, times, place=True, stall=seconds))

    def count(self, method: str, path: str) -> int:
        return self.calls[(method.upper(), path)]

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def set_position(self, symbol: str, qty: Decimal | str | int, avg_entry_price: Decimal | str | int | None = None) -> None:
        with self.lock:
            price = Decimal(str(avg_entry_price)) if avg_entry_price is not None else self.assets[symbol].price
            self.positions[symbol] = [Decimal(str(qty)), price]
            self.cash -= Decimal(str(qty)) * price

    def set_equity_history(self, points: list[tuple[date, Decimal]]) -> None:
        self.equity_history = [(d, Decimal(str(e))) for d, e in points]

    def set_daily_bars(self, symbol: str, closes: list[tuple[date, Decimal]]) -> None:
        self.daily_bars[symbol] = [(d, Decimal(str(c))) for d, c in closes]

    def add_fills(self, symbol: str, count: int, *, qty: Decimal = Decimal(1), start: datetime | None = None,
                  step: timedelta = timedelta(minutes=1), side: str = "buy",
                  price: Decimal | str | int | None = None) -> list[str]:
        """Record ``count`` filled market orders directly, buys unless told (history: paging tests,
        a position opened long ago); returns order ids."""
        ids = []
        when = start or self.now() - step * count
        at = Decimal(str(price)) if price is not None else self.assets[symbol].price
        with self.lock:
            self._quiet = True  # history, not news: nothing on the trade stream
            try:
                for _ in range(count):
                    order = self._new_order({"symbol": symbol, "qty": str(qty), "side": side, "type": "market",
                                             "time_in_force": "day"}, self.assets[symbol], when)
                    self._fill(order, qty, at, when)
                    ids.append(order["id"])
                    when += step
            finally:
                self._quiet = False
        return ids

    def reject_order(self, order_id: str) -> dict:
        """The venue rejects an open order Alpaca had taken ("Replace an Order": when the old order fills before
        the replacing one "reaches the execution venue, the replacing (new) order is rejected, and
        these events are sent in the trade_updates stream"; ORDERS lifecycle: "rejected ... no
        further updates will occur"). The order ends "rejected" with failed_at set."""
        with self.lock:
            order = self._order(str(order_id))
            assert rules.is_open(order), f"order {order_id} is {order['status']}"
            stamp = _iso(self.now())
            order.update(status="rejected", failed_at=stamp, updated_at=stamp, _due=None)
            self._emit("rejected", order)
            exits.cancel_family(self, order)  # ADVANCED: the rest of its group goes with it
            return self._order_json(order)

    def reset_account(self) -> None:
        """The account starts over as a reset paper account does: no orders, positions or fills, its
        starting cash. Orders API: GET /v2/orders:by_client_order_id then answers 404 for every id
        the account had (``_by_client_id``), and the order lists no longer show them."""
        with self.lock:
            self.orders.clear()
            self.positions.clear()
            self.activities.clear()
            self.cash = self.last_equity

    def legs_of(self, order_id: str) -> list[dict]:
        """A bracket's, OTO's or OCO's legs, as GET shows each of them (take-profit first)."""
        with self.lock:
            return [self._order_json(leg) for leg in exits.legs(self, self._order(str(order_id)))]

    def advance(self) -> None:
        """Carry out the fills that have come due (the trade stream calls this while it runs)."""
        with self.lock:
            self._advance()

    # -- server ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def stream_url(self) -> str:
        """The trade_updates WebSocket, ws://127.0.0.1:PORT/stream, for TradingStream's url_override
        (starts the stream server on first use)."""
        return self.stream.url

    def start(self) -> "FakeAlpaca":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-alpaca", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # ends any stalled answer at once
        self.stream.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeAlpaca":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP --------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("fake_alpaca")
        fake = self

        @app.before_request
        def gatekeeper():
            now = time.monotonic()  # when the request arrived, before the answer's latency
            if fake.latency:
                time.sleep(fake.latency)
            with fake.lock:
                fake.calls[(request.method, request.path)] += 1
                fake.request_log.append((now, request.method, request.path))
                if fake.rate_limit is not None and fake._in_last_minute(now) > fake.rate_limit:
                    fake.rate_limited += 1
                    return _json(FAULT_BODIES[429], 429)
            key, secret = request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")
            if key != fake.key_id or secret != fake.secret_key:
                if request.path.startswith(("/v2/stocks", "/v1beta3")):
                    return _json({"message": "forbidden."}, 403)  # the data API's answer
                return _json(UNAUTHORIZED, 401)
            g.fault = fake._take_fault(request.method, request.path)
            if g.fault is not None and g.fault.status is not None and not g.fault.place:
                return g.fault.answer()
            with fake.lock:
                fake._advance()
            return None

        @app.after_request
        def late_or_lost(response: Response):
            fault = getattr(g, "fault", None)
            if fault is None or not fault.place:
                return response
            if fault.stall:
                fake._stop.wait(fault.stall)
            if fault.status is not None:
                return fault.answer()
            return response

        @app.errorhandler(AlpacaRefusal)
        def refused(e: AlpacaRefusal):
            if request.method == "POST" and request.path == "/v2/orders":
                fake.orders_refused.append(e.body)  # what a trader sees as a rejected order in their activity
            return _json(e.body, e.status)

        def route(rule: str, methods=("GET",)):
            def register(view):
                app.add_url_rule(rule, endpoint=f"{methods[0]} {rule}", view_func=view, methods=list(methods))
                return view
            return register

        route("/v2/account")(lambda: _json(fake._account_json()))
        route("/v2/clock")(lambda: _json(fake._clock_json()))
        route("/v2/calendar")(lambda: _json(fake._calendar_json(request.args)))
        route("/v2/assets/<path:symbol>")(lambda symbol: _json(fake._asset(symbol).as_json()))
        route("/v2/positions")(lambda: _json(fake._positions_json()))
        route("/v2/positions/<path:symbol>")(lambda symbol: _json(fake._position_json(fake._position_symbol(symbol))))
        route("/v2/orders", ("POST",))(lambda: _json(fake._submit(_body())))
        route("/v2/orders")(lambda: _json(fake._list_orders(request.args)))
        route("/v2/orders:by_client_order_id")(lambda: _json(fake._by_client_id(request.args.get("client_order_id", ""))))
        route("/v2/orders/<order_id>")(lambda order_id: _json(fake._order_json(fake._order(order_id))))
        route("/v2/orders/<order_id>", ("DELETE",))(lambda order_id: fake._cancel(order_id))
        route("/v2/orders/<order_id>", ("PATCH",))(lambda order_id: _json(fake._replace(order_id, _body())))
        route("/v2/account/activities/<kind>")(lambda kind: _json(fake._activities(request.args, kind)))
        route("/v2/account/activities")(lambda: _json(fake._activities(request.args, request.args.get("activity_types", ""))))
        route("/v2/account/portfolio/history")(lambda: _json(fake._portfolio_history(request.args)))
        route("/v2/stocks/trades/latest")(lambda: _json(fake._latest_trades(request.args, "symbols")))
        route("/v2/stocks/<symbol>/trades/latest")(lambda symbol: _json(fake._latest_trade_single(symbol)))
        route("/v2/stocks/bars")(lambda: _json(fake._bars(request.args)))
        route("/v2/stocks/<symbol>/bars")(lambda symbol: _json(fake._bars(request.args, single=symbol)))
        route("/v1beta3/crypto/<feed>/latest/trades")(lambda feed: _json(fake._latest_trades(request.args, "symbols", crypto=True)))
        return app

    def _in_last_minute(self, now: float) -> int:
        count = 0
        for at, _method, _path in reversed(self.request_log):
            if now - at >= 60.0:
                break
            count += 1
        return count

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path == path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # -- account -----------------------------------------------------------------------

    def _market_values(self) -> tuple[Decimal, Decimal]:
        long_mv = short_mv = ZERO
        for symbol, (qty, _avg) in self.positions.items():
            value = qty * self.assets[symbol].price
            if qty > 0:
                long_mv += value
            else:
                short_mv += value
        return long_mv, short_mv

    def equity(self) -> Decimal:
        long_mv, short_mv = self._market_values()
        return self.cash + long_mv + short_mv

    def effective_multiplier(self) -> Decimal:
        """MARGIN: under $2,000 of equity an account is "restricted to 1x buying power"."""
        return self.multiplier if rules.margin_allowed(self.equity()) else Decimal(1)

    def may_short(self) -> bool:
        """MARGIN: selling short needs shorting enabled and $2,000 or more of equity."""
        return self.shorting_enabled and rules.margin_allowed(self.equity())

    def buying_power(self, exclude: dict | None = None) -> Decimal:
        """Margin buying power less what open orders already claim (simplified Reg T)."""
        long_mv, short_mv = self._market_values()
        return max(ZERO, self.equity() * self.effective_multiplier() - long_mv + short_mv - self._claimed(exclude))

    def _account_json(self) -> dict:
        with self.lock:
            long_mv, short_mv = self._market_values()
            equity = self.equity()
            return {
                "id": self.account_id, "account_number": "PA3FAKE00001", "status": self.status,
                "crypto_status": "ACTIVE", "currency": "USD", "buying_power": _s(self.buying_power()),
                "regt_buying_power": _s(self.buying_power()), "daytrading_buying_power": "0",
                "non_marginable_buying_power": _s(max(self.cash, ZERO)), "cash": _s(self.cash),
                "accrued_fees": "0", "pending_transfer_in": "0", "portfolio_value": _s(equity),
                "pattern_day_trader": False, "trading_blocked": False, "transfers_blocked": False,
                "account_blocked": False, "created_at": "2024-01-02T15:00:00Z", "trade_suspended_by_user": False,
                "multiplier": _s(self.effective_multiplier()), "shorting_enabled": self.may_short(), "equity": _s(equity),
                "last_equity": _s(self.last_equity), "long_market_value": _s(long_mv), "short_market_value": _s(short_mv),
                "initial_margin": "0", "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0",
                "daytrade_count": 0,
            }

    def _calendar_json(self, args) -> list[dict]:
        """Calendar API (GET /v2/calendar): the exchange's trading days between start and end, each
        with its open and close (New York time); weekends and ``holidays`` are absent."""
        # Alpaca's "Calendar" API reference: one entry per trading day, date/open/close, close "13:00" early.
        start = date.fromisoformat(args.get("start") or self.now(NEW_YORK).date().isoformat())
        end = date.fromisoformat(args.get("end") or start.isoformat())
        days = []
        day = start
        while day <= end:
            if day.weekday() < 5 and day not in self.holidays:
                close = self.early_closes.get(day, "16:00")  # e.g. 13:00 the day after Thanksgiving
                days.append({"date": day.isoformat(), "open": "09:30", "close": close, "session_open": "0400",
                             "session_close": "2000", "settlement_date": (day + timedelta(days=1)).isoformat()})
            day += timedelta(days=1)
        return days

    def _clock_json(self) -> dict:
        now = self.now(NEW_YORK)
        today_open = datetime.combine(now.date(), dtime(9, 30), NEW_YORK)
        next_open = today_open if now < today_open else today_open + timedelta(days=1)
        next_close = datetime.combine(now.date(), dtime(16, 0), NEW_YORK)
        if now >= next_close:
            next_close += timedelta(days=1)
        return {"timestamp": now.isoformat(), "is_open": self.market.is_open,
                "next_open": next_open.isoformat(), "next_close": next_close.isoformat()}

    # -- assets and positions ----------------------------------------------------------

    def _asset(self, symbol: str) -> FakeAsset:
        symbol = symbol.upper()
        asset = self.assets.get(symbol) or next(
            (a for a in self.assets.values() if a.crypto and a.symbol.replace("/", "") == symbol), None)
        if asset is None:
            raise AlpacaRefusal(404, 40410000, "asset not found")
        return asset

    def _position_symbol(self, symbol: str) -> str:
        # CRYPTO: positions carry the legacy unslashed symbol; GET /v2/positions/BTC/USD answers 404
        # while BTCUSD works (github.com/alpacahq/alpaca-py/issues/537, d-e-s-o/apca pull 96).
        asset = None if "/" in symbol else self.assets.get(symbol.upper()) or next(
            (a for a in self.assets.values() if a.crypto and a.symbol.replace("/", "") == symbol.upper()), None)
        if asset is None or asset.symbol not in self.positions:
            raise AlpacaRefusal(404, 40410000, "position does not exist")
        return asset.symbol

    def _position_json(self, symbol: str) -> dict:
        with self.lock:
            qty, avg = self.positions[symbol]
            asset = self.assets[symbol]
            price = asset.price
            cost = qty * avg
            value = qty * price
            pl = value - cost
            return {
                "asset_id": asset.id, "symbol": symbol.replace("/", ""),  # Alpaca drops the slash here
                "exchange": asset.exchange, "asset_class": asset.asset_class, "asset_marginable": not asset.crypto,
                "avg_entry_price": _s(avg), "qty": _s(qty), "side": "long" if qty > 0 else "short",
                "market_value": _s(value), "cost_basis": _s(cost), "unrealized_pl": _s(pl),
                "unrealized_plpc": _s(pl / abs(cost)) if cost else "0", "unrealized_intraday_pl": _s(pl),
                "unrealized_intraday_plpc": "0", "current_price": _s(price), "lastday_price": _s(price),
                "change_today": "0",
                "qty_available": _s((abs(qty) - self._held(symbol, "sell" if qty > 0 else "buy")) * (1 if qty > 0 else -1)),
            }

    def _positions_json(self) -> list[dict]:
        with self.lock:  # one moment's positions: a fill may close one while the list is built
            return [self._position_json(s) for s in sorted(self.positions)]

    def _held(self, symbol: str, side: str) -> Decimal:
        """Shares that open orders on one side already claim (notional ones at today's price)."""
        price = self.assets[symbol].price
        return min(abs(self.positions.get(symbol, [ZERO])[0]),
                   rules.held_by_group([o for o in self._open_orders(symbol) if o["side"] == side], price))

    # -- orders ------------------------------------------------------------------------

    def _traits(self, asset: FakeAsset) -> rules.Traits:
        return rules.Traits(asset.symbol, asset.price, asset.crypto, asset.fractionable, asset.shortable,
                            asset.easy_to_borrow, dec(asset.min_order_size), dec(asset.min_trade_increment))

    def _open_orders(self, symbol: str, exclude: str | None = None) -> list[dict]:
        return [o for o in self.orders.values() if o["symbol"] == symbol and rules.is_open(o) and o["id"] != exclude]

    def _submit(self, body: dict, *, replacing: dict | None = None) -> dict:
        with self.lock:
            body = rules.normalize_oco(body)
            asset, qty, notional, intent, wanted = self._validate(body, replacing=replacing)
            order = self._new_order(body, asset, self.now(), intent=intent)
            if order["type"] == "trailing_stop":
                exits.start_trailing(order, asset.price)
            if order["order_class"] != "simple":
                exits.make_legs(self, order, wanted)
            self._route(order)
            return self._order_json(order)

    def _route(self, order: dict) -> None:
        """A new order: market orders fill (crypto 24/7; ORDERS: "Crypto Trading is 24/7") while the
        market is open; orders of other types rest ("new") until a test fills them; outside hours every
        equity order waits "accepted" (ORDERS: "This could be seen often outside of trading session
        hours"; "submitted after 4:00pm ET will be queued up for release the next trading day")."""
        extended = self.market.extended and order["extended_hours"]
        if not (self._asset_of(order).crypto or self.market.is_open or extended):
            self._emit("accepted", order)  # alpaca-py TradeEvent "accepted": taken, not yet routed
        elif order["type"] == "market":
            # Streaming: "new: Sent when an order has been routed to exchanges"; its fills follow.
            self._emit("new", order, status="new")
            self._start_filling(order)
        else:
            order["status"] = "new"
            self._emit("new", order)
        if order["order_class"] == "oco":  # ADVANCED: both exits of an OCO work from the start
            for leg in exits.legs(self, order):
                if leg["status"] == "accepted":
                    self._route(leg)

    def _validate(self, body: dict, *, replacing: dict | None = None):
        symbol = str(body.get("symbol") or "")
        if not symbol:
            raise AlpacaRefusal(422, 40010001, "symbol is required")
        try:
            asset = self._asset(symbol)
        except AlpacaRefusal:
            raise AlpacaRefusal(422, 42210000, f'asset "{symbol}" not found') from None
        if not asset.tradable:
            raise AlpacaRefusal(422, 42210000, f"asset {asset.symbol} is not tradable")
        traits = self._traits(asset)
        qty, notional = rules.check_fields(body, traits, self.market.is_open)
        client_id = body.get("client_order_id")
        if client_id is not None:
            if len(str(client_id)) > 128:
                raise AlpacaRefusal(422, 40010001, "client_order_id must be no more than 128 characters")
            if any(o["client_order_id"] == client_id for o in self.orders.values()):
                raise AlpacaRefusal(422, 40010001, "client_order_id must be unique")
        side = body["side"]
        position = self.positions.get(asset.symbol, [ZERO, ZERO])[0]
        others = self._open_orders(asset.symbol, exclude=replacing["id"] if replacing else None)
        intent = rules.check_intent(body.get("position_intent"), side, position)
        probe = {"id": None, "side": side, "type": body["type"], "order_class": body.get("order_class") or "simple",
                 "limit_price": body.get("limit_price")}
        wanted = rules.check_order_class(body, traits, intent)
        rules.check_exit_prices(body.get("order_class") or "simple", side, _dec(body.get("limit_price")), wanted,
                                asset.price)
        rules.check_no_opposite_opening(side, position, others)
        rules.check_wash_trade(probe, others)
        requested = qty if qty is not None else (notional / asset.price).quantize(QTY_STEP, ROUND_DOWN)
        same_side = [o for o in others if o["side"] == side]
        rules.check_notional_outside_hours(side, notional, self.market.is_open, same_side, asset.crypto)
        rules.check_qty_available(traits, side, position, requested, same_side)
        if intent == "sell_to_open":
            rules.check_short(traits, qty, self.may_short())
        self._check_buying_power(asset, intent, qty, notional, exclude=replacing)
        return asset, qty, notional, intent, wanted

    def _check_buying_power(self, asset: FakeAsset, intent: str, qty: Decimal | None, notional: Decimal | None,
                            exclude: dict | None = None) -> None:
        if intent.endswith("_to_close"):
            return  # ORDERS: buying power is checked on orders "that would open new positions or add to existing ones"
        cost = notional if notional is not None else qty * asset.price
        if asset.crypto:
            # MARGIN: "Margin Trading for Crypto is not applicable": crypto buys spend cash only. The
            # words follow the crypto "insufficient balance" bodies (not documented for USD).
            cash = max(ZERO, self.cash - self._claimed(exclude))
            if cost > cash:
                raise AlpacaRefusal(403, 40310000, f"insufficient balance for USD (requested: {_s(cost)}, "
                                    f"available: {_s(cash)})", available=_s(cash), balance=_s(self.cash))
            return
        if intent == "sell_to_open":
            # ORDERS (Buying Power): a market short is valued at "3% above the current ask price * order quantity".
            cost = cost * Decimal("1.03")
        power = self.buying_power(exclude)
        if cost > power:
            raise AlpacaRefusal(403, 40310000, "insufficient buying power", buying_power=_s(power), cost_basis=_s(cost))

    def _order_cost(self, order: dict) -> Decimal:
        """What an open order claims of buying power: opening orders only (ORDERS: "your available
        buying power is reduced by your existing open buy long and sell short orders, whereas your
        sell long and buy to cover orders do not replenish your available buying power")."""
        if order["position_intent"].endswith("_to_close"):
            return ZERO
        asset = self._asset_of(order)
        price = Decimal(order["limit_price"]) if order["limit_price"] else asset.price
        if order["notional"] is not None:
            return max(ZERO, Decimal(order["notional"]) - Decimal(order["filled_qty"]) * asset.price)
        return rules.remaining(order, price) * price

    def _claimed(self, exclude: dict | None = None) -> Decimal:
        return sum((self._order_cost(o) for o in self.orders.values()
                    if rules.is_open(o) and (exclude is None or o["id"] != exclude["id"])), ZERO)

    def _new_order(self, body: dict, asset: FakeAsset, when: datetime, intent: str | None = None) -> dict:
        qty, notional = _dec(body.get("qty")), _dec(body.get("notional"))
        kind = body.get("type", "market")
        stamp = _iso(when)
        order = {
            "id": str(uuid.uuid4()), "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
            "created_at": stamp, "updated_at": stamp, "submitted_at": stamp, "filled_at": None,
            "expired_at": None, "canceled_at": None, "failed_at": None, "replaced_at": None,
            "replaced_by": None, "replaces": None, "asset_id": asset.id, "symbol": asset.symbol,
            "asset_class": asset.asset_class, "notional": _s(notional) if notional is not None else None,
            "qty": _s(qty) if qty is not None else None, "filled_qty": "0", "filled_avg_price": None,
            "order_class": body.get("order_class") or "simple", "order_type": kind, "type": kind,
            "side": body["side"],
            "position_intent": intent or rules.infer_intent(body["side"], self.positions.get(asset.symbol, [ZERO])[0]),
            "time_in_force": body.get("time_in_force"), "limit_price": _str_or_none(body.get("limit_price")),
            "stop_price": _str_or_none(body.get("stop_price")), "status": "accepted",
            "extended_hours": bool(body.get("extended_hours", False)), "legs": None,
            "trail_percent": _str_or_none(body.get("trail_percent")), "trail_price": _str_or_none(body.get("trail_price")),
            "hwm": None, "subtag": None, "source": None, "expires_at": None,
        }
        order["_due"] = None
        self.orders[order["id"]] = order
        return order

    def _replace(self, order_id: str, body: dict) -> dict:
        """PATCH /v2/orders/{id} (ORDERS_API "Replace an order"): "Each parameter overrides the
        corresponding attribute of the existing order. The other attributes remain the same"; the
        answer is "The new Order object with the new order ID". The old order becomes "replaced"
        (ORDERS lifecycle) with replaced_by, the new one names it in replaces."""
        with self.lock:
            old = self._order(order_id)
            if not rules.is_open(old):
                # ORDERS_API lists 422 for unrecognised input; the words are the fake's.
                raise AlpacaRefusal(422, 42210000, "order is not replaceable")
            if exits.is_complex(old):
                return self._replace_leg(old, body)
            fields = {"symbol": old["symbol"], "side": old["side"], "type": old["type"],
                      "time_in_force": old["time_in_force"], "order_class": old["order_class"],
                      "extended_hours": old["extended_hours"], "limit_price": old["limit_price"],
                      "stop_price": old["stop_price"], "trail_price": old["trail_price"],
                      "trail_percent": old["trail_percent"], "position_intent": None,
                      "qty": body.get("qty", old["qty"]), "notional": None if "qty" in body else old["notional"]}
            for key in ("time_in_force", "limit_price", "stop_price", "client_order_id"):
                if body.get(key) is not None:
                    fields[key] = body[key]
            if body.get("trail") is not None:
                fields["trail_price" if old["trail_price"] is not None else "trail_percent"] = body["trail"]
            asset, _qty, _notional, intent, _exits = self._validate(fields, replacing=old)
            new = self._new_order(fields, asset, self.now(), intent=intent)
            stamp = new["created_at"]
            old.update(status="replaced", replaced_by=new["id"], replaced_at=stamp, updated_at=stamp, _due=None)
            new["replaces"] = old["id"]
            self._emit("replaced", old)  # the old order, then the new one's own "new" (or "accepted")
            self._route(new)
            return self._order_json(new)

    def _replace_leg(self, old: dict, body: dict) -> dict:
        """PATCH of an order in a group. ADVANCED: for bracket and OCO orders "Order replacement is supported
        to update limit_price and stop_price"; for OTO "order replacement is not supported yet". The fake
        replaces exit legs only (an entry that has not filled: refused, conservative), keeping the leg's place
        in its group. Words: the fake's, but "limit orders must not have stop_price" (Alpaca's, quoted in
        forum.alpaca.markets/t/bracket-order-closing-positions/11938)."""
        if old["order_class"] == "oto" or old.get("_group") is None:
            raise AlpacaRefusal(422, 42210000, f"{old['order_class']} order is not replaceable")
        if set(body) - {"limit_price", "stop_price", "client_order_id"}:
            raise AlpacaRefusal(422, 42210000, "only limit_price and stop_price of an exit order can be replaced")
        if old["type"] == "limit" and body.get("stop_price") is not None:
            raise AlpacaRefusal(422, 40010001, "limit orders must not have stop_price")
        if old["type"] == "stop" and body.get("limit_price") is not None:
            raise AlpacaRefusal(422, 40010001, "stop orders must not have limit_price")
        for key in ("limit_price", "stop_price"):
            rules.check_increment(key, _dec(body.get(key)))
        stamp = self._stamp()
        new = {**old, "id": str(uuid.uuid4()), "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
               "created_at": stamp, "updated_at": stamp, "submitted_at": stamp, "replaces": old["id"],
               "qty": _s(rules.remaining(old, self._asset_of(old).price)), "filled_qty": "0",
               "filled_avg_price": None}
        new.pop("_triggered", None)
        for key in ("limit_price", "stop_price"):
            if body.get(key) is not None:
                new[key] = _str_or_none(body[key])
        old.update(status="replaced", replaced_by=new["id"], replaced_at=stamp, updated_at=stamp, _due=None)
        self.orders[new["id"]] = new
        if old.get("_parent"):
            parent = self.orders[old["_parent"]]
            parent["_legs"] = [new["id"] if i == old["id"] else i for i in parent["_legs"]]
        for leg in exits.legs(self, new):  # an OCO's take-profit is its parent
            leg["_parent"] = new["id"]
        self._emit("replaced", old)
        if new["status"] in ("new", "accepted"):
            self._emit(new["status"], new)
        return self._order_json(new)

    def _expire_day_orders(self) -> None:
        """At the close every open DAY order ends "expired", keeping what it filled (ORDERS, time in
        force: "If unfilled after the closing auction, it is automatically canceled"; the lifecycle's
        "expired" and the trade stream's expired event, "reached the end of its lifespan, as determined
        by the order's time in force", are what Alpaca reports for it). The docs name extended-hours
        DAY orders' 8pm end; this fake has one close, so those expire with the rest (conservative)."""
        stamp = _iso(self.now())
        for order in self.orders.values():
            if rules.is_open(order) and order["time_in_force"] == "day" and not self._asset_of(order).crypto:
                order.update(status="expired", expired_at=stamp, updated_at=stamp, _due=None)
                self._emit("expired", order)

    def _asset_of(self, order: dict) -> FakeAsset:
        return self.assets[order["symbol"]]

    def _start_filling(self, order: dict) -> None:
        """Fill now, or mark the order "new" until its fill is due (fill_delay / partial)."""
        now = time.monotonic()
        if self.fill_delay > 0:
            order["status"], order["_due"] = "new", now + self.fill_delay
            return
        if self.partial:
            asset = self.assets[order["symbol"]]
            total = self._order_qty(order, asset.price)
            half = (total / 2).quantize(Decimal(1) if total == total.to_integral_value() and total > 1 else QTY_STEP,
                                         ROUND_DOWN)
            if 0 < half < total:
                self._fill(order, half, asset.price, self.now())
                order["_due"] = now + self.partial_delay
                return
        self._fill_rest(order)

    def _advance(self) -> None:
        """Carry out fills that have come due since the last request."""
        now = time.monotonic()
        for order in self.orders.values():
            if order["_due"] is not None and order["_due"] <= now and order["status"] in ("new", "partially_filled"):
                order["_due"] = None
                if order["status"] == "new" and self.partial:
                    self.fill_delay, saved = 0.0, self.fill_delay
                    try:
                        self._start_filling(order)
                    finally:
                        self.fill_delay = saved
                else:
                    self._fill_rest(order)

    def _order_qty(self, order: dict, price: Decimal) -> Decimal:
        return rules.order_qty(order, price)

    def _fill_rest(self, order: dict, price: Decimal | None = None) -> None:
        price = price if price is not None else self.assets[order["symbol"]].price
        total = self._order_qty(order, price)
        remaining = total - Decimal(order["filled_qty"])
        if remaining > 0:
            self._fill(order, remaining, price, self.now(), final=True)

    def _fill(self, order: dict, qty: Decimal, price: Decimal, when: datetime, final: bool | None = None) -> None:
        symbol, side = order["symbol"], order["side"]
        signed = qty if side == "buy" else -qty
        held, avg = self.positions.get(symbol, [ZERO, ZERO])
        new_qty = held + signed
        if held == 0 or (held > 0) == (signed > 0):
            avg = (held * avg + signed * price) / new_qty  # adding to the position: weighted entry
        if new_qty == 0:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = [new_qty, avg.quantize(QTY_STEP)]
        self.cash -= signed * price
        filled_before = Decimal(order["filled_qty"])
        filled = filled_before + qty
        old_avg = Decimal(order["filled_avg_price"] or 0)
        order["filled_avg_price"] = _s(((filled_before * old_avg + qty * price) / filled).quantize(Decimal("0.0001")))
        order["filled_qty"] = _s(filled)
        done = final if final is not None else filled >= self._order_qty(order, price)
        order["status"] = "filled" if done else "partially_filled"
        order["updated_at"] = _iso(when)
        if done:
            order["filled_at"] = _iso(when)
        stamp = when.astimezone(timezone.utc)
        # Account Activities (TradeActivity "side": buy, sell or sell_short): a sale that opens or
        # adds to a short is reported as sell_short; the order itself stays a "sell".
        label = "sell_short" if side == "sell" and held <= 0 else side
        self.activities.append({
            "id": f"{stamp:%Y%m%d%H%M%S}{stamp.microsecond // 1000:03d}::{uuid.uuid4()}",
            "account_id": self.account_id, "activity_type": "FILL", "transaction_time": _iso(when),
            "type": "fill" if done else "partial_fill", "price": _s(price), "qty": _s(qty), "side": label,
            "symbol": symbol.replace("/", ""), "leaves_qty": _s(self._order_qty(order, price) - filled),
            "order_id": order["id"], "cum_qty": _s(filled), "order_status": order["status"],
        })
        self.activities.sort(key=lambda a: a["transaction_time"])
        self._emit("fill" if done else "partial_fill", order, when, price=_s(price), qty=_s(qty),
                   position_qty=_s(new_qty))
        if not self._quiet:
            exits.after_fill(self, order, done)

    def _order(self, order_id: str) -> dict:
        order = self.orders.get(order_id)
        if order is None:
            raise AlpacaRefusal(404, 40410000, "order not found")
        return order

    def _by_client_id(self, client_id: str) -> dict:
        for order in self.orders.values():
            if order["client_order_id"] == client_id:
                return self._order_json(order)
        raise AlpacaRefusal(404, 40410000, "order not found")

    def _cancel(self, order_id: str) -> Response:
        with self.lock:
            order = self._order(order_id)
            if order["status"] not in OPEN_STATUSES:
                raise AlpacaRefusal(422, 42210000, "order is not cancelable")
            exits.cancel_family(self, order)  # a simple order is a family of one
        return Response(status=204)

    def _stamp(self) -> str:
        return _iso(self.now())

    def _list_orders(self, args) -> list[dict]:
        status = args.get("status", "open")
        limit = min(int(args.get("limit", 50)), 500)
        after, until = _when(args.get("after")), _when(args.get("until"))
        symbols = set(filter(None, (args.get("symbols") or "").split(",")))
        side = args.get("side")
        # ADVANCED: "Each order of the group is reported as an independent order in GET /v2/orders
        # endpoint. But if you specify additional parameter nested=true, the order response will nest the
        # result to include child orders under the parent order with an array field legs". Which group
        # counts as open is not documented: the fake lists a parent as open while any of its group is.
        nested = str(args.get("nested", "")).lower() == "true"
        with self.lock:
            chosen = []
            for order in self.orders.values():
                submitted = _when(order["submitted_at"])
                if nested and order.get("_parent"):
                    continue
                members = exits.family(self, order) if nested else [order]
                is_open = any(o["status"] in OPEN_STATUSES for o in members)
                if status == "open" and not is_open:
                    continue
                if status == "closed" and is_open:
                    continue
                if (after and submitted <= after) or (until and submitted >= until):
                    continue
                if symbols and order["symbol"] not in symbols and order["symbol"].replace("/", "") not in symbols:
                    continue
                if side and order["side"] != side:
                    continue
                chosen.append(order)
            chosen.sort(key=lambda o: o["submitted_at"], reverse=args.get("direction", "desc") != "asc")
            return [self._order_json(o, nested=nested) for o in chosen[:limit]]

    def _order_json(self, order: dict, nested: bool = True) -> dict:
        """The order as the API shows it. A parent's ``legs`` hold its legs' own order objects (ADVANCED: the
        "array field legs in the order entity"); the answer to the POST and reads of one order carry them
        (the docs do not say whether GET /v2/orders/{id} needs nested=true: the fake always nests there),
        lists only with nested=true. A leg, and any simple order, has legs null."""
        shown = {k: v for k, v in order.items() if not k.startswith("_")}
        if order.get("_legs"):
            shown["legs"] = [self._order_json(leg) for leg in exits.legs(self, order)] if nested else None
        return shown

    def _emit(self, event: str, order: dict, when: datetime | None = None, status: str | None = None,
              **fill: str) -> None:
        """Push a trade_updates event with the order as REST shows it now (``status`` overrides the
        order's own for the moment between routing and filling). Nothing while the stream is off."""
        if self._quiet or not self.stream.running:
            return
        snapshot = self._order_json(order)
        if status is not None:
            snapshot["status"] = status
        self.stream.publish(trade_update(event, snapshot, _iso(when or self.now()), **fill))

    # -- activities, history, market data ---------------------------------------------

    def _activities(self, args, kinds: str) -> list[dict]:
        # Paged as docs.alpaca.markets/reference/getaccountactivitiesbytype says: direction desc by
        # default; page_token is the last id of the previous page (desc: "results will end before"
        # it, asc: "begin with the activity immediately after"); page_size defaults to, and is at
        # most, 100.
        self.activity_queries.append(dict(args))
        if "FILL" not in kinds.upper().split(","):
            return []
        size = min(int(args.get("page_size", 100)), 100)
        descending = args.get("direction", "desc") != "asc"
        after, until, token = _when(args.get("after")), _when(args.get("until")), args.get("page_token")
        on_date = args.get("date")
        with self.lock:
            items = [a for a in self.activities
                     if (not after or _when(a["transaction_time"]) > after)
                     and (not until or _when(a["transaction_time"]) < until)
                     and (not on_date or a["transaction_time"][:10] == on_date)]
        if descending:
            items.reverse()
        if token:
            ids = [a["id"] for a in items]
            items = items[ids.index(token) + 1:] if token in ids else []
        return items[:size]

    def _portfolio_history(self, args) -> dict:
        period = args.get("period", "1M")
        days = {"D": 1, "W": 7, "M": 30, "A": 365}.get(period[-1:].upper(), 30) * int(period[:-1] or 1)
        today = self.now(NEW_YORK).date()
        with self.lock:
            points = [(d, e) for d, e in self.equity_history if d > today - timedelta(days=days) and d != today]
            points.append((today, self.equity()))
        base = points[0][1]
        return {
            "timestamp": [int(datetime.combine(d, dtime(0), NEW_YORK).timestamp()) for d, _ in points],
            "equity": [float(e) for _, e in points],
            "profit_loss": [float(e - base) for _, e in points],
            "profit_loss_pct": [float((e - base) / base) if base else 0.0 for _, e in points],
            "base_value": float(base), "timeframe": args.get("timeframe", "1D"), "base_value_asof": points[0][0].isoformat(),
        }

    def _check_feed(self, args, crypto: bool) -> None:
        if not crypto and self.iex_only and args.get("feed", "sip") != "iex":
            raise AlpacaRefusal(403, 0, "subscription does not permit querying recent SIP data")

    def _trade_json(self, asset: FakeAsset) -> dict:
        trade = {"t": _iso(self.now()), "p": float(asset.price), "s": 100, "i": 52983525029461}
        if asset.crypto:
            trade.update(s=0.01, tks="B")
        else:
            trade.update(x="V", c=["@"], z="C")
        return trade

    def _latest_trades(self, args, key: str, crypto: bool = False) -> dict:
        self._check_feed(args, crypto)
        trades = {}
        for symbol in filter(None, args.get(key, "").split(",")):
            asset = self.assets.get(symbol)
            if asset is not None and asset.crypto == crypto:
                trades[symbol] = self._trade_json(asset)
        return {"trades": trades}

    def _latest_trade_single(self, symbol: str) -> dict:
        self._check_feed(request.args, False)
        asset = self.assets.get(symbol)
        if asset is None or asset.crypto:
            raise AlpacaRefusal(404, 40410000, "symbol not found")
        return {"symbol": symbol, "trade": self._trade_json(asset)}

    def _bars(self, args, single: str | None = None) -> dict:
        self._check_feed(args, False)
        if args.get("timeframe") not in ("1Day", "1D", "1day"):
            raise AlpacaRefusal(422, 0, "this fake serves daily bars only")
        start, end = _when(args.get("start")), _when(args.get("end"))
        size = min(int(args.get("limit") or 1000), self.bars_page_size, 10000)
        symbols = [single] if single else [s for s in args.get("symbols", "").split(",") if s]
        rows = []  # (symbol, bar) in symbol then time order, as Alpaca pages them
        for symbol in symbols:
            for day, close in self.daily_bars.get(symbol, []):
                stamp = datetime.combine(day, dtime(0), NEW_YORK).astimezone(timezone.utc)
                if (start and stamp < start) or (end and stamp > end):
                    continue
                c = float(close)
                rows.append((symbol, {"t": _iso(stamp), "o": c, "h": c, "l": c, "c": c, "v": 1000000,
                                      "n": 10000, "vw": c}))
        offset = int(args.get("page_token") or 0)
        page = rows[offset:offset + size]
        token = str(offset + size) if offset + size < len(rows) else None
        if single:
            return {"bars": [bar for _, bar in page], "symbol": single, "next_page_token": token}
        grouped: dict[str, list[dict]] = {}
        for symbol, bar in page:
            grouped.setdefault(symbol, []).append(bar)
        return {"bars": grouped, "next_page_token": token}


def _body() -> dict:
    try:
        body = json.loads(request.get_data() or b"{}", parse_float=Decimal)
    except ValueError:
        raise AlpacaRefusal(400, 40010000, "request body format is invalid") from None
    if not isinstance(body, dict):
        raise AlpacaRefusal(400, 40010000, "request body format is invalid")
    return body


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


_dec = dec
_s = rules.s


def _str_or_none(value: Any) -> str | None:
    """A price as Alpaca writes it: a string, "145" rather than "145.0"."""
    return None if value is None or value == "" else _s(_dec(value))


def _iso(when: datetime) -> str:
    # Always with microseconds, so the strings sort in time order.
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
