"""The status page and the JSON status, rendered from a real State (no sockets)."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo

import pytest

from monitor.commands.run import maintenance_for
from monitor.i18n import language_of
from monitor.inventory import load_plan
from monitor.plan import Plan
from monitor.state import State
from monitor.web.app import status_json
from monitor.web.statuspage import ago, group_faults, render_page
from probes.base import ProbeResult
from tests.support.hostile import EVIL_INVENTORY

from .helpers import DEMO

WALL = dt.datetime(2026, 3, 2, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Makassar")).timestamp()


def snapshot_of(plan: Plan, results: dict[str, bool], *, maintenance: bool = True) -> State:
    """A State over the plan with one result per listed target (repeated past hysteresis)."""
    state = State(in_maintenance=maintenance_for(plan) if maintenance else None)
    state.apply_plan(plan, WALL - 60)
    for i in range(3):
        for tid, ok in results.items():
            state.record(tid, ProbeResult(ok, 0.01, "" if ok else "timeout"), WALL - 30 + i)
    return state


@pytest.fixture(scope="module")
def demo() -> Plan:
    return load_plan(DEMO)


def tiles(html: str) -> dict[int, str]:
    """Counter number -> data-state of the grid tiles."""
    found = re.findall(r'class="counter [a-z_]+" data-number="(\d+)" data-state="([a-z_]+)"', html)
    return {int(n): s for n, s in found}


def test_inventory_names_are_escaped_on_the_page_and_attributes() -> None:
    plan = load_plan("evil.yaml", EVIL_INVENTORY)
    # everything but the uplink failing: names (and owner teams) show in the faults table
    state = snapshot_of(plan, {t.id: t.entity == "evil/link/isp" for t in plan.targets})
    for lang in ("id", "en"):
        html = render_page(state.snapshot(WALL), plan, lang=lang, reload_ok=False)
        assert "<script" not in html.lower()
        assert "<img" not in html and "<b>A</b>" not in html and "<i>A</i>" not in html
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
        assert "Tim &lt;b&gt;A&lt;/b&gt; &amp; co" in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        # the counter's title attribute cannot be broken out of
        assert re.search(r'title="[^"]*&lt;script&gt;', html)


def test_demo_grid_shows_44_counters_coloured_by_can_serve(demo: Plan) -> None:
    results = {t.id: True for t in demo.targets}
    results["demo/device/gerai-07-pc/tcp-3389"] = False
    del results["demo/device/gerai-12-printer/tcp-9100"]  # no result yet: unknown
    html = render_page(snapshot_of(demo, results).snapshot(WALL), demo)
    grid = tiles(html)
    assert sorted(grid) == list(range(1, 45))
    assert grid[7] == "not_serving"
    assert grid[12] == "unknown"
    assert grid[43] == "maintenance"  # the demo's weekly window covers gerai 43
    assert [n for n, s in grid.items() if s == "serving"] == [
        n for n in range(1, 45) if n not in (7, 12, 43)
    ]
    assert "Gerai (44)" in html and 'lang="id"' in html
    # the fault and the team responsible, by name
    row = re.search(r'<tr data-entity="demo/device/gerai-07-pc".*?</tr>', html)
    assert row and "Tim TI Disdukcapil" in row.group(0) and "timeout" in row.group(0)


def test_english_page(demo: Plan) -> None:
    html = render_page(snapshot_of(demo, {}).snapshot(WALL), demo, lang="en")
    assert 'lang="en"' in html and "Counters (44)" in html and "Internet uplinks" in html
    assert set(tiles(html).values()) <= {"unknown", "maintenance"}
    assert language_of(None) == "id" and language_of("en") == "en" and language_of("EN-gb") == "en"
    assert language_of("fr") == "id"


def test_switch_fault_groups_its_devices(demo: Plan) -> None:
    results = {t.id: True for t in demo.targets}
    behind = [
        t.id
        for t in demo.targets
        if demo.entities[t.entity].depends_on == ("demo/infra/sw-lantai2",)
    ]
    for tid in [*behind, "demo/infra/sw-lantai2/tcp-8022"]:
        results[tid] = False
    snap = snapshot_of(demo, results).snapshot(WALL)
    groups = group_faults(snap.faults, snap.entities)
    assert [g.id for g, _ in groups] == ["demo/infra/sw-lantai2"]
    affected = groups[0][1]
    in_window = {"demo/device/gerai-43-pc", "demo/device/gerai-43-printer"}
    assert {a.id for a in affected} == {demo.target(t).entity for t in behind} - in_window
    assert {snap.entities[e].status for e in in_window} == {"maintenance"}
    assert all(a.status == "unreachable" and a.owner == "kominfo" for a in affected)
    html = render_page(snap, demo)
    assert re.search(r'data-entity="demo/infra/sw-lantai2"[^>]*data-affected="\d+"', html)
    assert tiles(html)[30] == "not_serving" and tiles(html)[5] == "serving"


def test_status_json_has_owners_and_no_addresses(demo: Plan) -> None:
    results = {t.id: True for t in demo.targets}
    # ISP A is down: SIAK (reached only through it) fails too; VClaim goes through ISP B
    for tid in (
        "demo/link/isp-a/web",
        "demo/link/isp-a/tcp",
        "demo/application/dukcapil-siak/http",
    ):
        results[tid] = False
    snap = snapshot_of(demo, results).snapshot(WALL)
    doc = status_json(snap, demo)
    text = json.dumps(doc)
    assert "127." not in text  # addresses (and any credentials in them) never leave
    assert "127." not in render_page(snap, demo)
    links = {x["id"]: x for x in doc["links"]}
    assert links["demo/link/isp-a"]["state"] == "down"
    assert links["demo/link/isp-b"]["state"] == "up"
    assert doc["sites"][0]["internet_up"] is True
    apps = {a["id"]: a for a in doc["applications"]}
    siak = apps["demo/application/dukcapil-siak"]  # reached only through ISP A
    assert siak["status"] == "unreachable" and siak["owner"] == "kominfo"
    assert siak["owner_name"].startswith("Diskominfo")
    assert apps["demo/application/bpjs-kes-vclaim"]["status"] == "up"
    assert apps["demo/application/kemenag-siskohat"]["critical"] is False
    counters = {c["number"]: c for c in doc["counters"]}
    assert counters[7]["can_serve"] is False  # Dukcapil needs SIAK
    assert counters[7]["blocking"] == ["demo/application/dukcapil-siak"]
    assert counters[11]["can_serve"] is True
    assert len(doc["entities"]) == len(demo.entities)


def test_ago_words() -> None:
    assert ago(5, "id") == "baru saja"
    assert ago(125, "id") == "2 mnt"
    assert ago(3 * 3600 + 300, "en") == "3 h 5 min"
    assert ago(5 * 86400, "id") == "5 hari"


def test_maintenance_windows_from_the_inventory() -> None:
    text = DEMO.read_text().replace(
        "    maintenance:\n",
        "    maintenance:\n"
        "      - id: bpjs-upgrade\n"
        "        scope: {agency: bpjs-kes}\n"
        '        start: "2026-03-02 08:00"\n'
        '        end: "2026-03-02 10:00"\n'
        "      - id: isp-b-works\n"
        "        scope: {link: isp-b}\n"
        "        weekly: {days: [sat], start: '22:00', end: '23:00'}\n",
    )
    plan = load_plan("m.yaml", text)
    check = maintenance_for(plan)
    assert check is not None
    wita = zoneinfo.ZoneInfo("Asia/Makassar")

    def at(*when: int) -> float:
        return dt.datetime(*when, tzinfo=wita).timestamp()

    app, pc = "demo/application/bpjs-kes-vclaim", "demo/device/gerai-11-pc"
    assert check(app, at(2026, 3, 2, 9, 0)) and check(pc, at(2026, 3, 2, 9, 0))
    assert not check(app, at(2026, 3, 2, 10, 0))  # end is exclusive
    assert not check(app, at(2026, 3, 2, 7, 59))
    assert not check("demo/device/gerai-07-pc", at(2026, 3, 2, 9, 0))
    assert check("demo/link/isp-b", at(2026, 3, 7, 22, 30))  # a Saturday
    assert not check("demo/link/isp-b", at(2026, 3, 8, 22, 30))
    assert not check("demo/link/isp-a", at(2026, 3, 7, 22, 30))
    assert check("demo/device/gerai-43-pc", at(2026, 3, 8, 3, 0))  # the demo's own window


def test_the_page_comes_from_an_autoescaping_jinja2_template() -> None:
    from monitor.web import statuspage

    for name in ("statuspage.html.j2", "sites.html.j2"):  # the status page, the central page
        template = statuspage.page_template(name)
        assert template.environment.autoescape is True
        assert template.filename is not None and template.filename.endswith(name)
    assert {"statuspage.html.j2", "statuspage.css"} <= set(template.environment.list_templates())
