"""Hypothesis strategies for webhook requests: what a confused, broken or hostile sender posts.

Shared by ``tests/web/test_fuzz_webhook.py`` (Flask test client, every run) and ``bench/fuzz.py``
(10,000 bodies through gunicorn). A request is (path, query, content type, body bytes); some
carry the right secret so the fuzz also reaches the parser behind the authentication check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

KNOWN_KEYS = ("action", "order_action", "side", "signal", "order", "direction", "market_position", "position",
              "sentiment", "symbol", "ticker", "instrument", "exchange", "timeframe", "interval", "time_frame",
              "tf", "resolution", "price", "close", "order_price", "limit_price", "strategy", "comment",
              "strategy.order.action", "strategy.market_position", "Action", "SYMBOL")
SECRET_KEYS = ("secret", "passphrase", "key", "token", "Secret")
# Values that are almost right, so bodies get past one check and stumble on the next.
PLAUSIBLE = ("buy", "sell", "close", "long", "short", "flat", "exit", "BUY", "Sell", "cover", "AAPL", "TSLA",
             "NASDAQ:AAPL", "BINANCE:BTCUSDT", "BTC/USD", "15", "15 Min", "1D", "60", "M", "5S", "0", "-1",
             "1e999999", "-0", "NaN", "Infinity", "200.5", "$1,234.50", "9" * 400, "", " ", "null")


@dataclass(frozen=True)
class FuzzRequest:
    path: str
    content_type: str | None
    body: bytes

    @property
    def family(self) -> str:
        return self.path.split("?")[0]


def scalar_junk() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(PLAUSIBLE),
        st.text(max_size=40),
        st.integers(min_value=-10**40, max_value=10**40),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )


def junk_value() -> st.SearchStrategy[Any]:
    return st.recursive(scalar_junk(), lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), inner,
                                                     max_size=4)), max_leaves=12)


def json_objects(secret: str) -> st.SearchStrategy[bytes]:
    """JSON objects with the keys alerts use, junk or plausible values, and maybe the secret."""
    fields = st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=12), junk_value(), max_size=7)
    secrets_ = st.sampled_from([None, secret, "wrong-" + secret, "", 12345])
    keys = st.sampled_from(SECRET_KEYS)

    def build(body: dict, key: str, value: Any) -> bytes:
        if value is not None:
            body = {**body, key: value}
        return json.dumps(body).encode()

    return st.builds(build, fields, keys, secrets_)


def raw_json_numbers(secret: str) -> st.SearchStrategy[bytes]:
    """Numbers no JSON library agrees on: thousands of digits, huge exponents, in every field."""
    number = st.one_of(st.integers(1, 5000).map(lambda n: "9" * n), st.integers(-10**9, 10**9).map(lambda e: f"1e{e}"),
                       st.sampled_from(["-0", "1E+999999999", "0.0000000000000000000001", "NaN", "-Infinity"]))
    key = st.sampled_from(("price", "timeframe", "position", "symbol", "action", "market_position"))
    return st.builds(lambda k, n: ('{"action":"buy","symbol":"AAPL","timeframe":"15","secret":"%s","%s":%s}'
                                   % (secret, k, n)).encode(), key, number)


def nested(secret: str) -> st.SearchStrategy[bytes]:
    """Arrays and objects nested far deeper than any alert (a recursion bomb)."""
    depth = st.integers(1, 60000)
    return st.one_of(
        depth.map(lambda n: b"[" * n + b"]" * n),
        depth.map(lambda n: b"[" * n),
        depth.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        depth.map(lambda n: ('{"secret":"%s","action":"buy","symbol":"AAPL","strategy":' % secret).encode()
                  + b'{"s":' * n + b"1" + b"}" * (n + 1)),
    )


def text_lines(secret: str) -> st.SearchStrategy[bytes]:
    """Plain-text alerts (``BUY AAPL 15``), the default strategy message, with or without a secret."""
    words = st.lists(st.sampled_from(PLAUSIBLE) | st.text(max_size=10), min_size=0, max_size=6)
    prefix = st.sampled_from(["", f"secret={secret} ", f"passphrase: {secret} ", "secret=wrong ", f"key={secret}\n"])
    default_message = st.builds(lambda side, sym, pos: f"order {side} @ 1 filled on {sym}. New strategy position is {pos}",
                                st.sampled_from(["buy", "sell", "hold"]), st.sampled_from(PLAUSIBLE),
                                st.sampled_from(PLAUSIBLE))
    line = st.builds(lambda p, w: p + " ".join(w), prefix, words) | st.builds(lambda p, m: p + m, prefix, default_message)
    return line.map(lambda s: s.encode("utf-8", "surrogatepass"))


def bodies(secret: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=512),
        st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
        json_objects(secret),
        json_objects(secret),  # twice: the family that reaches the most code
        raw_json_numbers(secret),
        nested(secret),
        text_lines(secret),
        st.sampled_from([b"", b"{", b"[]", b"null", b"\xef\xbb\xbf{}", b"\xff\xfe", b"{}" * 40000]),
    )


def requests_(secret: str) -> st.SearchStrategy[FuzzRequest]:
    """Whole requests: the path (with or without the secret), a query, a content type and a body."""
    paths = st.sampled_from(["/webhook", "/webhook", f"/webhook/{secret}", "/webhook/wrong", "/webhook/a/b",
                             "/webhook?wait=abc", "/webhook?wait=-1", "/webhook?wait=1e9", "/webhook?wait=nan",
                             "/webhook?wait=0", "/webhook?x=%ff%fe"])
    types = st.sampled_from([None, "application/json", "text/plain", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", "application/json; charset=latin-1"])
    return st.builds(FuzzRequest, paths, types, bodies(secret))
