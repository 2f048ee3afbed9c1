"""An in-process fake of Alpaca's trading API (v2) and market data API, served on loopback.

It speaks the paths, JSON shapes and error bodies that alpaca-py sends and parses, and it
enforces the Alpaca rules that shape NovAlgo's executor: API keys on every request, exactly
one of qty and notional, notional/fractional orders only as DAY market orders on fractionable
assets, whole-share shorts only when the account may short and the asset is shortable and
easy to borrow, no order that takes a position across zero, unique client_order_ids, and
buying power. Market orders fill at once at the fake's price while the market is open and
queue (``accepted``) while it is closed, until the test calls ``fake.market.open()``.

Tests can count requests per path and inject faults: error answers for the next N calls to a
path, an order that is placed but answered with an error, or one answered too late (the
ambiguous case that idempotent client_order_ids exist for).

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
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request
from werkzeug.serving import make_server

NEW_YORK = ZoneInfo("America/New_York")
QTY_STEP = Decimal("0.000000001")
ZERO = Decimal(0)
OPEN_STATUSES = ("new", "accepted", "pending_new", "partially_filled", "held", "accepted_for_bidding")

# Alpaca's own error bodies, as its API answers them.
UNAUTHORIZED = {"code": 40110000, "message": "request is not authorized"}
FAULT_BODIES = {
    429: {"code": 42910000, "message": "rate limit exceeded"},
    500: {"code": 50010000, "message": "internal server error occurred"},
    502: {"code": 50210000, "message": "bad gateway"},
    503: {"code": 50310000, "message": "service unavailable"},
    504: {"code": 50410000, "message": "gateway timeout"},
}


class AlpacaRefusal(Exception):
    """An Alpaca error answer: HTTP status and JSON body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, **extra}


@dataclass
class Fault:
    method: str
    path: str
    status: int | None  # the error answered, or None for a late but good answer
    times: int
    place: bool = False  # run the request (place the order) before answering the error
    stall: float = 0.0  # seconds to wait before answering


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

    @property
    def crypto(self) -> bool:
        return self.asset_class == "crypto"

    def as_json(self) -> dict:
        return {
            "id": self.id, "class": self.asset_class, "exchange": self.exchange, "symbol": self.symbol,
            "name": f"{self.symbol} (fake)", "status": "active", "tradable": self.tradable,
            "marginable": not self.crypto, "maintenance_margin_requirement": 30, "shortable": self.shortable,
            "easy_to_borrow": self.easy_to_borrow, "fractionable": self.fractionable, "attributes": [],
            "min_order_size": "0.0001" if self.crypto else None,
            "min_trade_increment": "0.0001" if self.crypto else None,
            "price_increment": "0.01" if self.crypto else None,
        }


class Market:
    """The fake's market hours: open until a test closes it (crypto trades regardless)."""

    def __init__(self, fake: "FakeAlpaca"):
        self._fake = fake
        self.is_open = True

    def open(self) -> None:
        """Open the market: every queued DAY order fills now, as at Alpaca's opening cross."""
        with self._fake.lock:
            self.is_open = True
            for order in list(self._fake.orders.values()):
                if order["status"] == "accepted":
                    self._fake._start_filling(order)

    def close(self) -> None:
        with self._fake.lock:
            self.is_open = False


class FakeAlpaca:
    """State of one fake Alpaca account plus the HTTP server that exposes it."""

    def __init__(self, key_id: str = "PKTESTKEY", secret_key: str = "test-secret", *, cash: Decimal = Decimal(100000),
                 shorting_enabled: bool = True, multiplier: Decimal = Decimal(2), status: str = "ACTIVE",
                 latency: float = 0.0, rate_limit: int | None = None):
        self.key_id, self.secret_key = key_id, secret_key
        self.latency = latency  # seconds every answer takes (benchmarks: a real API is not instant)
        self.rate_limit = rate_limit  # requests a minute before 429, as Alpaca's 200; None: no limit
        self.rate_limited = 0  # 429s answered because of rate_limit
        self.lock = threading.RLock()
        self.market = Market(self)
        self.cash = Decimal(cash)
        self.shorting_enabled = shorting_enabled
        self.multiplier = Decimal(multiplier)
        self.status = status
        self.account_id = str(uuid.uuid4())
        self.assets: dict[str, FakeAsset] = {}
        self.orders: dict[str, dict] = {}  # by order id, in submission order
        self.positions: dict[str, list[Decimal]] = {}  # symbol -> [qty, avg_entry_price]
        self.activities: list[dict] = []  # FILL activities, oldest first
        self.equity_history: list[tuple[date, Decimal]] = []
        self.daily_bars: dict[str, list[tuple[date, Decimal]]] = {}
        self.fill_delay = 0.0  # seconds an order stays "new" before it fills
        self.partial = False  # fill in two steps: half now, the rest after partial_delay
        self.partial_delay = 0.05
        self.bars_page_size = 1000
        self.iex_only = True  # like a free data plan: recent SIP data is refused
        self.calls: Counter[tuple[str, str]] = Counter()
        self.request_log: list[tuple[float, str, str]] = []  # (time, method, path)
        self.faults: list[Fault] = []
        self._stop = threading.Event()
        self._server = None
        self._thread: threading.Thread | None = None
        for symbol, price in (("AAPL", "150"), ("MSFT", "400"), ("SPY", "500"), ("TSLA", "200")):
            self.add_asset(symbol, Decimal(price))
        self.add_asset("BTC/USD", Decimal("60000"), asset_class="crypto", exchange="CRYPTO",
                       shortable=False, easy_to_borrow=False)
        self.add_asset("ETH/USD", Decimal("3000"), asset_class="crypto", exchange="CRYPTO",
                       shortable=False, easy_to_borrow=False)
        self.app = self._build_app()

    # -- test controls -----------------------------------------------------------------

    def add_asset(self, symbol: str, price: Decimal | str | int, **traits: Any) -> FakeAsset:
        asset = FakeAsset(symbol, Decimal(str(price)), **traits)
        self.assets[symbol] = asset
        return asset

    def set_price(self, symbol: str, price: Decimal | str | int) -> None:
        with self.lock:
            self.assets[symbol].price = Decimal(str(price))

    def fail(self, method: str, path: str, status: int, times: int = 1, *, place: bool = False) -> None:
        """Answer the next ``times`` calls to a path with Alpaca's error body for ``status``.

        With ``place=True`` the request is carried out first (the order is placed) and only
        the answer is lost, as when a gateway fails after the order reached Alpaca.
        """
        self.faults.append(Fault(method.upper(), path, status, times, place=place))

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
                  step: timedelta = timedelta(minutes=1)) -> list[str]:
        """Record ``count`` filled buy orders directly (history for paging tests); returns order ids."""
        ids = []
        when = start or datetime.now(timezone.utc) - step * count
        with self.lock:
            for _ in range(count):
                order = self._new_order({"symbol": symbol, "qty": str(qty), "side": "buy", "type": "market",
                                         "time_in_force": "day"}, self.assets[symbol], when)
                self._fill(order, qty, self.assets[symbol].price, when)
                ids.append(order["id"])
                when += step
        return ids

    # -- server ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> "FakeAlpaca":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-alpaca", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # ends any stalled answer at once
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
            if fake.latency:
                time.sleep(fake.latency)
            now = time.monotonic()
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
                return _json(FAULT_BODIES.get(g.fault.status, {"message": "error"}), g.fault.status)
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
                return _json(FAULT_BODIES.get(fault.status, {"message": "error"}), fault.status)
            return response

        @app.errorhandler(AlpacaRefusal)
        def refused(e: AlpacaRefusal):
            return _json(e.body, e.status)

        def route(rule: str, methods=("GET",)):
            def register(view):
                app.add_url_rule(rule, endpoint=f"{methods[0]} {rule}", view_func=view, methods=list(methods))
                return view
            return register

        route("/v2/account")(lambda: _json(fake._account_json()))
        route("/v2/clock")(lambda: _json(fake._clock_json()))
        route("/v2/assets/<path:symbol>")(lambda symbol: _json(fake._asset(symbol).as_json()))
        route("/v2/positions")(lambda: _json(fake._positions_json()))
        route("/v2/positions/<path:symbol>")(lambda symbol: _json(fake._position_json(fake._position_symbol(symbol))))
        route("/v2/orders", ("POST",))(lambda: _json(fake._submit(_body())))
        route("/v2/orders")(lambda: _json(fake._list_orders(request.args)))
        route("/v2/orders:by_client_order_id")(lambda: _json(fake._by_client_id(request.args.get("client_order_id", ""))))
        route("/v2/orders/<order_id>")(lambda order_id: _json(fake._order_json(fake._order(order_id))))
        route("/v2/orders/<order_id>", ("DELETE",))(lambda order_id: fake._cancel(order_id))
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

    def buying_power(self) -> Decimal:
        """Margin buying power less what open orders already claim (simplified Reg T)."""
        long_mv, short_mv = self._market_values()
        claimed = sum((self._order_cost(o) for o in self.orders.values() if o["status"] in OPEN_STATUSES), ZERO)
        return max(ZERO, self.equity() * self.multiplier - long_mv + short_mv - claimed)

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
                "multiplier": _s(self.multiplier), "shorting_enabled": self.shorting_enabled, "equity": _s(equity),
                "last_equity": _s(equity), "long_market_value": _s(long_mv), "short_market_value": _s(short_mv),
                "initial_margin": "0", "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0",
                "daytrade_count": 0,
            }

    def _clock_json(self) -> dict:
        now = datetime.now(NEW_YORK)
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
        asset = self._asset(symbol)
        if asset.symbol not in self.positions:
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
                "change_today": "0", "qty_available": _s(qty - self._held(symbol, "sell" if qty > 0 else "buy")),
            }

    def _positions_json(self) -> list[dict]:
        with self.lock:  # one moment's positions: a fill may close one while the list is built
            return [self._position_json(s) for s in sorted(self.positions)]

    def _held(self, symbol: str, side: str) -> Decimal:
        """Shares that open orders on one side already claim."""
        held = ZERO
        for o in self.orders.values():
            if o["symbol"] == symbol and o["side"] == side and o["status"] in OPEN_STATUSES and o["qty"] is not None:
                held += Decimal(o["qty"]) - Decimal(o["filled_qty"])
        return held

    # -- orders ------------------------------------------------------------------------

    def _submit(self, body: dict) -> dict:
        with self.lock:
            asset, qty, notional = self._validate(body)
            order = self._new_order(body, asset, datetime.now(timezone.utc))
            if asset.crypto or self.market.is_open:
                self._start_filling(order)
            return self._order_json(order)

    def _validate(self, body: dict) -> tuple[FakeAsset, Decimal | None, Decimal | None]:
        symbol = str(body.get("symbol") or "")
        if not symbol:
            raise AlpacaRefusal(422, 40010001, "symbol is required")
        try:
            asset = self._asset(symbol)
        except AlpacaRefusal:
            raise AlpacaRefusal(422, 42210000, f'asset "{symbol}" not found') from None
        if not asset.tradable:
            raise AlpacaRefusal(422, 42210000, f"asset {asset.symbol} is not tradable")
        side, kind, tif = body.get("side"), body.get("type"), body.get("time_in_force")
        if side not in ("buy", "sell"):
            raise AlpacaRefusal(422, 40010001, "invalid side")
        if kind != "market":
            raise AlpacaRefusal(422, 40010001, f"this fake only accepts market orders, not {kind!r}")
        if asset.crypto and tif not in ("gtc", "ioc"):
            raise AlpacaRefusal(422, 42210000, "invalid crypto time_in_force")
        if not asset.crypto and tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            raise AlpacaRefusal(422, 40010001, "invalid time_in_force")
        qty, notional = _dec(body.get("qty")), _dec(body.get("notional"))
        if qty is None and notional is None:
            raise AlpacaRefusal(422, 40010001, "qty or notional is required")
        if qty is not None and notional is not None:
            raise AlpacaRefusal(422, 40010001, "only one of qty or notional is accepted")
        if (qty is not None and qty <= 0) or (notional is not None and notional <= 0):
            raise AlpacaRefusal(422, 40010001, "qty must be > 0" if qty is not None else "notional must be > 0")
        fractional = notional is not None or qty != qty.to_integral_value()
        if fractional and not asset.fractionable:
            raise AlpacaRefusal(422, 42210000, f'asset "{asset.symbol}" is not fractionable')
        if fractional and not asset.crypto and tif != "day":
            raise AlpacaRefusal(422, 42210000, "fractional orders must be DAY orders")
        client_id = body.get("client_order_id")
        if client_id is not None:
            if len(str(client_id)) > 128:
                raise AlpacaRefusal(422, 40010001, "client_order_id must be no more than 128 characters")
            if any(o["client_order_id"] == client_id for o in self.orders.values()):
                raise AlpacaRefusal(422, 40010001, "client_order_id must be unique")
        self._check_position_rules(asset, side, qty, notional)
        self._check_buying_power(asset, side, qty, notional)
        return asset, qty, notional

    def _check_position_rules(self, asset: FakeAsset, side: str, qty: Decimal | None, notional: Decimal | None) -> None:
        held_qty = self.positions.get(asset.symbol, [ZERO, ZERO])[0]
        opposite = "sell" if side == "buy" else "buy"
        if any(o["symbol"] == asset.symbol and o["side"] == opposite and o["status"] in OPEN_STATUSES
               for o in self.orders.values()):
            raise AlpacaRefusal(422, 42210000, "potential wash trade detected. use complex orders")
        requested = qty if qty is not None else (notional / asset.price).quantize(QTY_STEP, ROUND_DOWN)
        reducing = (side == "sell" and held_qty > 0) or (side == "buy" and held_qty < 0)
        if reducing:
            available = abs(held_qty) - self._held(asset.symbol, side)
            if requested > available:
                # Alpaca never lets one order carry a position across zero: close first.
                raise AlpacaRefusal(403, 40310000, f"insufficient qty available for order (requested: {_s(requested)}, "
                                    f"available: {_s(available)})", symbol=asset.symbol,
                                    existing_qty=_s(abs(held_qty)), held_for_orders=_s(abs(held_qty) - available),
                                    available=_s(available))
            return
        if side == "sell":  # opens or adds to a short
            if asset.crypto:
                raise AlpacaRefusal(403, 40310000, "insufficient balance for " + asset.symbol.split("/")[0])
            if not self.shorting_enabled:
                raise AlpacaRefusal(403, 40310000, "account is not allowed to short")
            if qty is None or qty != qty.to_integral_value():
                raise AlpacaRefusal(422, 42210000, "fractional orders cannot be sold short")
            if not asset.shortable:
                raise AlpacaRefusal(422, 42210000, f"asset {asset.symbol} cannot be sold short")
            if not asset.easy_to_borrow:
                raise AlpacaRefusal(422, 42210000, f"asset {asset.symbol} is not easy to borrow")

    def _check_buying_power(self, asset: FakeAsset, side: str, qty: Decimal | None, notional: Decimal | None) -> None:
        held_qty = self.positions.get(asset.symbol, [ZERO, ZERO])[0]
        if (side == "sell" and held_qty > 0) or (side == "buy" and held_qty < 0):
            return  # closing frees buying power
        cost = notional if notional is not None else qty * asset.price
        if cost > self.buying_power():
            raise AlpacaRefusal(403, 40310000, "insufficient buying power",
                                buying_power=_s(self.buying_power()), cost_basis=_s(cost))

    def _order_cost(self, order: dict) -> Decimal:
        asset = self.assets[order["symbol"]]
        held_qty = self.positions.get(asset.symbol, [ZERO, ZERO])[0]
        if (order["side"] == "sell" and held_qty > 0) or (order["side"] == "buy" and held_qty < 0):
            return ZERO
        if order["notional"] is not None:
            return Decimal(order["notional"]) - Decimal(order["filled_qty"]) * asset.price
        return (Decimal(order["qty"]) - Decimal(order["filled_qty"])) * asset.price

    def _new_order(self, body: dict, asset: FakeAsset, when: datetime) -> dict:
        qty, notional = _dec(body.get("qty")), _dec(body.get("notional"))
        stamp = _iso(when)
        order = {
            "id": str(uuid.uuid4()), "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
            "created_at": stamp, "updated_at": stamp, "submitted_at": stamp, "filled_at": None,
            "expired_at": None, "canceled_at": None, "failed_at": None, "replaced_at": None,
            "replaced_by": None, "replaces": None, "asset_id": asset.id, "symbol": asset.symbol,
            "asset_class": asset.asset_class, "notional": _s(notional) if notional is not None else None,
            "qty": _s(qty) if qty is not None else None, "filled_qty": "0", "filled_avg_price": None,
            "order_class": "simple", "order_type": "market", "type": "market", "side": body["side"],
            "position_intent": _intent(body["side"], self.positions.get(asset.symbol, [ZERO])[0]),
            "time_in_force": body.get("time_in_force"), "limit_price": None, "stop_price": None,
            "status": "accepted", "extended_hours": bool(body.get("extended_hours", False)), "legs": None,
            "trail_percent": None, "trail_price": None, "hwm": None, "subtag": None, "source": None,
            "expires_at": None,
        }
        order["_due"] = None
        self.orders[order["id"]] = order
        return order

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
                self._fill(order, half, asset.price, datetime.now(timezone.utc))
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
        if order["qty"] is not None:
            return Decimal(order["qty"])
        return (Decimal(order["notional"]) / price).quantize(QTY_STEP, ROUND_DOWN)

    def _fill_rest(self, order: dict) -> None:
        price = self.assets[order["symbol"]].price
        total = self._order_qty(order, price)
        remaining = total - Decimal(order["filled_qty"])
        if remaining > 0:
            self._fill(order, remaining, price, datetime.now(timezone.utc), final=True)

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
        self.activities.append({
            "id": f"{stamp:%Y%m%d%H%M%S}{stamp.microsecond // 1000:03d}::{uuid.uuid4()}",
            "account_id": self.account_id, "activity_type": "FILL", "transaction_time": _iso(when),
            "type": "fill" if done else "partial_fill", "price": _s(price), "qty": _s(qty), "side": side,
            "symbol": symbol.replace("/", ""), "leaves_qty": _s(self._order_qty(order, price) - filled),
            "order_id": order["id"], "cum_qty": _s(filled), "order_status": order["status"],
        })
        self.activities.sort(key=lambda a: a["transaction_time"])

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
            stamp = _iso(datetime.now(timezone.utc))
            order.update(status="canceled", canceled_at=stamp, updated_at=stamp, _due=None)
        return Response(status=204)

    def _list_orders(self, args) -> list[dict]:
        status = args.get("status", "open")
        limit = min(int(args.get("limit", 50)), 500)
        after, until = _when(args.get("after")), _when(args.get("until"))
        symbols = set(filter(None, (args.get("symbols") or "").split(",")))
        side = args.get("side")
        with self.lock:
            chosen = []
            for order in self.orders.values():
                submitted = _when(order["submitted_at"])
                if status == "open" and order["status"] not in OPEN_STATUSES:
                    continue
                if status == "closed" and order["status"] in OPEN_STATUSES:
                    continue
                if (after and submitted <= after) or (until and submitted >= until):
                    continue
                if symbols and order["symbol"] not in symbols and order["symbol"].replace("/", "") not in symbols:
                    continue
                if side and order["side"] != side:
                    continue
                chosen.append(order)
            chosen.sort(key=lambda o: o["submitted_at"], reverse=args.get("direction", "desc") != "asc")
            return [self._order_json(o) for o in chosen[:limit]]

    @staticmethod
    def _order_json(order: dict) -> dict:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    # -- activities, history, market data ---------------------------------------------

    def _activities(self, args, kinds: str) -> list[dict]:
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
        today = datetime.now(NEW_YORK).date()
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
        trade = {"t": _iso(datetime.now(timezone.utc)), "p": float(asset.price), "s": 100, "i": 52983525029461}
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


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise AlpacaRefusal(422, 40010001, f"invalid number {value!r}") from None


def _s(value: Decimal) -> str:
    """Alpaca's number-as-string form, without exponent or trailing zeros."""
    text = format(value.normalize(), "f") if value != 0 else "0"
    return text


def _iso(when: datetime) -> str:
    # Always with microseconds, so the strings sort in time order.
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _intent(side: str, held: Decimal) -> str:
    if side == "buy":
        return "buy_to_close" if held < 0 else "buy_to_open"
    return "sell_to_close" if held > 0 else "sell_to_open"
