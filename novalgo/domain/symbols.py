"""Ticker normalisation: the symbol as Alpaca knows it.

``NASDAQ:AAPL`` → ``AAPL``; ``BTCUSD``, ``BTC-USD``, ``BTC/USD`` → ``BTC/USD`` (Alpaca's crypto
form); ``BRK.B``, ``BRK/B``, ``BRK-B`` → ``BRK.B`` (Alpaca's class-share form). A slash alone does
not make a crypto pair: only a known quote currency after it does, so ``BRK/B`` stays a stock.
"""

from __future__ import annotations

import re

CRYPTO_EXCHANGES = frozenset({"COINBASE", "BINANCE", "BINANCEUS", "KRAKEN", "BITSTAMP", "GEMINI", "CRYPTO", "BITFINEX", "ALPACA"})
CRYPTO_BASES = frozenset({
    "BTC", "ETH", "LTC", "BCH", "DOGE", "SOL", "AVAX", "LINK", "UNI", "AAVE", "DOT", "MATIC", "SHIB",
    "XRP", "XTZ", "USDT", "USDC", "BAT", "CRV", "GRT", "MKR", "SUSHI", "YFI", "TRX", "PEPE", "ADA",
})
CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC")
_VALID = re.compile(r"^[A-Z0-9][A-Z0-9./-]{0,19}$")
# TradingView marks perpetual futures with ".P" (BINANCE:BTCUSDT.P); other venues write PERP.
_PERPETUAL = re.compile(r"(\.P|[./_-]?PERP)$")
# TradingView adds _DL or _DLY to the exchange of a delayed-data symbol (NASDAQ_DL:AAPL).
_DELAYED = re.compile(r"_DLY?$")
_SEPARATED = re.compile(r"^(?P<base>[A-Z0-9]+)[/-](?P<tail>[A-Z0-9]+)$")
_CLASS_SHARE = re.compile(r"^(?P<base>[A-Z]{1,6})[./-](?P<cls>[A-Z]{1,2})$")


def normalize_symbol(raw: str, exchange: str | None = None) -> str:
    """The symbol as Alpaca knows it; ValueError (with the reason) if it cannot be one."""
    text = str(raw).strip().upper()
    if ":" in text:
        prefix, text = text.rsplit(":", 1)
        exchange = exchange or prefix
    if _PERPETUAL.search(text) and _PERPETUAL.sub("", text):
        # Silently trading the spot coin for a perpetual signal would size and exit it wrongly.
        raise ValueError(f"{raw!r} is a perpetual future: Alpaca trades no perpetuals, alert on the spot pair instead")
    if not _VALID.match(text):
        raise ValueError(f"unreadable symbol {raw!r}")
    venue = _DELAYED.sub("", (exchange or "").strip().upper())
    separated = _SEPARATED.match(text)
    if separated and separated["tail"] in CRYPTO_QUOTES:
        return f"{separated['base']}/{separated['tail']}"
    share = _CLASS_SHARE.match(text)
    if share:
        return f"{share['base']}.{share['cls']}"
    if "/" in text:
        raise ValueError(f"unreadable symbol {raw!r}: a crypto pair ends in /USD, /USDT, /USDC or /BTC")
    for quote in CRYPTO_QUOTES:
        base = text[: -len(quote)]
        if text.endswith(quote) and base and (base in CRYPTO_BASES or venue in CRYPTO_EXCHANGES):
            return f"{base}/{quote}"
    return text


def is_crypto(symbol: str) -> bool:
    return "/" in symbol
