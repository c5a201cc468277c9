"""The report's table declarations (monitor/report/columns.py): every HTML header is a word
of the catalogue in both languages, CSV names are unique per file, and the CSV files and HTML
tables take exactly the columns declared for them, in order."""

from __future__ import annotations

import csv
import io
import re
from html import escape

import pytest

from monitor.inventory import load_plan
from monitor.report import columns as c
from monitor.report.compute import build_report
from monitor.report.i18n import LANGUAGES, Lang, T
from monitor.report.page import render_html
from monitor.report.tables import render_csv
from tests.report.synthetic import SITE_YAML
from tests.report.test_compute import history

TABLES = {
    name: value
    for name, value in vars(c).items()
    if name.isupper() and isinstance(value, list) and all(isinstance(x, c.Column) for x in value)
}
FILES = {
    "availability.csv": c.ROW_COLUMNS,
    "attribution.csv": c.ATTRIBUTION,
    "incidents.csv": c.INCIDENTS,
    "teams.csv": c.TEAMS,
    "daily.csv": c.DAILY,
    "providers.csv": c.PROVIDERS,
}


def test_every_table_is_found() -> None:
    assert set(TABLES) >= {"ROW_COLUMNS", "AGENCIES", "APPLICATIONS", "COUNTERS", "LINKS",
                           "INFRA", "WORST", "ATTRIBUTION", "INCIDENTS", "TEAMS", "DAILY",
                           "MAINTENANCE", "GAPS", "CLOSED", "PROVIDERS", "OUTAGES"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TABLES))
def test_headers_are_in_the_catalogue_and_csv_names_unique(name: str) -> None:
    cols = TABLES[name]
    for col in cols:
        assert col.html is not None or col.csv is not None, (name, col)
        if col.html is not None:
            assert col.head in T, (name, col.head)
            assert all(Lang(code).t(col.head) for code in LANGUAGES)
        if col.csv is not None:
            assert re.fullmatch(r"[a-z_]+", col.name), (name, col.name)
    names = [col.name for col in cols if col.csv is not None]
    assert len(names) == len(set(names)), name


def test_csv_files_and_html_tables_have_the_declared_columns() -> None:
    plan = load_plan(SITE_YAML)
    report = build_report(plan, plan.site("paser"), "2026-02", history())
    files = render_csv(report)
    assert set(files) == set(FILES)
    for file, text in files.items():
        header = next(csv.reader(io.StringIO(text)))
        assert header == [col.name for col in FILES[file] if col.csv is not None], file
    for code in LANGUAGES:
        page, lang = render_html(report, code), Lang(code)
        for name in (
            "AGENCIES",
            "APPLICATIONS",
            "COUNTERS",
            "LINKS",
            "INFRA",
            "TEAMS",
            "PROVIDERS",
        ):
            cells = "".join(
                f"<th{' class=n' if col.num else ''}>{escape(lang.t(col.head))}</th>"
                for col in TABLES[name]
                if col.html is not None
            )
            assert f"<table><thead><tr>{cells}</tr></thead>" in page, (code, name)


def test_row_columns_pick_and_retitle() -> None:
    picked = c.row_columns("name:c_counter", "charged", "down_hours:c_cannot")
    assert [(x.name, x.head) for x in picked] == [
        ("name", "c_counter"),
        ("", "c_charged"),
        ("down_hours", "c_cannot"),
    ]
    assert c.ROW["name"].head == "c_name"  # the declaration itself is unchanged
    with pytest.raises(KeyError):
        c.row_columns("no_such_column")
