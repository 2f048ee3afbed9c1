"""``novalgo``: the one entry point for everything the service does, one module per command."""

from __future__ import annotations

import click

from novalgo.cli.check import check
from novalgo.cli.notify import notify
from novalgo.cli.pnl import pnl
from novalgo.cli.serve import serve
from novalgo.cli.sheet import sheet
from novalgo.cli.sim import sim
from novalgo.cli.try_alert import try_alert


@click.group()
@click.version_option(package_name="novalgo")
def main() -> None:
    """NovAlgo: TradingView alerts to Alpaca orders, configured from a Google Sheet."""


for command in (serve, check, sheet, pnl, try_alert, notify, sim):
    main.add_command(command)
