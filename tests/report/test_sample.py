"""The committed sample (examples/report-2026-02/) is the whole Paser building of
examples/mpp-paser.yaml, made from tests/report/building.py: every counter has its row, the
hand-written outages show with the right owners, and the month before is compared."""

from __future__ import annotations

import csv
from pathlib import Path

from monitor.inventory import load_plan
from tests.report.building import BUILDING_YAML, building

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "report-2026-02"


def read(name: str) -> list[dict[str, str]]:
    with (SAMPLE / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_the_sample_is_the_whole_building() -> None:
    plan = load_plan(BUILDING_YAML)
    rows = read("availability.csv")
    counters = [r for r in rows if r["level"] == "counter"]
    assert len(counters) == len(plan.counters) == 44
    assert {r["name"] for r in counters} == {c.name for c in plan.counters}
    entities = [r for r in rows if r["level"] in ("link", "infra", "application", "device")]
    assert len(entities) == len(plan.entities) == 183
    assert [r["link"] for r in read("providers.csv")] == ["telkom", "iconplus", "dukcapil-siak"]


def test_the_hand_written_outages_show_with_their_owners() -> None:
    incidents = read("incidents.csv")
    both = [
        r
        for r in incidents
        if r["status"] == "unreachable" and r["start"] == "2026-02-12T10:00:00+08:00"
    ]
    # every application reached over the two ISP uplinks, charged to Kominfo
    assert len(both) >= 10 and {r["owner_team"] for r in both} == {"kominfo"}
    # until the uplinks came back at 11:00, or sooner where the application itself failed
    # (down, its own team's, takes precedence over unreachable)
    assert all(r["end"] <= "2026-02-12T11:00:00+08:00" for r in both)
    assert sum(r["end"] == "2026-02-12T11:00:00+08:00" for r in both) >= len(both) - 2
    switch = [r for r in incidents if r["id"] == "paser/infra/sw-lt2-a" and r["status"] == "down"]
    assert [(r["start"], r["end"]) for r in switch] == [
        ("2026-02-23T13:00:00+08:00", "2026-02-23T13:40:00+08:00")
    ]
    html = (SAMPLE / "report-paser-2026-02.html").read_text(encoding="utf-8")
    assert "(bulan lalu " in html  # January was queried and compared


def test_the_building_history_is_the_same_on_every_run() -> None:
    a, b = building(), building()
    assert [(o.entity, o.start, o.end) for o in a.outages] == [
        (o.entity, o.start, o.end) for o in b.outages
    ]
    assert len(a.outages) > 50
