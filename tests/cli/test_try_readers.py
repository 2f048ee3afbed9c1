"""`novalgo try` names the reader that read a message, and reads it with the service's settings."""

from __future__ import annotations

from tests.cli.test_try import lines, run_try
from tests.support.alerts import SECRET


def test_try_says_which_reader_read_the_message(tmp_path):
    result = run_try(tmp_path / "data", "e=alpaca s=AAPL b=buy q=3")
    assert result.exit_code == 0, result.output
    assert "read by Autoview" in lines(result.output)


def test_try_reads_pineconnector_with_the_secret_as_licence_id(tmp_path):
    result = run_try(tmp_path / "data", f"{SECRET} , closeshort , AAPL")
    assert result.exit_code == 0, result.output
    shown = lines(result.output)
    assert "read by PineConnector" in shown and "action close" in shown and "secret matches" in shown


def test_try_uses_the_indicator_names_setting(tmp_path):
    body = "Short Squeeze Long NASDAQ:AAPL"
    assert run_try(tmp_path / "data", body).exit_code == 2
    result = run_try(tmp_path / "data", body, NOVALGO_INDICATOR_NAMES="Short Squeeze, Other One")
    assert result.exit_code == 0, result.output
    assert "action buy" in lines(result.output)
