"""The figures of a monthly report, from the history in Prometheus and the inventory.

Definitions (the report prints them too):

* **service time** S: the site's service hours (``monitor.state.calendar``) within the month.
* **maintenance** M: S covered by a maintenance window from the inventory for the thing,
  or in which the monitor itself said ``maintenance``. Not counted anywhere else.
* **unknown** U: the rest of S in which Prometheus has no value for the thing (monitor or
  Prometheus down, series missing) or the monitor said ``unknown``. Never counted as up.
* **known** K = S − M − U: the denominator.
* **availability** = up / K. For a counter, "up" is "can serve" (``mpp_can_serve`` = 1).
* **own availability** = 1 − (time of K charged to the thing's own team) / K: time a thing
  was ``unreachable`` because another team's parent failed is not counted against it.
* **charged**: ``down`` time is charged to the owner (``mpp_entity_fault_owner``, else
  the entity's team); ``unreachable`` time to the owner of the failed parent
  (``mpp_entity_fault_owner``, else the team of its first parent); a counter's cannot-serve
  time to ``mpp_desk_fault_owner`` if exported, else to the owners of its failing devices
  and applications ("a+b" when several teams were failing at once, "" when none was).
* **incident**: a contiguous span of ``down`` or ``unreachable`` (or cannot-serve), joined
  across gaps of no data no longer than one step, listed when it overlaps K.
* **MTTR** of a team: the mean duration (start to end, wall clock) of the ``down``
  incidents of its own entities, not counting incidents cut by the month's edges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from monitor.hours import Maintenance
from monitor.plan import Counter, Entity, LinkInfo, Plan, SiteInfo, counter_label
from monitor.report.spans import (
    Spans,
    clip,
    intersect,
    merge_across,
    normalize,
    split_by,
    subtract,
    total,
    union,
)
from monitor.state import calendar as cal

FAILED = ("down", "unreachable")
DEFAULT_TARGET = 0.99  # an agency's own availability target when the inventory sets none


@dataclass
class History:
    """What Prometheus holds for one site and month, as spans per value."""

    start: float
    end: float
    step: float
    status: dict[str, dict[str, Spans]] = field(default_factory=dict)  # entity -> status
    owners: dict[str, dict[str, Spans]] = field(default_factory=dict)  # entity -> team
    link_state: dict[str, dict[str, Spans]] = field(default_factory=dict)  # entity -> state
    can_serve: dict[str, dict[str, Spans]] = field(default_factory=dict)  # counter -> "1"/"0"
    counter_status: dict[str, dict[str, Spans]] = field(default_factory=dict)
    counter_owner: dict[str, dict[str, Spans]] = field(default_factory=dict)

    def has_data(self) -> bool:
        """True if any series has any value in the range."""
        return any(
            spans
            for table in (self.status, self.can_serve, self.link_state)
            for by in table.values()
            for spans in by.values()
        )


@dataclass
class Figures:
    """Seconds of one thing (or a sum of things) in the month."""

    service: float = 0.0
    maintenance: float = 0.0
    unknown: float = 0.0
    known: float = 0.0
    up: float = 0.0
    down: float = 0.0
    unreachable: float = 0.0
    degraded: float = 0.0
    # (what, team) -> seconds of K charged; what = down | unreachable | cannot_serve
    charged: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, other: Figures) -> None:
        """Add another thing's figures (for team, agency and site totals)."""
        for name in (
            "service",
            "maintenance",
            "unknown",
            "known",
            "up",
            "down",
            "unreachable",
            "degraded",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, seconds in other.charged.items():
            self.charged[key] = self.charged.get(key, 0.0) + seconds

    def availability(self) -> float | None:
        """up / known (0..1), None without known time."""
        return self.up / self.known if self.known > 0 else None

    def charged_to(self, team: str) -> float:
        """Seconds charged to a team, alone or together with others."""
        return sum(s for (_, key), s in self.charged.items() if team in key.split("+"))

    def own_availability(self, team: str) -> float | None:
        """1 − (time charged to team) / known (0..1), None without known time."""
        if self.known <= 0:
            return None
        return max(0.0, 1.0 - self.charged_to(team) / self.known)


@dataclass
class Row:
    """One line of the availability tables."""

    level: str  # site | team | agency | application | counter | device | infra | link
    id: str
    name: str
    team: str  # owning team
    figures: Figures
    kind: str = ""  # device kind, link kind...
    agency: str = ""
    counter: str = ""
    link: str = ""
    entities: int = 1  # how many things a total row sums

    @property
    def availability(self) -> float | None:
        """up / known."""
        return self.figures.availability()

    @property
    def own(self) -> float | None:
        """Own availability (time charged to other teams not counted)."""
        return self.figures.own_availability(self.team)

    def others(self) -> list[tuple[str, str, float]]:
        """(what, team, seconds) charged to other teams than the owner, largest first."""
        out = [
            (what, key, s)
            for (what, key), s in self.figures.charged.items()
            if self.team not in key.split("+") and s > 0
        ]
        return sorted(out, key=lambda x: (-x[2], x[0], x[1]))


@dataclass
class Incident:
    """A contiguous failure of one thing."""

    start: float
    end: float
    level: str  # application | device | infra | link | counter
    id: str
    name: str
    status: str  # down | unreachable | cannot_serve
    owner: str  # team charged
    team: str  # owning team of the thing
    service: float  # seconds of known service time inside it
    agency: str = ""
    counter: str = ""
    link: str = ""
    cause: str = ""  # failed parents / components
    open_start: bool = False  # began before the month
    open_end: bool = False  # still failing when the month (or the data) ended

    @property
    def duration(self) -> float:
        """Wall-clock seconds from start to end."""
        return self.end - self.start


@dataclass
class TeamSummary:
    """Accountability of one team."""

    team: str
    name: str
    own_down: float  # entity-seconds of its own entities, charged to it
    caused_for_others: float  # entity-seconds of other teams' entities, charged to it
    counters: float  # counter-seconds of cannot-serve charged to it
    incidents: int
    mttr: float | None


@dataclass
class Day:
    """One site-local day: service time and the counters' and applications' figures."""

    date: dt.date
    service: float
    counters: Figures
    applications: Figures


@dataclass
class WindowUse:
    """A maintenance window of the inventory and how much service time it covered."""

    window: Maintenance
    occurrences: int  # within the month
    service: float  # seconds of service time in the month


@dataclass
class Provider:
    """One internet uplink against its contract: availability, SLA, the outages as evidence."""

    link: LinkInfo
    row: Row
    outages: list[Incident]  # its own down incidents in the month, oldest first

    @property
    def met(self) -> bool | None:
        """Availability at or above the contracted SLA; None without an SLA or figures."""
        ratio = self.row.availability
        if self.link.sla is None or ratio is None:
            return None
        return ratio >= self.link.sla - 1e-9

    @property
    def outage_service(self) -> float:
        """Seconds of measured service time the uplink was down."""
        return self.row.figures.down


@dataclass
class Report:
    """Everything one site's monthly report shows."""

    site: SiteInfo
    month: str  # YYYY-MM
    start: float
    end: float
    step: float
    rows: list[Row]
    teams: list[TeamSummary]
    incidents: list[Incident]
    days: list[Day]
    windows: list[WindowUse]
    gaps: Spans  # service time with no data at all for the site
    internet: Figures
    counters_total: Figures
    applications_total: Figures
    team_names: dict[str, str]
    agency_names: dict[str, str]
    source: str = ""  # Prometheus URL (no credentials)
    generated: float = 0.0
    partial: bool = False  # the month had not ended
    previous: Report | None = None  # the month before, for the comparison (None: no data)

    def by_level(self, level: str) -> list[Row]:
        """Rows of one level, in table order."""
        return [r for r in self.rows if r.level == level]

    def row(self, level: str, ident: str) -> Row | None:
        """The row of one thing, None if the month has none."""
        return next((r for r in self.rows if r.level == level and r.id == ident), None)

    def providers(self) -> list[Provider]:
        """Each uplink of the site with its row and its own outages, in inventory order."""
        out = []
        for link in self.site.links:
            row = next((r for r in self.by_level("link") if r.link == link.id), None)
            if row is None:
                continue
            outages = [i for i in self.incidents if i.id == row.id and i.status == "down"]
            out.append(Provider(link, row, outages))
        return out

    def devices_of(self, counter: Row) -> list[Row]:
        """The device rows of a counter row."""
        return [r for r in self.by_level("device") if r.counter == counter.counter]

    def target_of(self, agency: str) -> float:
        """An agency's availability target: its inventory `target`, else DEFAULT_TARGET."""
        info = next((a for a in self.site.agencies if a.id == agency), None)
        return info.target if info is not None and info.target is not None else DEFAULT_TARGET

    def headline(self) -> tuple[float | None, float | None, float | None]:
        """The three big figures (0..1, None without measured time): counters able to serve,
        agency applications (own), internet."""
        apps = self.applications_total
        own_charged = sum(x.figures.charged_to(x.team) for x in self.by_level("application"))
        apps_own = 1 - own_charged / apps.known if apps.known > 0 else None
        return self.counters_total.availability(), apps_own, self.internet.availability()

    def mttr(self) -> float | None:
        """Mean duration of every closed down incident of an entity."""
        d = [i.duration for i in self.incidents if _counts_for_mttr(i)]
        return sum(d) / len(d) if d else None


def _counts_for_mttr(i: Incident) -> bool:
    return i.status == "down" and i.level != "counter" and not (i.open_start or i.open_end)


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _spans(pieces: Iterable[tuple[dt.datetime, dt.datetime]]) -> Spans:
    return normalize((a.timestamp(), b.timestamp()) for a, b in pieces)


@dataclass
class _Calc:
    """Spans of one entity or counter over the month."""

    service: Spans
    maint: Spans
    unknown: Spans
    known: Spans
    up: Spans
    down: Spans  # down (or cannot serve), all month
    unreach: Spans  # all month
    present: Spans  # any value at all, all month
    measured: Spans  # up, down or unreachable (or can serve 0/1), all month
    fault: dict[str, Spans]  # team -> failing time charged to it, all month


class _Builder:
    def __init__(self, plan: Plan, site: SiteInfo, history: History) -> None:
        self.plan = plan
        self.site = site
        self.h = history
        self.window = [(history.start, history.end)]
        self.service = _spans(cal.service_intervals(site, _utc(history.start), _utc(history.end)))
        self.entities = [e for e in plan.entities.values() if e.site == site.id]
        self.counters = [c for c in plan.counters if c.site == site.id]
        self.calc: dict[str, _Calc] = {}
        self.counter_calc: dict[int, _Calc] = {}

    # entities --------------------------------------------------------------------------
    def entity(self, e: Entity) -> _Calc:
        h = self.h
        st = {k: normalize(v) for k, v in h.status.get(e.id, {}).items()}
        present = union(*st.values())
        said_maint = st.get("maintenance", [])
        planned = _spans(
            cal.maintenance_intervals(self.plan, self.site, e.id, _utc(h.start), _utc(h.end))
        )
        maint = intersect(self.service, union(planned, said_maint))
        eligible = subtract(self.service, maint)
        # precedence when a step has several values: down, unreachable, up
        down = st.get("down", [])
        unreach = subtract(st.get("unreachable", []), down)
        up = subtract(st.get("up", []), union(down, unreach))
        known_any = union(up, down, unreach)
        known = intersect(eligible, known_any)
        unknown = subtract(eligible, known_any)
        failing = union(down, unreach)
        fault: dict[str, Spans] = {}
        claimed: Spans = []
        for team, spans in h.owners.get(e.id, {}).items():
            mine = intersect(normalize(spans), failing)
            if mine:
                fault[team] = union(fault.get(team, []), mine)
                claimed = union(claimed, mine)
        rest = subtract(failing, claimed)
        if rest:
            rest_down = intersect(rest, down)
            rest_unreach = intersect(rest, unreach)
            if rest_down:
                fault[e.team] = union(fault.get(e.team, []), rest_down)
            if rest_unreach:
                parent = self._parent_team(e)
                fault[parent] = union(fault.get(parent, []), rest_unreach)
        return _Calc(
            service=self.service,
            maint=maint,
            unknown=unknown,
            known=known,
            up=intersect(up, known),
            down=down,
            unreach=unreach,
            present=present,
            measured=known_any,
            fault=fault,
        )

    def display_name(self, e: Entity) -> str:
        """A counter device's name says which counter: "Gerai 7 · pc"."""
        label = e.labels.get("counter", "")
        if e.kind == "device" and label:
            for c in self.counters:
                if counter_label(c.number) == label:
                    return f"{c.name} · {e.name}"
        return e.name

    def _parent_team(self, e: Entity) -> str:
        for pid in e.depends_on:
            parent = self.plan.entities.get(pid)
            if parent is not None:
                return parent.team
        return ""

    def entity_figures(self, e: Entity, c: _Calc) -> Figures:
        f = Figures(
            service=total(c.service),
            maintenance=total(c.maint),
            unknown=total(c.unknown),
            known=total(c.known),
            up=total(c.up),
        )
        down_k = intersect(c.down, c.known)
        unreach_k = intersect(c.unreach, c.known)
        f.down = total(down_k)
        f.unreachable = total(unreach_k)
        for what, spans in (("down", down_k), ("unreachable", unreach_k)):
            for key, part in split_by(spans, c.fault).items():
                f.charged[(what, key)] = f.charged.get((what, key), 0.0) + total(part)
        if e.kind == "link":
            degraded = normalize(self.h.link_state.get(e.id, {}).get("degraded", []))
            f.degraded = total(intersect(degraded, c.known))
        return f

    # counters --------------------------------------------------------------------------
    def _counter_series(
        self, table: Mapping[str, dict[str, Spans]], c: Counter
    ) -> dict[str, Spans]:
        for label in (counter_label(c.number), str(c.number)):
            if label in table:
                return {k: normalize(v) for k, v in table[label].items()}
        return {}

    def counter(self, c: Counter) -> _Calc:
        h = self.h
        serve_by = self._counter_series(h.can_serve, c)
        serve = serve_by.get("1", [])
        cannot = subtract(union(*(v for k, v in serve_by.items() if k != "1")), serve)
        present = union(serve, cannot)
        said_maint = self._counter_series(h.counter_status, c).get("maintenance", [])
        planned = _spans(
            cal.counter_maintenance_intervals(self.plan, self.site, c, _utc(h.start), _utc(h.end))
        )
        maint = intersect(self.service, union(planned, said_maint))
        eligible = subtract(self.service, maint)
        known = intersect(eligible, present)
        unknown = subtract(eligible, present)
        fault: dict[str, Spans] = {}
        claimed: Spans = []
        for team, spans in self._counter_series(h.counter_owner, c).items():
            mine = intersect(spans, cannot)
            if mine:
                fault[team] = union(fault.get(team, []), mine)
                claimed = union(claimed, mine)
        rest = subtract(cannot, claimed)
        if rest:
            for eid in (*c.devices, *c.applications):
                comp = self.calc.get(eid)
                if comp is None:
                    continue
                # a component's missing sample inside its failure (a gap of up to one
                # step) is still its failure: join across it, as incidents do
                blocked = subtract(comp.present, union(comp.down, comp.unreach))
                for team, spans in comp.fault.items():
                    joined = merge_across(spans, h.step, blocked)
                    mine = intersect(joined, rest)
                    if mine:
                        fault[team] = union(fault.get(team, []), mine)
        return _Calc(
            service=self.service,
            maint=maint,
            unknown=unknown,
            known=known,
            up=intersect(serve, known),
            down=cannot,
            unreach=[],
            present=present,
            measured=present,
            fault=fault,
        )

    def counter_figures(self, c: _Calc) -> Figures:
        f = Figures(
            service=total(c.service),
            maintenance=total(c.maint),
            unknown=total(c.unknown),
            known=total(c.known),
            up=total(c.up),
        )
        down_k = intersect(c.down, c.known)
        f.down = total(down_k)
        for key, part in split_by(down_k, c.fault).items():
            f.charged[("cannot_serve", key)] = total(part)
        return f

    # incidents -------------------------------------------------------------------------
    def incidents_of(
        self, level: str, ident: str, name: str, team: str, labels: Mapping[str, str], c: _Calc
    ) -> list[Incident]:
        out: list[Incident] = []
        kinds: tuple[tuple[str, Spans], ...] = (("down", c.down), ("unreachable", c.unreach))
        if level == "counter":
            kinds = (("cannot_serve", c.down),)
        for status, spans in kinds:
            blocked = subtract(c.present, spans)  # any other value breaks an incident
            for a, b in merge_across(spans, self.h.step, blocked):
                service = total(intersect(intersect(spans, [(a, b)]), c.known))
                if service <= 0:
                    continue
                split = split_by([(a, b)], c.fault)
                owner = max(split.items(), key=lambda kv: (total(kv[1]), kv[0]))[0] if split else ""
                out.append(
                    Incident(
                        start=a,
                        end=b,
                        level=level,
                        id=ident,
                        name=name,
                        status=status,
                        owner=owner,
                        team=team,
                        service=service,
                        agency=labels.get("agency", ""),
                        counter=labels.get("counter", ""),
                        link=labels.get("link", ""),
                        cause=self._cause(level, ident, status, a, b),
                        open_start=a <= self.h.start,
                        open_end=b >= self.h.end,
                    )
                )
        return out

    def _cause(self, level: str, ident: str, status: str, a: float, b: float) -> str:
        if level == "counter":
            counter = next(c for c in self.counters if f"counter/{c.number}" == ident)
            ids: Iterable[str] = (*counter.devices, *counter.applications)
        elif status == "unreachable":
            ids = self.plan.entities[ident].depends_on
        else:
            return ""
        names = []
        for eid in ids:
            comp = self.calc.get(eid)
            if comp is not None and intersect(union(comp.down, comp.unreach), [(a, b)]):
                names.append(self.display_name(self.plan.entities[eid]))
        return ", ".join(names)

    # everything ------------------------------------------------------------------------
    def build(self, month: str) -> Report:
        site = self.site
        rows: list[Row] = []
        incidents: list[Incident] = []
        level_of = {
            "link": "link",
            "infra": "infra",
            "device": "device",
            "application": "application",
        }
        entity_rows: dict[str, Row] = {}
        for e in self.entities:
            c = self.calc[e.id] = self.entity(e)
        for e in self.entities:
            c = self.calc[e.id]
            row = Row(
                level=level_of[e.kind],
                id=e.id,
                name=self.display_name(e),
                team=e.team,
                figures=self.entity_figures(e, c),
                kind=e.labels.get("device", "") if e.kind == "device" else e.kind,
                agency=e.labels.get("agency", ""),
                counter=e.labels.get("counter", ""),
                link=e.labels.get("link", ""),
            )
            entity_rows[e.id] = row
            incidents += self.incidents_of(row.level, e.id, row.name, e.team, e.labels, c)

        counter_rows: list[Row] = []
        for co in self.counters:
            cc = self.counter_calc[co.number] = self.counter(co)
            label = counter_label(co.number)
            ident = f"counter/{co.number}"
            row = Row(
                level="counter",
                id=ident,
                name=co.name,
                team=co.team,
                figures=self.counter_figures(cc),
                agency=co.agency,
                counter=label,
            )
            counter_rows.append(row)
            labels = {"agency": co.agency, "counter": label}
            incidents += self.incidents_of("counter", ident, co.name, co.team, labels, cc)

        team_names = {t.id: t.name for t in site.teams}
        agency_names = {a.id: a.short_name or a.name for a in site.agencies}

        # totals per team and agency (over entities; counters are their own rows)
        for t in site.teams:
            members = [r for r in entity_rows.values() if r.team == t.id]
            if members:
                rows.append(_total("team", t.id, t.name, t.id, members))
        for a in site.agencies:
            members = [r for r in entity_rows.values() if r.agency == a.id]
            if members:
                row = _total("agency", a.id, a.name, a.team, members)
                row.agency = a.id
                rows.append(row)
        order = {"link": 0, "infra": 1, "application": 2, "device": 3}
        rows += sorted(
            entity_rows.values(), key=lambda r: (order[r.level], r.agency, r.counter, r.id)
        )
        rows += counter_rows

        incidents.sort(key=lambda i: (i.start, i.level, i.id))
        teams = self.team_summaries(site, entity_rows, counter_rows, incidents)
        return Report(
            site=site,
            month=month,
            start=self.h.start,
            end=self.h.end,
            step=self.h.step,
            rows=rows,
            teams=teams,
            incidents=incidents,
            days=self.days(),
            windows=self.windows(),
            gaps=self.gaps(),
            internet=self.internet(),
            counters_total=_sum(r.figures for r in counter_rows),
            applications_total=_sum(
                r.figures for r in entity_rows.values() if r.level == "application"
            ),
            team_names=team_names,
            agency_names=agency_names,
        )

    def team_summaries(
        self,
        site: SiteInfo,
        entity_rows: Mapping[str, Row],
        counter_rows: list[Row],
        incidents: list[Incident],
    ) -> list[TeamSummary]:
        out = []
        for t in site.teams:
            own = sum(r.figures.charged_to(t.id) for r in entity_rows.values() if r.team == t.id)
            others = sum(r.figures.charged_to(t.id) for r in entity_rows.values() if r.team != t.id)
            counters = sum(r.figures.charged_to(t.id) for r in counter_rows)
            mine = [i for i in incidents if i.owner and t.id in i.owner.split("+")]
            closed = [i.duration for i in mine if _counts_for_mttr(i)]
            out.append(
                TeamSummary(
                    team=t.id,
                    name=t.name,
                    own_down=own,
                    caused_for_others=others,
                    counters=counters,
                    incidents=sum(1 for i in mine if i.level != "counter"),
                    mttr=sum(closed) / len(closed) if closed else None,
                )
            )
        return out

    def days(self) -> list[Day]:
        tz = self.site.tz
        day = _local_date(self.h.start, self.site)
        last = _local_date(self.h.end - 1, self.site)
        out = []
        apps = [e.id for e in self.entities if e.kind == "application"]
        while day <= last:
            lo = dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp()
            hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz).timestamp()
            counters = Figures()
            for cc in self.counter_calc.values():
                counters.known += total(clip(cc.known, lo, hi))
                counters.up += total(clip(cc.up, lo, hi))
                counters.unknown += total(clip(cc.unknown, lo, hi))
            applications = Figures()
            for eid in apps:
                ac = self.calc[eid]
                applications.known += total(clip(ac.known, lo, hi))
                applications.up += total(clip(ac.up, lo, hi))
            out.append(Day(day, total(clip(self.service, lo, hi)), counters, applications))
            day += dt.timedelta(days=1)
        return out

    def windows(self) -> list[WindowUse]:
        out = []
        start, end = _utc(self.h.start), _utc(self.h.end)
        for w in self.site.maintenance:
            spans = _spans(cal.window_intervals(self.site, w, start, end))
            if not spans:
                continue
            out.append(
                WindowUse(
                    window=w,
                    occurrences=len(spans),
                    service=total(intersect(spans, self.service)),
                )
            )
        return out

    def gaps(self) -> Spans:
        present = union(
            *(c.present for c in self.calc.values()),
            *(c.present for c in self.counter_calc.values()),
        )
        return subtract(self.service, present)

    def internet(self) -> Figures:
        """Up while at least one internet uplink is up (a VPN to one agency is not one)."""
        vpn = {x.id for x in self.site.links if x.kind == "vpn"}
        links = [
            self.calc[e.id]
            for e in self.entities
            if e.kind == "link" and e.labels.get("link", "") not in vpn
        ]
        if not links:
            return Figures()
        maint = links[0].maint
        for lc in links[1:]:
            maint = intersect(maint, lc.maint)
        eligible = subtract(self.service, maint)
        known = intersect(eligible, union(*(lc.measured for lc in links)))
        up = intersect(known, union(*(lc.up for lc in links)))
        return Figures(
            service=total(self.service),
            maintenance=total(maint),
            unknown=total(subtract(eligible, known)),
            known=total(known),
            up=total(up),
            down=total(subtract(known, up)),
        )


def _local_date(ts: float, site: SiteInfo) -> dt.date:
    return dt.datetime.fromtimestamp(ts, site.tz).date()


def _sum(figures: Iterable[Figures]) -> Figures:
    out = Figures()
    for f in figures:
        out.add(f)
    return out


def _total(level: str, ident: str, name: str, team: str, members: list[Row]) -> Row:
    return Row(
        level=level,
        id=ident,
        name=name,
        team=team,
        figures=_sum(r.figures for r in members),
        entities=len(members),
    )


def month_range(site: SiteInfo, month: str) -> tuple[float, float]:
    """Unix seconds of the first instant of the month and of the next, in site local time."""
    year, mon = parse_month(month)
    first = dt.datetime(year, mon, 1, tzinfo=site.tz)
    nxt = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=site.tz)
    return first.timestamp(), nxt.timestamp()


def parse_month(month: str) -> tuple[int, int]:
    """ "2026-02" -> (2026, 2); ValueError with a one-line message otherwise."""
    parts = month.strip().split("-")
    if (
        len(parts) != 2
        or len(parts[0]) != 4
        or len(parts[1]) != 2
        or not (parts[0].isdigit() and parts[1].isdigit())
        or not 1 <= int(parts[1]) <= 12
    ):
        raise ValueError(f"invalid month {month!r}: expected YYYY-MM, e.g. 2026-02")
    return int(parts[0]), int(parts[1])


def previous_month(month: str) -> str:
    """ "2026-03" -> "2026-02"; "2026-01" -> "2025-12"."""
    year, mon = parse_month(month)
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def build_report(plan: Plan, site: SiteInfo, month: str, history: History) -> Report:
    """Compute every figure of one site's report from its history."""
    return _Builder(plan, site, history).build(month)
