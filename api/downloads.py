"""Statements and statistics as files a clerk opens in Excel: CSV (UTF-8 with a BOM, so that
Excel reads the Chinese names right; RFC 4180 line ends) and XLSX (openpyxl), asked for with
`?format=csv|xlsx` or `Accept: text/csv` (or the XLSX media type). `format` wins over `Accept`;
JSON stays the default. The same filters, scopes and errors as the JSON (errors stay
problem+json).

One row per entry or group; the columns are the JSON's fields, nested ones flattened
(`stars.1` … `stars.5`). The header row names them as the JSON does, or in Chinese for a reader
who asked for Chinese (`Accept-Language: zh-CN`): the data rows are the same either way. Times
are local (HOUR_LEDGER_TIMEZONE): RFC 3339 text in CSV, date-time cells in XLSX. A text value
that Excel would run as a formula (it starts with = + - @) is written with a leading
apostrophe in CSV and as a text cell in XLSX."""

from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font

from ledger.messages import CHINESE, COLUMNS_ZH, Language

Format = Literal["json", "csv", "xlsx"]
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FormatQuery = Annotated[
    Format | None,
    Query(description="json (the default), csv (UTF-8 with BOM) or xlsx; or send Accept: text/csv"),
]
# For a route's `responses`: the 200 answer's other media types.
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            CSV: {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "JSON, or with ?format=csv|xlsx (or Accept: text/csv) a file to download",
    }
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def chosen_format(request: Request, asked: Format | None) -> Format:
    if asked is not None:
        return asked
    accept = request.headers.get("accept", "").lower()
    if CSV in accept:
        return "csv"
    if XLSX in accept:
        return "xlsx"
    return "json"


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"stars": {"1": 2}}` as `{"stars.1": 2}`, in the JSON's order."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def columns_of(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """The columns given, then any other field the rows have (e.g. `items` by exchange point)."""
    found = list(columns)
    for row in rows:
        found += [name for name in row if name not in found]
    return found


def header(columns: list[str], language: Language) -> list[str]:
    if language != CHINESE:
        return columns
    return [COLUMNS_ZH.get(name) or _star_label(name) or name for name in columns]


def _star_label(name: str) -> str | None:
    if name.startswith("stars.") and name[6:].isdigit():
        return f"{name[6:]} 星志愿者人数"
    return None


def download(
    rows: list[dict[str, Any]],
    columns: list[str],
    fmt: Format,
    filename: str,
    sheet: str,
    language: Language,
    zone: tzinfo,
) -> Response:
    """`rows` (JSON-shaped) as a CSV or XLSX attachment named `filename` (without extension)."""
    flat = [flatten(row) for row in rows]
    names = columns_of(flat, columns)
    if fmt == "csv":
        body, media = _csv(flat, names, language, zone), CSV + "; charset=utf-8"
    else:
        body, media = _xlsx(flat, names, language, zone, sheet), XLSX
    disposition = f'attachment; filename="{filename}.{fmt}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition, "Vary": "Accept, Accept-Language"})


def _csv(rows: list[dict[str, Any]], names: list[str], language: Language, zone: tzinfo) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header(names, language))
    for row in rows:
        writer.writerow([_csv_value(row.get(name), zone) for name in names])
    return text.getvalue().encode("utf-8-sig")


def _csv_value(value: Any, zone: tzinfo) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value if isinstance(value, (int, str)) else str(value)


def _xlsx(rows: list[dict[str, Any]], names: list[str], language: Language, zone: tzinfo, sheet: str) -> bytes:
    workbook = Workbook()
    table = workbook.active
    table.title = sheet
    table.append(header(names, language))
    for cell in table[1]:
        cell.font = Font(bold=True)
    table.freeze_panes = "A2"
    for row in rows:
        table.append([_xlsx_value(row.get(name), zone) for name in names])
    for index, name in enumerate(names, start=1):
        column = table.cell(row=1, column=index).column_letter
        table.column_dimensions[column].width = 38 if name.endswith(("_id", "id", "_at")) else 16
        for cell in table[column][1:]:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula stays text
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _xlsx_value(value: Any, zone: tzinfo) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: the local time, as a clerk reads it.
        return value.astimezone(zone).replace(tzinfo=None)
    if value is None or isinstance(value, (int, str)):
        return value
    return str(value)
