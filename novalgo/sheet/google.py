"""The Google Sheet backend: moves cells between the Config/Performance/Activity tabs and NovAlgo.

It only moves cells; finding rows by key and columns by header is ``domain.config_rows``,
caching and coalescing live in ``cache.py`` and ``status_writer.py``. Every request goes
through ``SheetsHTTPClient`` (quota, timeout, bounded retries), and every write is built so
that sending it twice leaves the sheet as sending it once: exact cells, never ``:append``.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import gspread
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.utils import rowcol_to_a1

from novalgo.domain.config_rows import STATUS, UPDATED, RowKey, header_index, status_cells
from novalgo.errors import SettingsError, SheetUnavailable
from novalgo.settings import Settings
from novalgo.sheet.base import StatusUpdate
from novalgo.sheet.google_http import QuotaLimiter, RetryPolicy, SheetsHTTPClient
from novalgo.sheet.layout import ACTIVITY_HEADERS

SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
UNFORMATTED = "UNFORMATTED_VALUE"
FORMATTED = "FORMATTED_VALUE"
GROWTH = 200  # rows added at a time when a tab runs out of grid, so growing is rare


class SheetNotShared(SheetUnavailable):
    """Google refused the service account (403) or cannot see the spreadsheet (404)."""


class TabMissing(SheetUnavailable):
    """The spreadsheet has no tab of that name (Google: "Unable to parse range")."""


class ServiceAccount(service_account.Credentials):
    """google-auth's service account, minus the "regional access boundary" lookup.

    Recent google-auth asks iamcredentials.googleapis.com for allowed locations after each
    token refresh, in a background thread. Sheets has no use for it, and with
    NOVALGO_SHEETS_API_URL set it would be the one call still going to Google.
    """

    def _is_regional_access_boundary_lookup_required(self) -> bool:
        return False


def load_credentials(path: Path) -> service_account.Credentials:
    """The service account from its JSON key file; SettingsError saying what to do if unusable."""
    try:
        return ServiceAccount.from_service_account_file(str(path), scopes=list(SCOPES))
    except FileNotFoundError:
        raise SettingsError([f"the Google credentials file {path} does not exist (GOOGLE_APPLICATION_CREDENTIALS)"]) from None
    except (ValueError, KeyError, json.JSONDecodeError) as e:
        raise SettingsError([f"{path} is not a service account key file: {e}"]) from None


def quoted(tab: str) -> str:
    """A tab name as A1 notation wants it: 'My Tab' with inner quotes doubled."""
    return "'" + tab.replace("'", "''") + "'"


class GoogleSheetBackend:
    kind = "google"
    # One flush every 3 s is at most 20 reads + 20 writes a minute: well inside the 50/min budget.
    min_flush_interval = 3.0

    def __init__(self, http: SheetsHTTPClient, spreadsheet_id: str, *, config_tab: str = "Config",
                 performance_tab: str = "Performance", activity_tab: str = "Activity", account_email: str = "",
                 settings_tab: str = "Settings"):
        self.http = http
        self.spreadsheet_id = spreadsheet_id
        self.config_tab = config_tab
        self.performance_tab = performance_tab
        self.activity_tab = activity_tab
        self.settings_tab = settings_tab
        self.account_email = account_email
        self._sheet_ids: dict[str, int] = {}
        self._lock = threading.Lock()  # one write at a time, so each reads the tab as the last one left it

    @classmethod
    def from_settings(cls, settings: Settings, *, limiter: QuotaLimiter | None = None,
                      retry: RetryPolicy | None = None, sleep: Callable[[float], None] | None = None) -> "GoogleSheetBackend":
        credentials = load_credentials(settings.google_credentials)
        client = gspread.Client(credentials, http_client=SheetsHTTPClient)
        http = client.http_client.configure(api_url=settings.sheets_api_url, limiter=limiter, retry=retry, sleep=sleep)
        return cls(http, settings.sheet_id or "", config_tab=settings.config_tab,
                   performance_tab=settings.performance_tab, activity_tab=settings.activity_tab,
                   account_email=credentials.service_account_email, settings_tab=settings.settings_tab)

    # -- the SheetBackend protocol ----------------------------------------------------------

    def read_config(self) -> list[list[str]]:
        """The Config tab, one values GET, as the trader sees it: "2%" and "$1.50" keep their units
        (unformatted, Google hands both over as bare numbers, 0.02 and 1.5, and a distance could not
        tell them apart); checkboxes read TRUE/FALSE."""
        return self.read_tab(self.config_tab, FORMATTED)[1]

    def read_settings(self) -> list[list[str]]:
        """The Settings tab as shown (a "2%" cell reads "2%", not 0.02); [] when the tab does not exist."""
        try:
            return self.read_tab(self.settings_tab, FORMATTED)[1]
        except TabMissing:
            return []

    def write_statuses(self, updates: Sequence[StatusUpdate]) -> list[RowKey]:
        """Locate each row by key in the tab as it is now, then write all cells in one values:batchUpdate."""
        with self._lock:
            grid, values = self.read_tab(self.config_tab, UNFORMATTED)
            data = self._missing_status_headers(values, grid[1])
            cells, missing = status_cells(values, updates)
            data += [self._cell(self.config_tab, row, column, text) for row, column, text in cells]
            if data:
                # RAW, not USER_ENTERED: a reason or timestamp is stored as the text we sent, never
                # turned into a date, a number or (starting with "=") a formula.
                self.write_values(data, "RAW")
            return missing

    def write_performance(self, values: Sequence[Sequence[str]]) -> None:
        """Replace the Performance tab in one write, blanking what the previous table left below or beside."""
        with self._lock:
            (grid_rows, grid_columns), old = self.read_tab(self.performance_tab, FORMATTED)
            new = [[str(cell) for cell in row] for row in values]
            width = max([len(r) for r in new + old] + [1])
            height = max(len(new), len(old))
            block = [row + [""] * (width - len(row)) for row in new] + [[""] * width] * (height - len(new))
            self._grow(self.performance_tab, grid_rows, grid_columns, len(new), width)
            # USER_ENTERED so "$250.50" and "55.5%" become numbers the trader can sort and sum.
            self.write_values([{"range": f"{quoted(self.performance_tab)}!A1", "values": block}], "USER_ENTERED")

    def append_activity(self, rows: Sequence[Sequence[str]], keep: int) -> None:
        """Add rows under the last one and keep the newest ``keep``, in one write to explicit rows.

        Not ``values:append``: if an append's answer is lost, retrying it adds the rows twice.
        Here the tab is read first and the rows go to named cells, so a repeated request writes
        the same cells again. Trimming rewrites the kept rows from row 2 (blanking the rest)
        rather than deleting rows, for the same reason.
        """
        if not rows:
            return
        with self._lock:
            (grid_rows, grid_columns), values = self.read_tab(self.activity_tab, FORMATTED)
            header = values[0] if values else list(ACTIVITY_HEADERS)
            old = values[1:]
            new = [[str(cell) for cell in row] for row in rows]
            combined = old + new
            if len(combined) > keep:
                kept = combined[-keep:] if keep > 0 else []
                width = max([len(r) for r in combined] + [1])
                block = [r + [""] * (width - len(r)) for r in kept] + [[""] * width] * (len(old) - len(kept))
                first = 2
            else:
                block, first = new, 2 + len(old)
            if not values:
                block, first = [header] + block, 1
            self._grow(self.activity_tab, grid_rows, grid_columns, first - 1 + len(block),
                       max(len(r) for r in block))
            self.write_values([{"range": f"{quoted(self.activity_tab)}!A{first}", "values": block}], "RAW")

    # -- helpers shared with `sheet init` and `novalgo check` -----------------------------------

    def read_tab(self, tab: str, render: str) -> tuple[tuple[int, int], list[list[str]]]:
        """((grid rows, grid columns), cells as text) of a whole tab, in one values GET."""
        answer = self._call(self.http.values_get, self.spreadsheet_id, quoted(tab),
                            params={"valueRenderOption": render, "dateTimeRenderOption": "FORMATTED_STRING"})
        values = [[_text(cell) for cell in row] for row in answer.get("values", [])]
        return _grid_size(answer.get("range", "")), values

    def metadata(self, **params: Any) -> dict:
        answer = self._call(self.http.fetch_sheet_metadata, self.spreadsheet_id,
                            params={"includeGridData": "false", **params})
        for sheet in answer.get("sheets", []):
            props = sheet["properties"]
            self._sheet_ids[props["title"]] = props["sheetId"]
        return answer

    def write_values(self, data: list[dict], input_option: str = "RAW") -> dict:
        """One values:batchUpdate of exact ranges: safe to repeat."""
        return self._call(self.http.values_batch_update, self.spreadsheet_id,
                          body={"valueInputOption": input_option, "data": data})

    def batch_update(self, requests: list[dict]) -> dict:
        return self._call(self.http.batch_update, self.spreadsheet_id, {"requests": requests})

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one gspread call, turning Google's refusals into NovAlgo errors with a next step."""
        try:
            return method(*args, **kwargs)
        except APIError as e:
            raise self._explain(e) from e

    def _explain(self, error: APIError) -> SheetUnavailable:
        message = str(error.error.get("message", "")) if isinstance(error.error, dict) else str(error)
        if error.code in (403, 404):
            who = self.account_email or "the service account"
            return SheetNotShared(
                f"Google Sheets answered {error.code} for spreadsheet {self.spreadsheet_id} ({message}): "
                f"share the sheet with {who} as Editor, and check NOVALGO_SHEET_ID")
        if error.code == 400 and "Unable to parse range" in message:
            return TabMissing(f"the spreadsheet has no tab named in {message.split(': ', 1)[-1]!r}: "
                                    "run `novalgo sheet init` or fix the tab name setting")
        return SheetUnavailable(f"Google Sheets answered {error.code}: {message}")

    def _missing_status_headers(self, values: list[list[str]], grid_columns: int) -> list[dict]:
        """Header cells for Order Status / Last Updated when the trader's Config lacks them."""
        if not values:
            return []
        header = values[0]
        present = header_index(header)
        data = []
        column = len(header)
        for name in (STATUS, UPDATED):
            if name not in present and column < grid_columns:
                header.append(name)
                data.append(self._cell(self.config_tab, 0, column, name))
                column += 1
        return data

    def _cell(self, tab: str, row: int, column: int, text: str) -> dict:
        return {"range": f"{quoted(tab)}!{rowcol_to_a1(row + 1, column + 1)}", "values": [[text]]}

    def _grow(self, tab: str, grid_rows: int, grid_columns: int, rows: int, columns: int) -> None:
        """Add grid rows/columns a write needs (Google refuses values outside the grid).

        Repeating this after a lost answer only leaves spare blank rows: harmless.
        """
        requests = []
        if rows > grid_rows or columns > grid_columns:
            sheet_id = self._sheet_id(tab)
            if rows > grid_rows:
                requests.append({"appendDimension": {"sheetId": sheet_id, "dimension": "ROWS",
                                                     "length": rows - grid_rows + GROWTH}})
            if columns > grid_columns:
                requests.append({"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                                     "length": columns - grid_columns}})
            self.batch_update(requests)

    def _sheet_id(self, tab: str) -> int:
        if tab not in self._sheet_ids:
            self.metadata()
        if tab not in self._sheet_ids:
            raise SheetUnavailable(f"the spreadsheet has no {tab!r} tab: run `novalgo sheet init`")
        return self._sheet_ids[tab]


def _text(cell: Any) -> str:
    """A cell as the text parse_config reads: checkboxes TRUE/FALSE, numbers without formatting."""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        # repr is the shortest text that round-trips Google's JSON number: 0.1 stays "0.1".
        return repr(cell)
    return str(cell)


def _grid_size(a1: str) -> tuple[int, int]:
    """Rows and columns of a tab from the range Google echoes for a whole-tab read ('Config'!A1:Z1000)."""
    match = re.search(r"([A-Z]+)(\d+)$", a1)
    if not match:
        return 0, 0
    letters, rows = match.groups()
    columns = 0
    for ch in letters:
        columns = columns * 26 + ord(ch) - 64
    return int(rows), columns
