"""The report page comes from Jinja2 templates an officer can copy and edit (letterhead,
signatures, order of sections): autoescape on, hostile names stay text, an edited folder
wins over the package's templates file by file, and a broken template is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.inventory import load_plan
from monitor.report import ReportError, render_html, write_report
from monitor.report.compute import build_report
from monitor.report.page import css_string, environment
from tests.report.synthetic import SITE_YAML
from tests.report.test_compute import history

PACKAGE = Path(__file__).resolve().parents[2] / "monitor" / "report" / "templates"


def report(text: str | None = None):  # type: ignore[no-untyped-def]
    plan = load_plan("site.yaml", text or Path(SITE_YAML).read_text(encoding="utf-8"))
    return build_report(plan, plan.site("paser"), "2026-02", history())


def test_autoescape_is_on_and_the_package_templates_are_found() -> None:
    env = environment()
    assert env.autoescape is True
    assert {"report.html.j2", "report.css"} <= set(env.list_templates())
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_an_edited_folder_wins_and_the_rest_comes_from_the_package(tmp_path: Path) -> None:
    page = (PACKAGE / "report.html.j2").read_text(encoding="utf-8")
    edited = page.replace(
        '<div class="org">{{ manager or site.name }}</div>',
        '<div class="org">PEMERINTAH KABUPATEN PASER</div>',
    )
    assert edited != page
    (tmp_path / "report.html.j2").write_text(edited, encoding="utf-8")
    html = render_html(report(), "id", tmp_path)
    assert '<div class="org">PEMERINTAH KABUPATEN PASER</div>' in html
    assert ".letterhead {" in html  # report.css from the package
    assert "PEMERINTAH" not in render_html(report())


def test_a_broken_template_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "report.html.j2").write_text("<!DOCTYPE html>\n<p>\n{% if %}\n", "utf-8")
    with pytest.raises(ReportError, match=r"report\.html\.j2:3: Expected an expression") as err:
        write_report(report(), tmp_path / "out", ["html"], "id", tmp_path)
    assert "\n" not in str(err.value)
    (tmp_path / "report.html.j2").write_text("{{ no_such_value }}", "utf-8")
    with pytest.raises(ReportError, match=r"template error in .*'no_such_value' is undefined"):
        write_report(report(), tmp_path / "out", ["html"], "id", tmp_path)


def test_a_missing_templates_folder_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"templates folder .*nope not found \(--templates\)"):
        write_report(report(), tmp_path / "out", ["html"], "id", tmp_path / "nope")
    assert not (tmp_path / "out" / "report-paser-2026-02.html").exists()


def test_hostile_names_stay_text_in_the_letterhead_footer_and_signatures() -> None:
    text = Path(SITE_YAML).read_text(encoding="utf-8")
    evil = json.dumps('</style><script>alert(1)</script>" }')  # a YAML double-quoted string
    text = text.replace("name: MPP Kabupaten Paser (contoh)", f"name: {evil}")
    text = text.replace("name: DPMPTSP (pengelola MPP)", 'name: "<img src=x onerror=alert(1)>"')
    html = render_html(report(text))
    assert "<script" not in html and "<img" not in html
    assert html.count("</style>") == 1
    assert "&lt;/style&gt;&lt;script&gt;" in html  # the letterhead and the title
    assert css_string('a"b\\c</style> ·') == '"a\\22 b\\5c c\\3c /style\\3e  \\b7 "'
