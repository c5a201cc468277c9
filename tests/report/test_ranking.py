"""The cross-site ranking through a real Prometheus holding several sites, as a centre does:
three variants of the synthetic month (tests/report/synthetic.py) with known extra outages,
told apart by the ``site`` label only, one inventory file per site and one with no data.
`mpp-monitor report` runs over all the files; the ranking is checked against the truth of
the construction and against each site's own CSV files, never against ranking code."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.plan import SiteInfo
from monitor.report.ranking import AgencyFigures, SiteFigures, rank, render_ranking_html
from tests.dashboards.promserver import PromServer
from tests.report.history import backfill, serve_history
from tests.report.synthetic import (
    AGENCY_OF,
    ICONPLUS,
    SIAK,
    SITE_YAML,
    TELKOM,
    VCLAIM,
    Event,
    Month,
    Truth,
    at,
)

pytestmark = pytest.mark.slow

STEP = 300  # five minutes: every event of the month falls on the grid; the backfill is quick
TOLERANCE = 0.01  # percentage points
HOSTILE_SITE = '<script>alert("situs")</script> MPP Berau & Co'
HOSTILE_AGENCY = "BPJS <img src=x onerror=alert(1)>"
# penajam: both uplinks down all Tuesday 3 February (8 service hours, every counter stopped,
# charged to Kominfo); berau: BPJS VClaim down from Monday 2 to Thursday 5 08:00 (24 service
# hours of counters 1 and 2, charged to BPJS's IT team)
NET_DOWN: list[Event] = [
    (TELKOM.id, "down", at(3, 8), at(3, 16), "kominfo"),
    (ICONPLUS.id, "down", at(3, 8), at(3, 16), "kominfo"),
    (VCLAIM.id, "unreachable", at(3, 8), at(3, 16), "kominfo"),
    (SIAK.id, "unreachable", at(3, 8), at(3, 16), "kominfo"),
]
VCLAIM_DOWN: list[Event] = [(VCLAIM.id, "down", at(2, 8), at(5, 8), "it-bpjs")]
EXTRA = {"paser": [], "penajam": NET_DOWN, "berau": VCLAIM_DOWN}
SITES = {  # site id -> (name, region, regency)
    "paser": ("MPP Kabupaten Paser", "kaltim", "paser"),
    "penajam": ("MPP Penajam Paser Utara", "kaltim", "ppu"),
    "berau": (HOSTILE_SITE, "", ""),
    "kosong": ("MPP Tanpa Data", "kaltara", "tarakan"),  # in no Prometheus
}
AGENCY_TEAMS = ("it-bpjs", "it-dukcapil")


@pytest.fixture(scope="module")
def months() -> dict[str, Month]:
    return {site: Month(STEP, extra) for site, extra in EXTRA.items()}


@pytest.fixture(scope="module")
def prometheus(
    months: dict[str, Month], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PromServer]:
    data = backfill(months, tmp_path_factory.mktemp("centre"))
    with serve_history(data, STEP) as prom:
        yield prom


def inventory(site: str) -> str:
    """site.yaml as another site: its id, name, region and regency."""
    name, region, regency = SITES[site]
    head = f"  - id: {site}\n    name: {json.dumps(name)}\n"
    if region:
        head += f"    region: {region}\n    regency: {regency}\n"
    text = SITE_YAML.read_text(encoding="utf-8")
    old = "  - id: paser\n    name: MPP Kabupaten Paser (contoh)\n"
    assert old in text
    text = text.replace(old, head)
    if site == "berau":
        text = text.replace("        name: BPJS Kesehatan\n", f"        name: {HOSTILE_AGENCY}\n")
    return text


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inventories")
    out = {}
    for site in SITES:
        path = folder / f"{site}.yaml"
        path.write_text(inventory(site), encoding="utf-8")
        out[site] = str(path)
    return out


@dataclass
class Run:
    code: int
    out: Path
    err: str


def report(prom: PromServer, out: Path, files: list[str], *extra: str) -> Run:
    argv = ["report", "--prometheus", prom.url, "--step", str(STEP), "--out", str(out)]
    for f in files:
        argv += ["--config", f]
    if "--month" not in extra:
        argv += ["--month", "2026-02"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*argv, *extra])
    return Run(code, out, err.getvalue())


@pytest.fixture(scope="module")
def feb(
    prometheus: PromServer, configs: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Run:
    return report(prometheus, tmp_path_factory.mktemp("feb"), list(configs.values()))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def ranking(run: Run) -> dict[str, dict[str, str]]:
    return {r["site"]: r for r in read_csv(run.out / "ranking.csv")}


def availability(run: Run, site: str) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["level"], r["id"]): r for r in read_csv(run.out / site / "availability.csv")}


def charged(truth: Truth, team: str) -> float:
    """Hours of the truth charged to team, alone or with others."""
    return sum(s for o, s in (truth.charged or {}).items() if team in o.split("+")) / 3600


def counters_truth(month: Month) -> Truth:
    total = Truth()
    for n in AGENCY_OF:
        total.add(month.truth_counter(n))
    return total


class Table(HTMLParser):
    """The text of each row of one table of a page, found by its class."""

    def __init__(self, cls: str) -> None:
        super().__init__()
        self.cls, self.inside, self.cell = cls, False, False
        self.rows: list[list[str]] = []
        self.row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("class") == self.cls:
            self.inside = True
        elif self.inside and tag == "tr":
            self.row = []
        elif self.inside and tag in ("td", "th") and self.row is not None:
            self.row.append("")
            self.cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.cell = False
        elif tag == "table":
            self.inside = False
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.row and self.cell:
            self.row[-1] += data


def table(html: str, cls: str) -> list[list[str]]:
    parser = Table(cls)
    parser.feed(html)
    return parser.rows[1:]  # without the header


def page(run: Run, month: str = "2026-02") -> str:
    return (run.out / f"ranking-{month}.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------
def test_every_site_report_then_the_ranking(feb: Run) -> None:
    assert feb.code == 0, feb.err
    for site in EXTRA:
        assert (feb.out / site / f"report-{site}-2026-02.html").is_file()
        assert (feb.out / site / "availability.csv").is_file()
    assert not (feb.out / "kosong").exists()
    names = {p.name for p in feb.out.iterdir() if p.is_file()}
    assert names == {"ranking-2026-02.html", "ranking.csv", "ranking-agencies.csv"}
    # the site without data is named on stderr, once, and stops nothing
    assert feb.err.count("\n") == 1 and "no data for site 'kosong' in 2026-02" in feb.err


def test_rank_one_is_the_best_service_availability_of_the_truth(
    feb: Run, months: dict[str, Month]
) -> None:
    truth = {site: counters_truth(m).availability() for site, m in months.items()}
    expected = sorted(truth, key=lambda s: -truth[s])
    assert expected == ["paser", "penajam", "berau"]  # the outages were made for that
    rows = read_csv(feb.out / "ranking.csv")
    assert [(r["rank"], r["site"]) for r in rows] == [
        ("1", "paser"),
        ("2", "penajam"),
        ("3", "berau"),
        ("", "kosong"),
    ]
    for r in rows[:3]:
        assert r["status"] == "ranked"
        assert float(r["service_availability_pct"]) == pytest.approx(
            truth[r["site"]], abs=TOLERANCE
        )
    # internet alone would have put berau (the same uplinks as paser) before penajam
    internet = {r["site"]: float(r["internet_availability_pct"]) for r in rows[:3]}
    assert internet["berau"] == internet["paser"] > internet["penajam"]
    shown = [row[1] for row in table(page(feb), "ranking")]
    assert [s.split(" (")[0] for s in shown[:2]] == [SITES["paser"][0], SITES["penajam"][0]]
    assert "Peringkat 1 = terbaik" in page(feb)


def test_every_figure_equals_the_site_report(feb: Run) -> None:
    for site, row in ranking(feb).items():
        if site == "kosong":
            continue
        own = availability(feb, site)
        pairs = {
            "service_availability_pct": own[("site", "counters")]["availability_pct"],
            "internet_availability_pct": own[("site", "internet")]["availability_pct"],
            "counters_known_hours": own[("site", "counters")]["known_hours"],
        }
        for column, theirs in pairs.items():
            assert float(row[column]) == pytest.approx(float(theirs), abs=TOLERANCE), column
        teams = {r["team"]: float(r["counters_not_serving_hours"]) for r in read_csv(
            feb.out / site / "teams.csv"
        )}  # fmt: skip
        assert float(row["network_charged_hours"]) == pytest.approx(teams["kominfo"], abs=1e-3)
        agencies = sum(teams[t] for t in AGENCY_TEAMS)
        assert float(row["agencies_charged_hours"]) == pytest.approx(agencies, abs=1e-3)
        lowest = min(
            (r for r in own.values() if r["level"] == "agency"),
            key=lambda r: float(r["own_availability_pct"]),
        )
        assert row["worst_agency"] == lowest["id"]
        assert row["worst_agency_own_pct"] == lowest["own_availability_pct"]
        assert row["counters"] == "4" and row["network_team"] == "kominfo"


def test_charged_hours_follow_the_outages(feb: Run, months: dict[str, Month]) -> None:
    rows = ranking(feb)
    for site, month in months.items():
        truth = counters_truth(month)
        network = float(rows[site]["network_charged_hours"])
        assert network == pytest.approx(charged(truth, "kominfo"), abs=1e-3), site
        agencies = float(rows[site]["agencies_charged_hours"])
        want = sum(charged(truth, t) for t in AGENCY_TEAMS)
        assert agencies == pytest.approx(want, abs=1e-3), site
    # the whole Tuesday without internet: 4 counters x 8 hours more charged to Kominfo
    penajam, paser = (float(rows[s]["network_charged_hours"]) for s in ("penajam", "paser"))
    assert penajam - paser == pytest.approx(32.0, abs=1e-3)
    assert rows["penajam"]["agencies_charged_hours"] == rows["paser"]["agencies_charged_hours"]


def test_worst_agencies_across_every_site(feb: Run) -> None:
    every = [
        (site, r["id"], r["own_availability_pct"])
        for site in EXTRA
        for r in availability(feb, site).values()
        if r["level"] == "agency"
    ]
    every.sort(key=lambda x: (float(x[2]), x[0], x[1]))
    rows = read_csv(feb.out / "ranking-agencies.csv")
    assert [(r["site"], r["agency"], r["own_availability_pct"]) for r in rows] == every
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 7)]
    assert (rows[0]["site"], rows[0]["agency"], rows[0]["name"]) == (
        "berau",
        "bpjs",
        HOSTILE_AGENCY,
    )
    # 24 service hours of one of its five things (VClaim, two PCs, two printers)
    lowest, next_one = (float(r["own_availability_pct"]) for r in rows[:2])
    assert next_one - lowest > 2
    shown = table(page(feb), "worst-agencies")
    assert [(r[1], r[2]) for r in shown[:2]] == [
        (HOSTILE_AGENCY, HOSTILE_SITE),
        ("BPJS Kesehatan", SITES["paser"][0]),
    ]


def test_a_site_without_data_is_listed_not_ranked(feb: Run) -> None:
    row = ranking(feb)["kosong"]
    assert (row["rank"], row["status"], row["service_availability_pct"]) == ("", "no_data", "")
    assert row["name"] == "MPP Tanpa Data"
    assert row["network_charged_hours"] == row["counters_known_hours"] == row["counters"] == ""
    last = table(page(feb), "ranking")[-1]
    assert last[0] == "—" and last[1].startswith("MPP Tanpa Data") and "tidak ada data" in last
    assert "kosong" not in {r["site"] for r in read_csv(feb.out / "ranking-agencies.csv")}


def test_region_and_regency_where_the_inventory_has_them(feb: Run) -> None:
    rows = ranking(feb)
    assert (rows["penajam"]["region"], rows["penajam"]["regency"]) == ("kaltim", "ppu")
    assert (rows["berau"]["region"], rows["berau"]["regency"]) == ("", "")
    places = {r[1].split(" (")[0]: r[2] for r in table(page(feb), "ranking")}
    assert places[SITES["penajam"][0]] == "ppu, kaltim" and places[HOSTILE_SITE] == ""


def test_hostile_names_are_escaped_and_the_page_is_self_contained(feb: Run) -> None:
    html = page(feb)
    assert html.startswith("<!DOCTYPE html>") and '<html lang="id">' in html
    for forbidden in ("<script", "<img", "<link", "@import", "url("):
        assert forbidden not in html, forbidden
    assert not re.search(r"<[a-z][^>]*\ssrc=", html)  # no tag loads anything
    assert "&lt;script&gt;alert(&#34;situs&#34;)&lt;/script&gt; MPP Berau &amp; Co" in html
    assert "BPJS &lt;img src=x onerror=alert(1)&gt;" in html
    assert '<a href="paser/report-paser-2026-02.html">' in html
    # a spreadsheet never reads a name as a formula, and keeps it whole
    assert ranking(feb)["berau"]["name"] == HOSTILE_SITE


def test_duplicate_site_ids_across_files(
    prometheus: PromServer, configs: dict[str, str], tmp_path: Path
) -> None:
    copy = tmp_path / "paser-lagi.yaml"
    copy.write_text(inventory("paser"), encoding="utf-8")
    run = report(prometheus, tmp_path / "out", [configs["paser"], configs["penajam"], str(copy)])
    assert run.code == 1
    first = configs["paser"]
    assert run.err == (
        f"{copy}:5:9: sites[0].id: duplicate site id 'paser' (first defined at {first}:5)\n"
    )
    assert not (tmp_path / "out").exists()


def test_no_site_with_data_is_an_error(
    prometheus: PromServer, configs: dict[str, str], tmp_path: Path
) -> None:
    run = report(prometheus, tmp_path / "out", [configs["kosong"]], "--ranking")
    assert run.code == 1
    lines = run.err.splitlines()
    assert len(lines) == 2 and "no data for site 'kosong'" in lines[0]
    assert lines[1] == "mpp-monitor report: no site has data in 2026-02"
    assert not (tmp_path / "out").exists()


def test_one_site_with_ranking(
    prometheus: PromServer, configs: dict[str, str], feb: Run, tmp_path: Path
) -> None:
    run = report(prometheus, tmp_path, [configs["penajam"]], "--ranking", "--format", "csv")
    assert run.code == 0, run.err
    assert {"availability.csv", "ranking.csv", "ranking-agencies.csv"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert not list(tmp_path.glob("*.html"))
    (row,) = read_csv(tmp_path / "ranking.csv")
    assert row["rank"] == "1"
    assert row["service_availability_pct"] == ranking(feb)["penajam"]["service_availability_pct"]


def test_english_ranking(prometheus: PromServer, configs: dict[str, str], tmp_path: Path) -> None:
    files = [configs["penajam"], configs["kosong"]]
    run = report(prometheus, tmp_path, files, "--lang", "en", "--format", "html")
    assert run.code == 0, run.err
    assert not list(tmp_path.glob("*.csv"))
    html = page(run)
    assert '<html lang="en">' in html and "MPP Ranking" in html and "February 2026" in html
    assert "Rank 1 = best" in html and "Peringkat" not in html
    assert "no data" in table(html, "ranking")[-1]


def test_the_month_before_comes_from_the_site_reports(
    prometheus: PromServer, configs: dict[str, str], feb: Run, tmp_path: Path
) -> None:
    # March holds only Sunday 1 March 00:00-04:00: data, but no service time to rank
    files = [configs[s] for s in EXTRA]
    run = report(prometheus, tmp_path, files, "--month", "2026-03")
    assert run.code == 0, run.err
    before = ranking(feb)
    for site, row in ranking(run).items():
        assert (row["rank"], row["status"]) == ("", "no_service_time")
        assert row["service_prev_pct"] == before[site]["service_availability_pct"]
        assert row["internet_prev_pct"] == before[site]["internet_availability_pct"]
    html = page(run, "2026-03")
    assert html.count("tidak ada jam layanan terukur") == 3
    assert re.search(r"Maret 2026", html)


# the order and the page's words, from figures made by hand (no Prometheus) ---------------
def line(site: str, service: float | None, internet: float | None, **more: Any) -> SiteFigures:
    return SiteFigures(SiteInfo(site, f"MPP {site}"), True, service, internet, **more)


def test_ties_go_to_internet_then_to_the_site_id() -> None:
    sites = [
        line("d", None, 0.99),  # data, but no measured service time
        line("c", 0.95, 0.90),
        line("b", 0.95, 0.99),
        line("a", 0.95, 0.99),
        line("e", 0.95, None),  # no internet figure: after any that has one
        line("f", 0.99, 0.50),
    ]
    got = rank("2026-02", sites)
    assert [(s.site.id, s.rank) for s in got.sites] == [
        ("f", 1), ("a", 2), ("b", 3), ("c", 4), ("e", 5), ("d", None),
    ]  # fmt: skip


def test_the_month_before_and_the_change_on_the_page() -> None:
    site = SiteInfo("paser", "MPP Paser")
    worse = AgencyFigures(site, "bpjs", "BPJS", "it-bpjs", 0.90, 0.80, 0.995)
    better = AgencyFigures(site, "dukcapil", "Disdukcapil", "it-dukcapil", 0.999, 0.99, 0.99)
    ranked = rank(
        "2026-02",
        [line("paser", 0.97, 0.99, service_before=0.95, agencies=(better, worse))],
    )
    assert [a.id for a in ranked.agencies] == ["bpjs", "dukcapil"]
    assert ranked.sites[0].worst == worse
    html = render_ranking_html(ranked)
    assert "Bulan lalu 95,00 % +2,00 poin" in html and "BPJS (90,00 %)" in html
    assert "Target 99,50 %: tidak tercapai" in html and "Target 99,00 %: tercapai" in html
    english = render_ranking_html(ranked, "en")
    assert "Last month 95.00 % +2.00 points" in english
