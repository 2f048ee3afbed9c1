"""The Google Sheet backend, driven through gspread and google-auth against the loopback Sheets fake."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa

from novalgo.cli import main
from novalgo.domain.config_rows import OPTIONAL_HEADERS, parse_config
from novalgo.errors import SheetUnavailable
from novalgo.settings import Settings
from novalgo.sheet import google_http
from novalgo.sheet.check import check_sheet
from novalgo.sheet.google import GoogleSheetBackend
from novalgo.sheet.google_http import QuotaLimiter, RetryPolicy
from novalgo.sheet.layout import TIMEFRAME_CHOICES
from novalgo.sheet.status_writer import StatusWriter
from tests.fakes.sheets_server import GOOGLE_TOKEN_AUDIENCE, SheetsFake
from tests.support.running_service import write_service_account

SHEET = "1SheetIdForTests"
EMAIL = "novalgo-bot@example-project.iam.gserviceaccount.com"
HEADER = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"]
QUICK = RetryPolicy(tries=5, first_delay=0.01, max_delay=0.05, max_total=1.0)


@pytest.fixture(scope="module")
def key_pair():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fake(key_pair):
    server = SheetsFake().start()
    server.add_service_account(EMAIL, key_pair.public_key())
    yield server
    server.stop()


@pytest.fixture
def credentials(tmp_path, key_pair, fake) -> Path:
    """A service-account key file made at run time; its token_uri points at the fake."""
    return write_service_account(tmp_path / "credentials.json", key_pair, EMAIL, fake.token_url)


@pytest.fixture(autouse=True)
def fresh_process_budget(monkeypatch):
    # The CLI uses the process-wide limiter; give each test its own minute of budget.
    monkeypatch.setattr(google_http.SheetsHTTPClient, "limiter", QuotaLimiter())


@pytest.fixture
def settings(tmp_path, credentials, fake) -> Settings:
    return Settings(sheet_id=SHEET, google_credentials=credentials, sheets_api_url=fake.url,
                    data_dir=tmp_path / "data")


@pytest.fixture
def book(fake):
    fake.create_spreadsheet(SHEET, ["Config", "Performance", "Activity"])
    fake.set_values(SHEET, "Config", [
        HEADER,
        ["AAPL", "$5,000", True, "15 Min", "READY"],
        ["TSLA", "30000", False, "30 Min"],
        ["HOOD", "40000", True, "45 Min"],
    ])
    return fake


@pytest.fixture
def backend(settings, book) -> GoogleSheetBackend:
    return GoogleSheetBackend.from_settings(settings, limiter=QuotaLimiter(), retry=QUICK)


class VirtualClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def status_writes(fake) -> list[dict]:
    return [e for e in fake.requests("write", ok=True) if e["path"].endswith("values:batchUpdate")]


# -- authentication and reading ----------------------------------------------------------------

def test_service_account_token_flow_really_runs(backend, fake):
    backend.read_config()
    assert len(fake.grants) == 1
    claims = fake.grants[0]
    assert claims["iss"] == EMAIL
    assert claims["aud"] == GOOGLE_TOKEN_AUDIENCE
    assert "https://www.googleapis.com/auth/spreadsheets" in claims["scope"]
    backend.read_config()
    assert len(fake.grants) == 1, "the access token is reused until it expires"

    anonymous = requests.get(f"{fake.url}/v4/spreadsheets/{SHEET}/values/Config", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"


def test_config_reads_what_the_trader_sees_and_checkboxes(backend, fake):
    values = backend.read_config()
    assert fake.values(SHEET, "Config")[1][1] == "$5,000", "the trader sees a formatted amount"
    assert values[1][:4] == ["AAPL", "$5,000", "TRUE", "15 Min"]
    snapshot = parse_config(values)
    aapl = snapshot.find("AAPL", 15)
    assert aapl.position_size == Decimal("5000") and aapl.active
    assert not snapshot.find("TSLA", 30).active
    assert len(fake.requests("read")) == 1, "one values GET per Config read"


def test_percent_and_dollar_cells_keep_their_units(backend, fake):
    """Typed into Google, "2%" becomes the number 0.02 and "$1.50" the number 1.5; read formatted,
    each keeps the unit the trader typed, so a distance is never taken for the other kind."""
    fake.set_values(SHEET, "Config", [["symbol", "position_size", "active", "Time Frame", "Take Profit", "Stop Loss"],
                                      ["AAPL", "10%", True, "15 Min", "2%", "$1.50"]])
    row = parse_config(backend.read_config()).find("AAPL", 15)
    assert row.problem == ""
    assert (row.size.text, row.rules.take_profit.text, row.rules.stop_loss.text) == ("10%", "2%", "$1.5")


# -- status writes ----------------------------------------------------------------------------------

def test_a_row_inserted_above_still_gets_its_status(backend, fake):
    backend.read_config()
    fake.insert_rows(SHEET, "Config", 2, [["NVDA", "1000", True, "5 Min", "mine, do not touch"]])

    missing = backend.write_statuses([(("AAPL", 15), "FILLED", "2025-10-10 09:31:00 PDT"),
                                      (("GONE", 5), "FILLED", "2025-10-10 09:31:00 PDT")])

    rows = fake.values(SHEET, "Config")
    assert rows[1] == ["NVDA", "1000", "TRUE", "5 Min", "mine, do not touch"]
    assert rows[2] == ["AAPL", "$5,000", "TRUE", "15 Min", "FILLED", "2025-10-10 09:31:00 PDT"]
    assert missing == [("GONE", 5)]
    assert len(status_writes(fake)) == 1, "all statuses of a flush go in one values:batchUpdate"


def test_reordered_and_extra_columns_are_preserved(backend, fake):
    fake.move_column(SHEET, "Config", 4, 0)  # Order Status dragged to the front
    fake.set_values(SHEET, "Config", [[None] * 6 + ["Notes"], [None] * 6 + ["earnings 10/30"]])

    backend.write_statuses([(("HOOD", 45), "ALREADY LONG", "2025-10-10 09:32:00 PDT")])

    rows = fake.values(SHEET, "Config")
    assert rows[0] == ["Order Status", "symbol", "position_size", "active", "Time Frame", "Last Updated", "Notes"]
    assert rows[1] == ["READY", "AAPL", "$5,000", "TRUE", "15 Min", "", "earnings 10/30"]
    assert rows[3] == ["ALREADY LONG", "HOOD", "40000", "TRUE", "45 Min", "2025-10-10 09:32:00 PDT"]


def test_a_config_without_status_columns_gets_them_with_the_first_status(backend, fake):
    fake.tab(SHEET, "Config").rows = []
    fake.set_values(SHEET, "Config", [["symbol", "position_size", "active", "Time Frame"], ["AAPL", "5000", True, "15"]])
    backend.write_statuses([(("AAPL", 15), "FILLED", "09:31")])
    assert fake.values(SHEET, "Config") == [HEADER, ["AAPL", "5000", "TRUE", "15", "FILLED", "09:31"]]


def test_status_text_is_stored_as_sent_never_as_a_formula(backend, fake):
    backend.write_statuses([(("AAPL", 15), "=HYPERLINK(\"x\")", "2025-10-10")])
    assert fake.values(SHEET, "Config", "UNFORMATTED_VALUE")[1][4:6] == ['=HYPERLINK("x")', "2025-10-10"]


def test_a_storm_of_503s_delays_statuses_and_loses_none(backend, fake):
    writer = StatusWriter(backend, ZoneInfo("America/Los_Angeles"))
    fake.fail_for(600, 503)
    writer.set(("AAPL", 15), "FILLED")
    writer.set(("HOOD", 45), "ORDER SUBMITTED")

    assert writer.flush() is False
    assert writer.pending() == 2
    assert fake.values(SHEET, "Config")[1][4] == "READY", "nothing written during the storm"

    fake.end_storm()
    assert writer.flush() is True
    rows = fake.values(SHEET, "Config")
    assert (rows[1][4], rows[3][4]) == ("FILLED", "ORDER SUBMITTED")
    assert len(status_writes(fake)) == 1, "written exactly once"


def test_a_short_burst_of_429s_is_retried_within_the_call(backend, fake):
    fake.fail_next(3, 429)
    backend.write_statuses([(("AAPL", 15), "FILLED", "now")])
    assert fake.values(SHEET, "Config")[1][4] == "FILLED"
    assert [e["status"] for e in fake.requests()] == [429, 429, 429, 200, 200]


def test_retries_stop_after_the_cap_with_sheet_unavailable(backend, fake):
    fake.fail_next(50, 429)
    with pytest.raises(SheetUnavailable, match="429 RESOURCE_EXHAUSTED, 5 tries"):
        backend.read_config()
    assert len(fake.requests()) == QUICK.tries


def test_retrying_never_holds_a_caller_past_30_seconds(settings, book, fake):
    clock = VirtualClock()
    backend = GoogleSheetBackend.from_settings(settings, limiter=QuotaLimiter(), retry=RetryPolicy(tries=100))
    backend.http.configure(sleep=clock.sleep, clock=clock)
    fake.fail_next(1000, 503)
    with pytest.raises(SheetUnavailable, match="503"):
        backend.read_config()
    assert clock.now <= 30.0
    assert 3 <= len(fake.requests()) < 100


def test_a_lost_answer_after_a_write_does_not_write_twice(backend, fake):
    fake.fail_next(1, 503, after_apply=True)  # Google applied it, the answer never arrived
    backend.append_activity([["09:31", "AAPL", "FILLED"]], keep=100)
    fake.fail_next(1, 503, after_apply=True)
    backend.write_statuses([(("AAPL", 15), "FILLED", "now")])

    assert fake.values(SHEET, "Activity")[1:] == [["09:31", "AAPL", "FILLED"]]
    assert fake.values(SHEET, "Config")[1][4:6] == ["FILLED", "now"]


# -- the quota ---------------------------------------------------------------------------------------

def test_the_limiter_keeps_each_kind_under_50_a_minute_by_waiting():
    clock = VirtualClock()
    limiter = QuotaLimiter(clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(200):
        limiter.acquire("write")
        sent.append(clock.now)
        limiter.acquire("read")
    busiest = max(sum(1 for t in sent if start <= t < start + 60) for start in sent)
    assert busiest <= 48
    assert clock.now >= 180, "200 writes at most 48 a minute take more than three minutes"


def test_a_burst_of_flushes_stays_within_google_quota(settings, book, fake):
    clock = VirtualClock()
    limiter = QuotaLimiter(clock=clock, sleep=clock.sleep)
    backend = GoogleSheetBackend.from_settings(settings, limiter=limiter, retry=QUICK)
    fake.quota_per_minute = None  # count here; the wall clock of a test is not Google's minute
    stamps: list[tuple[str, float]] = []
    original = limiter.acquire
    limiter.acquire = lambda kind: (original(kind), stamps.append((kind, clock.now)))[0]

    for n in range(60):
        backend.write_statuses([(("AAPL", 15), f"FILLED {n}", "now")])

    for kind in ("read", "write"):
        times = [t for k, t in stamps if k == kind]
        assert len(times) == 60
        assert max(sum(1 for t in times if s <= t < s + 60) for s in times) < 50
    assert fake.values(SHEET, "Config")[1][4] == "FILLED 59"


# -- Performance and Activity ---------------------------------------------------------------------

def test_performance_rewrite_clears_stale_rows(backend, fake):
    header = ["symbol", "total_trades", "win_rate", "total_pnl"]
    backend.write_performance([header, ["AAPL", "4", "50.0%", "$250.50"], ["TSLA", "2", "100.0%", "$12.00"],
                               ["HOOD", "1", "0.0%", "-$3.10"]])
    backend.write_performance([header, ["AAPL", "5", "60.0%", "$300.00"]])

    assert fake.values(SHEET, "Performance") == [header, ["AAPL", "5", "60.0%", "$300.00"]]
    assert fake.values(SHEET, "Performance", "UNFORMATTED_VALUE")[1][2:] == [0.6, 300], "sortable numbers"
    assert len(fake.requests("write")) == 2, "one write per rewrite"


def test_activity_is_appended_and_trimmed_to_keep(backend, fake):
    for n in range(1, 8):
        backend.append_activity([[f"t{n}", "AAPL", "FILLED"]], keep=5)
    rows = fake.values(SHEET, "Activity")
    assert rows[1:] == [[f"t{n}", "AAPL", "FILLED"] for n in range(3, 8)]
    assert rows[0] and rows[0][0], "the header row stays"


def test_activity_grows_the_grid_instead_of_failing(backend, fake):
    fake.tab(SHEET, "Activity").row_count = 3
    backend.append_activity([[f"t{n}", "x"] for n in range(6)], keep=100)
    assert len(fake.values(SHEET, "Activity")) == 7


# -- sheet init and check -----------------------------------------------------------------------------

def run_cli(monkeypatch, tmp_path, settings, *args):
    monkeypatch.chdir(tmp_path)
    for name, value in {"NOVALGO_SHEET_ID": settings.sheet_id, "GOOGLE_APPLICATION_CREDENTIALS": str(settings.google_credentials),
                        "NOVALGO_SHEETS_API_URL": settings.sheets_api_url,
                        "NOVALGO_DATA_DIR": str(settings.data_dir)}.items():
        monkeypatch.setenv(name, value) if value else monkeypatch.delenv(name, raising=False)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sheet_init_repairs_the_tabs_and_a_second_run_writes_nothing(monkeypatch, tmp_path, settings, fake):
    fake.create_spreadsheet(SHEET, ["Config"])
    fake.set_values(SHEET, "Config", [["Notes", "symbol", "Time Frame", "position_size", "active"],
                                      ["mine", "AAPL", "15 Min", "5000", True]])

    first = run_cli(monkeypatch, tmp_path, settings, "sheet", "init")
    assert first.exit_code == 0, first.output
    assert "created the Performance tab" in first.output

    config = fake.tab(SHEET, "Config")
    header = fake.values(SHEET, "Config")[0]
    assert header == ["Notes", "symbol", "Time Frame", "position_size", "active", "Order Status", "Last Updated",
                      *OPTIONAL_HEADERS], "the trader's columns never move; the new ones go at the end"
    assert fake.values(SHEET, "Config")[1][:5] == ["mine", "AAPL", "15 Min", "5000", "TRUE"], "rows untouched"
    column = {name: header.index(name) for name in header}
    assert config.peek(0, column["Take Profit"]).note.startswith("Percent (2%) or dollars")
    assert config.peek(0, column["position_size"]).note.startswith("Dollars (5000")
    assert config.peek(1, column["Extended Hours"]).validation["condition"] == {"type": "BOOLEAN"}
    assert [v["userEnteredValue"] for v in config.peek(1, column["Direction"]).validation["condition"]["values"]] \
        == ["both", "long only", "short only"]
    assert all(t.frozen_rows == 1 for t in fake.books[SHEET].tabs)
    assert config.peek(1, 4).validation["condition"] == {"type": "BOOLEAN"}
    assert [v["userEnteredValue"] for v in config.peek(5, 2).validation["condition"]["values"]] == list(TIMEFRAME_CHOICES)
    coloured = {r["booleanRule"]["condition"]["values"][0]["userEnteredValue"] for r in config.conditional_formats}
    assert {"FILLED", "PARTIAL", "FAILED", "ORDER SUBMITTED", "ALREADY LONG", "INACTIVE", "WAITING", "TAKE PROFIT",
            "STOP LOSS", "TRAILING STOP"} <= coloured
    assert all(r["ranges"][0]["startColumnIndex"] == 5 for r in config.conditional_formats)
    assert {(p["range"]["startColumnIndex"], p["warningOnly"]) for p in config.protected_ranges} == {(5, True), (6, True)}
    assert fake.values(SHEET, "Performance")[0][0] == "symbol"
    assert fake.values(SHEET, "Activity")[0], "Activity has its header"

    writes = len(fake.requests("write"))
    second = run_cli(monkeypatch, tmp_path, settings, "sheet", "init")
    assert second.exit_code == 0, second.output
    assert "nothing to change" in second.output
    assert len(fake.requests("write")) == writes, "the second run sends no write at all"


def test_sheet_init_on_local_defaults_creates_the_csv_files(monkeypatch, tmp_path, settings):
    result = run_cli(monkeypatch, tmp_path, settings.with_overrides(sheet_id=None), "sheet", "init")
    assert result.exit_code == 0, result.output
    assert (settings.data_dir / "sheet" / "Config.csv").is_file()


def test_check_names_the_missing_credentials_file(settings, tmp_path):
    ok, problems = check_sheet(settings.with_overrides(google_credentials=tmp_path / "nowhere" / "key.json"))
    assert ok == []
    assert len(problems) == 1
    assert str(tmp_path / "nowhere" / "key.json") in problems[0]
    assert "Service Accounts" in problems[0] and "GOOGLE_APPLICATION_CREDENTIALS" in problems[0]


def test_check_says_to_share_the_sheet_with_the_service_account(settings, fake):
    fake.create_spreadsheet(SHEET, ["Config"], shared_with=[])
    ok, problems = check_sheet(settings)
    assert ok == []
    assert EMAIL in problems[0] and "Editor" in problems[0] and "Share" in problems[0]


def test_check_lists_every_bad_config_row(settings, book):
    book.set_values(SHEET, "Config", [["MSFT", "lots", True, "5 Min"], ["", "100", True, "15 Min"]], start_row=5)
    ok, problems = check_sheet(settings)
    assert f"opened as {EMAIL}" in ok[0]
    assert "4 rows, 3 active" in ok[1]  # MSFT's row is kept: its alerts fail with the reason
    assert [p.split(":")[0] for p in problems] == ["Config tab row 5", "Config tab row 6"]


def test_sheet_init_on_an_existing_local_config_adds_the_new_columns_and_keeps_the_rows(monkeypatch, tmp_path, settings):
    local = settings.with_overrides(sheet_id=None)
    folder = local.data_dir / "sheet"
    folder.mkdir(parents=True)
    (folder / "Config.csv").write_text("symbol,position_size,active,Time Frame,My notes\nAAPL,5000,TRUE,15 Min,keep me\n")
    result = run_cli(monkeypatch, tmp_path, local, "sheet", "init")
    assert result.exit_code == 0, result.output
    assert "added the Order Status, Last Updated, Direction" in result.output
    rows = [line.split(",") for line in (folder / "Config.csv").read_text().splitlines()]
    assert rows[0][:5] == ["symbol", "position_size", "active", "Time Frame", "My notes"]
    assert rows[0][5:] == ["Order Status", "Last Updated", *OPTIONAL_HEADERS]
    assert rows[1][:5] == ["AAPL", "5000", "TRUE", "15 Min", "keep me"]
    again = run_cli(monkeypatch, tmp_path, local, "sheet", "init")
    assert "added" not in again.output
