"""One CLI: ``novalgo report|profit|alerts|export`` are the analytics commands, ``novalgo profit``
is the one P&L command, and ``python -m analytics …`` still runs for cron lines already written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from analytics.cli import main as analytics_main
from novalgo.cli import main
from tests.analytics.conftest import workdir  # noqa: F401  (a clean environment, data in tmp_path)
from tests.cli.test_pnl import FLIP_AND_SHORT, activity, write, write_activities
from tests.support.analytics import market_files, offline_args

REPO = Path(__file__).resolve().parents[2]


def novalgo(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def analytics(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(analytics_main, list(args), env=env, catch_exceptions=False)


def without_clock(data: dict) -> dict:
    return {key: value for key, value in data.items() if key not in ("as_of", "generated_at")}


def test_the_help_lists_the_reports_commands_and_one_pnl_command():
    shown = novalgo("--help").output
    for command in ("report", "profit", "alerts", "export"):
        assert f"\n  {command} " in shown
    assert "\n  pnl " not in shown  # `novalgo profit --by-symbol` now; the old name still runs, unlisted


def test_novalgo_profit_and_report_say_what_python_m_analytics_says(workdir):
    files = market_files(workdir, days=80, seed=3)
    for command in (["profit", "--json"], ["report", "--json", "--dry-run"]):
        ours = novalgo(*command, *offline_args(files))
        theirs = analytics(*command, *offline_args(files))
        assert ours.exit_code == theirs.exit_code == 0, ours.output
        assert without_clock(json.loads(ours.stdout)) == without_clock(json.loads(theirs.stdout))


def test_novalgo_alerts_is_the_threshold_check(workdir):
    files = market_files(workdir)
    ours = novalgo("alerts", "--dry-run", "--json", "--offline", "--equity-csv", str(files["equity"]))
    theirs = analytics("alerts", "--dry-run", "--json", "--offline", "--equity-csv", str(files["equity"]))
    assert ours.exit_code == theirs.exit_code == 0, ours.output
    assert json.loads(ours.stdout) == json.loads(theirs.stdout) and json.loads(ours.stdout)["dry_run"] is True


def test_profit_by_symbol_prints_what_novalgo_pnl_printed(tmp_path):
    fills = write(tmp_path, FLIP_AND_SHORT)
    for extra in ([], ["--json"]):
        ours = novalgo("profit", "--by-symbol", "--fills-csv", str(fills), *extra)
        old = novalgo("pnl", "--fills", str(fills), *extra)
        assert ours.exit_code == old.exit_code == 0, ours.output
        assert ours.stdout == old.stdout and "AAPL" in ours.stdout
    activities = write_activities(tmp_path, [activity(1, "buy", "10", "100"), activity(2, "sell", "10", "110")])
    ours = novalgo("profit", "--activities", str(activities), "--json")
    assert ours.exit_code == 0 and ours.stdout == novalgo("pnl", "--activities", str(activities), "--json").stdout


def test_profit_by_symbol_needs_one_file(tmp_path):
    result = CliRunner().invoke(main, ["profit", "--by-symbol"])
    assert result.exit_code == 2 and "--fills-csv" in result.output


def test_novalgo_reads_the_env_file_the_cron_lines_name(workdir):
    env_file = workdir / "novalgo.env"
    exports = workdir / "from-env-file"
    env_file.write_text(f"NOVALGO_EXPORT_DIR={exports}\n")
    result = novalgo("--env-file", str(env_file), "export", *offline_args(market_files(workdir)))
    assert result.exit_code == 0, result.output
    assert any(exports.glob("positions_*.csv"))


def test_a_cron_line_written_for_python_m_analytics_still_runs(workdir):
    env_file = workdir / "novalgo.env"
    exports = workdir / "old-cron-line"
    env_file.write_text(f"NOVALGO_EXPORT_DIR={exports}\nNOVALGO_DATA_DIR={workdir / 'data'}\n")
    files = market_files(workdir)
    done = subprocess.run([sys.executable, "-m", "analytics", "--env-file", str(env_file), "export",
                           *offline_args(files)], capture_output=True, text=True, timeout=120, cwd=workdir,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert any(exports.glob("positions_*.csv"))
