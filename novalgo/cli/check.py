"""``novalgo check``: is everything in place to trade? One sentence per thing that is wrong."""

from __future__ import annotations

import sys

import click

from novalgo.cli.load import load_settings
from novalgo.domain.config_rows import parse_config
from novalgo.domain.guards import parse_settings_tab, row_guards, stricter
from novalgo.errors import NovalgoError
from novalgo.settings import Settings
from novalgo.sheet.check import check_sheet


@click.command()
def check() -> None:
    """Open the sheet, validate every Config row, read the broker account; exit 1 if anything is wrong."""
    from novalgo.broker.alpaca import account_report  # alpaca-py loads for this command only

    settings = load_settings()
    click.echo(f"NovAlgo {settings.mode} trading · sheet: {settings.sheet_kind} · broker: {settings.broker_kind}")
    problems: list[str] = []
    for name, report in (("sheet", check_sheet), ("broker", account_report), ("guards", guards_report)):
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


def guards_report(settings: Settings) -> tuple[list[str], list[str]]:
    """The guard rails in force: the account's (environment and Settings tab, the stricter winning)
    and each Config row's; a cell that cannot be read is a problem."""
    from novalgo.engine.services import make_sheet_backend

    try:
        backend = make_sheet_backend(settings)
        tab, tab_problems = parse_settings_tab(backend.read_settings())
        config = parse_config(backend.read_config())
    except (NovalgoError, OSError):  # the sheet half says what is wrong with the sheet
        return [f"guards (environment only): {', '.join(settings.guards.describe())}"], []
    ok = [f"guards: {', '.join(stricter(settings.guards, tab).describe())}"]
    problems = [f"{settings.settings_tab} tab: {problem}" for problem in tab_problems]
    for row in config.rows:
        try:
            said = row_guards(row.options).describe()
        except ValueError as e:
            problems.append(f"{settings.config_tab} row {row.row_number} ({row.label}): {e}; its entries fail "
                            "until it is fixed")
            continue
        if said:
            ok.append(f"{row.label}: {', '.join(said)}")
    return ok, problems
