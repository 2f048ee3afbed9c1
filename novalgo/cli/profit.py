"""``novalgo profit``: the one P&L command.

From the account (or ``--equity-csv`` / ``--fills-csv`` files): the summary of the analytics
suite (account, positions, best and worst, long vs short, win rate, Sharpe…). With
``--by-symbol`` and a fills file, or ``--activities``: realised FIFO P&L per symbol, offline,
as a table or JSON (what ``novalgo pnl`` printed; that name stays, hidden, for a release).
"""

from __future__ import annotations

from pathlib import Path

import click

from analytics.cli import profit as summary
from novalgo.cli.pnl import pnl as fifo_table


def _by_symbol(ctx: click.Context, by_symbol: bool, activities: Path | None, **options) -> None:
    if not (by_symbol or activities):
        return ctx.invoke(summary.callback, **options)
    if bool(options["fills_csv"]) == bool(activities):
        raise click.UsageError("--by-symbol: give one of --fills-csv FILE.csv and --activities FILE.json")
    return ctx.invoke(fifo_table.callback, fills_path=options["fills_csv"], activities_path=activities,
                      json_output=options["as_json"])


@click.command("profit", help=f"{summary.help}\n\nWith --by-symbol: realised FIFO P&L per symbol from a fills "
                                "file or Alpaca activities, offline, as a table (or --json).")
@click.option("--by-symbol", is_flag=True,
              help="Realised FIFO P&L per symbol from --fills-csv (side buy, sell or sell_short) or --activities, "
                   "offline; a table, or JSON with --json.")
@click.option("--activities", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON array of Alpaca FILL activities (GET /v2/account/activities/FILL): P&L per symbol.")
@click.pass_context
def profit(ctx: click.Context, **options) -> None:
    _by_symbol(ctx, **options)


profit.params.extend(summary.params)
