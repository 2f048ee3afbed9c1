"""The sheet half of `novalgo check`: can the bot open its sheet, and is every Config row usable?"""

from __future__ import annotations

import json

from novalgo.domain.config_rows import parse_config
from novalgo.errors import SettingsError, SheetUnavailable
from novalgo.settings import Settings

HOW_TO_CREATE = (
    "create one in the Google Cloud console (IAM & Admin > Service Accounts > Create; then Keys > Add key > "
    "JSON), enable the Google Sheets API for its project, and save the key file there or point "
    "GOOGLE_APPLICATION_CREDENTIALS at it")


def check_sheet(settings: Settings) -> tuple[list[str], list[str]]:
    """What works and what is wrong with the sheet, one sentence each: (ok lines, problems)."""
    if settings.sheet_kind == "local":
        return _check_local(settings)
    path = settings.google_credentials
    if not path.is_file():
        return [], [f"the Google credentials file {path.resolve()} does not exist "
                    f"(GOOGLE_APPLICATION_CREDENTIALS): {HOW_TO_CREATE}"]
    email = _client_email(path)
    from novalgo.sheet.google import GoogleSheetBackend, SheetNotShared

    try:
        backend = GoogleSheetBackend.from_settings(settings)
        values = backend.read_config()
    except SettingsError as e:
        return [], [f"{p}: {HOW_TO_CREATE}" for p in e.problems]
    except SheetNotShared:
        return [], [f"the service account {email} cannot open spreadsheet {settings.sheet_id}: open the sheet, "
                    f"click Share and add {email} as Editor (and check NOVALGO_SHEET_ID is the id in the sheet's URL)"]
    except SheetUnavailable as e:
        return [], [f"cannot read the {settings.config_tab} tab of spreadsheet {settings.sheet_id}: {e}"]
    return _report(values, f"Google Sheet {settings.sheet_id} opened as {email}", settings.config_tab)


def _check_local(settings: Settings) -> tuple[list[str], list[str]]:
    from novalgo.sheet.local import LocalSheetBackend

    try:
        backend = LocalSheetBackend.from_settings(settings)
        values = backend.read_config()
    except (SheetUnavailable, OSError) as e:
        return [], [f"cannot read the local sheet in {settings.data_dir / 'sheet'}: {e}"]
    return _report(values, f"no NOVALGO_SHEET_ID: using the CSV sheet in {backend.folder}", settings.config_tab)


def _report(values: list[list[str]], opened: str, tab: str) -> tuple[list[str], list[str]]:
    snapshot = parse_config(values)
    ok = [opened, f"{tab} tab: {len(snapshot.rows)} rows, {len(snapshot.active_rows())} active"]
    return ok, [f"{tab} tab {problem}" for problem in snapshot.problems]


def _client_email(path) -> str:
    try:
        return str(json.loads(path.read_text()).get("client_email") or "the service account")
    except (OSError, ValueError, AttributeError):
        return "the service account"
