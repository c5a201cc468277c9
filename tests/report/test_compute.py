"""Report figures from hand-made histories (no Prometheus): attribution rules, precedence,
month bounds, escaping and early errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.inventory import load_plan
from monitor.plan import Plan
from monitor.report import ReportError, make_report, pick_sites, render_csv, render_html
from monitor.report.compute import History, build_report, month_range, parse_month
from tests.report.synthetic import SITE_YAML, at

VCLAIM = "paser/application/bpjs-vclaim"
PC1 = "paser/device/gerai-01-pc"
PRINTER1 = "paser/device/gerai-01-printer"
SWITCH = "paser/infra/sw-lantai1"
MON = (at(2, 8), at(2, 16))  # Monday 2 February, service time
H = 3600.0


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(SITE_YAML)


def history(**tables: dict[str, dict[str, list[tuple[float, float]]]]) -> History:
    """Every entity up on Monday 2 February unless a table says otherwise; one day only."""
    h = History(start=at(2), end=at(3), step=60.0)
    for eid in (VCLAIM, PC1, PRINTER1, SWITCH, "paser/application/dukcapil-siak"):
        h.status[eid] = {"up": [MON]}
    for eid, by in tables.get("status", {}).items():
        h.status[eid] = by
    h.owners = tables.get("owners", {})
    h.can_serve = tables.get("can_serve", {"01": {"1": [MON]}})
    h.counter_owner = tables.get("counter_owner", {})
    return h


def row(report: object, ident: str) -> object:
    return next(r for r in report.rows if r.id == ident)  # type: ignore[attr-defined]


def test_unreachable_without_an_owner_series_is_charged_to_the_parents_team(plan: Plan) -> None:
    h = history(
        status={
            VCLAIM: {
                "up": [(MON[0], at(2, 10)), (at(2, 11), MON[1])],
                "unreachable": [(at(2, 10), at(2, 11))],
            }
        }
    )
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    r = row(report, VCLAIM)
    assert r.figures.charged == {("unreachable", "kominfo"): H}
    assert r.availability == pytest.approx(7 / 8)
    assert r.own == 1.0
    (incident,) = [i for i in report.incidents if i.id == VCLAIM]
    assert (incident.status, incident.owner) == ("unreachable", "kominfo")


def test_down_is_charged_to_the_owner_series_else_the_own_team(plan: Plan) -> None:
    h = history(
        status={
            PC1: {"up": [(MON[0], at(2, 9)), (at(2, 11), MON[1])], "down": [(at(2, 9), at(2, 11))]}
        },
        owners={PC1: {"dpmptsp": [(at(2, 9), at(2, 10))]}},  # the second hour has no series
    )
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    assert row(report, PC1).figures.charged == {("down", "dpmptsp"): H, ("down", "it-bpjs"): H}


def test_down_wins_over_up_when_both_are_reported(plan: Plan) -> None:
    h = history(status={PC1: {"up": [MON], "down": [(at(2, 9), at(2, 10))]}})
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    f = row(report, PC1).figures
    assert (f.up, f.down, f.known) == (7 * H, H, 8 * H)


def test_counter_fault_owner_series_is_preferred_over_components(plan: Plan) -> None:
    outage = (at(2, 10), at(2, 11))
    h = history(
        status={PC1: {"up": [(MON[0], outage[0]), (outage[1], MON[1])], "down": [outage]}},
        can_serve={"01": {"1": [(MON[0], outage[0]), (outage[1], MON[1])], "0": [outage]}},
        counter_owner={"01": {"dpmptsp": [(at(2, 10), at(2, 10, 30))]}},
    )
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    c1 = row(report, "counter/1")
    # the series names dpmptsp for 30 min; the PC's owner explains the rest
    assert c1.figures.charged == {
        ("cannot_serve", "dpmptsp"): 0.5 * H,
        ("cannot_serve", "it-bpjs"): 0.5 * H,
    }
    assert c1.own == pytest.approx(1 - 0.5 / 8)


def test_missing_can_serve_is_unknown_not_up(plan: Plan) -> None:
    h = history(can_serve={"01": {"1": [(MON[0], at(2, 12))]}})
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    f = row(report, "counter/1").figures
    assert (f.known, f.unknown, f.up) == (4 * H, 4 * H, 4 * H)
    assert f.availability() == 1.0
    # counter 2 has no series at all: all unknown, no availability
    assert row(report, "counter/2").availability is None


def test_names_are_escaped_in_html_and_never_formulas_in_csv(tmp_path: Path) -> None:
    text = Path(SITE_YAML).read_text(encoding="utf-8")
    text = text.replace("name: BPJS VClaim", "name: \"<script>alert('x')</script>\"")
    text = text.replace("name: SIAK Terpusat", 'name: "=HYPERLINK(1)"')
    plan = load_plan("site.yaml", text)
    h = history(status={VCLAIM: {"down": [MON]}})
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    html = render_html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    table = render_csv(report)["availability.csv"]
    assert "<script>" in table  # CSV is data, not markup
    assert ",'=HYPERLINK(1)," in table  # but never a spreadsheet formula


def test_month_parsing_and_bounds(plan: Plan) -> None:
    assert parse_month("2026-02") == (2026, 2)
    for bad in ("2026-2", "2026-13", "26-02", "2026/02", "february"):
        with pytest.raises(ValueError, match="expected YYYY-MM"):
            parse_month(bad)
    start, end = month_range(plan.site("paser"), "2026-12")
    assert (start, end) == (at(1, month=12), at(1, month=1) + 365 * 86400)


async def test_early_errors_need_no_prometheus(plan: Plan) -> None:
    site = plan.site("paser")
    unused = "http://127.0.0.1:9"  # never contacted: the checks come first
    with pytest.raises(ReportError, match="invalid month '2026-2'"):
        await make_report(plan, site, "2026-2", unused)
    with pytest.raises(ReportError, match="month 2026-04 has not started yet"):
        await make_report(plan, site, "2026-04", unused, now=at(15, month=3))
    with pytest.raises(ReportError, match="invalid step"):
        await make_report(plan, site, "2026-02", unused, step=0)
    with pytest.raises(ReportError, match="unknown site 'nope': the inventory has paser"):
        pick_sites([plan], "nope")
