"""``novalgo``: the one entry point for everything the service does."""

from __future__ import annotations

import sys

import click

from novalgo.errors import SettingsError
from novalgo.settings import Settings


def load_settings(**overrides) -> Settings:
    """Settings from the environment, or a clear message and exit code 2."""
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        click.echo("novalgo: cannot start, fix these settings:", err=True)
        for problem in e.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(2)
    return settings.with_overrides(**{k: v for k, v in overrides.items() if v is not None})


@click.group()
@click.version_option(package_name="novalgo")
def main() -> None:
    """NovAlgo: TradingView alerts to Alpaca orders, configured from a Google Sheet."""


from novalgo.serve import serve  # noqa: E402  (commands register after the group exists)
from novalgo.sheet.commands import sheet  # noqa: E402
from novalgo.pnl_cli import pnl  # noqa: E402
from novalgo.check import check  # noqa: E402

main.add_command(serve)
main.add_command(sheet)
main.add_command(pnl)
main.add_command(check)
