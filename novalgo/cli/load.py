"""The settings every command starts from: read once, or a clear message and exit code 2."""

from __future__ import annotations

import sys

import click

from novalgo.errors import SettingsError
from novalgo.settings import Settings


def load_settings(**overrides) -> Settings:
    """Settings from the environment (command-line overrides win), or exit 2 naming each problem."""
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        click.echo("novalgo: cannot start, fix these settings:", err=True)
        for problem in e.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(2)
    return settings.with_overrides(**{k: v for k, v in overrides.items() if v is not None})
