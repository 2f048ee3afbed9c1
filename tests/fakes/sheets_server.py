"""A wire-level fake of the Google Sheets API v4 and Google's OAuth2 token endpoint.

gspread and google-auth talk to it over real HTTP on 127.0.0.1, so the tests exercise their
real request building, URL quoting, token refresh and error handling. The fake keeps typed
cells (numbers with a display format, booleans, text) so UNFORMATTED_VALUE and
FORMATTED_VALUE differ as they do at Google, answers with Google's error bodies, counts
reads and writes per minute, and can inject 429/503 faults and latency.

Test hooks (``insert_rows``, ``move_column``, ``set_values``) edit the sheet "by hand" while
the bot runs, the way a trader does.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server

from novalgo.clock import SYSTEM_CLOCK

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
WRITE = "write"
READ = "read"

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_FAULT_MESSAGES = {
    429: "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user' of service "
         "'sheets.googleapis.com' for consumer 'project_number:000000000000'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the tests read self.log instead
        pass


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# -- cells --------------------------------------------------------------------------------

@dataclass
class Cell:
    value: Any = None            # str | bool | Decimal | None (empty)
    number_format: tuple[str, int] | None = None  # ("CURRENCY" | "PERCENT", decimals)
    validation: dict | None = None
    note: str | None = None  # CellData.note: the hover text on a cell

    @property
    def empty(self) -> bool:
        return self.value is None or self.value == ""


def _entered(raw: Any, input_option: str) -> tuple[Any, tuple[str, int] | None]:
    """What a typed value becomes in a cell: Google's parse of USER_ENTERED, or RAW as is."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, (int, float)):
        return Decimal(str(raw)), None
    text = str(raw)
    if input_option == "RAW" or text == "":
        return text, None
    if text.startswith("'"):
        return text[1:], None
    if text.strip().upper() in ("TRUE", "FALSE"):
        return text.strip().upper() == "TRUE", None
    money = re.fullmatch(r"\s*(-?)\$\s*([\d,]+)(?:\.(\d+))?\s*", text)
    if money and re.fullmatch(r"\d{1,3}(,\d{3})*|\d+", money.group(2)):
        digits = money.group(2).replace(",", "") + ("." + money.group(3) if money.group(3) else "")
        return Decimal(money.group(1) + digits), ("CURRENCY", len(money.group(3) or ""))
    percent = re.fullmatch(r"\s*(-?\d+(?:\.(\d+))?)\s*%\s*", text)
    if percent:
        return Decimal(percent.group(1)) / 100, ("PERCENT", len(percent.group(2) or ""))
    plain = re.fullmatch(r"\s*-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*", text)
    if plain:
        return Decimal(text.strip().replace(",", "")), None
    return text, None


def _unformatted(cell: Cell) -> Any:
    value = cell.value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _formatted(cell: Cell) -> str:
    value = cell.value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        if cell.number_format:
            kind, decimals = cell.number_format
            if kind == "CURRENCY":
                text = f"{abs(value):,.{decimals}f}"
                return ("-$" if value < 0 else "$") + text
            return f"{value * 100:.{decimals}f}%"
        return format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))
    return "" if value is None else str(value)


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_index(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number - 1


# -- tabs and spreadsheets ----------------------------------------------------------------

@dataclass
class Tab:
    sheet_id: int
    title: str
    index: int
    row_count: int = 1000
    column_count: int = 26
    frozen_rows: int = 0
    rows: list[list[Cell]] = field(default_factory=list)
    conditional_formats: list[dict] = field(default_factory=list)
    protected_ranges: list[dict] = field(default_factory=list)

    def cell(self, row: int, column: int) -> Cell:
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        while len(line) <= column:
            line.append(Cell())
        return line[column]

    def peek(self, row: int, column: int) -> Cell:
        if row < len(self.rows) and column < len(self.rows[row]):
            return self.rows[row][column]
        return Cell()

    def properties(self) -> dict:
        grid = {"rowCount": self.row_count, "columnCount": self.column_count}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        return {"sheetId": self.sheet_id, "title": self.title, "index": self.index, "sheetType": "GRID",
                "gridProperties": grid}

    def a1_title(self) -> str:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.title):
            return self.title
        return "'" + self.title.replace("'", "''") + "'"


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    tabs: list[Tab]
    shared_with: set[str] | None = None  # None: every known service account may open it
    next_id: int = 1000

    def tab(self, title: str) -> Tab | None:
        return next((t for t in self.tabs if t.title == title), None)

    def tab_by_id(self, sheet_id: int) -> Tab:
        for tab in self.tabs:
            if tab.sheet_id == sheet_id:
                return tab
        raise ApiError(400, f"No grid with id: {sheet_id}")


@dataclass
class Span:
    """A resolved A1 range: 0-based, end exclusive, None when open-ended."""

    tab: Tab
    row0: int
    col0: int
    row1: int | None
    col1: int | None
    single: bool = False  # one cell named ("A1"): a write may start there and run on

    def bounded(self) -> tuple[int, int, int, int]:
        return (self.row0, self.col0, self.tab.row_count if self.row1 is None else self.row1,
                self.tab.column_count if self.col1 is None else self.col1)

    def a1(self) -> str:
        r0, c0, r1, c1 = self.bounded()
        start = f"{self.tab.a1_title()}!{_column_letters(c0)}{r0 + 1}"
        return start if self.single else f"{start}:{_column_letters(c1 - 1)}{r1}"


def parse_a1(text: str, book: Spreadsheet) -> Span:
    """Resolve 'My Tab'!A1:F10, Tab!A:C, Tab!2:5, Tab, or A1:B2 (first tab) as Google does."""
    title, ref = None, text
    if text.startswith("'"):
        match = re.match(r"'((?:[^']|'')*)'(?:!(.*))?$", text)
        if not match:
            raise ApiError(400, f"Unable to parse range: {text}")
        title, ref = match.group(1).replace("''", "'"), match.group(2) or ""
    elif "!" in text:
        title, ref = text.rsplit("!", 1)
    elif book.tab(text) is not None:
        title, ref = text, ""
    tab = book.tab(title) if title is not None else book.tabs[0]
    if tab is None:
        raise ApiError(400, f"Unable to parse range: {text}")
    if not ref:
        return Span(tab, 0, 0, None, None)
    parts = ref.split(":")
    if len(parts) > 2:
        raise ApiError(400, f"Unable to parse range: {text}")
    refs = []
    for part in parts:
        match = re.fullmatch(r"\$?([A-Za-z]*)\$?(\d*)", part)
        if not match or not (match.group(1) or match.group(2)):
            raise ApiError(400, f"Unable to parse range: {text}")
        refs.append((_column_index(match.group(1)) if match.group(1) else None,
                     int(match.group(2)) - 1 if match.group(2) else None))
    (c0, r0) = refs[0]
    if len(refs) == 1:
        if c0 is None or r0 is None:
            raise ApiError(400, f"Unable to parse range: {text}")
        return Span(tab, r0, c0, r0 + 1, c0 + 1, single=True)
    (c1, r1) = refs[1]
    return Span(tab, r0 or 0, c0 or 0, None if r1 is None else r1 + 1, None if c1 is None else c1 + 1)


def _grid_span(tab: Tab, grid: dict) -> tuple[int, int, int, int]:
    return (grid.get("startRowIndex", 0), grid.get("startColumnIndex", 0),
            grid.get("endRowIndex", tab.row_count), grid.get("endColumnIndex", tab.column_count))


# -- the fake -----------------------------------------------------------------------------

class SheetsFake:
    """The Sheets v4 API and OAuth2 token endpoint, in memory, served on 127.0.0.1."""

    def __init__(self, quota_per_minute: int | None = 60, latency: float = 0.0):
        self.books: dict[str, Spreadsheet] = {}
        self.accounts: dict[str, Any] = {}        # client_email -> RSA public key
        self.tokens: dict[str, str] = {}          # access token -> client_email
        self.grants: list[dict] = []              # verified JWT claims, for tests to inspect
        self.log: list[dict] = []                 # every Sheets request: method, path, kind, status, at
        self.quota_per_minute = quota_per_minute  # Google's own limit; None disables it
        self.latency = latency
        self._faults: list[int] = []              # statuses the next calls answer
        self._write_faults: list[int] = []        # statuses the next writes answer after applying
        self._storm_until = 0.0
        self._storm_status = 503
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self.app = self._build_app()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "SheetsFake":
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    # -- setup and hand edits -------------------------------------------------------------

    def add_service_account(self, client_email: str, public_key: Any) -> None:
        self.accounts[client_email] = public_key

    def create_spreadsheet(self, spreadsheet_id: str, tabs: Iterable[str] = ("Sheet1",),
                           shared_with: Iterable[str] | None = None, title: str = "NovAlgo") -> Spreadsheet:
        with self._lock:
            book = Spreadsheet(spreadsheet_id, title, [], set(shared_with) if shared_with is not None else None)
            for name in tabs:
                self._add_tab(book, {"title": name})
            self.books[spreadsheet_id] = book
            return book

    def tab(self, spreadsheet_id: str, title: str) -> Tab:
        return self.books[spreadsheet_id].tab(title)

    def set_values(self, spreadsheet_id: str, title: str, rows: list[list[Any]], start_row: int = 1,
                   input_option: str = "USER_ENTERED") -> None:
        """Type values into a tab from column A of ``start_row`` (1-based), as a person would; None skips a cell."""
        with self._lock:
            tab = self.tab(spreadsheet_id, title)
            for r, line in enumerate(rows, start=start_row - 1):
                for c, raw in enumerate(line):
                    if raw is None:
                        continue
                    value, fmt = _entered(raw, input_option)
                    cell = tab.cell(r, c)
                    cell.value, cell.number_format = value, fmt

    def insert_rows(self, spreadsheet_id: str, title: str, before_row: int, rows: list[list[Any]]) -> None:
        """Insert rows above ``before_row`` (1-based), shifting everything below down."""
        with self._lock:
            tab = self.tab(spreadsheet_id, title)
            tab.cell(before_row - 1, 0)
            for offset in range(len(rows)):
                tab.rows.insert(before_row - 1 + offset, [])
            tab.row_count += len(rows)
            self.set_values(spreadsheet_id, title, rows, start_row=before_row)

    def move_column(self, spreadsheet_id: str, title: str, from_column: int, to_column: int) -> None:
        """Drag a column (0-based) to a new place, as a person does; rules on it move along."""
        with self._lock:
            tab = self.tab(spreadsheet_id, title)
            for line in tab.rows:
                while len(line) <= max(from_column, to_column):
                    line.append(Cell())
                line.insert(to_column, line.pop(from_column))
            order = list(range(tab.column_count))
            order.insert(to_column, order.pop(from_column))
            where = {old: new for new, old in enumerate(order)}
            for grid in self._grid_ranges(tab):
                start = grid.get("startColumnIndex")
                if start is not None and grid.get("endColumnIndex") == start + 1:
                    grid["startColumnIndex"] = where[start]
                    grid["endColumnIndex"] = where[start] + 1

    def values(self, spreadsheet_id: str, title: str, render: str = "FORMATTED_VALUE") -> list[list[Any]]:
        """The tab's cells as the API would answer a values GET (trailing blanks trimmed)."""
        with self._lock:
            book = self.books[spreadsheet_id]
            return self._read_values(Span(book.tab(title), 0, 0, None, None), render)

    # -- faults and counters ----------------------------------------------------------------

    def fail_next(self, count: int, status: int = 429, after_apply: bool = False) -> None:
        """The next ``count`` Sheets calls answer ``status``.

        With ``after_apply`` only writes fail, and only after changing the sheet: the answer
        is lost, as when a connection drops after Google did the work.
        """
        with self._lock:
            (self._write_faults if after_apply else self._faults).extend([status] * count)

    def fail_for(self, seconds: float, status: int = 503) -> None:
        """Every Sheets call answers ``status`` for the next ``seconds``."""
        with self._lock:
            self._storm_status = status
            self._storm_until = time.monotonic() + seconds

    def end_storm(self) -> None:
        with self._lock:
            self._storm_until = 0.0

    def requests(self, kind: str | None = None, ok: bool | None = None) -> list[dict]:
        with self._lock:
            return [entry for entry in self.log if (kind is None or entry["kind"] == kind)
                    and (ok is None or (entry["status"] < 400) == ok)]

    def busiest_minute(self, kind: str) -> int:
        """The most ``kind`` requests seen in any 60-second window."""
        times = sorted(entry["at"] for entry in self.requests(kind))
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 60.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- HTTP -----------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("sheets-fake")

        @app.post("/token")
        def token() -> Response:
            return self._token()

        @app.route("/v4/spreadsheets/<path:rest>", methods=["GET", "POST", "PUT"])
        def sheets(rest: str) -> Response:
            return self._sheets()

        return app

    def _token(self) -> Response:
        form = request.form
        if form.get("grant_type") != GRANT_TYPE:
            return _json({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, 400)
        try:
            claims = self._verify_jwt(form.get("assertion", ""))
        except ValueError as e:
            return _json({"error": "invalid_grant", "error_description": str(e)}, 400)
        access = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[access] = claims["iss"]
            self.grants.append(claims)
        return _json({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    def _verify_jwt(self, assertion: str) -> dict:
        try:
            head, body, signature = assertion.split(".")
            header = json.loads(_b64(head))
            claims = json.loads(_b64(body))
        except (ValueError, json.JSONDecodeError):
            raise ValueError("Invalid JWT: malformed assertion") from None
        if header.get("alg") != "RS256":
            raise ValueError("Invalid JWT: unsupported algorithm")
        key = self.accounts.get(claims.get("iss"))
        if key is None:
            raise ValueError("Invalid JWT Signature.")
        try:
            key.verify(_b64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ValueError("Invalid JWT Signature.") from None
        # google-auth always signs for Google's own token endpoint, whatever token_uri says.
        if claims.get("aud") not in (GOOGLE_TOKEN_AUDIENCE, self.token_url):
            raise ValueError("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
        # google-auth dates its token request by the machine's clock, whatever the tests pin.
        now = SYSTEM_CLOCK()
        if not (claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0) + 300):
            raise ValueError("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe")
        if not claims.get("scope"):
            raise ValueError("Invalid JWT: no scope")
        return claims

    def _sheets(self) -> Response:
        if self.latency:
            time.sleep(self.latency)
        raw_path = urlsplit(request.environ.get("RAW_URI") or request.full_path).path
        kind = READ if request.method == "GET" else WRITE
        entry = {"method": request.method, "path": unquote(raw_path), "kind": kind, "at": time.monotonic(),
                 "status": 200}
        with self._lock:
            self.log.append(entry)
            try:
                fault = self._fault(kind)
                email = self._caller()
                if fault and not fault[1]:
                    raise ApiError(fault[0], _FAULT_MESSAGES.get(fault[0], "Error"))
                body = self._route(request.method, raw_path, email)
                if fault:
                    raise ApiError(fault[0], _FAULT_MESSAGES.get(fault[0], "Error"))
                return _json(body)
            except ApiError as e:
                entry["status"] = e.code
                return _json({"error": {"code": e.code, "message": e.message,
                                        "status": _STATUS_NAMES.get(e.code, "UNKNOWN")}}, e.code)

    def _fault(self, kind: str) -> tuple[int, bool] | None:
        if time.monotonic() < self._storm_until:
            return (self._storm_status, False)
        if self._faults:
            return (self._faults.pop(0), False)
        if self._write_faults and kind == WRITE:
            return (self._write_faults.pop(0), True)
        if self.quota_per_minute is not None:
            now = time.monotonic()
            recent = sum(1 for e in self.log[:-1] if e["kind"] == kind and now - e["at"] < 60.0)
            if recent >= self.quota_per_minute:
                return (429, False)
        return None

    def _caller(self) -> str:
        auth = request.headers.get("Authorization", "")
        email = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if email is None:
            raise ApiError(401, "Request is missing required authentication credential. Expected OAuth 2 access "
                                "token, login cookie or other valid authentication credential.")
        return email

    def _book(self, spreadsheet_id: str, email: str) -> Spreadsheet:
        book = self.books.get(spreadsheet_id)
        if book is None:
            raise ApiError(404, "Requested entity was not found.")
        if book.shared_with is not None and email not in book.shared_with:
            raise ApiError(403, "The caller does not have permission")
        return book

    def _route(self, method: str, raw_path: str, email: str) -> dict:
        rest = raw_path[len("/v4/spreadsheets/"):]
        # The client percent-encodes the range, so a literal ':' in the path marks a method suffix.
        if "/values/" in rest:
            ident, _, quoted = rest.partition("/values/")
            quoted, _, verb = quoted.partition(":")
            book = self._book(unquote(ident), email)
            return self._values_call(method, book, unquote(quoted), verb)
        head, _, verb = rest.partition(":")
        if head.endswith("/values"):
            book = self._book(unquote(head[:-len("/values")]), email)
            return self._dispatch_batch_values(method, book, verb)
        if "/" in head:
            raise ApiError(404, "Requested entity was not found.")
        book = self._book(unquote(head), email)
        if method == "GET" and not verb:
            return self._metadata(book, parse_qs(urlsplit(request.full_path).query))
        if method == "POST" and verb == "batchUpdate":
            return self._batch_update(book, request.get_json(force=True) or {})
        raise ApiError(404, "Requested entity was not found.")

    def _values_call(self, method: str, book: Spreadsheet, range_text: str, verb: str) -> dict:
        args = request.args
        if method == "GET" and not verb:
            span = parse_a1(range_text, book)
            return self._value_range(span, args.get("valueRenderOption", "FORMATTED_VALUE"),
                                     args.get("majorDimension", "ROWS"))
        if method == "PUT" and not verb:
            option = _input_option(args.get("valueInputOption"))
            body = request.get_json(force=True) or {}
            return self._write(book, parse_a1(range_text, book), body.get("values", []), option)
        if method == "POST" and verb == "append":
            option = _input_option(args.get("valueInputOption"))
            return self._append(book, parse_a1(range_text, book), (request.get_json(force=True) or {}).get("values", []),
                                option, args.get("insertDataOption", "OVERWRITE"))
        if method == "POST" and verb == "clear":
            span = parse_a1(range_text, book)
            self._clear(span)
            return {"spreadsheetId": book.spreadsheet_id, "clearedRange": span.a1()}
        raise ApiError(404, "Requested entity was not found.")

    # The batch endpoints: GET values:batchGet, POST values:batchUpdate, POST values:batchClear.
    def _dispatch_batch_values(self, method: str, book: Spreadsheet, verb: str) -> dict:
        if method == "GET" and verb == "batchGet":
            render = request.args.get("valueRenderOption", "FORMATTED_VALUE")
            ranges = request.args.getlist("ranges")
            return {"spreadsheetId": book.spreadsheet_id,
                    "valueRanges": [self._value_range(parse_a1(r, book), render, "ROWS") for r in ranges]}
        body = request.get_json(force=True) or {}
        if method == "POST" and verb == "batchUpdate":
            option = _input_option(body.get("valueInputOption"))
            spans = [(parse_a1(item["range"], book), item.get("values", [])) for item in body.get("data", [])]
            for span, values in spans:  # all or nothing, as at Google: check every range first
                self._write(book, span, values, option, dry_run=True)
            responses = [self._write(book, span, values, option) for span, values in spans]
            return {"spreadsheetId": book.spreadsheet_id,
                    "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
                    "totalUpdatedColumns": sum(r.get("updatedColumns", 0) for r in responses),
                    "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
                    "totalUpdatedSheets": len({span.tab.sheet_id for span, _ in spans}),
                    "responses": responses}
        if method == "POST" and verb == "batchClear":
            spans = [parse_a1(r, book) for r in body.get("ranges", [])]
            for span in spans:
                self._clear(span)
            return {"spreadsheetId": book.spreadsheet_id, "clearedRanges": [s.a1() for s in spans]}
        raise ApiError(404, "Requested entity was not found.")

    # -- values ---------------------------------------------------------------------------------

    def _read_values(self, span: Span, render: str) -> list[list[Any]]:
        r0, c0, r1, c1 = span.bounded()
        out: list[list[Any]] = []
        for r in range(r0, min(r1, len(span.tab.rows))):
            line = []
            for c in range(c0, c1):
                cell = span.tab.peek(r, c)
                if cell.empty:
                    line.append("")
                else:
                    line.append(_formatted(cell) if render == "FORMATTED_VALUE" else _unformatted(cell))
            while line and line[-1] == "":
                line.pop()
            out.append(line)
        while out and not out[-1]:
            out.pop()
        return out

    def _value_range(self, span: Span, render: str, major: str) -> dict:
        if render not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
            raise ApiError(400, f"Invalid value at 'value_render_option' ({render})")
        r0, c0, r1, c1 = span.bounded()
        if r1 > span.tab.row_count or c1 > span.tab.column_count:
            raise ApiError(400, f"Range ({span.a1()}) exceeds grid limits. Max rows: {span.tab.row_count}, "
                                f"max columns: {span.tab.column_count}")
        values = self._read_values(span, render)
        if major == "COLUMNS":
            width = max((len(v) for v in values), default=0)
            values = [[row[c] if c < len(row) else "" for row in values] for c in range(width)]
        answer = {"range": span.a1(), "majorDimension": major}
        if values:
            answer["values"] = values
        return answer

    def _write(self, book: Spreadsheet, span: Span, values: list[list[Any]], option: str,
               dry_run: bool = False) -> dict:
        tab = span.tab
        height = len(values)
        width = max((len(v) for v in values), default=0)
        if span.single:
            span = Span(tab, span.row0, span.col0, None, None)
        if span.row1 is not None and span.row0 + height > span.row1:
            raise ApiError(400, f"Requested writing within range [{span.a1()}], but tried writing to row "
                                f"[{span.row0 + height}]")
        if span.col1 is not None and span.col0 + width > span.col1:
            raise ApiError(400, f"Requested writing within range [{span.a1()}], but tried writing to column "
                                f"[{_column_letters(span.col0 + width - 1)}]")
        if span.row0 + height > tab.row_count or span.col0 + width > tab.column_count:
            raise ApiError(400, f"Range ({span.a1()}) exceeds grid limits. Max rows: {tab.row_count}, "
                                f"max columns: {tab.column_count}")
        if not dry_run:
            for r, line in enumerate(values):
                for c, raw in enumerate(line):
                    if raw is None:
                        continue  # Google skips nulls: the cell keeps its value
                    value, fmt = _entered(raw, option)
                    cell = tab.cell(span.row0 + r, span.col0 + c)
                    cell.value, cell.number_format = value, fmt
        end = f"{_column_letters(span.col0 + max(width, 1) - 1)}{span.row0 + max(height, 1)}"
        return {"spreadsheetId": book.spreadsheet_id,
                "updatedRange": f"{tab.a1_title()}!{_column_letters(span.col0)}{span.row0 + 1}:{end}",
                "updatedRows": height, "updatedColumns": width,
                "updatedCells": sum(len(v) for v in values)}

    def _append(self, book: Spreadsheet, span: Span, values: list[list[Any]], option: str, insert: str) -> dict:
        tab = span.tab
        r0, c0, r1, c1 = span.bounded()
        last = -1
        for r in range(r0, min(r1, len(tab.rows))):
            if any(not tab.peek(r, c).empty for c in range(c0, c1)):
                last = r
        start = max(last + 1, r0)
        if insert == "INSERT_ROWS":
            for _ in values:
                tab.rows.insert(start, [])
            tab.row_count += len(values)
        else:
            tab.row_count = max(tab.row_count, start + len(values))
        target = Span(tab, start, c0, None, None)
        updates = self._write(book, target, values, option)
        return {"spreadsheetId": book.spreadsheet_id, "tableRange": span.a1(), "updates": updates}

    def _clear(self, span: Span) -> None:
        r0, c0, r1, c1 = span.bounded()
        for r in range(r0, min(r1, len(span.tab.rows))):
            for c in range(c0, min(c1, len(span.tab.rows[r]))):
                span.tab.rows[r][c].value, span.tab.rows[r][c].number_format = None, None

    # -- metadata -------------------------------------------------------------------------------

    def _metadata(self, book: Spreadsheet, params: dict[str, list[str]]) -> dict:
        with_data = params.get("includeGridData", ["false"])[0] == "true" or "data" in params.get("fields", [""])[0]
        ranges = [parse_a1(r, book) for r in params.get("ranges", [])]
        sheets = []
        for tab in book.tabs:
            entry: dict[str, Any] = {"properties": tab.properties()}
            if tab.conditional_formats:
                entry["conditionalFormats"] = copy.deepcopy(tab.conditional_formats)
            if tab.protected_ranges:
                entry["protectedRanges"] = copy.deepcopy(tab.protected_ranges)
            if with_data:
                spans = [s for s in ranges if s.tab is tab] if ranges else [Span(tab, 0, 0, None, None)]
                entry["data"] = [self._grid_data(s) for s in spans]
            sheets.append(entry)
        return {"spreadsheetId": book.spreadsheet_id,
                "properties": {"title": book.title, "locale": "en_US", "autoRecalc": "ON_CHANGE",
                               "timeZone": "America/Los_Angeles"},
                "sheets": sheets,
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit"}

    def _grid_data(self, span: Span) -> dict:
        r0, c0, r1, c1 = span.bounded()
        rows = []
        for r in range(r0, r1):
            cells = []
            for c in range(c0, c1):
                cell = span.tab.peek(r, c)
                data: dict[str, Any] = {}
                if not cell.empty:
                    value = _unformatted(cell)
                    key = "boolValue" if isinstance(value, bool) else "numberValue" if isinstance(value, (int, float)) else "stringValue"
                    data["userEnteredValue"] = {key: value}
                    data["effectiveValue"] = {key: value}
                    data["formattedValue"] = _formatted(cell)
                if cell.validation:
                    data["dataValidation"] = copy.deepcopy(cell.validation)
                if cell.note:
                    data["note"] = cell.note
                cells.append(data)
            while cells and not cells[-1]:
                cells.pop()
            rows.append({"values": cells} if cells else {})
        return {"startRow": r0, "startColumn": c0, "rowData": rows}

    # -- spreadsheet batchUpdate ------------------------------------------------------------

    def _batch_update(self, book: Spreadsheet, body: dict) -> dict:
        # Google applies a batch atomically: work on a copy and keep it only if every request succeeds.
        draft = copy.deepcopy(book)
        replies = []
        for number, item in enumerate(body.get("requests", [])):
            if len(item) != 1:
                raise ApiError(400, f"Invalid requests[{number}]: exactly one kind of request is expected")
            (name, args), = item.items()
            handler = getattr(self, f"_req_{name}", None)
            if handler is None:
                raise ApiError(400, f'Invalid JSON payload received. Unknown name "{name}" at \'requests[{number}]\': '
                                    "Cannot find field.")
            try:
                replies.append(handler(draft, args) or {})
            except ApiError as e:
                raise ApiError(e.code, f"Invalid requests[{number}].{name}: {e.message}") from None
        self.books[book.spreadsheet_id] = draft
        return {"spreadsheetId": book.spreadsheet_id, "replies": replies}

    def _add_tab(self, book: Spreadsheet, props: dict) -> Tab:
        title = props.get("title") or f"Sheet{len(book.tabs) + 1}"
        if book.tab(title) is not None:
            raise ApiError(400, f'A sheet with the name "{title}" already exists. Please enter another name.')
        grid = props.get("gridProperties", {})
        sheet_id = props.get("sheetId", 0 if not book.tabs else book.next_id)
        book.next_id = max(book.next_id, sheet_id) + 1
        tab = Tab(sheet_id, title, len(book.tabs), grid.get("rowCount", 1000), grid.get("columnCount", 26),
                  grid.get("frozenRowCount", 0))
        book.tabs.append(tab)
        return tab

    def _req_addSheet(self, book: Spreadsheet, args: dict) -> dict:
        tab = self._add_tab(book, args.get("properties", {}))
        return {"addSheet": {"properties": tab.properties()}}

    def _req_updateSheetProperties(self, book: Spreadsheet, args: dict) -> None:
        props = args.get("properties", {})
        tab = book.tab_by_id(props.get("sheetId", 0))
        # Google accepts "a.b" and "a/b" in field masks (gspread sends the latter).
        fields = [f.strip().replace("/", ".") for f in args.get("fields", "").split(",") if f.strip()]
        if not fields:
            raise ApiError(400, "At least one field must be updated, but 'fields' is empty")
        grid = props.get("gridProperties", {})
        for name in fields:
            if name == "title":
                tab.title = props["title"]
            elif name == "gridProperties.frozenRowCount":
                tab.frozen_rows = grid.get("frozenRowCount", 0)
            elif name == "gridProperties.rowCount":
                tab.row_count = grid["rowCount"]
            elif name == "gridProperties.columnCount":
                tab.column_count = grid["columnCount"]
            elif name != "index":
                raise ApiError(400, f"Unsupported field in this fake: {name}")

    def _req_setDataValidation(self, book: Spreadsheet, args: dict) -> None:
        grid = args.get("range", {})
        tab = book.tab_by_id(grid.get("sheetId", 0))
        r0, c0, r1, c1 = _grid_span(tab, grid)
        rule = args.get("rule")
        for r in range(r0, r1):
            for c in range(c0, c1):
                tab.cell(r, c).validation = copy.deepcopy(rule) if rule else None

    def _req_updateCells(self, book: Spreadsheet, args: dict) -> None:
        # Sheets v4 UpdateCellsRequest: rows of CellData written from `start` (or over `range`),
        # only the `fields` named; this fake models the header notes `sheet init` writes.
        if args.get("fields") != "note":
            raise ApiError(400, f"Unsupported fields in this fake: {args.get('fields')}")
        start = args.get("start") or args.get("range") or {}
        tab = book.tab_by_id(start.get("sheetId", 0))
        r0, c0 = start.get("rowIndex", start.get("startRowIndex", 0)), start.get("columnIndex", start.get("startColumnIndex", 0))
        for dr, row in enumerate(args.get("rows", [])):
            for dc, data in enumerate(row.get("values", [])):
                tab.cell(r0 + dr, c0 + dc).note = data.get("note") or None

    def _req_addConditionalFormatRule(self, book: Spreadsheet, args: dict) -> None:
        rule = copy.deepcopy(args.get("rule", {}))
        if not rule.get("ranges"):
            raise ApiError(400, "The rule must have at least one range")
        tab = book.tab_by_id(rule["ranges"][0].get("sheetId", 0))
        tab.conditional_formats.insert(args.get("index", 0), rule)

    def _req_deleteConditionalFormatRule(self, book: Spreadsheet, args: dict) -> None:
        tab = book.tab_by_id(args.get("sheetId", 0))
        index = args.get("index", 0)
        if index >= len(tab.conditional_formats):
            raise ApiError(400, f"No conditional format on sheet {tab.sheet_id} at index {index}")
        tab.conditional_formats.pop(index)

    def _req_addProtectedRange(self, book: Spreadsheet, args: dict) -> dict:
        protected = copy.deepcopy(args.get("protectedRange", {}))
        if protected.get("warningOnly") and protected.get("editors"):
            raise ApiError(400, "Cannot set editors on a warning-only protected range")
        tab = book.tab_by_id(protected.get("range", {}).get("sheetId", 0))
        protected["protectedRangeId"] = book.next_id
        book.next_id += 1
        protected.setdefault("requestingUserCanEdit", True)
        tab.protected_ranges.append(protected)
        return {"addProtectedRange": {"protectedRange": copy.deepcopy(protected)}}

    def _req_appendDimension(self, book: Spreadsheet, args: dict) -> None:
        tab = book.tab_by_id(args.get("sheetId", 0))
        length = int(args.get("length", 0))
        if length <= 0:
            raise ApiError(400, "length must be positive")
        if args.get("dimension") == "COLUMNS":
            tab.column_count += length
        else:
            tab.row_count += length

    def _req_insertDimension(self, book: Spreadsheet, args: dict) -> None:
        grid = args.get("range", {})
        tab = book.tab_by_id(grid.get("sheetId", 0))
        start, end = grid["startIndex"], grid["endIndex"]
        if grid.get("dimension") == "COLUMNS":
            for line in tab.rows:
                for _ in range(start, end):
                    if len(line) > start:
                        line.insert(start, Cell())
            tab.column_count += end - start
        else:
            tab.cell(start, 0)
            for _ in range(start, end):
                tab.rows.insert(start, [])
            tab.row_count += end - start

    def _req_deleteDimension(self, book: Spreadsheet, args: dict) -> None:
        grid = args.get("range", {})
        tab = book.tab_by_id(grid.get("sheetId", 0))
        start, end = grid["startIndex"], grid["endIndex"]
        if grid.get("dimension") == "COLUMNS":
            for line in tab.rows:
                del line[start:end]
            tab.column_count -= end - start
        else:
            del tab.rows[start:end]
            tab.row_count -= end - start
        if tab.row_count < 1 or tab.column_count < 1:
            raise ApiError(400, "You can't delete all the rows/columns on the sheet.")

    def _req_updateDimensionProperties(self, book: Spreadsheet, args: dict) -> None:
        book.tab_by_id(args.get("range", {}).get("sheetId", 0))  # sizes are not modelled; only validated

    @staticmethod
    def _grid_ranges(tab: Tab) -> list[dict]:
        grids = [p["range"] for p in tab.protected_ranges if "range" in p]
        for rule in tab.conditional_formats:
            grids.extend(rule.get("ranges", []))
        return grids


def _input_option(option: str | None) -> str:
    if option not in ("RAW", "USER_ENTERED"):
        raise ApiError(400, "'valueInputOption' is required but not specified" if not option
                       else f"Invalid value at 'value_input_option' ({option})")
    return option


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
