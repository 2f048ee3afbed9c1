"""`novalgo try 'BODY'`: what the webhook would make of a message, on local defaults, trading nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from novalgo.cli import main
from novalgo.settings import Settings
from novalgo.web import create_app
from tests.support.alerts import SECRET, alert_body, run_queue
from tests.support.clock import pinned_start


def run_try(data_dir: Path, body: str, **env):
    base = {"NOVALGO_DATA_DIR": str(data_dir), "NOVALGO_WEBHOOK_SECRET": SECRET}
    return CliRunner().invoke(main, ["try", body], env={**base, **env}, catch_exceptions=False)


def lines(output: str) -> list[str]:
    return [" ".join(line.split()) for line in output.splitlines()]


def alert_count(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "journal.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]


def broker_orders(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "simbroker.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]


def test_an_indicator_text_on_a_fresh_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    result = run_try(data_dir, "LDC Open Long ▲ | NASDAQ:AAPL@189.50 | (15)")
    assert result.exit_code == 0, result.output
    shown = lines(result.output)
    for expected in ("action buy", "symbol AAPL", "timeframe 15 (15 Min)", "price 189.5", "quantity -",
                     "config row AAPL 15 Min (row 2): $5000, active", "holding flat, 0 AAPL",
                     "order 1 buy $5000 of AAPL (open)", "outcome FILLED once the orders fill",
                     "secret none in the message: post it to /webhook/<secret>",
                     "Dry run: nothing was journalled or sent."):
        assert expected in shown, result.output
    assert not (data_dir / "journal.sqlite3").exists()  # a data dir that never served gets no journal
    assert broker_orders(data_dir) == 0


def test_against_the_position_the_service_holds_and_without_writing(tmp_path):
    data_dir = tmp_path / "data"
    app = create_app(Settings(webhook_secret=SECRET, data_dir=data_dir, run_background=False,
                              journal_sync="normal", clock_start=pinned_start()), start_background=False)
    services = app.extensions["novalgo"]
    assert app.test_client().post("/webhook", data=alert_body("buy", price=200)).status_code == 202
    assert run_queue(services) == ["FILLED"]
    alerts, orders = alert_count(data_dir), broker_orders(data_dir)

    result = run_try(data_dir, alert_body("sell", price=250))

    assert result.exit_code == 0, result.output
    shown = lines(result.output)
    for expected in ("holding long, 25 AAPL", "order 1 sell 25 AAPL (close)", "order 2 sell 20 AAPL (open)",
                     "secret matches"):
        assert expected in shown, result.output
    assert (alert_count(data_dir), broker_orders(data_dir)) == (alerts, orders)
    assert services.broker.position("AAPL").qty == 25


def test_a_symbol_without_a_row_says_why(tmp_path):
    result = run_try(tmp_path / "data", "UT Bot Buy NVDA")
    assert result.exit_code == 0, result.output
    shown = lines(result.output)
    assert "config row none" in shown and "orders none" in shown
    assert "outcome SKIPPED: the alert has no timeframe and NVDA has no active row in the Config tab" in shown


def test_a_refused_message_shows_the_error_what_was_read_and_the_hint(tmp_path):
    result = run_try(tmp_path / "data", "LDC Open Long ▲ | BINANCE:BTCUSDT.P@64000 | (15)")
    assert result.exit_code == 2
    shown = lines(result.output)
    assert shown[0].startswith("refused: ") and "perpetual" in shown[0]
    assert "symbol BTCUSDT.P" in shown and "price 64000" in shown and "quantity -" in shown
    assert shown[-1].startswith("hint: ") and shown[-1].endswith(".")


def test_a_wrong_secret_is_named_without_showing_either_secret(tmp_path):
    result = run_try(tmp_path / "data", alert_body("buy", price=200, secret="not-the-secret"))
    assert result.exit_code == 1
    assert "secret does NOT match NOVALGO_WEBHOOK_SECRET: the webhook would answer 401" in lines(result.output)
    assert "not-the-secret" not in result.output and SECRET not in result.output


def test_pineconnector_licence_id_and_exits(tmp_path):
    result = run_try(tmp_path / "data", "60123456789,buy,AAPL,tp_pct=2,sl_price=180.5",
                     NOVALGO_WEBHOOK_SECRET="60123456789")
    assert result.exit_code == 0, result.output
    shown = lines(result.output)
    assert "take profit 2% from entry" in shown and "stop loss at 180.5" in shown
    assert "secret matches" in shown


def test_a_row_with_exits_shows_the_bracket_and_a_close_shows_the_exits_it_cancels_first(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "sheet").mkdir(parents=True)
    (data_dir / "sheet" / "Config.csv").write_text(
        "symbol,position_size,active,Time Frame,Take Profit,Stop Loss\nAAPL,25 sh,TRUE,15 Min,2%,$3\n")
    rehearsed = lines(run_try(data_dir, alert_body("buy", price=200)).output)
    assert "config row AAPL 15 Min (row 2): 25 sh, active" in rehearsed
    assert "order 1 buy 25 AAPL (open): take-profit 204, stop-loss 197, good till cancelled" in rehearsed
    app = create_app(Settings(webhook_secret=SECRET, data_dir=data_dir, run_background=False,
                              journal_sync="normal", clock_start=pinned_start()), start_background=False)
    assert app.test_client().post("/webhook", data=alert_body("buy", price=200)).status_code == 202
    assert run_queue(app.extensions["novalgo"]) == ["FILLED"]
    closing = lines(run_try(data_dir, alert_body("close", price=201)).output)
    assert "first cancel our exit order: take-profit sell 25 AAPL" in closing
    assert "first cancel our exit order: stop-loss sell 25 AAPL" in closing
    assert "order 1 sell 25 AAPL (close)" in closing
