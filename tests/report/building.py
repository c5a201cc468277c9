"""A synthetic January and February 2026 for the whole Paser building (examples/mpp-paser.yaml:
44 counters, 183 entities), so the committed sample report shows the real size.

Outages are drawn from a seeded random generator (the same history on every run) inside the
building's service hours, plus a few written by hand: an outage of both ISP uplinks (every
application unreachable, charged to Kominfo), a floor switch failing (its counters' devices
unreachable), one uplink well below its contracted SLA. Dependencies follow the inventory
(``depends_on``: unreachable when every parent is failing); a counter can serve when its
devices and its agency's critical applications are up. Only the active value of each enum
is written (the report keeps ``== 1`` only), one sample per step.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from monitor.inventory import load_plan
from monitor.plan import Entity, Plan, SiteInfo, counter_label
from monitor.state import calendar as cal

ROOT = Path(__file__).resolve().parents[2]
BUILDING_YAML = ROOT / "examples" / "mpp-paser.yaml"
FAILING = ("down", "unreachable")


@dataclass
class Outage:
    """One thing down over [start, end), charged to its own team."""

    entity: str
    start: float
    end: float


@dataclass
class Building:
    """The building's history over [start, end) at one step, built from outages."""

    plan: Plan
    site: SiteInfo
    start: float
    end: float
    step: int
    outages: list[Outage] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return int((self.end - self.start) // self.step)

    def down_steps(self) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for o in self.outages:
            lo = max(0, int((o.start - self.start) // self.step))
            hi = min(self.steps, int(-(-(o.end - self.start) // self.step)))
            out.setdefault(o.entity, set()).update(range(lo, hi))
        return out

    def write_openmetrics(self, out: TextIO) -> None:
        """Every entity's status and owner, link states and counters' can-serve."""
        entities = [e for e in self.plan.entities.values() if e.site == self.site.id]
        order = _topological(entities)
        down = self.down_steps()
        status: dict[str, list[str]] = {e.id: ["up"] * self.steps for e in entities}
        owner: dict[str, list[str]] = {e.id: [""] * self.steps for e in entities}
        for e in order:
            st, ow, mine = status[e.id], owner[e.id], down.get(e.id, set())
            for k in range(self.steps):
                if k in mine:
                    st[k], ow[k] = "down", e.team
                elif e.depends_on and all(status[p][k] in FAILING for p in e.depends_on):
                    st[k], ow[k] = "unreachable", owner[e.depends_on[0]][k]
        ts = [f"{self.start + k * self.step:.0f}" for k in range(self.steps)]

        def series(name: str, labels: dict[str, str], ks: Iterable[int]) -> None:
            inner = ",".join(f'{a}="{b}"' for a, b in sorted(labels.items()) if b)
            prefix = f'{name}{{{inner},job="mpp-monitor"}} 1 '
            out.writelines(f"{prefix}{ts[k]}\n" for k in ks)

        out.write("# HELP mpp_entity_status Entity status.\n# TYPE mpp_entity_status gauge\n")
        for e in entities:
            for s in ("up", "down", "unreachable"):
                ks = [k for k, v in enumerate(status[e.id]) if v == s]
                if ks:
                    series("mpp_entity_status", {**e.labels, "status": s}, ks)
        out.write(
            "# HELP mpp_entity_fault_owner The team that must act.\n"
            "# TYPE mpp_entity_fault_owner gauge\n"
        )
        for e in entities:
            for team in sorted({t for t in owner[e.id] if t}):
                ks = [k for k, t in enumerate(owner[e.id]) if t == team]
                series("mpp_entity_fault_owner", {**e.labels, "owner_team": team}, ks)
        out.write("# HELP mpp_link_state Link state.\n# TYPE mpp_link_state gauge\n")
        for e in entities:
            if e.kind == "link":
                for s in ("up", "down"):
                    ks = [k for k, v in enumerate(status[e.id]) if v == s]
                    if ks:
                        series("mpp_link_state", {**e.labels, "state": s}, ks)
        out.write("# HELP mpp_can_serve Counter can serve.\n# TYPE mpp_can_serve gauge\n")
        for c in self.plan.counters:
            if c.site != self.site.id:
                continue
            comps = [*c.devices, *c.applications]
            labels = {"site": c.site, "counter": counter_label(c.number), "agency": c.agency}
            labels["team"] = c.team
            inner = ",".join(f'{a}="{b}"' for a, b in sorted(labels.items()))
            for k in range(self.steps):
                ok = all(status[x][k] not in FAILING for x in comps if x in status)
                out.write(f'mpp_can_serve{{{inner},job="mpp-monitor"}} {int(ok)} {ts[k]}\n')
        out.write("# EOF\n")


def _topological(entities: list[Entity]) -> list[Entity]:
    """Parents before children."""
    by_id = {e.id: e for e in entities}
    done: dict[str, Entity] = {}

    def visit(e: Entity) -> None:
        if e.id in done:
            return
        for p in e.depends_on:
            if p in by_id:
                visit(by_id[p])
        done[e.id] = e

    for e in entities:
        visit(e)
    return list(done.values())


def _service_days(site: SiteInfo, start: float, end: float) -> list[tuple[float, float]]:
    utc = dt.UTC
    pieces = cal.service_intervals(
        site, dt.datetime.fromtimestamp(start, utc), dt.datetime.fromtimestamp(end, utc)
    )
    return [(a.timestamp(), b.timestamp()) for a, b in pieces]


def _local(site: SiteInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=site.tz).timestamp()


def random_outages(
    b: Building, rnd: random.Random, month_start: float, month_end: float, scale: float
) -> None:
    """Outages in service time: uplinks, applications, devices; scale sets how many."""
    days = _service_days(b.site, month_start, month_end)
    entities = [e for e in b.plan.entities.values() if e.site == b.site.id]

    def draw(entity: str, count: int, shortest: int, longest: int) -> None:
        for _ in range(count):
            a, z = rnd.choice(days)
            length = 60 * rnd.randint(shortest, longest)
            start = a + 60 * rnd.randrange(0, max(1, int((z - a) // 60) - 10))
            b.outages.append(Outage(entity, start, start + length))

    for e in entities:
        if e.kind == "link":
            telkom = e.labels.get("link") == "telkom"  # the unstable one of the trial month
            draw(e.id, round(scale * (6 if telkom else 2)), 15, 120)
        elif e.kind == "application":
            draw(e.id, rnd.choice((0, 1, 1, 2, 3)), 10, 90)
        elif e.kind == "device" and rnd.random() < 0.3 * scale:
            draw(e.id, rnd.choice((1, 1, 2)), 20, 240)


def building(step: int = 300, seed: int = 2026) -> Building:
    """January and February 2026 (site time) of the Paser building."""
    plan = load_plan(BUILDING_YAML)
    site = plan.site("paser")
    jan, feb, mar = (_local(site, 2026, m, 1, 0) for m in (1, 2, 3))
    b = Building(plan, site, jan, mar, step)
    rnd = random.Random(seed)
    random_outages(b, rnd, jan, feb, 0.5)
    random_outages(b, rnd, feb, mar, 1.0)
    # by hand, February: both ISP uplinks down on Thursday 12 (every application over the
    # internet unreachable, charged to Kominfo); the floor-2 switch down on Monday 23
    for entity, (day, h0, m0, h1, m1) in (
        ("paser/link/telkom", (12, 10, 0, 11, 0)),
        ("paser/link/iconplus", (12, 10, 0, 11, 0)),
        ("paser/infra/sw-lt2-a", (23, 13, 0, 13, 40)),
    ):
        start = _local(site, 2026, 2, day, h0, m0)
        b.outages.append(Outage(entity, start, _local(site, 2026, 2, day, h1, m1)))
    return b
