"""Tickers as TradingView and traders write them, normalised to Alpaca's symbol, or refused."""

from __future__ import annotations

import pytest

from novalgo.domain.symbols import is_crypto, normalize_symbol


@pytest.mark.parametrize("raw, exchange, expected", [
    ("AAPL", None, "AAPL"),
    ("aapl", None, "AAPL"),
    ("NASDAQ:AAPL", None, "AAPL"),
    ("NASDAQ_DL:AAPL", None, "AAPL"),
    ("AAPL", "NYSE_DLY", "AAPL"),
    # Crypto pairs, however the separator is written.
    ("BTCUSD", None, "BTC/USD"),
    ("BTC-USD", None, "BTC/USD"),
    ("BTC/USD", None, "BTC/USD"),
    ("ETH-BTC", None, "ETH/BTC"),
    ("COINBASE:ETHUSD", None, "ETH/USD"),
    ("BINANCE:BTCUSDT", None, "BTC/USDT"),
    ("BINANCE_DL:BTCUSDT", None, "BTC/USDT"),  # the delayed-data exchange is still a crypto venue
    ("FETUSDT", "BINANCE_DL", "FET/USDT"),
    # Class shares: Alpaca writes BRK.B; a slash or hyphen there is not a crypto pair.
    ("BRK.B", None, "BRK.B"),
    ("BRK/B", None, "BRK.B"),
    ("BRK-B", None, "BRK.B"),
    ("NYSE:BF.B", None, "BF.B"),
    ("brk/b", None, "BRK.B"),
], ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_symbols_normalise_to_alpaca(raw, exchange, expected):
    assert normalize_symbol(raw, exchange) == expected


def test_a_class_share_is_not_crypto():
    assert not is_crypto(normalize_symbol("BRK/B"))
    assert is_crypto(normalize_symbol("BTC-USD"))


@pytest.mark.parametrize("raw", ["BTCUSDT.P", "BINANCE:BTCUSDT.P", "BYBIT:ETHUSDT.P", "BTC-PERP", "BTCUSDPERP",
                                 "ETH_PERP"])
def test_perpetual_futures_are_refused_with_the_reason(raw):
    with pytest.raises(ValueError, match="perpetual future: Alpaca trades no perpetuals"):
        normalize_symbol(raw)


@pytest.mark.parametrize("raw", ["AA PL!", "FOO/BARX", "A/B/C", "", "{{ticker}}"])
def test_unreadable_symbols_are_refused(raw):
    with pytest.raises(ValueError, match="unreadable symbol"):
        normalize_symbol(raw)
