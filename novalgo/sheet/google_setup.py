"""`novalgo sheet init` on a Google Sheet: create or repair the Config, Performance, Activity and Settings tabs.

It looks first and changes only what is missing: headers the Config tab lacks go at the
end (the trader's columns never move, their rows are not touched), then the frozen header
row, the `active` checkbox, the Time Frame dropdown, the optional columns' dropdowns,
checkboxes and header notes, Order Status colours and warning-only protection on the
columns the bot writes. The Settings tab gets the account's guard rails, one a row, and any
it lacks. A sheet that already looks right gets reads only, no write.
"""

from __future__ import annotations

from typing import Any

from novalgo.domain.config_rows import (
    ACTIVE,
    CONFIG_HEADERS,
    OPTIONAL_HEADERS,
    STATUS,
    TIMEFRAME,
    UPDATED,
    header_index,
)
from novalgo.domain.guards import FLATTEN_ON_MAX_LOSS, TRADING
from novalgo.sheet.google import GoogleSheetBackend, quoted
from novalgo.sheet.layout import (
    ACTIVITY_HEADERS,
    DROPDOWN,
    OPTIONAL_COLUMNS,
    PERFORMANCE_HEADERS,
    PROTECTION_NOTE,
    SETTINGS_HEADERS,
    SETTINGS_ROWS,
    STATUS_COLOURS,
    TIMEFRAME_CHOICES,
)
from novalgo.sheet.layout import CHECKBOX as TICK

CHECKBOX = {"type": "BOOLEAN"}
TIMEFRAME_LIST = {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in TIMEFRAME_CHOICES]}
ON_OFF = {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in ("on", "off")]}


def prepare_google_sheet(backend: GoogleSheetBackend) -> list[str]:
    """Make the four tabs ready for the bot; returns what was changed (empty if nothing was needed)."""
    tabs = (backend.config_tab, backend.performance_tab, backend.activity_tab, backend.settings_tab)
    existing = {s["properties"]["title"] for s in backend.metadata().get("sheets", [])}
    missing = [t for t in tabs if t not in existing]
    changes = [f"created the {t} tab" for t in missing]
    if missing:
        backend.batch_update([{"addSheet": {"properties": {"title": t}}} for t in missing])
    meta = backend.metadata(includeGridData="true",
                            ranges=[quoted(backend.config_tab), quoted(backend.settings_tab)]
                            + [f"{quoted(t)}!1:1" for t in tabs[1:3]])
    sheets = {s["properties"]["title"]: s for s in meta.get("sheets", [])}

    requests: list[dict] = []
    headers: list[dict] = []
    _config(sheets[backend.config_tab], backend.config_tab, requests, headers, changes)
    _bot_tab(sheets[backend.performance_tab], backend.performance_tab, PERFORMANCE_HEADERS, requests, headers, changes)
    _bot_tab(sheets[backend.activity_tab], backend.activity_tab, ACTIVITY_HEADERS, requests, headers, changes)
    _settings(sheets[backend.settings_tab], backend.settings_tab, requests, headers, changes)
    if requests:
        backend.batch_update(requests)
    if headers:
        # RAW: header names are text, never numbers or formulas.
        backend.write_values(headers, "RAW")
    return changes


def _config(sheet: dict, title: str, requests: list[dict], headers: list[dict], changes: list[str]) -> None:
    props = sheet["properties"]
    sheet_id, grid = props["sheetId"], props.get("gridProperties", {})
    rows, columns = grid.get("rowCount", 1000), grid.get("columnCount", 26)
    cells = _rows(sheet)
    header = _header(cells)
    present = header_index(header)
    added = [name for name in CONFIG_HEADERS + OPTIONAL_HEADERS if name not in present]
    if added:
        start = len(header)
        if start + len(added) > columns:
            requests.append({"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                                 "length": start + len(added) - columns}})
        headers.append({"range": f"{quoted(title)}!A1" if start == 0 else f"{quoted(title)}!{_letters(start)}1",
                        "values": [added]})
        header = header + added
        changes.append(f"added the {', '.join(added)} column{'s' if len(added) > 1 else ''} to {title}")
    where = header_index(header)
    _freeze(props, requests, changes)

    inputs = [(ACTIVE, CHECKBOX, {}), (TIMEFRAME, TIMEFRAME_LIST, {"showCustomUi": True, "strict": False})]
    for name, _words, kind, choices in OPTIONAL_COLUMNS:
        if kind == TICK:
            inputs.append((name, CHECKBOX, {}))
        elif kind == DROPDOWN:
            inputs.append((name, _choices(choices), {"showCustomUi": True, "strict": False}))
    for name, condition, extra in inputs:
        column = where[name]
        if not all(_validation(cells, r, column) == condition for r in range(1, rows)):
            requests.append({"setDataValidation": {
                "range": _column_range(sheet_id, column, rows), "rule": {"condition": condition, **extra}}})
            changes.append(f"{title}: {'checkboxes' if condition is CHECKBOX else 'a dropdown'} on {name}")

    for name, note, _kind, _choices_ in OPTIONAL_COLUMNS:
        column = where[name]
        if _note(cells, column) != note:
            requests.append({"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": column},
                                             "rows": [{"values": [{"note": note}]}], "fields": "note"}})
            changes.append(f"{title}: a note on {name} saying what it takes")

    status = where[STATUS]
    rules = sheet.get("conditionalFormats", [])
    for text, colour in STATUS_COLOURS:
        condition = {"type": "TEXT_EQ", "values": [{"userEnteredValue": text}]}
        if not any(rule.get("booleanRule", {}).get("condition") == condition
                   and any(r.get("startColumnIndex") == status for r in rule.get("ranges", [])) for rule in rules):
            requests.append({"addConditionalFormatRule": {"index": len(rules), "rule": {
                "ranges": [_column_range(sheet_id, status, rows)],
                "booleanRule": {"condition": condition, "format": {"backgroundColor": colour}}}}})
            rules = rules + [{"booleanRule": {"condition": condition}, "ranges": [{"startColumnIndex": status}]}]
            changes.append(f"{title}: {text} coloured in {STATUS}")

    protected = sheet.get("protectedRanges", [])
    for name in (STATUS, UPDATED):
        column = where[name]
        if not any(p.get("warningOnly") and p.get("range", {}).get("startColumnIndex") == column
                   and p.get("range", {}).get("endColumnIndex") == column + 1 for p in protected):
            requests.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sheet_id, "startColumnIndex": column, "endColumnIndex": column + 1},
                "description": PROTECTION_NOTE, "warningOnly": True}}})
            changes.append(f"{title}: a warning before hand edits of {name}")


def _bot_tab(sheet: dict, title: str, names: tuple[str, ...], requests: list[dict], headers: list[dict],
             changes: list[str]) -> None:
    """Performance and Activity: written wholly by the bot."""
    props = sheet["properties"]
    if not _header(_rows(sheet)):
        headers.append({"range": f"{quoted(title)}!A1", "values": [list(names)]})
        changes.append(f"{title}: header row")
    _freeze(props, requests, changes)
    whole_tab = {"sheetId": props["sheetId"]}
    if not any(p.get("warningOnly") and p.get("range") == whole_tab for p in sheet.get("protectedRanges", [])):
        requests.append({"addProtectedRange": {"protectedRange": {
            "range": whole_tab, "description": PROTECTION_NOTE, "warningOnly": True}}})
        changes.append(f"{title}: a warning before hand edits")


def _settings(sheet: dict, title: str, requests: list[dict], headers: list[dict], changes: list[str]) -> None:
    """The account's guard rails, one a row; settings the tab lacks are added under its rows."""
    props = sheet["properties"]
    cells = _rows(sheet)
    texts = [[str(c.get("formattedValue", "")) for c in row] for row in cells]
    if not _header(cells):
        headers.append({"range": f"{quoted(title)}!A1",
                        "values": [list(SETTINGS_HEADERS)] + [_typed(r) for r in SETTINGS_ROWS]})
        changes.append(f"{title}: the account's guard rails ({', '.join(r[0] for r in SETTINGS_ROWS)})")
        texts = [list(SETTINGS_HEADERS)] + [list(r) for r in SETTINGS_ROWS]
    else:
        named = {_fold(row[0]) for row in texts[1:] if row}
        missing = [list(r) for r in SETTINGS_ROWS if _fold(r[0]) not in named]
        if missing:
            last = max((i for i, row in enumerate(texts) if any(t.strip() for t in row)), default=0)
            headers.append({"range": f"{quoted(title)}!A{last + 2}", "values": [_typed(r) for r in missing]})
            changes.append(f"{title}: added {', '.join(r[0] for r in missing)}")
            texts = texts[:last + 1] + missing
    _freeze(props, requests, changes)
    for name, condition, extra in ((TRADING, ON_OFF, {"showCustomUi": True, "strict": True}),
                                   (FLATTEN_ON_MAX_LOSS, CHECKBOX, {})):
        row = next(i for i, line in enumerate(texts) if line and _fold(line[0]) == _fold(name))
        if _validation(cells, row, 1) != condition:
            requests.append({"setDataValidation": {
                "range": {"sheetId": props["sheetId"], "startRowIndex": row, "endRowIndex": row + 1,
                          "startColumnIndex": 1, "endColumnIndex": 2}, "rule": {"condition": condition, **extra}}})
            changes.append(f"{title}: {'a checkbox' if condition is CHECKBOX else 'an on/off dropdown'} for {name}")


def _typed(row: tuple[str, ...] | list[str]) -> list:
    """A Settings row as Google should store it: a checkbox's TRUE/FALSE as a boolean, not text."""
    return [{"TRUE": True, "FALSE": False}.get(cell, cell) for cell in row]


def _fold(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def _freeze(props: dict, requests: list[dict], changes: list[str]) -> None:
    # A trader who froze more rows keeps them; only an unfrozen header is fixed.
    if props.get("gridProperties", {}).get("frozenRowCount", 0) < 1:
        requests.append({"updateSheetProperties": {
            "properties": {"sheetId": props["sheetId"], "gridProperties": {"frozenRowCount": 1}},
            "fields": "gridProperties.frozenRowCount"}})
        changes.append(f"{props['title']}: header row frozen")


def _rows(sheet: dict) -> list[list[dict]]:
    data = sheet.get("data") or [{}]
    return [row.get("values", []) for row in data[0].get("rowData", [])]


def _header(cells: list[list[dict]]) -> list[str]:
    names = [str(c.get("formattedValue", "")) for c in (cells[0] if cells else [])]
    while names and not names[-1].strip():
        names.pop()
    return names


def _validation(cells: list[list[dict]], row: int, column: int) -> Any:
    if row < len(cells) and column < len(cells[row]):
        return cells[row][column].get("dataValidation", {}).get("condition")
    return None


def _note(cells: list[list[dict]], column: int) -> str | None:
    header = cells[0] if cells else []
    return header[column].get("note") if column < len(header) else None


def _choices(values: tuple[str, ...]) -> dict:
    return {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in values]}


def _column_range(sheet_id: int, column: int, rows: int) -> dict:
    return {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": rows,
            "startColumnIndex": column, "endColumnIndex": column + 1}


def _letters(column: int) -> str:
    from gspread.utils import rowcol_to_a1

    return rowcol_to_a1(1, column + 1)[:-1]
