"""``novalgo check``: is everything in place to trade? One sentence per thing that is wrong."""

from __future__ import annotations

import sys

import click

from novalgo.cli.load import load_settings
from novalgo.sheet.check import check_sheet


@click.command()
def check() -> None:
    """Open the sheet, validate every Config row, read the broker account; exit 1 if anything is wrong."""
    from novalgo.broker.alpaca import account_report  # alpaca-py loads for this command only

    settings = load_settings()
    click.echo(f"NovAlgo {settings.mode} trading · sheet: {settings.sheet_kind} · broker: {settings.broker_kind}")
    problems: list[str] = []
    for name, report in (("sheet", check_sheet), ("broker", account_report)):
        ok, wrong = report(settings)
        for line in ok:
            click.echo(f"  ok   {line}")
        for line in wrong:
            click.echo(f"  FIX  {line}")
        problems += wrong
    if problems:
        click.echo(f"{len(problems)} thing(s) to fix before trading.", err=True)
        sys.exit(1)
    click.echo("Ready to trade.")
