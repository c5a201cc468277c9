"""The .xlsx workbook read back with openpyxl: a sheet per CSV file with the same header and
the same figures, numbers as numbers, times as dates, formats Excel localises, the same bytes
on every run; the committed sample's workbook equals its CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from monitor.inventory import load_plan
from monitor.report import render_csv
from monitor.report.compute import build_report
from monitor.report.xlsx import write_xlsx
from tests.report.synthetic import SITE_YAML
from tests.report.test_compute import history
from tests.report.test_manager import telkom_down_one_hour

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "report-2026-02"


def expected(column: str, text: str) -> object:
    """What a CSV value must be in the workbook."""
    if text == "":
        return None
    if column in ("things", "incidents", "outages"):
        return int(text)
    if column.endswith(("_hours", "_minutes", "_pct")) or column in ("hours", "pct_of_known"):
        return float(text)
    if column in ("start", "end"):
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    if column == "date":
        return dt.datetime.fromisoformat(text)  # openpyxl reads a date cell back as datetime
    return text


def assert_equal(xlsx: Path, files: dict[str, str]) -> None:
    book = load_workbook(xlsx)
    assert book.sheetnames == [name.removesuffix(".csv") for name in files]
    for name, text in files.items():
        rows = list(csv.reader(io.StringIO(text)))
        sheet = book[name.removesuffix(".csv")]
        got = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert got[0] == rows[0], name
        assert len(got) == len(rows), name
        for i, (cells, values) in enumerate(zip(got[1:], rows[1:], strict=True), start=2):
            want = [expected(c, v) for c, v in zip(rows[0], values, strict=True)]
            assert cells == want, (name, i)


def test_the_workbook_holds_the_csv_figures_typed(tmp_path: Path) -> None:
    report = telkom_down_one_hour(load_plan(SITE_YAML))
    path = tmp_path / "report.xlsx"
    write_xlsx(report, path)
    assert_equal(path, render_csv(report))
    book = load_workbook(path)
    providers = book["providers"]
    header = [c.value for c in providers[1]]
    telkom = dict(zip(header, (c for c in providers[2]), strict=True))
    assert telkom["availability_pct"].value == 87.5
    assert telkom["availability_pct"].data_type == "n"
    assert telkom["availability_pct"].number_format == "0.00"
    assert telkom["down_service_minutes"].number_format == "#,##0.00"
    incidents = book["incidents"]
    start = incidents.cell(2, [c.value for c in incidents[1]].index("start") + 1)
    assert start.is_date and start.number_format == "yyyy-mm-dd hh:mm"
    assert start.value == dt.datetime(2026, 2, 2, 10, 0)  # site local time (WITA)
    assert incidents.freeze_panes == "A2"


def test_text_is_never_a_formula_and_the_bytes_repeat(tmp_path: Path) -> None:
    text = (
        Path(SITE_YAML)
        .read_text(encoding="utf-8")
        .replace("name: SIAK Terpusat", 'name: "=HYPERLINK(1)"')
    )
    plan = load_plan("site.yaml", text)
    report = build_report(plan, plan.site("paser"), "2026-02", history())
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_xlsx(report, first)
    write_xlsx(report, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as z:
        core = z.read("docProps/core.xml").decode()
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    stamp = dt.datetime.fromtimestamp(report.generated, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f">{stamp}</dcterms:modified>" in core  # the report's time, not the save's
    sheet = load_workbook(first)["availability"]
    names = [r[4] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(1)" in names  # as in the CSV: text, never evaluated
    assert not any(isinstance(v, str) and v.startswith("=") for v in names)


def test_the_committed_sample_workbook_equals_its_csv_files() -> None:
    (xlsx,) = SAMPLE.glob("report-*.xlsx")
    names = ["availability", "attribution", "incidents", "teams", "daily", "providers"]
    files = {f"{n}.csv": (SAMPLE / f"{n}.csv").read_text(encoding="utf-8") for n in names}
    assert_equal(xlsx, files)
