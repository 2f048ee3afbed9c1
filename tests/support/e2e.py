"""Both loopback fakes (Google Sheets + its token endpoint, Alpaca) and the environment that
points the real service at them, shared by the real-adapter end-to-end tests and bench/burst.py.

The service reads only what a deployment sets: NOVALGO_SHEET_ID, GOOGLE_APPLICATION_CREDENTIALS,
NOVALGO_SHEETS_API_URL and Alpaca's APCA_* variables. The service account key is generated
here, so google-auth signs a real JWT and the fake verifies it.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.alpaca_server import FakeAlpaca
from tests.fakes.sheets_server import SheetsFake
from tests.support.running_service import RunningService, write_service_account

EMAIL = "novalgo-e2e@example-project.iam.gserviceaccount.com"
SHEET_ID = "1RealAdaptersEndToEndSheet"
CONFIG_HEADER = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"]
TABS = ("Config", "Performance", "Activity")


class Fakes:
    """A Sheets fake holding one spreadsheet shared with a fresh service account, and a fake Alpaca."""

    def __init__(self, workdir: Path, *, sheets_latency: float = 0.0, alpaca_latency: float = 0.0,
                 alpaca_rate_limit: int | None = None, sheets_quota: int | None = 60, clock=None):
        workdir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sheets = SheetsFake(quota_per_minute=sheets_quota, latency=sheets_latency).start()
        self.sheets.add_service_account(EMAIL, key.public_key())
        self.alpaca = FakeAlpaca(latency=alpaca_latency, rate_limit=alpaca_rate_limit, clock=clock).start()
        self.credentials = write_service_account(workdir / "credentials.json", key, EMAIL, self.sheets.token_url)

    def create_sheet(self, rows: list[list[Any]], header: list[str] | None = None) -> None:
        """The spreadsheet with its three tabs, shared with the service account, Config filled in."""
        self.sheets.create_spreadsheet(SHEET_ID, TABS, shared_with={EMAIL})
        self.sheets.set_values(SHEET_ID, "Config", [header or CONFIG_HEADER, *rows])

    def env(self) -> dict[str, str]:
        return {
            "NOVALGO_SHEET_ID": SHEET_ID,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials),
            "NOVALGO_SHEETS_API_URL": self.sheets.url,
            "APCA_API_KEY_ID": self.alpaca.key_id,
            "APCA_API_SECRET_KEY": self.alpaca.secret_key,
            "APCA_API_BASE_URL": self.alpaca.url,
            "APCA_API_DATA_URL": self.alpaca.url,
        }

    def config_rows(self) -> list[dict[str, str]]:
        """The Config tab as the trader sees it (formatted), one dict per row by header."""
        values = self.sheets.values(SHEET_ID, "Config")
        header = values[0]
        return [{name: (row[i] if i < len(row) else "") for i, name in enumerate(header)} for row in values[1:]]

    def config_row(self, symbol: str, timeframe: str) -> dict[str, str]:
        return next(r for r in self.config_rows() if r["symbol"] == symbol and r["Time Frame"] == timeframe)

    def row_number(self, symbol: str, timeframe: str) -> int:
        """The 1-based sheet row of a Config row (the header is row 1)."""
        rows = self.config_rows()
        return 2 + next(i for i, r in enumerate(rows) if r["symbol"] == symbol and r["Time Frame"] == timeframe)

    def held(self, symbol: str):
        with self.alpaca.lock:
            return self.alpaca.positions.get(symbol, [0])[0]

    def stop(self) -> None:
        self.alpaca.stop()
        self.sheets.stop()


SECRET = "e2e-secret"


def RealService(data_dir: Path, workers: int = 2, **env: str) -> RunningService:  # noqa: N802 (reads as a class)
    """``python -m novalgo serve`` under gunicorn, configured by the fakes' environment."""
    return RunningService(data_dir, SECRET, workers=workers, **env)


@contextmanager
def serving(fakes: Fakes, data_dir: Path, workers: int = 2, **env: str) -> Iterator[RunningService]:
    """The real service against the fakes, following the fake's trade stream as it follows
    Alpaca's (fills arrive as events); healthy before it is handed over, stopped with the fakes."""
    service = RealService(data_dir, workers=workers, APCA_API_STREAM_URL=fakes.alpaca.stream_url, **env,
                          **fakes.env())
    try:
        service.wait_healthy()
        yield service
    finally:
        service.stop()
        fakes.stop()
