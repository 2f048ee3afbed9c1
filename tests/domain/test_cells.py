"""One yes/no vocabulary for cells, with each column's own words: what each place accepted before."""

import pytest

from novalgo.domain.config_rows import parse_bool
from novalgo.domain.guards import parse_on_off
from novalgo.domain.row_rules import parse_rules


@pytest.mark.parametrize("text, meant", [("TRUE", True), ("✓", True), ("x", True), ("active", True),
                                         ("FALSE", False), ("", False), ("inactive", False), ("unchecked", False)])
def test_a_rows_active_cell(text, meant):
    assert parse_bool(text) is meant


@pytest.mark.parametrize("text, meant", [("on", True), ("enabled", True), ("Yes", True),
                                         ("off", False), ("paused", False), ("disabled", False)])
def test_the_settings_tabs_trading_cell(text, meant):
    assert parse_on_off(text, "trading") is meant


def test_words_outside_the_vocabulary_are_refused_naming_the_cell():
    with pytest.raises(ValueError, match="active must be TRUE or FALSE, not 'maybe'"):
        parse_bool("maybe")
    with pytest.raises(ValueError, match="trading '' must be on or off"):
        parse_on_off("", "trading")  # an empty trading cell is not read as off: unreadable pauses


def test_an_extended_hours_checkbox():
    assert parse_rules({"Extended Hours": "✔"}).extended_hours
    assert not parse_rules({"Extended Hours": ""}).extended_hours
    with pytest.raises(ValueError, match="tick the checkbox"):
        parse_rules({"Extended Hours": "sometimes"})
