"""The report against a month whose truth is known by construction, through a real
Prometheus: promtool backfills the synthetic month, the prometheus binary serves it on
loopback, `mpp-monitor report` reads it over HTTP, and every figure is checked against the
truth computed from the construction (tests/report/synthetic.py), never by report code."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli import main
from tests.dashboards.promserver import PromServer
from tests.report.history import backfill, serve_history
from tests.report.synthetic import (
    AGENCY_OF,
    ICONPLUS,
    SIAK,
    TELKOM,
    THINGS,
    VCLAIM,
    WITA,
    Month,
    Truth,
    expected_incidents,
    is_service,
    pc,
)
from tests.report.test_xlsx import assert_equal

pytestmark = pytest.mark.slow

# One sample a minute: a month is 41,760 steps, so the report still splits every query into
# chunks (10,000 steps each); at 15 s the backfill alone takes ~30 s on two cores.
STEP = 60
SITE_YAML = str(Path(__file__).with_name("site.yaml"))
TOLERANCE = 0.01  # percentage points


@pytest.fixture(scope="module")
def month() -> Month:
    return Month(STEP)


@pytest.fixture(scope="module")
def prometheus(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    data = backfill(month, tmp_path_factory.mktemp("history"))
    with serve_history(data, STEP) as prom:
        yield prom


def run_report(prom: PromServer, out: Path, *extra: str) -> int:
    argv = ["report", "--config", SITE_YAML, "--prometheus", prom.url, "--month", "2026-02"]
    return main([*argv, "--step", str(STEP), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def out(prometheus: PromServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert run_report(prometheus, out) == 0
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def rows(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["level"], r["id"]): r for r in read_csv(out / "availability.csv")}


def check(row: dict[str, str], truth: Truth, team: str, what: str) -> None:
    hours = {
        "service_hours": truth.service,
        "maintenance_hours": truth.maintenance,
        "unknown_hours": truth.unknown,
        "known_hours": truth.known,
        "up_hours": truth.up,
    }
    for column, seconds in hours.items():
        assert float(row[column]) == pytest.approx(seconds / 3600, abs=1e-3), (what, column)
    got = float(row["availability_pct"])
    assert got == pytest.approx(truth.availability(), abs=TOLERANCE), (what, "availability")
    own = float(row["own_availability_pct"])
    assert own == pytest.approx(truth.own(team), abs=TOLERANCE), (what, "own")


def test_every_entity_matches_the_truth(month: Month, rows: dict) -> None:
    for thing in THINGS:
        level = "device" if thing.kind == "device" else thing.kind
        check(rows[(level, thing.id)], month.truth_entity(thing), thing.team, thing.id)


def test_every_counter_matches_the_truth(month: Month, rows: dict) -> None:
    for n, (_, team) in AGENCY_OF.items():
        check(rows[("counter", f"counter/{n}")], month.truth_counter(n), team, f"counter {n}")


def test_teams_and_agencies_match_the_truth(month: Month, rows: dict) -> None:
    for team in ("kominfo", "it-bpjs", "it-dukcapil"):
        truth = Truth()
        for thing in THINGS:
            if thing.team == team:
                truth.add(month.truth_entity(thing))
        check(rows[("team", team)], truth, team, team)
    for agency, team in (("bpjs", "it-bpjs"), ("dukcapil", "it-dukcapil")):
        truth = Truth()
        for thing in THINGS:
            if thing.agency == agency:
                truth.add(month.truth_entity(thing))
        check(rows[("agency", agency)], truth, team, agency)


def test_internet_and_all_counters_match_the_truth(month: Month, rows: dict) -> None:
    # internet: up while at least one uplink is up; known while at least one says something
    up = known = 0
    for k in month.month_steps():
        if not is_service(month.ts[k]) or month.gap[k]:
            continue
        states = [month.status[x.id][k] for x in (TELKOM, ICONPLUS)]
        if any(s in ("up", "down", "unreachable") for s in states):
            known += STEP
            up += STEP if "up" in states else 0
    assert float(rows[("site", "internet")]["availability_pct"]) == pytest.approx(
        100 * up / known, abs=TOLERANCE
    )
    total = Truth()
    for n in AGENCY_OF:
        total.add(month.truth_counter(n))
    assert float(rows[("site", "counters")]["availability_pct"]) == pytest.approx(
        total.availability(), abs=TOLERANCE
    )


def test_each_uplink_against_its_sla(month: Month, out: Path) -> None:
    providers = {r["link"]: r for r in read_csv(out / "providers.csv")}
    assert list(providers) == ["telkom", "iconplus"]  # inventory order
    for thing, sla in ((TELKOM, 99.5), (ICONPLUS, 99.0)):
        truth, row = month.truth_entity(thing), providers[thing.link]
        assert float(row["sla_pct"]) == sla
        assert float(row["availability_pct"]) == pytest.approx(truth.availability(), abs=TOLERANCE)
        assert row["sla_met"] == ("yes" if truth.availability() >= sla else "no")
        downs = [x for x in expected_incidents() if x[0] == thing.id and x[1] == "down"]
        assert int(row["outages"]) == len(downs), thing.id
        down = truth.known - truth.up  # a link is only ever up or down when known
        assert float(row["down_service_minutes"]) == pytest.approx(down / 60, abs=0.02)


def test_night_holiday_and_maintenance_outages_do_not_count(rows: dict) -> None:
    # SIAK was down at night (E3) and inside its maintenance window (E5): only the last
    # 15 minutes of Friday 27 (E16) count. Counter 3's PC was down on a holiday (E4).
    assert float(rows[("application", SIAK.id)]["down_hours"]) == pytest.approx(0.25, abs=1e-3)
    assert float(rows[("application", SIAK.id)]["maintenance_hours"]) == pytest.approx(2.0)
    assert float(rows[("device", pc(3))]["down_hours"]) == 0.0
    # the PC the monitor said was in maintenance (E14) without an inventory window
    assert float(rows[("device", pc(1))]["maintenance_hours"]) == pytest.approx(1.0)


def test_unreachable_time_is_charged_to_kominfo(out: Path) -> None:
    charged = {
        (r["id"], r["what"], r["charged_team"]): float(r["hours"])
        for r in read_csv(out / "attribution.csv")
    }
    assert charged[(VCLAIM.id, "unreachable", "kominfo")] == pytest.approx(1.0, abs=1e-3)
    assert charged[(SIAK.id, "unreachable", "kominfo")] == pytest.approx(1.0, abs=1e-3)
    # VClaim's own downtime: E2 90 min + E18 40 min less its one missing minute
    assert charged[(VCLAIM.id, "down", "it-bpjs")] == pytest.approx(2.15, abs=1e-3)
    # counter 1: E6 (uplinks) and E10 (switch) are kominfo's
    assert charged[("counter/1", "cannot_serve", "kominfo")] == pytest.approx(80 / 60, abs=1e-3)
    html = (out / "report-paser-2026-02.html").read_text(encoding="utf-8")
    assert "tak terjangkau dibebankan ke Diskominfo Kabupaten Paser" in html


def test_every_incident_is_listed_with_its_owner(out: Path) -> None:
    def local(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, WITA).isoformat(timespec="seconds")

    got = sorted(
        (r["id"], r["status"], r["start"], r["end"], r["owner_team"])
        for r in read_csv(out / "incidents.csv")
    )
    want = sorted((i, s, local(a), local(b), o) for i, s, a, b, o in expected_incidents())
    assert got == want


def test_mttr_per_team(out: Path) -> None:
    teams = {r["team"]: r for r in read_csv(out / "teams.csv")}
    # closed down incidents of their own entities, in minutes
    assert float(teams["it-bpjs"]["mttr_minutes"]) == pytest.approx((45 + 90 + 40 + 1050) / 4)
    assert float(teams["kominfo"]["mttr_minutes"]) == pytest.approx((120 + 60 + 60 + 20) / 4)
    # E15 began before the month and E16 outlasted it: only E11 is closed
    assert float(teams["it-dukcapil"]["mttr_minutes"]) == pytest.approx(30)
    assert teams["dpmptsp"]["mttr_minutes"] == ""


def test_html_is_self_contained_and_shows_gaps(out: Path) -> None:
    html = (out / "report-paser-2026-02.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", " src=", "@import", "url("):
        assert forbidden not in html
    assert html.count("<svg") >= 3
    assert "Laporan Ketersediaan Layanan" in html and "Februari 2026" in html
    assert "Rab 18/02 11:00" in html and "Rab 18/02 12:30" in html  # the data gap (E8)
    assert "Tahun Baru Imlek" in html  # the holiday, named


def test_english_report(prometheus: PromServer, tmp_path: Path) -> None:
    assert run_report(prometheus, tmp_path, "--lang", "en", "--format", "html") == 0
    assert [p.name for p in tmp_path.iterdir()] == ["report-paser-2026-02.html"]
    html = (tmp_path / "report-paser-2026-02.html").read_text(encoding="utf-8")
    assert "Service Availability Report" in html and "February 2026" in html
    assert "unreachable charged to Diskominfo Kabupaten Paser" in html


def test_pdf_and_xlsx_from_the_command(prometheus: PromServer, tmp_path: Path) -> None:
    assert run_report(prometheus, tmp_path, "--format", "html,csv,pdf,xlsx") == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report-paser-2026-02.pdf", "report-paser-2026-02.xlsx", "providers.csv"} <= names
    assert (tmp_path / "report-paser-2026-02.pdf").read_bytes().startswith(b"%PDF-")
    files = {
        n: (tmp_path / n).read_text(encoding="utf-8") for n in sorted(names) if n.endswith(".csv")
    }
    order = ["availability", "attribution", "incidents", "teams", "daily", "providers"]
    assert_equal(
        tmp_path / "report-paser-2026-02.xlsx", {f"{n}.csv": files[f"{n}.csv"] for n in order}
    )
