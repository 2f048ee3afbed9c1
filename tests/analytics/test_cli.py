"""``python -m analytics`` as a trader runs it: JSON shape, local defaults, exports, errors."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from analytics.config import AnalyticsSettings
from analytics.progress import Progress
from novalgo.broker.base import OrderRequest
from novalgo.broker.simulated import SimulatedBroker
from novalgo.settings import Settings
from tests.support.analytics import market_files, offline_args, run
from tests.support.clock import pinned_start

STAMPED = re.compile(r"^(positions|trades|account)_\d{8}_\d{6}\.csv$")


def test_json_has_the_promised_shape_and_agrees_with_empyrical(workdir):
    files = market_files(workdir, days=120, seed=4)
    result = run("report", "--json", "--dry-run", *offline_args(files), env={"NOVALGO_RISK_FREE_RATE": "0.02"})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("sharpe", "sortino", "volatility", "cagr", "total_return", "max_drawdown", "benchmark", "trades"):
        assert key in data
    assert set(data["benchmark"]) >= {"total_return", "beta", "alpha", "correlation"}
    assert set(data["trades"]) >= {"total_trades", "winning_trades", "losing_trades", "win_rate", "total_pnl",
                                   "best_trade", "worst_trade", "long", "short", "by_symbol"}

    equity = pd.read_csv(files["equity"], index_col=0)["equity"]
    spy = pd.read_csv(files["benchmark"], index_col=0)["Close"]
    r, b = equity.pct_change().iloc[1:], spy.pct_change().iloc[1:]
    rf = 1.02 ** (1 / 252) - 1
    alpha, beta = empyrical.alpha_beta(r, b, risk_free=rf)
    assert data["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, risk_free=rf), abs=1e-9)
    assert data["sortino"] == pytest.approx(empyrical.sortino_ratio(r, required_return=rf), abs=1e-9)
    assert data["volatility"] == pytest.approx(empyrical.annual_volatility(r), abs=1e-9)
    assert data["cagr"] == pytest.approx(empyrical.cagr(r), abs=1e-9)
    assert data["max_drawdown"] == pytest.approx(empyrical.max_drawdown(r), abs=1e-9) and data["max_drawdown"] < 0
    assert data["benchmark"]["beta"] == pytest.approx(beta, abs=1e-9)
    assert data["benchmark"]["alpha"] == pytest.approx(alpha, abs=1e-9)
    assert data["benchmark"]["total_return"] == pytest.approx(empyrical.cum_returns_final(b), abs=1e-9)

    trades = data["trades"]
    assert (trades["total_trades"], trades["winning_trades"], trades["losing_trades"]) == (5, 3, 2)
    assert trades["total_pnl"] == "167.50" and trades["best_trade"] == "125.00" and trades["worst_trade"] == "-100.00"
    assert trades["by_symbol"]["AAPL"]["total_trades"] == 2 and trades["win_rate"] == 60.0


def test_one_day_of_data_is_shown_as_undefined(workdir):
    equity = workdir / "one.csv"
    equity.write_text("date,equity\n2025-06-02,100000\n")
    result = run("profit", "--offline", "--equity-csv", str(equity))
    assert result.exit_code == 0, result.output
    assert "Sharpe         n/a" in result.stdout and "Max drawdown   n/a" in result.stdout
    data = json.loads(run("profit", "--json", "--offline", "--equity-csv", str(equity)).stdout)
    assert data["sharpe"] is None and data["max_drawdown"] is None and data["benchmark"]["beta"] is None


def test_period_limits_the_csv_to_its_last_months(workdir):
    files = market_files(workdir, days=120)
    data = json.loads(run("profit", "--json", "--period", "1M", *offline_args(files)).stdout)
    assert 20 <= data["days"] <= 24 and data["period"] == "1M"  # about 22 business days, both ends counted


def test_bad_csv_names_the_line(workdir):
    bad = workdir / "equity.csv"
    bad.write_text("date,equity\n2025-06-02,100000\n2025-06-03,lots\n")
    result = run("report", "--dry-run", "--offline", "--equity-csv", str(bad))
    assert result.exit_code == 2
    assert "equity.csv line 3" in result.stderr and "'lots' is not a number" in result.stderr


def test_bad_settings_are_listed_and_exit_2(workdir):
    result = run("report", "--dry-run", env={"NOVALGO_SMTP_HOST": "mail.example.com", "NOVALGO_ALERT_DRAWDOWN_PCT": "x"})
    assert result.exit_code == 2
    assert "NOVALGO_EMAIL_FROM" in result.stderr and "NOVALGO_ALERT_DRAWDOWN_PCT" in result.stderr


def test_export_writes_timestamped_csvs_and_charts_into_the_export_dir(workdir):
    target = workdir / "somewhere" / "exports"
    result = run("export", *offline_args(market_files(workdir)), env={"NOVALGO_EXPORT_DIR": str(target)})
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in target.iterdir())
    assert sum(bool(STAMPED.match(n)) for n in names) == 3
    assert {n.split("_")[0] for n in names if n.endswith(".png")} == {"equity", "drawdown", "pnl"}
    trades = next(target.glob("trades_*.csv")).read_text().splitlines()
    assert trades[1].startswith("AAPL,long,10,200,212.5,125.00,")


def simulate_trading(data_dir: Path, days: int = 30) -> None:
    """A month of trading on the simulated broker, one account read per day (its equity curve)."""
    clock = [(pinned_start() - timedelta(days=days + 1)).timestamp()]  # a month up to the commands' now
    broker = SimulatedBroker(data_dir, clock=lambda: clock[0])
    rng = np.random.default_rng(11)
    prices = {"AAPL": 230.0, "TSLA": 300.0, "NVDA": 120.0}
    for day in range(days):
        for symbol in prices:
            prices[symbol] *= 1 + rng.normal(0.001, 0.02)
            broker.observe_price(symbol, Decimal(f"{prices[symbol]:.2f}"))
        symbol = list(prices)[day % 3]
        held = broker.position(symbol).qty
        side = ("buy" if day % 2 else "sell") if held == 0 else ("sell" if held > 0 else "buy")
        broker.submit(OrderRequest(f"nva-{day}-0", symbol, side, qty=abs(held) or Decimal(10)))
        broker.account()
        clock[0] += 86400


def test_report_dry_run_on_local_defaults_after_simulated_trading(workdir):
    simulate_trading(workdir / "data")
    result = run("report", "--dry-run", "--period", "3M")
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing sent" in result.stdout and "Open positions" in result.stdout
    exports = workdir / "data" / "exports"
    (page,) = exports.glob("report_*.html")
    html = page.read_text()
    assert "Closed trades" in html and "SPY comparison skipped" in html
    for src in re.findall(r'<img src="([^"]+)"', html):
        assert (exports / src).is_file()  # the preview shows the charts written beside it

    data = json.loads(run("report", "--json", "--dry-run", "--period", "3M").stdout)
    assert data["source"] == "simulated" and data["days"] >= 30
    assert data["sharpe"] is not None and data["trades"]["total_trades"] >= 10
    assert data["benchmark"]["beta"] is None  # no market data in the simulator
    assert data["account"]["mode"] == "simulated"


def test_profit_summary_shows_positions_best_worst_and_sides(workdir):
    simulate_trading(workdir / "data", days=10)
    result = run("profit", "--period", "1M")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for words in ("Account", "Open positions", "Best:", "Worst:", "Long ", "Short ", "win rate", "Sharpe"):
        assert words in out


def test_progress_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress(stream)
        progress.step("fills since 2025-01-01…")
        progress.done()
    assert "fills since" in tty.getvalue() and pipe.getvalue() == ""


def test_secrets_stay_out_of_repr():
    settings = Settings(data_dir=Path("data"))
    config = AnalyticsSettings.from_env(settings, {
        "NOVALGO_SMTP_HOST": "mail.example.com", "NOVALGO_SMTP_USER": "u", "NOVALGO_SMTP_PASSWORD": "pw-123",
        "NOVALGO_EMAIL_FROM": "a@example.com", "NOVALGO_EMAIL_TO": "b@example.com",
        "NOVALGO_SLACK_WEBHOOK_URL": "https://hooks.example.com/services/SECRET", "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "tok-456", "NOVALGO_SMS_FROM": "+15005550006", "NOVALGO_SMS_TO": "+15551234567",
    }, dotenv=None)
    shown = repr(config) + json.dumps(config.describe())
    assert "pw-123" not in shown and "tok-456" not in shown and "SECRET" not in shown
    assert config.export_dir == Path("data/exports") and config.configured_channels() == ("email", "sms", "slack")


def test_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "analytics", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "report" in result.stdout and "alerts" in result.stdout


def test_env_file_supplies_settings_the_environment_does_not(workdir):
    env_file = workdir / "novalgo.env"
    exports = workdir / "from-env-file"
    env_file.write_text(f"NOVALGO_EXPORT_DIR={exports}\nNOVALGO_EMAIL_FROM=NovAlgo <bot@example.com>\n")
    files = market_files(workdir)
    result = run("--env-file", str(env_file), "export", *offline_args(files))
    assert result.exit_code == 0, result.output
    assert any(exports.glob("positions_*.csv"))


def _expand(field: str, low: int, high: int) -> set[int]:
    values = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step = part.split("/")[0], int(part.split("/")[1])
        first, last = (low, high) if part == "*" else (int(part.split("-")[0]), int(part.split("-")[-1]))
        values.update(range(first, last + 1, step))
    return values


def test_cron_file_runs_the_report_after_the_close_and_checks_every_15_minutes_in_market_hours():
    lines = [ln for ln in (Path(__file__).resolve().parents[2] / "deploy" / "novalgo.cron").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert "CRON_TZ=America/New_York" in lines and "NOVALGO_DATA_DIR=/var/lib/novalgo" in lines
    jobs = [ln.split(None, 6) for ln in lines if ln[0].isdigit() or ln[0] == "*"]
    checks = set()
    for minute, hour, dom, month, dow, user, command in jobs:
        assert user == "novalgo" and (dom, month, dow) == ("*", "*", "1-5")
        assert command.startswith("cd /opt/novalgo && .venv/bin/novalgo --env-file /etc/novalgo/novalgo.env")
        if " report" in command:
            assert (minute, hour) == ("30", "16")
        else:
            assert " alerts" in command
            checks |= {(h, m) for h in _expand(hour, 0, 23) for m in _expand(minute, 0, 59)}
    market = {(h, m) for h in range(9, 17) for m in (0, 15, 30, 45) if (9, 30) <= (h, m) <= (16, 0)}
    assert checks == market
