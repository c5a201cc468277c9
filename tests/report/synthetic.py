"""A synthetic February 2026 of mpp-monitor history whose true availability is known.

The site is tests/report/site.yaml (WITA, Mon-Thu 08:00-16:00, Fri 08:00-11:30, closed on
16 Feb (cuti bersama) and 17 Feb (Tahun Baru Imlek)). The month is built step by step from
the events below, written as OpenMetrics text the way Prometheus would have scraped the
exporter (docs/metrics.md), and the truth is computed from the same construction with
hand-written service-time and maintenance rules: never with monitor.state.calendar or
monitor.report.

Events (site local time, February 2026 unless said):

* E1  Mon 02 10:00-10:45  PC of counter 1 down (it-bpjs)
* E2  Wed 04 13:00-14:30  BPJS VClaim down (it-bpjs)
* E3  Thu 05 20:00-23:00  SIAK down at night: not service time
* E4  Tue 17 09:00-12:00  PC of counter 3 down on a public holiday: not service time
* E5  Tue 10 09:15-10:30  SIAK down inside the inventory window siak-upgrade (the metric
                          says down): excluded as maintenance
* E6  Thu 12 10:00-11:00  both uplinks down (kominfo): both applications unreachable,
                          charged to kominfo; no counter can serve
* E7  Mon 09 13:00-15:00  Telkom alone down (kominfo): applications still up via ICON+
* E8  Wed 18 11:00-12:30  no data at all (monitor down): unknown
* E9  Wed 18 12:30-12:32  every entity says unknown after the restart: unknown
* E10 Mon 23 14:00-14:20  the switch down (kominfo): every device unreachable
* E11 Wed 25 09:00-09:30  printer of counter 4 down (it-dukcapil)
* E12 Thu 26 15:30 - Fri 27 09:00  PC of counter 2 down across the night (it-bpjs)
* E13 Thu 19 10:00-12:00  ICON+ degraded (still up)
* E14 Tue 24 10:00-11:00  the monitor says maintenance for counter 1's PC (no window in the
                          current inventory): excluded for that PC
* E15 Sat 31 Jan 20:00 - Mon 02 09:30  printer of counter 4 down since before the month
* E16 Fri 27 11:15 - Sun 1 Mar 02:00  SIAK down past the end of the month
* E18 Mon 23 09:00-09:40  BPJS VClaim down, one sample of it missing at 09:20 (one
                          incident, the missing step unknown)
* planned windows: siak-upgrade (agency dukcapil, Tue 10 09:00-11:00), bersih-gerai-3
  (counter 3, Wednesdays 15:00-16:00), jaringan-sabtu (team kominfo, Saturdays 07:00-10:00):
  the monitor says maintenance for what they cover (E5 aside).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

WITA = zoneinfo.ZoneInfo("Asia/Makassar")
SITE = "paser"
SITE_YAML = Path(__file__).with_name("site.yaml")
STATUSES = ("up", "down", "unreachable", "maintenance", "unknown")


def at(day: int, hour: int = 0, minute: int = 0, month: int = 2) -> float:
    """Unix seconds of a site-local time in 2026."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=WITA).timestamp()


MONTH_START = at(1)
MONTH_END = at(1, month=3)
DATA_START = at(31, 20, month=1)  # data begins before the month and ends after it
DATA_END = at(1, 4, month=3)


@dataclass(frozen=True)
class Thing:
    """An entity as the exporter labels it."""

    id: str
    kind: str
    team: str
    agency: str = ""
    counter: str = ""
    device: str = ""
    link: str = ""

    def labels(self) -> dict[str, str]:
        out = {"entity": self.id, "site": SITE, "team": self.team, "kind": self.kind}
        for k in ("agency", "counter", "device", "link"):
            v = getattr(self, k)
            if v:
                out[k] = v
        return out


TELKOM = Thing("paser/link/telkom", "link", "kominfo", link="telkom")
ICONPLUS = Thing("paser/link/iconplus", "link", "kominfo", link="iconplus")
SWITCH = Thing("paser/infra/sw-lantai1", "infra", "kominfo", device="sw-lantai1")
VCLAIM = Thing("paser/application/bpjs-vclaim", "application", "it-bpjs", agency="bpjs")
SIAK = Thing("paser/application/dukcapil-siak", "application", "it-dukcapil", agency="dukcapil")
AGENCY_OF = {
    1: ("bpjs", "it-bpjs"),
    2: ("bpjs", "it-bpjs"),
    3: ("dukcapil", "it-dukcapil"),
    4: ("dukcapil", "it-dukcapil"),
}


def device(n: int, name: str) -> Thing:
    agency, team = AGENCY_OF[n]
    return Thing(
        f"paser/device/gerai-{n:02d}-{name}",
        "device",
        team,
        agency=agency,
        counter=f"{n:02d}",
        device=name,
    )


DEVICES = [device(n, d) for n in (1, 2, 3, 4) for d in ("pc", "printer")]
THINGS = [TELKOM, ICONPLUS, SWITCH, VCLAIM, SIAK, *DEVICES]
BY_ID = {t.id: t for t in THINGS}
APP_OF = {1: VCLAIM, 2: VCLAIM, 3: SIAK, 4: SIAK}


def pc(n: int) -> str:
    return f"paser/device/gerai-{n:02d}-pc"


def printer(n: int) -> str:
    return f"paser/device/gerai-{n:02d}-printer"


ALL_DEVICES = [t.id for t in DEVICES]

# (entity, status, start, end, owner team)
Event = tuple[str, str, float, float, str]
EVENTS: list[Event] = [
    (printer(4), "down", DATA_START, at(2, 9, 30), "it-dukcapil"),  # E15
    (pc(1), "down", at(2, 10), at(2, 10, 45), "it-bpjs"),  # E1
    (VCLAIM.id, "down", at(4, 13), at(4, 14, 30), "it-bpjs"),  # E2
    (SIAK.id, "down", at(5, 20), at(5, 23), "it-dukcapil"),  # E3
    (pc(3), "down", at(17, 9), at(17, 12), "it-dukcapil"),  # E4
    (SIAK.id, "down", at(10, 9, 15), at(10, 10, 30), "it-dukcapil"),  # E5
    (TELKOM.id, "down", at(12, 10), at(12, 11), "kominfo"),  # E6
    (ICONPLUS.id, "down", at(12, 10), at(12, 11), "kominfo"),
    (VCLAIM.id, "unreachable", at(12, 10), at(12, 11), "kominfo"),
    (SIAK.id, "unreachable", at(12, 10), at(12, 11), "kominfo"),
    (TELKOM.id, "down", at(9, 13), at(9, 15), "kominfo"),  # E7
    (SWITCH.id, "down", at(23, 14), at(23, 14, 20), "kominfo"),  # E10
    *((d, "unreachable", at(23, 14), at(23, 14, 20), "kominfo") for d in ALL_DEVICES),
    (printer(4), "down", at(25, 9), at(25, 9, 30), "it-dukcapil"),  # E11
    (pc(2), "down", at(26, 15, 30), at(27, 9), "it-bpjs"),  # E12
    (SIAK.id, "down", at(27, 11, 15), at(1, 2, month=3), "it-dukcapil"),  # E16
    (VCLAIM.id, "down", at(23, 9), at(23, 9, 40), "it-bpjs"),  # E18
]
DEGRADED = [(ICONPLUS.id, at(19, 10), at(19, 12))]  # E13
GAPS = [(at(18, 11), at(18, 12, 30))]  # E8: nothing at all
UNKNOWN = [(at(18, 12, 30), at(18, 12, 32))]  # E9: every entity unknown, counters absent
MISSING_AT = [(VCLAIM.id, at(23, 9, 20))]  # E18: one sample of one series not scraped
SAID_MAINTENANCE = [(pc(1), at(24, 10), at(24, 11))]  # E14: no window in the inventory


# --- the inventory's maintenance windows, by hand ---------------------------------------
def _local(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, WITA)


def planned(thing: Thing, t: float) -> bool:
    """Is the entity inside one of site.yaml's maintenance windows at t?"""
    lt = _local(t)
    minutes = lt.hour * 60 + lt.minute
    if thing.agency == "dukcapil" and at(10, 9) <= t < at(10, 11):  # siak-upgrade
        return True
    if thing.counter == "03" and lt.weekday() == 2 and 15 * 60 <= minutes < 16 * 60:
        return True  # bersih-gerai-3
    return thing.team == "kominfo" and lt.weekday() == 5 and 7 * 60 <= minutes < 10 * 60


def counter_planned(n: int, t: float) -> bool:
    """A counter is in maintenance when a window covers it, its devices or its application."""
    things = [BY_ID[pc(n)], BY_ID[printer(n)], APP_OF[n]]
    return any(planned(x, t) for x in things)


CLOSED = {dt.date(2026, 2, 16), dt.date(2026, 2, 17)}


def is_service(t: float) -> bool:
    """Mon-Thu 08:00-16:00, Fri 08:00-11:30, not on 16 or 17 February."""
    lt = _local(t)
    if lt.date() in CLOSED:
        return False
    minutes = lt.hour * 60 + lt.minute + lt.second / 60
    if lt.weekday() <= 3:
        return 8 * 60 <= minutes < 16 * 60
    if lt.weekday() == 4:
        return 8 * 60 <= minutes < 11 * 60 + 30
    return False


# --- the construction, step by step -----------------------------------------------------
class Month:
    """Every entity's status and owner, every counter's can-serve, at each step."""

    def __init__(self, step: int, extra: Sequence[Event] = ()) -> None:
        """The month at step; extra: events added after EVENTS (variants of the site)."""
        self.step = step
        self.n = int((DATA_END - DATA_START) // step)
        self.ts = [DATA_START + k * step for k in range(self.n)]
        n = self.n
        self.status: dict[str, list[str]] = {t.id: ["up"] * n for t in THINGS}
        self.owner: dict[str, list[str]] = {t.id: [""] * n for t in THINGS}
        self.written: dict[str, list[bool]] = {t.id: [True] * n for t in THINGS}
        self.gap = [False] * n
        for k, t in enumerate(self.ts):
            for thing in THINGS:
                if planned(thing, t):
                    self.status[thing.id][k] = "maintenance"
        for eid, a, b in SAID_MAINTENANCE:
            for k in self.steps(a, b):
                self.status[eid][k] = "maintenance"
        for eid, status, a, b, owner in (*EVENTS, *extra):
            for k in self.steps(a, b):
                self.status[eid][k] = status
                self.owner[eid][k] = owner
        for a, b in UNKNOWN:
            for k in self.steps(a, b):
                for thing in THINGS:
                    self.status[thing.id][k] = "unknown"
                    self.owner[thing.id][k] = ""
        for a, b in GAPS:
            for k in self.steps(a, b):
                self.gap[k] = True
        for eid, t in MISSING_AT:
            self.written[eid][self.index(t)] = False
        self.link_state: dict[str, list[str]] = {}
        for link in (TELKOM, ICONPLUS):
            states = [
                "down" if s == "down" else "unknown" if s == "unknown" else "up"
                for s in self.status[link.id]
            ]
            for eid, a, b in DEGRADED:
                if eid == link.id:
                    for k in self.steps(a, b):
                        states[k] = "degraded"
            self.link_state[link.id] = states
        # can serve: every device and the application serving (maintenance with working
        # probes serves); absent while something is unknown
        self.can_serve: dict[int, list[int | None]] = {}
        self.cannot_owner: dict[int, list[str]] = {}
        for c in (1, 2, 3, 4):
            comps = [pc(c), printer(c), APP_OF[c].id]
            values: list[int | None] = []
            owners: list[str] = []
            for k in range(n):
                sts = [self.status[x][k] for x in comps]
                if "unknown" in sts:
                    values.append(None)
                    owners.append("")
                    continue
                failing = [
                    x for x, s in zip(comps, sts, strict=True) if s in ("down", "unreachable")
                ]
                values.append(0 if failing else 1)
                owners.append("+".join(sorted({self.owner[x][k] for x in failing})))
            self.can_serve[c] = values
            self.cannot_owner[c] = owners

    def index(self, t: float) -> int:
        return int((t - DATA_START) // self.step)

    def steps(self, a: float, b: float) -> range:
        """Step indexes whose start lies in [a, b)."""
        lo = max(0, -int(-(a - DATA_START) // self.step))
        hi = min(self.n, -int(-(b - DATA_START) // self.step))
        return range(lo, hi)

    # --- OpenMetrics ------------------------------------------------------------------
    def write_openmetrics(self, out: TextIO) -> None:
        """Every sample, one family after the other, as Prometheus would have scraped it."""

        def labels(pairs: dict[str, str]) -> str:
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(pairs.items()))
            return "{" + inner + "}"

        def series(name: str, pairs: dict[str, str], values: Iterator[tuple[int, str]]) -> None:
            prefix = name + labels({**pairs, "job": "mpp-monitor"}) + " "
            out.writelines(f"{prefix}{v} {self.ts[k]:.0f}\n" for k, v in values)

        out.write("# HELP mpp_entity_status Entity status.\n# TYPE mpp_entity_status gauge\n")
        for thing in THINGS:
            st, ok = self.status[thing.id], self.written[thing.id]
            live = [k for k in range(self.n) if ok[k] and not self.gap[k]]
            for s in STATUSES:
                series(
                    "mpp_entity_status",
                    {**thing.labels(), "status": s},
                    ((k, "1" if st[k] == s else "0") for k in live),
                )
        out.write(
            "# HELP mpp_entity_fault_owner The team that must act.\n"
            "# TYPE mpp_entity_fault_owner gauge\n"
        )
        for thing in THINGS:
            st, ow, ok = self.status[thing.id], self.owner[thing.id], self.written[thing.id]
            teams = sorted({o for o in ow if o})
            for team in teams:
                series(
                    "mpp_entity_fault_owner",
                    {**thing.labels(), "owner_team": team},
                    (
                        (k, "1")
                        for k in range(self.n)
                        if ok[k]
                        and not self.gap[k]
                        and ow[k] == team
                        and st[k] in ("down", "unreachable")
                    ),
                )
        out.write("# HELP mpp_link_state Link state.\n# TYPE mpp_link_state gauge\n")
        for link in (TELKOM, ICONPLUS):
            states = self.link_state[link.id]
            live = [k for k in range(self.n) if not self.gap[k]]
            for s in ("up", "degraded", "down"):
                series(
                    "mpp_link_state",
                    {**link.labels(), "state": s},
                    ((k, "1" if states[k] == s else "0") for k in live),
                )
        out.write("# HELP mpp_can_serve Counter can serve.\n# TYPE mpp_can_serve gauge\n")
        for c in (1, 2, 3, 4):
            agency, team = AGENCY_OF[c]
            values = self.can_serve[c]
            series(
                "mpp_can_serve",
                {"site": SITE, "counter": f"{c:02d}", "agency": agency, "team": team},
                ((k, str(v)) for k, v in enumerate(values) if v is not None and not self.gap[k]),
            )
        out.write("# EOF\n")

    # --- the truth --------------------------------------------------------------------
    def month_steps(self) -> range:
        return self.steps(MONTH_START, MONTH_END)

    def truth_entity(self, thing: Thing) -> Truth:
        """Seconds per class for one entity, from the construction."""
        tr = Truth()
        st, ow, ok = self.status[thing.id], self.owner[thing.id], self.written[thing.id]
        for k in self.month_steps():
            t = self.ts[k]
            if not is_service(t):
                continue
            tr.service += self.step
            present = ok[k] and not self.gap[k]
            if planned(thing, t) or (present and st[k] == "maintenance"):
                tr.maintenance += self.step
            elif not present or st[k] == "unknown":
                tr.unknown += self.step
            else:
                tr.known += self.step
                if st[k] == "up":
                    tr.up += self.step
                else:
                    tr.charge(ow[k], self.step)
        return tr

    def truth_counter(self, c: int) -> Truth:
        """Seconds per class for one counter, from the construction."""
        tr = Truth()
        values, owners = self.can_serve[c], self.cannot_owner[c]
        for k in self.month_steps():
            t = self.ts[k]
            if not is_service(t):
                continue
            tr.service += self.step
            if counter_planned(c, t):
                tr.maintenance += self.step
            elif self.gap[k] or values[k] is None:
                tr.unknown += self.step
            else:
                tr.known += self.step
                if values[k] == 1:
                    tr.up += self.step
                else:
                    tr.charge(owners[k], self.step)
        return tr


@dataclass
class Truth:
    """Seconds of one thing (or a sum of things)."""

    service: float = 0.0
    maintenance: float = 0.0
    unknown: float = 0.0
    known: float = 0.0
    up: float = 0.0
    charged: dict[str, float] | None = None

    def charge(self, owner: str, seconds: float) -> None:
        if self.charged is None:
            self.charged = {}
        self.charged[owner] = self.charged.get(owner, 0.0) + seconds

    def add(self, other: Truth) -> None:
        self.service += other.service
        self.maintenance += other.maintenance
        self.unknown += other.unknown
        self.known += other.known
        self.up += other.up
        for owner, s in (other.charged or {}).items():
            self.charge(owner, s)

    def availability(self) -> float:
        return 100.0 * self.up / self.known

    def own(self, team: str) -> float:
        mine = sum(s for o, s in (self.charged or {}).items() if team in o.split("+"))
        return 100.0 * (1 - mine / self.known)


# Incidents as constructed: (row id, status, start, end, owner). Only those touching
# measured service time: E3 (night), E4 (holiday) and E5 (maintenance) are not listed.
def expected_incidents() -> list[tuple[str, str, float, float, str]]:
    """The incidents the report must list, from the construction."""

    def counter(n: int) -> str:
        return f"counter/{n}"

    out = [
        (printer(4), "down", MONTH_START, at(2, 9, 30), "it-dukcapil"),  # E15
        (counter(4), "cannot_serve", MONTH_START, at(2, 9, 30), "it-dukcapil"),
        (pc(1), "down", at(2, 10), at(2, 10, 45), "it-bpjs"),  # E1
        (counter(1), "cannot_serve", at(2, 10), at(2, 10, 45), "it-bpjs"),
        (VCLAIM.id, "down", at(4, 13), at(4, 14, 30), "it-bpjs"),  # E2
        (counter(1), "cannot_serve", at(4, 13), at(4, 14, 30), "it-bpjs"),
        (counter(2), "cannot_serve", at(4, 13), at(4, 14, 30), "it-bpjs"),
        (TELKOM.id, "down", at(9, 13), at(9, 15), "kominfo"),  # E7
        (TELKOM.id, "down", at(12, 10), at(12, 11), "kominfo"),  # E6
        (ICONPLUS.id, "down", at(12, 10), at(12, 11), "kominfo"),
        (VCLAIM.id, "unreachable", at(12, 10), at(12, 11), "kominfo"),
        (SIAK.id, "unreachable", at(12, 10), at(12, 11), "kominfo"),
        *((counter(n), "cannot_serve", at(12, 10), at(12, 11), "kominfo") for n in (1, 2, 3, 4)),
        (VCLAIM.id, "down", at(23, 9), at(23, 9, 40), "it-bpjs"),  # E18
        (counter(1), "cannot_serve", at(23, 9), at(23, 9, 40), "it-bpjs"),
        (counter(2), "cannot_serve", at(23, 9), at(23, 9, 40), "it-bpjs"),
        (SWITCH.id, "down", at(23, 14), at(23, 14, 20), "kominfo"),  # E10
        *((d, "unreachable", at(23, 14), at(23, 14, 20), "kominfo") for d in ALL_DEVICES),
        *(
            (counter(n), "cannot_serve", at(23, 14), at(23, 14, 20), "kominfo")
            for n in (1, 2, 3, 4)
        ),
        (printer(4), "down", at(25, 9), at(25, 9, 30), "it-dukcapil"),  # E11
        (counter(4), "cannot_serve", at(25, 9), at(25, 9, 30), "it-dukcapil"),
        (pc(2), "down", at(26, 15, 30), at(27, 9), "it-bpjs"),  # E12
        (counter(2), "cannot_serve", at(26, 15, 30), at(27, 9), "it-bpjs"),
        (SIAK.id, "down", at(27, 11, 15), MONTH_END, "it-dukcapil"),  # E16
        (counter(3), "cannot_serve", at(27, 11, 15), MONTH_END, "it-dukcapil"),
        (counter(4), "cannot_serve", at(27, 11, 15), MONTH_END, "it-dukcapil"),
    ]
    return sorted(out, key=lambda x: (x[2], x[0], x[1]))
