"""The Alpaca broker: thin over alpaca-py, idempotent by client_order_id, inside the request budget.

Every call goes through one budgeted, time-limited HTTP session per client (see throttle.py)
and every vendor error is converted here, so the executor only sees NovAlgo's errors:
OrderRejected (Alpaca said no, with its reason), RetryableError (try again later) and
AmbiguousOrderError (we could not learn whether an order was placed).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable, Sequence, TypeVar

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient
from alpaca.data.requests import CryptoLatestTradeRequest, StockBarsRequest, StockLatestTradeRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, OrderClass, OrderSide, PositionIntent, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrdersRequest,
    GetPortfolioHistoryRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)
from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest

from novalgo.broker.alpaca_activities import fill_from_activity
from novalgo.broker.alpaca_errors import blocked_by_open_orders, is_duplicate_client_id, read_error, rejection_reason
from novalgo.broker.alpaca_margin import shorting_sentences
from novalgo.broker.base import (
    CANCELED,
    EXPIRED,
    FILLED,
    PARTIALLY_FILLED,
    PENDING,
    REJECTED,
    ZERO,
    Account,
    AssetInfo,
    Fill,
    OrderRequest,
    OrderState,
    Position,
)
from novalgo.broker.shared_call import FreshCall, SharedCall
from novalgo.broker.throttle import DEFAULT_TIMEOUT, PROCESS_BUDGET, BudgetedSession, RequestBudget
from novalgo.clock import SYSTEM_CLOCK, Clock
from novalgo.domain.guards import EASTERN
from novalgo.domain.money import CENT, QTY_STEP
from novalgo.domain.symbols import is_crypto, normalize_symbol
from novalgo.errors import (
    AmbiguousOrderError,
    BlockedByOpenOrders,
    CredentialsRejected,
    NotPlaced,
    OrderRejected,
    RetryableError,
)

ACTIVITY_PAGE = 100
ORDER_PAGE = 500
CALENDAR_SPAN = 31  # days of Alpaca's calendar read at once
T = TypeVar("T")

# Alpaca's order statuses onto ours; the still-working ones become partially_filled once
# something has filled.
_WORKING = {"new", "accepted", "pending_new", "accepted_for_bidding", "held", "calculated", "pending_review",
            "pending_cancel", "pending_replace", "stopped", "suspended", "done_for_day", "partially_filled"}
# "replaced" is not final for us: the replacement order may still fill, so we follow it.
_FINAL = {"filled": FILLED, "canceled": CANCELED, "rejected": REJECTED, "expired": EXPIRED}
_REASONS = {
    REJECTED: "Alpaca rejected the order after accepting it",
    CANCELED: "the order was canceled at Alpaca",
    EXPIRED: "the order expired at Alpaca before it filled",
}


class AlpacaBroker:
    """The Broker Protocol over Alpaca's trading and market data APIs."""

    kind = "alpaca"

    def __init__(self, key_id: str, secret_key: str, *, live: bool = False, base_url: str | None = None,
                 data_url: str | None = None, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 budget: RequestBudget = PROCESS_BUDGET, sdk_retries: int = 2, sdk_retry_wait: float = 3.0,
                 asset_ttl: float = 6 * 3600.0, clock_ttl: float = 30.0, account_ttl: float = 30.0,
                 order_lookback: timedelta = timedelta(days=4), stream_url: str | None = None,
                 share_window: float = 0.2, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Clock = SYSTEM_CLOCK):
        self.mode = "live" if live else "paper"
        self.base_url = _root(base_url)
        # The trade stream: Alpaca's own when we talk to Alpaca itself; behind another API address
        # (a proxy, a test fake) only when its stream address is given too.
        self.streams = stream_url is not None or base_url is None
        self._stream_url = stream_url
        self._credentials = (key_id, secret_key)  # for the stream; never shown (see __repr__)
        self.data_url = _root(data_url)
        self._trading = TradingClient(key_id, secret_key, paper=not live, url_override=self.base_url)
        self._stocks = StockHistoricalDataClient(key_id, secret_key, url_override=self.data_url)
        self._crypto = CryptoHistoricalDataClient(key_id, secret_key, url_override=self.data_url)
        for client in (self._trading, self._stocks, self._crypto):
            # alpaca-py has no timeout option and retries 429/504 by sleeping: give it our
            # session (budget + timeout) and a small, bounded retry count.
            if not isinstance(getattr(client, "_session", None), requests.Session):
                raise RuntimeError("this alpaca-py version keeps no requests session: timeouts cannot be set")
            client._session = BudgetedSession(budget, timeout)
            client._retry = max(0, sdk_retries)
            client._retry_wait = sdk_retry_wait
        self._clock = clock  # elapsed time: the TTLs
        self._wall_clock = wall_clock  # time of day: how far back to list orders
        self._asset_ttl, self._clock_ttl, self._account_ttl = asset_ttl, clock_ttl, account_ttl
        self._assets: dict[str, tuple[float, AssetInfo]] = {}
        self._unknown_assets: dict[str, float] = {}  # symbol → when Alpaca said it does not know it
        self._market: tuple[float, bool] | None = None
        self._calendar: dict[date, datetime | None] = {}  # each day's close (None: no trading), from Alpaca
        self._account: tuple[float, Account] | None = None
        # Every symbol the executor works on reads its position before deciding: one positions
        # list answers all that ask together, instead of a request each (Alpaca allows 200/min).
        self._positions = FreshCall(self._positions_by_symbol)
        self._order_lookback = order_lookback
        self._recent = SharedCall(self._list_recent_orders, window=share_window, clock=clock)
        self._client_ids: dict[str, str] = {}  # broker order id → client_order_id, learned as we go
        # Positions kept current by the trade stream (each fill says the position after it),
        # trusted only while the stream is live and since a positions list taken after it
        # (re)connected; otherwise every read is a list, as without a stream.
        self._stream: Any = None
        self._held: dict[str, Decimal] = {}
        self._held_trusted = False
        self._held_changed: dict[str, int] = {}  # symbol → event number of its last fill event
        self._events = 0
        # A REST answer can be ahead of the stream (an order answered "filled" before its event
        # arrives): its symbol's cached position is not trusted until the event catches up.
        self._heard: dict[str, Decimal] = {}  # broker order id → filled qty the stream reported
        self._unheard: dict[str, tuple[str, Decimal]] = {}  # broker order id → (symbol, filled qty)
        # Every open order on the account (ours and the trader's own), from one list after the
        # stream (re)connects, then kept by its events: a close learns what holds the shares
        # without a request. Trusted only while the stream is live and since that list.
        self._open: dict[str, OrderState] = {}  # broker order id → state
        self._open_trusted = False
        self._ended: set[str] = set()  # orders the stream said ended: a list taken before is behind
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, **options: Any) -> "AlpacaBroker":
        """The broker the settings describe (paper unless NOVALGO_LIVE=true)."""
        if not settings.alpaca_key_id or not settings.alpaca_secret_key:
            raise ValueError("AlpacaBroker needs APCA_API_KEY_ID and APCA_API_SECRET_KEY")
        return cls(settings.alpaca_key_id, settings.alpaca_secret_key, live=settings.live,
                   base_url=settings.alpaca_base_url, data_url=settings.alpaca_data_url,
                   stream_url=settings.alpaca_stream_url, **options)

    def __repr__(self) -> str:  # never the keys
        return f"AlpacaBroker(mode={self.mode!r}, base_url={self.base_url or 'default'!r})"

    # -- reads -------------------------------------------------------------------------

    def account(self) -> Account:
        """The account, read at most every ``account_ttl`` seconds (the executor asks before each short)."""
        now = self._clock()
        if self._account and now - self._account[0] < self._account_ttl:
            return self._account[1]
        raw = self._call(self._trading.get_account, what="read the account")
        account = Account(mode=self.mode, status=_text(raw.status), cash=_dec(raw.cash) or ZERO,
                          equity=_dec(raw.equity) or ZERO, buying_power=_dec(raw.buying_power) or ZERO,
                          shorting_enabled=bool(raw.shorting_enabled), currency=raw.currency or "USD",
                          trading_blocked=bool(raw.trading_blocked or raw.account_blocked),
                          account_id=str(raw.id), multiplier=_dec(raw.multiplier),
                          last_equity=_dec(raw.last_equity))
        self._account = (now, account)
        return account

    def positions(self) -> list[Position]:
        raw = self._call(self._trading.get_all_positions, what="read positions")
        return [_position(p) for p in raw]

    def position(self, symbol: str) -> Position:
        """One symbol's position: from the trade stream's fills when they are current (no request),
        else from a positions list begun after this call (shared with others asking)."""
        with self._lock:
            if self._position_current(symbol):
                qty = self._held.get(symbol)
                if qty is None and self._known_crypto(symbol):
                    qty = self._held.get(normalize_symbol(symbol, "CRYPTO"))
                return Position(symbol, qty or ZERO)
        return self.held_now(symbol)

    def held_now(self, symbol: str) -> Position:
        """From a positions list begun after this call (shared with others asking), never the
        stream's cache."""
        positions = self._positions()
        found = positions.get(symbol)
        if found is None and self._known_crypto(symbol):
            # Alpaca lists a crypto position as BTCUSD, which we read as BTC/USD; a coin the symbol
            # reader does not know is traded under the alert's spelling, so look for both.
            found = positions.get(normalize_symbol(symbol, "CRYPTO"))
        return found or Position(symbol, ZERO)

    def _known_crypto(self, symbol: str) -> bool:
        """Crypto by the broker's asset class, when the asset has been looked up."""
        cached = self._assets.get(symbol)
        return cached is not None and cached[1].crypto

    def position_is_current(self, symbol: str) -> bool:
        """Would ``position`` answer from the stream, without a request?"""
        with self._lock:
            return self._position_current(symbol)

    def _position_current(self, symbol: str) -> bool:
        behind = any(unheard_symbol == symbol for unheard_symbol, _ in self._unheard.values())
        return self._held_trusted and not behind and self._stream is not None and self._stream.live

    def _positions_by_symbol(self) -> dict[str, Position]:
        with self._lock:
            begun, live = self._events, self._stream is not None and self._stream.live
        listed = {p.symbol: p for p in self.positions()}
        with self._lock:
            # A fill event newer than the list's start knows better than the list.
            kept = {s: q for s, q in self._held.items() if self._held_changed.get(s, -1) > begun}
            self._held = {**{s: p.qty for s, p in listed.items()}, **kept}
            if live and self._stream is not None and self._stream.live:
                self._held_trusted = True
        return listed

    def _trade_update(self, update: Any) -> OrderState:
        state = _state(update.order)
        with self._lock:
            self._client_ids[state.broker_order_id] = state.client_order_id
            if update.position_qty is not None and _text(update.event) in ("fill", "partial_fill"):
                self._events += 1
                self._held[state.symbol] = Decimal(str(update.position_qty))
                self._held_changed[state.symbol] = self._events
            if state.is_final:
                self._open.pop(state.broker_order_id, None)
                if len(self._ended) > 10_000:
                    self._ended.clear()
                self._ended.add(state.broker_order_id)
            else:
                self._open[state.broker_order_id] = state
            if len(self._heard) > 10_000:
                self._heard.clear()  # old orders: at worst a symbol is listed once more
            heard = self._heard[state.broker_order_id] = max(state.filled_qty, self._heard.get(state.broker_order_id, ZERO))
            unheard = self._unheard.get(state.broker_order_id)
            if unheard is not None and unheard[1] <= heard:
                del self._unheard[state.broker_order_id]
        return state

    def _stream_connected(self, on_connected: Callable[[], None]) -> None:
        with self._lock:
            self._held_trusted = False  # fills during the gap were not heard: list again first
            self._open_trusted = False
        on_connected()

    def asset(self, symbol: str) -> AssetInfo:
        now = self._clock()
        cached = self._assets.get(symbol)
        if cached and now - cached[0] < self._asset_ttl:
            return cached[1]
        return self._read_asset(symbol, now)

    def warm_assets(self, symbols: Sequence[str], at_most: int) -> int:
        """Look up the assets of these symbols (the Config's) not cached, or due to expire within a
        quarter of their TTL, at most ``at_most`` of them; returns how many were read. The leader
        runs it in the background so an alert finds its asset cached and its order goes first."""
        now, read = self._clock(), 0
        for symbol in dict.fromkeys(symbols):
            cached = self._assets.get(symbol)
            if cached and now - cached[0] < self._asset_ttl * 0.75:
                continue
            if now - self._unknown_assets.get(symbol, float("-inf")) < self._asset_ttl:
                continue  # a row's symbol Alpaca does not know: its alerts say so, no read each pass
            if read >= at_most:
                break
            read += 1
            try:
                self._read_asset(symbol, now)
            except OrderRejected:
                self._unknown_assets[symbol] = now
        return read

    def _read_asset(self, symbol: str, now: float) -> AssetInfo:
        try:
            # Crypto without the slash: a slash would split the URL path.
            raw = self._call(self._trading.get_asset, symbol.replace("/", ""), what=f"look up {symbol}", not_found=True)
        except _NotFound:
            raise OrderRejected(f"Alpaca does not know the symbol {symbol}") from None
        info = AssetInfo(symbol, tradable=raw.tradable and _text(raw.status) == "active",
                         fractionable=raw.fractionable, shortable=raw.shortable, easy_to_borrow=raw.easy_to_borrow,
                         asset_class=_text(raw.asset_class))
        self._assets[symbol] = (now, info)
        return info

    def latest_price(self, symbol: str) -> Decimal | None:
        """The last trade: IEX feed for stocks (free plans), the crypto feed for crypto."""
        if is_crypto(symbol):
            trades = self._call(self._crypto.get_crypto_latest_trade,
                                CryptoLatestTradeRequest(symbol_or_symbols=symbol), what=f"read the {symbol} price")
        else:
            trades = self._call(self._stocks.get_stock_latest_trade,
                                StockLatestTradeRequest(symbol_or_symbols=symbol, feed=DataFeed.IEX),
                                what=f"read the {symbol} price")
        trade = trades.get(symbol) if isinstance(trades, dict) else None
        return _dec(trade.price) if trade is not None else None

    def observe_price(self, symbol: str, price: Decimal) -> None:
        """Alpaca prices come from its own market data, never from an alert."""

    def market_open(self) -> bool:
        """Regular hours now? From GET /v2/clock, read at most every ``clock_ttl`` seconds: the
        executor and the tracker ask often, and a closed market costs two requests a minute."""
        now = self._clock()
        if self._market and now - self._market[0] < self._clock_ttl:
            return self._market[1]
        is_open = bool(self._call(self._trading.get_clock, what="read the market clock").is_open)
        self._market = (now, is_open)
        return is_open

    def trading_day(self, day: date) -> bool:
        """From Alpaca's calendar: a day it leaves out (a weekend, a holiday) is not a trading day."""
        return self.session_close(day) is not None

    def session_close(self, day: date) -> datetime | None:
        """When regular trading ends that day (13:00 ET on an early close), or None on a day without
        trading; from Alpaca's calendar (GET /v2/calendar), read a month at a time."""
        with self._lock:
            if day in self._calendar:
                return self._calendar[day]
        end = day + timedelta(days=CALENDAR_SPAN)
        raw = self._call(self._trading.get_calendar, GetCalendarRequest(start=day, end=end), what="read the calendar")
        closes = {entry.date: entry.close.replace(tzinfo=EASTERN) for entry in raw}  # New York wall time
        with self._lock:
            for offset in range(CALENDAR_SPAN + 1):
                moment = day + timedelta(days=offset)
                self._calendar[moment] = closes.get(moment)
            return self._calendar[day]

    # -- orders ------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> OrderState:
        """Place an order once, whatever the network does (see module docstring)."""
        request = self._order_request(order)
        cause: BaseException | None = None
        for _attempt in range(2):  # the first try, and one resubmit with the same id
            try:
                placed = self._trading.submit_order(request)
                return self._remember(_state(placed))
            except APIError as e:
                answer = read_error(e)
                if is_duplicate_client_id(answer):
                    cause = e  # placed before (by us, or by alpaca-py's own retry): find it
                elif answer.status == 429:
                    raise NotPlaced("Alpaca is rate limiting (429); the order was not placed") from e
                elif answer.status is not None and answer.status < 500:
                    # A refusal may answer a retry whose first copy was placed (alpaca-py retries
                    # 5xx itself, and that copy then holds the shares): look before believing it.
                    found = self._safe_find(order.client_order_id)
                    if found is not None:
                        return found
                    refusal = BlockedByOpenOrders if blocked_by_open_orders(answer) else OrderRejected
                    raise refusal(rejection_reason(answer)) from e
                else:
                    cause = e  # 5xx: the order may or may not exist
            except requests.RequestException as e:
                cause = e  # timeout or connection failure: same doubt
            found = self._safe_find(order.client_order_id)
            if found is not None:
                return found
        raise AmbiguousOrderError(f"could not learn whether Alpaca placed {order.client_order_id}: {cause}") from cause

    def find_order(self, client_order_id: str) -> OrderState | None:
        try:
            raw = self._call(self._trading.get_order_by_client_id, client_order_id,
                             what=f"look up order {client_order_id}", not_found=True)
        except _NotFound:
            return None
        for _hop in range(5):  # someone replaced it (e.g. changed a price): the replacement may fill
            if _text(raw.status) != "replaced" or raw.replaced_by is None:
                break
            raw = self._call(self._trading.get_order_by_id, str(raw.replaced_by), what=f"follow {client_order_id}")
        return self._remember(replace(_state(raw), client_order_id=client_order_id))

    def replace_exit(self, broker_order_id: str, new_client_order_id: str, limit_price: Decimal | None = None,
                     stop_price: Decimal | None = None) -> OrderState:
        """PATCH /v2/orders/{id}: Alpaca replaces a bracket's leg with a new order at the new price."""
        request = ReplaceOrderRequest(limit_price=limit_price, stop_price=stop_price,
                                      client_order_id=new_client_order_id)
        raw = self._call(self._trading.replace_order_by_id, broker_order_id, request,
                         what=f"move exit order {broker_order_id}")
        return self._remember(_state(raw))

    def listen(self, on_update: Callable[[OrderState], None], on_connected: Callable[[], None]) -> Any:
        """Start the trade updates stream (see broker/alpaca_stream.py); None when there is none."""
        if not self.streams:
            return None
        from novalgo.broker.alpaca_stream import OrderUpdates

        self._stream = OrderUpdates(*self._credentials, paper=self.mode == "paper", url=self._stream_url,
                                    on_event=lambda update: on_update(self._trade_update(update)),
                                    on_connected=lambda: self._stream_connected(on_connected))
        return self._stream.start()

    def reconcile(self) -> None:
        """One positions list: the position cache is trusted again (fills the stream missed included);
        after a (re)connect, one list of the open orders too (the trader's own, which hold shares)."""
        self._positions()
        self._list_open_orders()

    def open_orders(self, symbol: str) -> list[OrderState]:
        """Every open order on the symbol, ours or anyone's (one list call)."""
        raw = self._call(self._trading.get_orders, GetOrdersRequest(
            status=QueryOrderStatus.OPEN, symbols=[symbol], limit=ORDER_PAGE), what=f"list open {symbol} orders")
        return [_state(o) for o in raw]

    def open_orders_known(self, symbol: str) -> list[OrderState] | None:
        """Every open order on the symbol: from the stream's events when it is live and the list
        taken after it connected is in (no request); without a stream, one list call for the
        symbol; None just after a (re)connect, before that list (the caller does without)."""
        if self._stream is None or not self._stream.live:
            return self.open_orders(symbol)
        with self._lock:
            if not self._open_trusted:
                return None
            return [o for o in self._open.values() if o.symbol == symbol and not o.is_final]

    def _list_open_orders(self) -> None:
        """Every open order on the account, once after the stream (re)connects; its events keep it."""
        with self._lock:
            if self._open_trusted or self._stream is None or not self._stream.live:
                return
        raw = self._call(self._trading.get_orders, GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=ORDER_PAGE),
                         what="list open orders")
        listed = {state.broker_order_id: state for state in map(_state, raw)}
        with self._lock:
            # An order the stream said ended while the list was under way stays ended.
            self._open = {k: v for k, v in listed.items() if k not in self._ended}
            self._open_trusted = len(listed) < ORDER_PAGE and self._stream is not None and self._stream.live

    def cancel_by_id(self, broker_order_id: str) -> None:
        try:
            self._call(self._trading.cancel_order_by_id, broker_order_id, what=f"cancel order {broker_order_id}")
        except OrderRejected:
            pass  # 422 "not cancelable": it filled or ended meanwhile

    def orders(self, client_order_ids: Sequence[str]) -> dict[str, OrderState]:
        """Current state of many orders from one shared order list; per-id lookups only for the rest."""
        wanted = list(dict.fromkeys(client_order_ids))
        if not wanted:
            return {}
        listed = self._recent()
        found = {cid: listed[cid] for cid in wanted if cid in listed}
        for cid in wanted:
            if cid not in found:
                state = self.find_order(cid)
                if state is not None:
                    found[cid] = state
        return found

    def cancel(self, client_order_id: str) -> None:
        state = self.find_order(client_order_id)
        if state is None or state.is_final:
            return
        try:
            self._call(self._trading.cancel_order_by_id, state.broker_order_id, what=f"cancel {client_order_id}")
        except OrderRejected:
            pass  # 422 "not cancelable": it filled or ended meanwhile, which is what we wanted to learn

    # -- history -----------------------------------------------------------------------

    def fills(self, since: datetime) -> list[Fill]:
        """Every FILL activity since a time, oldest first, with client_order_ids where known."""
        since = _aware(since)
        raw = self._fill_pages({"after": since.isoformat()})
        self._learn_client_ids({a["order_id"] for a in raw} - self._client_ids.keys(), since)
        fills = [fill_from_activity(a, self._client_ids.get(a["order_id"])) for a in raw]
        fills.sort(key=lambda f: f.time)
        return fills

    def fills_after(self, activity_id: str | None) -> list[Fill]:
        """Every FILL activity after the one with this id (from the account's first when None),
        oldest first, with Alpaca's side kept (sell or sell_short) and client_order_ids where known."""
        raw = self._fill_pages({"page_token": activity_id} if activity_id else {})
        if not raw:
            return []
        fills = [fill_from_activity(a) for a in raw]
        self._learn_client_ids({f.order_id for f in fills} - self._client_ids.keys(), min(f.time for f in fills))
        return [replace(f, client_order_id=self._client_ids.get(f.order_id)) for f in fills]

    def _fill_pages(self, params: dict[str, Any]) -> list[dict]:
        """FILL activities oldest first, page after page. Account Activities: page_token is the last
        id of the page before, and asc "results will begin with the activity immediately after" it;
        page_size is at most 100, so a shorter page is the last (docs.alpaca.markets/reference/
        getaccountactivitiesbytype). alpaca-py's TradingClient has no method for activities: this
        goes through its budgeted session like every other call."""
        raw: list[dict] = []
        params = {**params, "direction": "asc", "page_size": ACTIVITY_PAGE}
        while True:
            page = self._call(self._trading.get, "/account/activities/FILL", dict(params), what="read fills") or []
            raw.extend(page)
            if len(page) < ACTIVITY_PAGE:
                return raw
            params["page_token"] = page[-1]["id"]

    def portfolio_history(self, period: str = "1M") -> list[tuple[date, Decimal]]:
        """Daily equity, oldest first, dated in New York (Alpaca's market days)."""
        raw = self._call(self._trading.get_portfolio_history,
                         GetPortfolioHistoryRequest(period=period, timeframe="1D"), what="read portfolio history")
        return [(datetime.fromtimestamp(stamp, EASTERN).date(), Decimal(str(equity)))
                for stamp, equity in zip(raw.timestamp, raw.equity) if equity is not None]

    def equity_history(self) -> list[tuple[date, Decimal]]:
        """A year of daily equity (the same shape the simulated broker offers)."""
        return self.portfolio_history("1A")

    def daily_bars(self, symbol: str, start: date | datetime, end: date | datetime) -> list[tuple[date, Decimal]]:
        """Daily closes (split and dividend adjusted), IEX feed, oldest first."""
        request = StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame.Day, start=_start_of(start),
                                   end=_start_of(end, next_day=True), feed=DataFeed.IEX, adjustment=Adjustment.ALL)
        bars = self._call(self._stocks.get_stock_bars, request, what=f"read {symbol} daily bars")
        return [(bar.timestamp.astimezone(EASTERN).date(), Decimal(str(bar.close)))
                for bar in bars.data.get(symbol, [])]

    # -- inside ------------------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any, what: str, not_found: bool = False) -> T:
        """Run one alpaca-py call, converting its errors at this edge."""
        try:
            return fn(*args)
        except APIError as e:
            answer = read_error(e)
            if not_found and answer.status == 404:
                raise _NotFound() from e
            if answer.status == 401 or (answer.status == 403 and "forbidden" in answer.message.lower()):
                # Not the order's fault: the operator fixes the keys (`novalgo check` says how).
                raise CredentialsRejected(f"Alpaca rejected the API keys ({answer.status}) trying to {what}",
                                          answer.status) from e
            if answer.status is None or answer.status == 429 or answer.status >= 500:
                raise RetryableError(f"Alpaca failed to {what} ({answer.status}): {answer.message}") from e
            raise OrderRejected(rejection_reason(answer, what)) from e
        except requests.Timeout as e:
            raise RetryableError(f"Alpaca did not answer in time trying to {what}") from e
        except requests.RequestException as e:
            raise RetryableError(f"could not reach Alpaca to {what}: {e.__class__.__name__}") from e

    def _safe_find(self, client_order_id: str) -> OrderState | None:
        """Look an order up after a doubtful submit; a failed lookup counts as 'not known'."""
        try:
            return self.find_order(client_order_id)
        except RetryableError:
            return None

    def _order_request(self, order: OrderRequest) -> AlpacaOrderRequest:
        # By the broker's asset class when we have looked the asset up (a coin missing from the
        # symbol reader's list still trades as crypto), else by the slash of a crypto pair.
        crypto = is_crypto(order.symbol) or self._known_crypto(order.symbol)
        # Alpaca: DAY for stocks (fractional orders must be DAY) unless exits ask for GTC (whole
        # shares, by then); GTC or IOC for crypto.
        tif = TimeInForce.GTC if crypto or order.time_in_force == "gtc" else TimeInForce.DAY
        fields: dict[str, Any] = dict(symbol=order.symbol, side=OrderSide(order.side), time_in_force=tif,
                                      client_order_id=order.client_order_id)
        if order.notional is not None:
            notional = order.notional.quantize(CENT, ROUND_DOWN)
            if notional <= 0:
                raise OrderRejected(f"order of ${order.notional} rounds to nothing")
            fields["notional"] = notional
        else:
            qty = order.qty.quantize(QTY_STEP, ROUND_DOWN)
            if qty <= 0:
                raise OrderRejected(f"order of {order.qty} {order.symbol} rounds to nothing")
            fields["qty"] = qty
        if order.closing and not crypto:
            # Orders API, position_intent: Alpaca checks it against the position it holds and refuses
            # a mismatch ("position intent mismatch. inferred sell to open"), so a close sent on a
            # stale belief is refused instead of opening a short. Crypto has no shorts to guard against.
            fields["position_intent"] = PositionIntent.SELL_TO_CLOSE if order.side == "sell" else PositionIntent.BUY_TO_CLOSE
        if order.oco:
            # "Orders at Alpaca" (OCO Orders): type limit, the order itself is the take-profit, so its
            # price goes in take_profit.limit_price; Alpaca's example sends no limit_price of its own.
            return LimitOrderRequest(order_class=OrderClass.OCO,
                                     take_profit=TakeProfitRequest(limit_price=order.limit_price),
                                     stop_loss=StopLossRequest(stop_price=order.stop_loss), **fields)
        if order.order_class != "simple":
            # A bracket has both exits, an OTO one; Alpaca makes them the entry's legs.
            fields["order_class"] = OrderClass.BRACKET if order.order_class == "bracket" else OrderClass.OTO
            if order.take_profit is not None:
                fields["take_profit"] = TakeProfitRequest(limit_price=order.take_profit)
            if order.stop_loss is not None:
                fields["stop_loss"] = StopLossRequest(stop_price=order.stop_loss)
        if order.order_type == "limit":
            return LimitOrderRequest(limit_price=order.limit_price, extended_hours=order.extended_hours or None, **fields)
        if order.order_type == "stop":
            return StopOrderRequest(stop_price=order.stop_price, **fields)
        if order.order_type == "trailing_stop":
            return TrailingStopOrderRequest(trail_percent=order.trail_percent, trail_price=order.trail_price, **fields)
        return MarketOrderRequest(**fields)

    def _remember(self, state: OrderState) -> OrderState:
        """Note an order read over REST (its client id; whether the stream has told its fills yet)."""
        with self._lock:
            self._client_ids[state.broker_order_id] = state.client_order_id
            if self._stream is not None and state.filled_qty > self._heard.get(state.broker_order_id, ZERO):
                self._unheard[state.broker_order_id] = (state.symbol, state.filled_qty)
        return state

    def _list_recent_orders(self) -> dict[str, OrderState]:
        after = self._wall_clock.now() - self._order_lookback
        raw = self._call(self._trading.get_orders, GetOrdersRequest(
            status=QueryOrderStatus.ALL, after=after, limit=ORDER_PAGE, direction=Sort.DESC), what="list orders")
        states = {s.client_order_id: self._remember(s) for s in map(_state, raw)}
        by_id = {str(o.id): o for o in raw}
        for o in raw:  # a replaced order answers with its replacement's state, under our id
            latest = o
            for _hop in range(5):
                if _text(latest.status) != "replaced" or str(latest.replaced_by) not in by_id:
                    break
                latest = by_id[str(latest.replaced_by)]
            if latest is not o:
                states[o.client_order_id] = replace(_state(latest), client_order_id=o.client_order_id)
        return states

    def _learn_client_ids(self, order_ids: set[str], since: datetime) -> None:
        """Map fills' order ids to client ids with order lists (500 a page), not a call per order."""
        after = since - self._order_lookback  # an order may be placed days before it fills
        until: datetime | None = None
        # Newest first: the ids not yet known are usually the latest orders, found on page one.
        for _page in range(20):
            if not order_ids:
                break
            raw = self._call(self._trading.get_orders, GetOrdersRequest(
                status=QueryOrderStatus.ALL, after=after, until=until, limit=ORDER_PAGE, direction=Sort.DESC),
                what="list orders")
            with self._lock:
                for o in raw:
                    self._client_ids[str(o.id)] = o.client_order_id
                    order_ids.discard(str(o.id))
            if len(raw) < ORDER_PAGE:
                break
            until = raw[-1].submitted_at


class _NotFound(Exception):
    """Alpaca answered 404 where 'nothing there' is a normal answer."""


def _state(raw: Order) -> OrderState:
    alpaca_status = _text(raw.status)
    filled = _dec(raw.filled_qty) or ZERO
    if alpaca_status in _FINAL:
        status = _FINAL[alpaca_status]
    elif alpaca_status in _WORKING:
        status = PARTIALLY_FILLED if filled > 0 else PENDING
    else:
        status = PENDING  # a state Alpaca added later: keep waiting rather than guess
    symbol = raw.symbol or ""
    symbol = normalize_symbol(symbol, "CRYPTO") if raw.asset_class == AssetClass.CRYPTO else symbol
    order_type = _text(raw.order_type or raw.type or "market")
    prices = " ".join(f"{name} {_text(value)}" for name, value in (("limit", raw.limit_price), ("stop", raw.stop_price),
                                                                   ("trail", raw.trail_price or raw.trail_percent))
                      if value is not None)
    size = _text(raw.qty) if raw.qty is not None else f"${_text(raw.notional)}"
    return OrderState(client_order_id=raw.client_order_id, broker_order_id=str(raw.id),
                      symbol=symbol, side=_text(raw.side), status=status, qty=_dec(raw.qty), notional=_dec(raw.notional),
                      filled_qty=filled, filled_avg_price=_dec(raw.filled_avg_price),
                      reason=_REASONS.get(status, "") if status != FILLED else "", order_type=order_type,
                      description=" ".join(filter(None, (_text(raw.side), size, symbol, order_type, prices))),
                      legs=tuple(_state(leg) for leg in raw.legs or ()), limit_price=_dec(raw.limit_price),
                      stop_price=_dec(raw.stop_price))


def _position(raw: Any) -> Position:
    crypto = raw.asset_class == AssetClass.CRYPTO
    return Position(symbol=normalize_symbol(raw.symbol, "CRYPTO") if crypto else raw.symbol,
                    qty=_dec(raw.qty) or ZERO, avg_entry_price=_dec(raw.avg_entry_price) or ZERO,
                    market_value=_dec(raw.market_value), unrealized_pl=_dec(raw.unrealized_pl))


def _dec(value: Any) -> Decimal | None:
    # alpaca-py hands numbers as strings (trading) or floats (market data); str() keeps
    # the float's shortest decimal form instead of its binary expansion.
    return None if value is None or value == "" else Decimal(str(value))


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("fills(since) needs a timezone-aware time")
    return when


def _start_of(day: date | datetime, next_day: bool = False) -> datetime:
    if isinstance(day, datetime):
        return day if day.tzinfo else day.replace(tzinfo=timezone.utc)
    moment = datetime(day.year, day.month, day.day, tzinfo=EASTERN)
    return moment + timedelta(days=1) if next_day else moment


def _root(url: str | None) -> str | None:
    """An API root as alpaca-py wants it: no trailing slash, no version suffix."""
    if not url:
        return None
    url = url.rstrip("/")
    for suffix in ("/v2", "/v1beta3"):
        url = url.removesuffix(suffix)
    return url


# -- novalgo check ---------------------------------------------------------------------


def account_report(settings, broker: AlpacaBroker | None = None) -> tuple[list[str], list[str]]:
    """(ok lines, problems) about the Alpaca account, for `novalgo check`. Never shows a key."""
    if settings.broker_kind != "alpaca":
        return ["Alpaca: no API keys set, orders go to the simulated broker"], []
    broker = broker or AlpacaBroker.from_settings(settings, sdk_retries=0)
    where = broker.base_url or ("the live API" if settings.live else "the paper API")
    try:
        account = broker.account()
    except CredentialsRejected as e:
        return [], [f"Alpaca rejected the API keys ({e.status}): check APCA_API_KEY_ID/APCA_API_SECRET_KEY "
                    f"and whether they are paper or live keys (NOVALGO_LIVE={'true' if settings.live else 'false'})"]
    except (RetryableError, OrderRejected) as e:
        return [], [f"{e} (at {where})"]
    ok, problems = [], []
    ok.append(f"Alpaca {account.mode} account ({where}): status {account.status}")
    ok.append(f"buying power ${account.buying_power:,.2f}, cash ${account.cash:,.2f}, equity ${account.equity:,.2f}")
    ok.extend(shorting_sentences(account))  # not a problem: a long-only account still trades
    if account.status != "ACTIVE":
        problems.append(f"the Alpaca account is {account.status}, not ACTIVE: it cannot trade")
    if account.trading_blocked:
        problems.append("trading is blocked on the Alpaca account (see the Alpaca dashboard)")
    try:
        broker.latest_price("SPY")
    except (RetryableError, OrderRejected) as e:
        problems.append(f"Alpaca market data (IEX feed) is not available: {e}")
    return ok, problems
