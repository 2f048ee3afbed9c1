"""The Settings tab: made by `sheet init`, read by name, cached like Config, kept through outages."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from novalgo.domain.guards import AccountGuards, LossLimit
from novalgo.errors import SheetUnavailable
from novalgo.sheet.google_setup import prepare_google_sheet
from novalgo.sheet.layout import GUARD_NOTES
from novalgo.sheet.local import LocalSheetBackend
from novalgo.sheet.settings_tab import SettingsTabCache, saved_settings
from tests.sheet.test_google_sheet import SHEET, backend, book, credentials, fake, key_pair, run_cli, settings  # noqa: F401
from tests.support.clock import Clock


def write_settings(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([["Setting", "Value", "What it does"], *rows])


class Flaky:
    """A backend whose Settings read can be made to fail."""

    def __init__(self, values):
        self.values = values
        self.down = False

    def read_settings(self):
        if self.down:
            raise SheetUnavailable("503 from Google")
        return self.values


def test_the_local_sheet_starts_with_a_settings_file_that_pauses_nothing(tmp_path):
    backend = LocalSheetBackend(tmp_path / "sheet")
    cache = SettingsTabCache(backend, ttl=2.0, snapshot_path=None)
    guards, problems = cache.guards()
    assert problems == [] and guards == AccountGuards(trading=True, flatten_on_max_loss=False)
    names = [row[0] for row in csv.reader(open(backend.settings_path))][1:]
    assert names == ["trading", "max daily loss", "flatten on max loss", "max open positions", "max exposure"]


def test_turning_trading_off_is_seen_once_the_ttl_has_passed(tmp_path):
    backend = LocalSheetBackend(tmp_path / "sheet")
    clock = Clock(100.0)
    cache = SettingsTabCache(backend, ttl=2.0, snapshot_path=None, clock=clock)
    assert not cache.guards()[0].paused
    write_settings(backend.settings_path, [["trading", "off"], ["max daily loss", "2%"]])
    clock.now += 1.9
    assert not cache.guards()[0].paused, "within the TTL the cached copy serves (no read)"
    clock.now += 0.1
    assert cache.guards()[0] == AccountGuards(trading=False, max_daily_loss=LossLimit(Decimal(2), True))
    assert cache.reads == 2


def test_an_outage_keeps_the_pause_and_a_restart_reads_it_from_disk(tmp_path):
    backend = Flaky([["Setting", "Value"], ["trading", "off"]])
    clock = Clock(0.0)
    cache = SettingsTabCache(backend, ttl=1.0, snapshot_path=tmp_path / "settings.json", clock=clock)
    assert cache.guards()[0].paused
    backend.down = True
    clock.now += 5
    assert cache.guards()[0].paused, "the last good copy is kept"
    restarted = SettingsTabCache(backend, ttl=1.0, snapshot_path=tmp_path / "settings.json", clock=clock)
    assert restarted.guards()[0].paused
    assert saved_settings(tmp_path / "settings.json")[0].paused  # what /health reads in any worker


def test_local_sheet_init_adds_the_guard_columns_to_config(monkeypatch, tmp_path, settings):  # noqa: F811
    result = run_cli(monkeypatch, tmp_path, settings.with_overrides(sheet_id=None), "sheet", "init")
    assert result.exit_code == 0, result.output
    header = next(csv.reader(open(settings.data_dir / "sheet" / "Config.csv")))
    assert header[-3:] == ["Trading Hours", "Flatten At", "Max Trades/Day"]
    assert (settings.data_dir / "sheet" / "Settings.csv").is_file()
    again = run_cli(monkeypatch, tmp_path, settings.with_overrides(sheet_id=None), "sheet", "init")
    assert "added" not in again.output


def test_google_sheet_init_makes_the_settings_tab_and_notes_the_guard_columns(backend, fake):  # noqa: F811
    changes = prepare_google_sheet(backend)
    assert any("Settings" in change for change in changes)
    values = fake.values(SHEET, "Settings")
    assert values[0] == ["Setting", "Value", "What it does"]
    assert [(row[0], row[1]) for row in values[1:]] == [
        ("trading", "on"), ("max daily loss", ""), ("flatten on max loss", "FALSE"), ("max open positions", ""),
        ("max exposure", "")]
    tab = fake.tab(SHEET, "Settings")
    assert tab.peek(3, 1).validation["condition"] == {"type": "BOOLEAN"}
    assert tab.peek(3, 1).value is False, "a real checkbox, not the text FALSE"
    assert [v["userEnteredValue"] for v in tab.peek(1, 1).validation["condition"]["values"]] == ["on", "off"]
    config = fake.tab(SHEET, "Config")
    header = fake.values(SHEET, "Config")[0]
    for name, note in GUARD_NOTES:
        assert config.peek(0, header.index(name)).note == note
    assert prepare_google_sheet(backend) == [], "a second run changes nothing"


def test_google_settings_are_read_as_shown_and_a_missing_tab_is_no_settings(backend, fake):  # noqa: F811
    assert backend.read_settings() == [], "no Settings tab yet: nothing from the sheet"
    prepare_google_sheet(backend)
    fake.set_values(SHEET, "Settings", [["trading", "off"], ["max daily loss", "2%"], ["max exposure", "$25,000"]],
                    start_row=2, input_option="USER_ENTERED")
    guards, problems = SettingsTabCache(backend, ttl=15, snapshot_path=None).guards()
    assert problems == []
    assert guards.paused
    assert guards.max_daily_loss == LossLimit(Decimal(2), True), "2% stays a percent, not $0.02"
    assert guards.max_exposure == Decimal(25000)


@pytest.mark.parametrize("trading", ["off", "OFF", "false", "paused"])
def test_any_way_of_writing_off_pauses(tmp_path, trading):
    backend = LocalSheetBackend(tmp_path / "sheet")
    write_settings(backend.settings_path, [["Trading", trading]])
    assert SettingsTabCache(backend, ttl=2.0, snapshot_path=None).guards()[0].paused
