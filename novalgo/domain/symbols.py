"""Ticker normalisation: ``NASDAQ:AAPL`` → ``AAPL``, ``BTCUSD`` → ``BTC/USD`` (Alpaca's crypto form)."""

from __future__ import annotations

import re

CRYPTO_EXCHANGES = frozenset({"COINBASE", "BINANCE", "BINANCEUS", "KRAKEN", "BITSTAMP", "GEMINI", "CRYPTO", "BITFINEX", "ALPACA"})
CRYPTO_BASES = frozenset({
    "BTC", "ETH", "LTC", "BCH", "DOGE", "SOL", "AVAX", "LINK", "UNI", "AAVE", "DOT", "MATIC", "SHIB",
    "XRP", "XTZ", "USDT", "USDC", "BAT", "CRV", "GRT", "MKR", "SUSHI", "YFI", "TRX", "PEPE", "ADA",
})
CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC")
_VALID = re.compile(r"^[A-Z0-9][A-Z0-9./-]{0,19}$")


def normalize_symbol(raw: str, exchange: str | None = None) -> str:
    """The symbol as Alpaca knows it; ValueError if it cannot be one."""
    text = str(raw).strip().upper()
    if ":" in text:
        prefix, text = text.rsplit(":", 1)
        exchange = exchange or prefix
    text = text.removesuffix(".P")  # TradingView's perpetual suffix never names an Alpaca asset
    if not _VALID.match(text):
        raise ValueError(f"unreadable symbol {raw!r}")
    if "/" in text:
        return text
    crypto_venue = (exchange or "").strip().upper() in CRYPTO_EXCHANGES
    for quote in CRYPTO_QUOTES:
        base = text[: -len(quote)]
        if text.endswith(quote) and base and (base in CRYPTO_BASES or crypto_venue):
            return f"{base}/{quote}"
    return text


def is_crypto(symbol: str) -> bool:
    return "/" in symbol
