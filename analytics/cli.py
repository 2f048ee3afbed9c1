"""The analytics commands: report, profit, alerts, export.

They run as ``novalgo report`` and so on (novalgo/cli/reports.py); ``python -m analytics …`` is
the same group under its old name, kept so cron lines already written keep running.

Exit codes: 0 fine; 2 bad settings or input; 3 the data could not be read; otherwise the
sum of the channels that failed (email 4, SMS 8, Slack 16).
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from analytics import exports, sources
from analytics import report as reports
from analytics.config import AnalyticsSettings, parse_period_text
from analytics.progress import Progress
from analytics.sources import Snapshot, SourceError
from novalgo.clock import SYSTEM_CLOCK, Clock
from novalgo.domain.guards import EASTERN  # "today" for the daily-loss check is the market's day
from novalgo.errors import NovalgoError, SettingsError
from novalgo.settings import Settings, apply_env_file

EXIT_DATA = 3


@dataclass
class Run:
    settings: Settings
    config: AnalyticsSettings
    period: str | None
    as_json: bool
    dry_run: bool
    equity_csv: Path | None
    benchmark_csv: Path | None
    fills_csv: Path | None
    offline: bool
    clock: Clock = SYSTEM_CLOCK  # "now" for the period, the thresholds and the broker

    @property
    def zone(self):
        return self.settings.timezone


def _period(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_period_text(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def common_options(command):
    """The options every subcommand takes; they become one ``Run``."""
    existing = click.Path(exists=True, dir_okay=False, path_type=Path)

    @click.option("--period", callback=_period, metavar="1M|3M|1A…",
                  help="How far back: a number and D, W, M or A (year). Default NOVALGO_REPORT_PERIOD or 1M; "
                       "with --equity-csv, the whole file.")
    @click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout.")
    @click.option("--dry-run", is_flag=True, help="Write the email HTML and charts to the export folder; send nothing.")
    @click.option("--equity-csv", type=existing, help="Daily equity from a file (columns date, equity).")
    @click.option("--benchmark-csv", type=existing, help="Daily benchmark closes from a file (columns date, close).")
    @click.option("--fills-csv", type=existing, help="Fills from a file (time, symbol, side, qty, price[, order_id]).")
    @click.option("--offline", is_flag=True, help="Use only the files given; never contact the broker.")
    @functools.wraps(command)
    def wrapper(period, as_json, dry_run, equity_csv, benchmark_csv, fills_csv, offline, **kwargs):
        settings, config = load_settings()
        run = Run(settings, config, period, as_json, dry_run, equity_csv, benchmark_csv, fills_csv, offline,
                  settings.make_clock())
        return command(run, **kwargs)

    return wrapper


def load_settings() -> tuple[Settings, AnalyticsSettings]:
    """Both settings objects, or every problem listed and exit code 2."""
    try:
        settings = Settings.from_env()
        return settings, AnalyticsSettings.from_env(settings)
    except SettingsError as e:
        click.echo("analytics: cannot start, fix these settings:", err=True)
        for problem in e.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(2)


def gather(run: Run, *, trades: bool = True, benchmark: bool = True) -> Snapshot:
    """Read everything the command needs from the files and/or the broker."""
    now = run.clock.now()
    try:
        return _gather(run, now, trades, benchmark)
    except SourceError as e:
        click.echo(f"analytics: {e}", err=True)
        sys.exit(2)
    except (NovalgoError, OSError) as e:
        click.echo(f"analytics: cannot read the account data: {e}", err=True)
        sys.exit(EXIT_DATA)


def _gather(run: Run, now: datetime, trades: bool, benchmark: bool) -> Snapshot:
    equity = sources.read_series(run.equity_csv, ("equity", "value", "portfolio_value")) if run.equity_csv else None
    closes = sources.read_series(run.benchmark_csv, ("close", "adj close", "adj_close", "price")) if run.benchmark_csv else None
    fills = sources.read_fills(run.fills_csv) if run.fills_csv else None
    today = now.astimezone(run.zone).date()
    if run.period:
        period = run.period
        start = sources.period_start(period, equity[-1][0] if equity else today)
    elif equity or (run.offline and fills):
        period, start = "all", _earliest(equity, fills)
    else:
        period = run.config.period
        start = sources.period_start(period, today)
    snap = Snapshot(as_of=now, period=period, start=start, source="files", benchmark_symbol=run.config.benchmark_symbol)
    if not run.offline:
        from novalgo.engine.services import make_broker

        broker = make_broker(run.settings, run.clock)
        snap.source = f"{broker.kind} ({broker.mode})" if broker.kind != "simulated" else "simulated"
        sources.from_broker(broker, snap, Progress(), trades=trades and fills is None,
                            benchmark=benchmark and closes is None, equity=equity is None)
    elif not (equity or fills):
        raise SourceError("--offline needs --equity-csv or --fills-csv")
    if equity is not None:
        snap.equity = [(d, v) for d, v in equity if d >= start]
    if closes is not None:
        snap.benchmark = [(d, v) for d, v in closes if d >= start]
        snap.notes = [n for n in snap.notes if "comparison skipped" not in n]
    elif run.offline:
        snap.notes.append(f"No {snap.benchmark_symbol} comparison: pass --benchmark-csv with daily closes.")
    if fills is not None:
        snap.fills = fills
    if run.offline and snap.account is None:
        snap.notes.append("Offline run: no account or positions (files only).")
    return snap


def _earliest(equity, fills) -> date:
    firsts = ([equity[0][0]] if equity else []) + ([fills[0].time.date()] if fills else [])
    return min(firsts)


def _risk_free(run: Run) -> float:
    return run.config.risk_free_rate


@click.group()
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="NOVALGO_ENV_FILE",
              help="Read settings from this file too (KEY=value lines, e.g. /etc/novalgo/novalgo.env); "
                   "the environment wins where both set a value.")
def main(env_file: Path | None) -> None:
    """NovAlgo analytics: reports, threshold alerts, CSV exports (the same as ``novalgo report``,
    ``novalgo profit``, ``novalgo alerts``, ``novalgo export``; kept for cron lines already written)."""
    if env_file is not None:
        apply_env_file(env_file)


@main.command()
@common_options
def profit(run: Run) -> None:
    """The quick terminal summary: account, positions, best and worst, long vs short, win rate."""
    from analytics import render

    report = reports.build(gather(run, benchmark=True), _risk_free(run))
    if run.as_json:
        _print_json(reports.to_json(report))
        return
    click.echo(render.profit_text(report, run.zone))
    click.echo("")
    click.echo(render.metrics_text(report))


@main.command()
@common_options
def export(run: Run) -> None:
    """Write the CSV exports and the charts to the export folder (NOVALGO_EXPORT_DIR)."""
    report = reports.build(gather(run), _risk_free(run))
    files = _write_files(run, report, html=run.dry_run)
    if run.as_json:
        _print_json({**reports.to_json(report), "files": {k: str(v) for k, v in files.items()}})
        return
    for name, path in files.items():
        click.echo(f"{name:<10} {path}")


@main.command()
@common_options
def report(run: Run) -> None:
    """The full report: metrics, CSVs and charts, sent to every configured channel."""
    from analytics import delivery

    rep = reports.build(gather(run), _risk_free(run))
    files = _write_files(run, rep, html=run.dry_run)
    if run.as_json:
        _print_json(reports.to_json(rep))
    if run.dry_run:
        if not run.as_json:
            _describe_dry_run(run, rep, files)
        return
    outcomes = delivery.send_report(run.config, rep, files, run.zone)
    code = _report_outcomes(run, outcomes, files)
    sys.exit(code)


@main.command()
@common_options
def alerts(run: Run) -> None:
    """Check the thresholds; notify each crossing once (state kept in the data dir)."""
    from analytics import delivery, journal_view, thresholds

    snap = gather(run, trades=False, benchmark=False)
    now = run.clock.now()
    t = run.config.thresholds
    since = now - timedelta(minutes=t.failed_window_minutes)
    view = journal_view.read(run.config.journal_file, since)
    if snap.account is not None:
        equity_now, today = snap.account.equity, now.astimezone(EASTERN).date()
    elif snap.equity:  # offline: the last point of the file is "now"
        (today, equity_now) = snap.equity[-1]
    else:
        equity_now, today = None, now.date()
    breaches = thresholds.check_all(t, now=now, equity_now=equity_now, today=today, equity_history=snap.equity,
                                    positions=snap.positions, journal=view)
    state = thresholds.CrossingState(run.config.state_file)
    new = state.new_breaches(breaches)
    outcomes = []
    if new and not run.dry_run:
        outcomes = delivery.send_alerts(run.config, new, run.zone)
    if not run.dry_run:
        # Marked sent only when a channel took it: with no channel yet (or every one failing) the
        # crossing stays new, so it is posted once a channel is set up.
        delivered = any(o.ok for o in outcomes)
        state.save(breaches, new if delivered else [], now)
    if run.as_json:
        _print_json({
            "breaches": [{"key": b.key, "message": b.message, "new": b in new} for b in breaches],
            "journal_found": view.found,
            "channels": {o.channel: {"ok": o.ok, "detail": o.detail} for o in outcomes},
            "dry_run": run.dry_run,
        })
    else:
        if not view.found and t.heartbeat_minutes:
            click.echo(f"note: no journal at {run.config.journal_file}; heartbeat and failed-order checks skipped")
        for b in breaches:
            click.echo(f"{'NEW ' if b in new else 'still'} {b.message}")
        if not breaches:
            click.echo("All thresholds fine.")
        for o in outcomes:
            click.echo(f"{o.channel}: {'ok' if o.ok else 'FAILED'} - {o.detail}", err=not o.ok)
    from analytics.channels import exit_code

    sys.exit(exit_code(outcomes))


def _write_files(run: Run, rep, html: bool) -> dict[str, Path]:
    from analytics import charts, delivery

    folder = run.config.export_dir
    files = exports.write_csvs(rep, folder, run.zone)
    suffix = exports.stamp(rep.as_of.astimezone(run.zone))
    files.update({f"{name}_chart": path for name, path in charts.draw_all(rep, folder, suffix).items()})
    if html:
        files["html"] = delivery.write_preview(run.config, rep, files, run.zone)
    return files


def _describe_dry_run(run: Run, rep, files: dict[str, Path]) -> None:
    from analytics import render

    click.echo(render.profit_text(rep, run.zone))
    click.echo("")
    click.echo(render.metrics_text(rep))
    click.echo("")
    click.echo("Dry run: nothing sent. Written:")
    for name, path in files.items():
        click.echo(f"  {name:<15} {path}")
    configured = run.config.configured_channels()
    click.echo(f"Would send to: {', '.join(configured) if configured else 'no channel configured'}")
    if "sms" in configured or "slack" in configured:
        click.echo("Text for SMS/Slack:\n" + render.short_summary(rep, run.zone))


def _report_outcomes(run: Run, outcomes, files) -> int:
    from analytics.channels import exit_code

    if not outcomes:
        click.echo(f"No channel configured (see analytics/README.md); files are in {run.config.export_dir}",
                   err=True)
        return 0
    for o in outcomes:
        click.echo(f"{o.channel}: {'ok' if o.ok else 'FAILED'} - {o.detail}", err=True)
    return exit_code(outcomes)


def _print_json(data: dict) -> None:
    click.echo(json.dumps(data, indent=2, allow_nan=False))
