"""The chat's two switches in the sheet: Settings tab `trading` and a row's `active`, found by header and key."""

from __future__ import annotations

import csv

import pytest

from novalgo.domain.config_rows import parse_config
from novalgo.domain.guards import parse_settings_tab
from novalgo.errors import SheetUnavailable
from novalgo.sheet.google import GoogleSheetBackend
from novalgo.sheet.google_http import QuotaLimiter
from novalgo.sheet.local import LocalSheetBackend
from novalgo.sheet.switches import set_active, set_trading
from tests.sheet.test_google_sheet import (  # noqa: F401
    QUICK,
    SHEET,
    book,
    credentials,
    fake,
    fresh_process_budget,
    key_pair,
    settings,
)


def test_local_trading_off_then_on_and_the_tab_reads_it(tmp_path):
    sheet = LocalSheetBackend(tmp_path)
    set_trading(sheet, False)
    assert parse_settings_tab(sheet.read_settings())[0].paused
    set_trading(sheet, True)
    assert not parse_settings_tab(sheet.read_settings())[0].paused
    assert len(sheet.read_settings()) == 6, "the other settings keep their rows"


def test_local_a_settings_tab_without_a_trading_row_gets_one(tmp_path):
    sheet = LocalSheetBackend(tmp_path)
    with open(sheet.settings_path, "w", newline="") as handle:
        csv.writer(handle).writerows([["Value", "Setting"], ["500", "max daily loss"]])
    set_trading(sheet, False)
    assert sheet.read_settings()[-1] == ["off", "trading"]
    assert parse_settings_tab(sheet.read_settings())[0].paused


def test_local_every_row_of_the_symbol_is_switched_and_others_are_not(tmp_path):
    sheet = LocalSheetBackend(tmp_path)
    with open(sheet.config_path, "w", newline="") as handle:
        csv.writer(handle).writerows([["Time Frame", "symbol", "active", "position_size"],
                                      ["15 Min", "AAPL", "TRUE", "100"], ["5 Min", "TSLA", "TRUE", "100"],
                                      ["1 Hour", "aapl", "TRUE", "100"]])
    assert set_active(sheet, "AAPL", False) == ["15 Min", "1 Hour"]
    rows = {row.label: row.active for row in parse_config(sheet.read_config()).rows}
    assert rows == {"AAPL 15 Min": False, "TSLA 5 Min": True, "AAPL 1 Hour": False}
    assert set_active(sheet, "NVDA", False) == []
    assert set_active(sheet, "AAPL", True) == ["15 Min", "1 Hour"]
    assert all(row.active for row in parse_config(sheet.read_config()).rows)


def test_a_settings_tab_without_its_headers_is_said_not_guessed(tmp_path):
    sheet = LocalSheetBackend(tmp_path)
    with open(sheet.settings_path, "w", newline="") as handle:
        csv.writer(handle).writerows([["what", "ever"]])
    with pytest.raises(SheetUnavailable, match="Setting and a Value column"):
        set_trading(sheet, False)


@pytest.fixture
def google(settings, book) -> GoogleSheetBackend:
    return GoogleSheetBackend.from_settings(settings, limiter=QuotaLimiter(), retry=QUICK)


def test_google_unticks_the_checkbox_as_a_boolean(google, book):
    assert set_active(google, "HOOD", False) == ["45 Min"]
    values = book.values(SHEET, "Config", "UNFORMATTED_VALUE")
    assert values[3][2] is False, "a checkbox stays a checkbox: FALSE, not the text 'FALSE'"
    assert values[1][2] is True


def test_google_writes_trading_on_the_settings_tab(google, book):
    with pytest.raises(SheetUnavailable, match="no Settings tab"):
        set_trading(google, False)
    book.create_spreadsheet(SHEET, ["Config", "Settings"])
    book.set_values(SHEET, "Settings", [["Setting", "Value", "What it does"], ["trading", "on", "..."]])
    set_trading(google, False)
    assert book.values(SHEET, "Settings")[1][:2] == ["trading", "off"]
    assert parse_settings_tab(google.read_settings())[0].paused
