"""``novalgo``: the one entry point for everything the service does, one module per command."""

from __future__ import annotations

from pathlib import Path

import click

from novalgo.cli.check import check
from novalgo.cli.notify import notify
from novalgo.cli.pnl import pnl
from novalgo.cli.serve import serve
from novalgo.cli.sheet import sheet
from novalgo.cli.sim import sim
from novalgo.cli.try_alert import try_alert


class _Commands(click.Group):
    """The group, with the reports' commands loaded when asked for: they bring pandas and
    matplotlib, which ``novalgo serve`` and the others do not need."""

    LAZY = {"report": "reports", "alerts": "reports", "export": "reports", "profit": "profit"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY:
            from importlib import import_module

            return getattr(import_module(f"novalgo.cli.{self.LAZY[name]}"), name)
        return super().get_command(ctx, name)


@click.group(cls=_Commands)
@click.version_option(package_name="novalgo")
@click.option("--env-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="NOVALGO_ENV_FILE",
              help="Read settings from this file too (KEY=value lines, e.g. /etc/novalgo/novalgo.env); "
                   "the environment wins where both set a value.")
def main(env_file: Path | None) -> None:
    """NovAlgo: TradingView alerts to Alpaca orders, configured from a Google Sheet."""
    if env_file is not None:
        from novalgo.settings import apply_env_file

        apply_env_file(env_file)


for command in (serve, check, sheet, pnl, try_alert, notify, sim):
    main.add_command(command)
