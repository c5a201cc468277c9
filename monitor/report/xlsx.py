"""The report's tables as one .xlsx workbook (openpyxl): a sheet per CSV file, the same
columns and figures, numbers stored as numbers and times as dates, so an Excel in any locale
(Indonesian: comma decimals) shows them in its own format without an import dialog."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from monitor.report.compute import Report
from monitor.report.tables import render_csv

# number formats: Excel shows "," and "." as the locale's separators (1.234,50 in Indonesia)
DECIMAL = "#,##0.00"
PERCENT = "0.00"  # percent figures are 0..100, as in the CSV
INTEGER = "0"
DATETIME = "yyyy-mm-dd hh:mm"  # site local time, as the CSV's ISO 8601 without the offset
DATE = "yyyy-mm-dd"
INTEGERS = {"things", "incidents", "outages"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entry times: the same bytes on every run
MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")

Value = str | float | int | dt.datetime | dt.date | None


def typed(column: str, text: str) -> tuple[Value, str | None]:
    """A CSV value as the cell's value and number format (None: text as it is)."""
    if text == "":
        return None, None
    if column in INTEGERS:
        return int(text), INTEGER
    if column.endswith(("_hours", "_minutes")) or column == "hours":
        return float(text), DECIMAL
    if column.endswith("_pct") or column == "pct_of_known":
        return float(text), PERCENT
    if column in ("start", "end"):
        return dt.datetime.fromisoformat(text).replace(tzinfo=None), DATETIME
    if column == "date":
        return dt.date.fromisoformat(text), DATE
    return text, None


def workbook(report: Report) -> Workbook:
    """One sheet per CSV file, named after it, with a bold, frozen header row."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, text in render_csv(report).items():
        sheet = book.create_sheet(name.removesuffix(".csv"))
        rows = list(csv.reader(io.StringIO(text)))
        header, body = rows[0], rows[1:]
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for values in body:
            sheet.append([typed(col, v)[0] for col, v in zip(header, values, strict=True)])
        for j, col in enumerate(header, start=1):
            fmt = next((typed(col, v)[1] for v in (r[j - 1] for r in body) if v), None)
            if fmt is not None:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
            width = max([len(col), *(len(r[j - 1]) for r in body)])
            sheet.column_dimensions[get_column_letter(j)].width = min(max(width, 8) + 2, 60)
        sheet.freeze_panes = "A2"
    generated = dt.datetime.fromtimestamp(report.generated, dt.UTC).replace(tzinfo=None)
    book.properties.created = book.properties.modified = generated
    book.properties.title = f"{report.site.name} {report.month}"
    return book


def write_xlsx(report: Report, path: Path) -> None:
    """Write the workbook; the same report gives the same bytes (openpyxl stamps the time
    of saving as "modified", and zip entries carry their own times: both are fixed here)."""
    buf = io.BytesIO()
    workbook(report).save(buf)
    stamp = dt.datetime.fromtimestamp(report.generated, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with (
        zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = MODIFIED.sub(rf"\g<1>{stamp}\g<2>".encode(), data)
            entry = zipfile.ZipInfo(item.filename, FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
