"""``novalgo sheet init``: get the Google Sheet (or the local CSV files) ready for the bot."""

from __future__ import annotations

import sys

import click

from novalgo.cli.load import load_settings
from novalgo.errors import SettingsError, SheetUnavailable


@click.group("sheet")
def sheet() -> None:
    """The sheet the bot is configured from (Google Sheet, or CSV files without one)."""


@sheet.command("init")
def init() -> None:
    """Create or repair the Config, Performance, Activity and Settings tabs; safe to run again."""
    settings = load_settings()
    if settings.sheet_kind == "local":
        from novalgo.sheet.local import LocalSheetBackend

        backend = LocalSheetBackend.from_settings(settings)
        added = backend.add_missing_columns()
        click.echo(f"No NOVALGO_SHEET_ID: the sheet is CSV files in {backend.folder} ({settings.config_tab}.csv and "
                   f"{settings.settings_tab}.csv are ready to edit).")
        if added:
            click.echo(f"  - added the {', '.join(added)} column{'s' if len(added) > 1 else ''} to "
                       f"{settings.config_tab}.csv")
        return
    from novalgo.sheet.google import GoogleSheetBackend
    from novalgo.sheet.google_setup import prepare_google_sheet

    try:
        changes = prepare_google_sheet(GoogleSheetBackend.from_settings(settings))
    except SettingsError as e:
        click.echo(f"novalgo sheet init: {'; '.join(e.problems)} (see `novalgo check`)", err=True)
        sys.exit(2)
    except SheetUnavailable as e:
        click.echo(f"novalgo sheet init: {e}", err=True)
        sys.exit(1)
    if not changes:
        click.echo(f"Spreadsheet {settings.sheet_id} is ready; nothing to change.")
        return
    click.echo(f"Spreadsheet {settings.sheet_id}:")
    for change in changes:
        click.echo(f"  - {change}")
