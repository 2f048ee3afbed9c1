"""`novalgo check`: one sentence per problem, exit 1 if anything is wrong, through the real CLI."""

from __future__ import annotations

from click.testing import CliRunner

from novalgo.cli import main
from tests.fakes.alpaca_server import FakeAlpaca


def run_check(tmp_path, **env):
    base = {"NOVALGO_DATA_DIR": str(tmp_path / "data"), "NOVALGO_WEBHOOK_SECRET": "x"}
    return CliRunner().invoke(main, ["check"], env={**base, **env}, catch_exceptions=False)


def test_local_defaults_are_ready(tmp_path):
    result = run_check(tmp_path)
    assert result.exit_code == 0, result.output
    assert "Config tab: 4 rows, 3 active" in result.output
    assert "Ready to trade." in result.output


def test_each_bad_config_row_is_reported(tmp_path):
    run_check(tmp_path)
    with open(tmp_path / "data" / "sheet" / "Config.csv", "a") as handle:
        handle.write("NVDA,lots,TRUE,15 Min,,\nAMD,1000,maybe,15 Min,,\n")
    result = run_check(tmp_path)
    assert result.exit_code == 1
    assert "row 6: position_size 'lots' is not a dollar amount" in result.output
    assert "row 7: active must be TRUE or FALSE, not 'maybe'" in result.output


def test_missing_google_credentials_say_how_to_fix(tmp_path):
    result = run_check(tmp_path, NOVALGO_SHEET_ID="sheet-id", GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    assert "nope.json does not exist" in result.output
    assert "Service Accounts" in result.output


def test_rejected_alpaca_keys_are_named_without_showing_them(tmp_path):
    with FakeAlpaca() as fake:
        result = run_check(tmp_path, APCA_API_KEY_ID="PKWRONGKEY", APCA_API_SECRET_KEY="wrong-secret-value",
                           APCA_API_BASE_URL=fake.url, APCA_API_DATA_URL=fake.url)
    assert result.exit_code == 1
    assert "Alpaca rejected the API keys" in result.output
    assert "wrong-secret-value" not in result.output and "PKWRONGKEY" not in result.output


def test_good_alpaca_keys_show_the_paper_account(tmp_path):
    with FakeAlpaca() as fake:
        result = run_check(tmp_path, APCA_API_KEY_ID=fake.key_id, APCA_API_SECRET_KEY=fake.secret_key,
                           APCA_API_BASE_URL=fake.url, APCA_API_DATA_URL=fake.url)
    assert result.exit_code == 0, result.output
    assert "Alpaca paper account" in result.output
    assert "shorting enabled" in result.output


def test_an_account_under_2000_learns_before_the_first_sell_that_it_will_only_close(tmp_path):
    from decimal import Decimal

    with FakeAlpaca(cash=Decimal(1500)) as fake:
        result = run_check(tmp_path, APCA_API_KEY_ID=fake.key_id, APCA_API_SECRET_KEY=fake.secret_key,
                           APCA_API_BASE_URL=fake.url, APCA_API_DATA_URL=fake.url)
    assert result.exit_code == 0, result.output
    assert ("shorting: not possible — equity $1,500.00 is under Alpaca's $2,000 minimum for short selling: "
            "SELL alerts will only close longs") in result.output
