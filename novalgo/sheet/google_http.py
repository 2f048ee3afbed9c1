"""The edge between NovAlgo and the Sheets API: where each request goes, its quota, timeout and retries.

Google allows one service account about 60 reads and 60 writes a minute. A process-wide
limiter keeps each under 50 whatever the callers do (they wait, they are never refused).
Failures Google asks us to retry (429, 5xx, no answer) are retried a few times with jittered
exponential backoff and then reported as ``SheetUnavailable``; gspread's own
``BackOffHTTPClient`` would retry forever and block the status writer.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from novalgo.errors import SheetUnavailable

GOOGLE_ROOT = "https://sheets.googleapis.com"
DEFAULT_TIMEOUT = (5.0, 20.0)  # (connect, read) seconds, on every request and token refresh
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
READ, WRITE = "read", "write"


class QuotaLimiter:
    """At most ``per_minute`` requests of each kind in any 60-second window; callers wait their turn."""

    def __init__(self, per_minute: int = 48, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.per_minute = per_minute
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {READ: deque(), WRITE: deque()}
        self._lock = threading.Lock()

    def acquire(self, kind: str) -> float:
        """Take one request of ``kind`` from the budget, waiting if the window is full; returns the wait."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                sent = self._sent.setdefault(kind, deque())
                while sent and now - sent[0] >= self.window:
                    sent.popleft()
                if len(sent) < self.per_minute:
                    sent.append(now)
                    return waited
                pause = sent[0] + self.window - now
            self.sleep(pause)
            waited += pause


# One budget per process: every backend and every `novalgo` command in it shares Google's quota.
PROCESS_LIMITER = QuotaLimiter()


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a failing request: ``tries`` attempts within ``max_total`` seconds."""

    tries: int = 5
    first_delay: float = 1.0
    max_delay: float = 16.0
    max_total: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        # Jittered: a random wait up to the exponential bound, so clients retrying together spread out.
        return rng.uniform(self.first_delay / 2, min(self.max_delay, self.first_delay * 2 ** attempt))


class SheetsHTTPClient(HTTPClient):
    """gspread's HTTP client with our endpoint, quota, timeouts and bounded retries.

    gspread builds every URL from the constants in ``gspread.urls``. Rather than patching those
    module globals (process-wide, and silently wrong if gspread renames one), this subclass
    rewrites the scheme and host of each URL just before sending: one small override that also
    is the single place where the limiter, timeout and retry policy apply to every call.
    """

    api_root = GOOGLE_ROOT
    limiter = PROCESS_LIMITER
    retry = RetryPolicy()
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    clock: Callable[[], float] = staticmethod(time.monotonic)
    rng = random.Random()

    def configure(self, *, api_url: str | None = None, limiter: QuotaLimiter | None = None,
                  retry: RetryPolicy | None = None, timeout: Any = DEFAULT_TIMEOUT,
                  sleep: Callable[[float], None] | None = None,
                  clock: Callable[[], float] | None = None) -> "SheetsHTTPClient":
        if api_url:
            self.api_root = _api_root(api_url)
        if limiter is not None:
            self.limiter = limiter
        if retry is not None:
            self.retry = retry
        if sleep is not None:
            self.sleep = sleep
        if clock is not None:
            self.clock = clock
        self.set_timeout(timeout)
        return self

    def request(self, method: str, endpoint: str, params: Any = None, data: Any = None, json: Any = None,
                files: Any = None, headers: Any = None) -> requests.Response:
        url = self.api_root + endpoint[len(GOOGLE_ROOT):] if endpoint.startswith(GOOGLE_ROOT) else endpoint
        kind = READ if method.lower() == "get" else WRITE
        # The cap counts time spent waiting for answers too, so a hung endpoint cannot hold a
        # caller (the status writer) for tries x timeout.
        deadline = self.clock() + self.retry.max_total
        for attempt in range(self.retry.tries):
            self.limiter.acquire(kind)
            try:
                response = self.session.request(method=method, url=url, params=params, data=data, json=json,
                                                files=files, headers=headers, timeout=self.timeout or DEFAULT_TIMEOUT)
            except (requests.Timeout, requests.ConnectionError, TransportError) as e:
                failure: Exception = e
                reason = f"no answer from Google Sheets ({type(e).__name__})"
            except RefreshError as e:
                if not getattr(e, "retryable", False):
                    raise SheetUnavailable(f"Google refused the service account's credentials: {e}") from e
                failure, reason = e, f"the token endpoint failed ({e})"
            else:
                if response.ok:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise APIError(response)
                failure = APIError(response)
                reason = f"Google Sheets answered {response.status_code} {_status_name(failure)}"
            # Every retried request is safe to repeat: the backend only sends exact-cell value
            # writes and grid growth (see google.py), so an ambiguous first try does no harm.
            pause = self.retry.delay(attempt, self.rng)
            if attempt + 1 >= self.retry.tries or self.clock() + pause > deadline:
                break
            self.sleep(pause)
        raise SheetUnavailable(f"{reason}, {attempt + 1} tries") from failure


def _status_name(error: APIError) -> str:
    return str(error.error.get("status", "")) if isinstance(error.error, dict) else ""


def _api_root(api_url: str) -> str:
    """The scheme, host and optional path prefix that stand in for https://sheets.googleapis.com."""
    root = api_url.rstrip("/")
    for suffix in ("/v4/spreadsheets", "/v4"):
        if root.endswith(suffix):
            root = root[: -len(suffix)]
    return root
