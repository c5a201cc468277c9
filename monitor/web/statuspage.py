"""The status page: server-rendered HTML for a wall screen, Bahasa Indonesia or English.

No JavaScript: the page reloads itself with a meta refresh. The markup is the Jinja2
template monitor/web/templates/statuspage.html.j2 (with statuspage.css), autoescape on:
every text from the inventory or the state is escaped (names may contain anything,
``<script>`` too), and the web app adds a Content-Security-Policy that forbids scripts as a
second guard. This module gathers what the template shows.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import jinja2

from monitor import __version__
from monitor.i18n import Catalogue, Language
from monitor.plan import Plan
from monitor.state import CounterView, EntityView, LinkView, SiteView, Snapshot

CounterState = Literal["serving", "not_serving", "maintenance", "unknown"]
FAILED_STATUSES = frozenset({"down", "unreachable"})
MAX_FAULT_ROWS = 30  # a wall screen shows the causes; the API lists everything

TEXT = Catalogue(
    "status-page",
    {
        "title": ("Status layanan", "Service status"),
        "updated": ("Diperbarui", "Updated"),
        "internet": ("Internet", "Internet"),
        "internet_up": ("TERHUBUNG", "CONNECTED"),
        "internet_down": ("TERPUTUS", "DISCONNECTED"),
        "internet_unknown": ("BELUM DIKETAHUI", "UNKNOWN"),
        "uplinks": ("Jalur internet", "Internet uplinks"),
        "counters": ("Gerai", "Counters"),
        "faults": ("Gangguan saat ini", "Current faults"),
        "no_faults": ("Tidak ada gangguan.", "No faults."),
        "applications": ("Aplikasi per instansi", "Applications per agency"),
        "what": ("Perangkat / layanan", "Device / service"),
        "kind": ("Jenis", "Kind"),
        "status": ("Status", "Status"),
        "since": ("Sejak", "Since"),
        "team": ("Tim yang menangani", "Team responsible"),
        "reason": ("Penyebab", "Cause"),
        "affected": ("Terdampak", "Affected"),
        "more": ("gangguan lain (lihat /api/v1/status)", "more faults (see /api/v1/status)"),
        "loss": ("hilang", "loss"),
        "serving": ("Bisa melayani", "Can serve"),
        "not_serving": ("Tidak bisa melayani", "Cannot serve"),
        "maintenance": ("Perawatan", "Maintenance"),
        "unknown": ("Belum diketahui", "Unknown"),
        "s_up": ("Normal", "Up"),
        "s_down": ("Mati", "Down"),
        "s_unreachable": ("Tidak terjangkau", "Unreachable"),
        "s_maintenance": ("Perawatan", "Maintenance"),
        "s_unknown": ("Belum diketahui", "Unknown"),
        "l_up": ("Normal", "Up"),
        "l_degraded": ("Menurun", "Degraded"),
        "l_down": ("Putus", "Down"),
        "l_unknown": ("Belum diketahui", "Unknown"),
        "k_link": ("Jalur internet", "Internet uplink"),
        "k_infra": ("Perangkat jaringan", "Network device"),
        "k_device": ("Perangkat gerai", "Counter device"),
        "k_application": ("Aplikasi", "Application"),
        "counter": ("Gerai", "Counter"),
        "optional": ("tidak wajib", "optional"),
        "just_now": ("baru saja", "just now"),
        "min": ("mnt", "min"),
        "hour": ("jam", "h"),
        "day": ("hari", "d"),
        "ago": ("lalu", "ago"),
        "reload_failed": (
            (
                "Konfigurasi baru gagal dimuat: konfigurasi sebelumnya tetap berjalan (lihat log "
                "layanan)."
            ),
            (
                "The new configuration could not be loaded: the previous one keeps running "
                "(see the service log)."
            ),
        ),
        "other_lang": ("English", "Bahasa Indonesia"),
        "blocked_by": ("terhambat oleh", "blocked by"),
    },
)


@dataclass(frozen=True, slots=True)
class Names:
    """Human names from the inventory: sites, agencies (long and short), teams."""

    sites: Mapping[str, str]
    zones: Mapping[str, str]
    agencies: Mapping[tuple[str, str], tuple[str, str]]  # (site, agency) -> (name, short)
    teams: Mapping[tuple[str, str], str]  # (site, team) -> name
    providers: Mapping[str, str]  # link entity id -> provider

    @classmethod
    def from_plan(cls, plan: Plan | None) -> Names:
        """Collect the names of a plan's inventory (empty without a plan)."""
        sites: dict[str, str] = {}
        zones: dict[str, str] = {}
        agencies: dict[tuple[str, str], tuple[str, str]] = {}
        teams: dict[tuple[str, str], str] = {}
        providers: dict[str, str] = {}
        if plan is not None:
            for s in plan.sites:
                sites[s.id] = s.name
                zones[s.id] = s.timezone
                for a in s.agencies:
                    agencies[(s.id, a.id)] = (a.name, a.short_name or a.name)
                for t in s.teams:
                    teams[(s.id, t.id)] = t.name
                for link in s.links:
                    providers[f"{s.id}/link/{link.id}"] = link.provider
        return cls(sites, zones, agencies, teams, providers)

    def team(self, site: str, team: str) -> str:
        """A team's name, or its id when the inventory has none."""
        return self.teams.get((site, team), team)

    def agency(self, site: str, agency: str, *, short: bool = False) -> str:
        """An agency's (short) name, or its id."""
        names = self.agencies.get((site, agency))
        if names is None:
            return agency
        return names[1] if short else names[0]


def counter_state(counter: CounterView, entities: Mapping[str, EntityView]) -> CounterState:
    """Grid colour: maintenance when every device is in a window, else by "can serve"."""
    devices = [entities[d] for d in counter.devices if d in entities]
    if devices and all(d.status == "maintenance" for d in devices):
        return "maintenance"
    if counter.can_serve is True:
        return "serving"
    if counter.can_serve is False:
        return "not_serving"
    return "unknown"


def entity_label(view: EntityView, lang: Language) -> str:
    """A readable name: counter devices carry their counter number."""
    counter = view.labels.get("counter", "") if view.kind == "device" else ""
    if counter:
        return f"{TEXT.words(lang)['counter']} {counter.lstrip('0') or '0'} · {view.name}"
    return view.name


def ago(seconds: float, lang: Language) -> str:
    """A short elapsed time: "baru saja", "12 mnt", "2 jam 5 mnt"."""
    t = TEXT.words(lang)
    s = max(0, int(seconds))
    if s < 60:
        return t["just_now"]
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} {t['min']}"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} {t['hour']} {minutes} {t['min']}"
    return f"{hours // 24} {t['day']}"


def _local_time(wall: float, zone: str) -> str:
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    when = dt.datetime.fromtimestamp(wall, tz)
    return f"{when:%d-%m-%Y %H:%M:%S} {when.tzname() or ''}".strip()


def _reasons(snapshot: Snapshot, view: EntityView) -> str:
    reasons = sorted(
        {
            t.reason
            for tid in view.targets
            if (t := snapshot.targets.get(tid)) is not None and t.success is False and t.reason
        }
    )
    return ", ".join(reasons)


def _link(link: LinkView, names: Names, t: Mapping[str, str]) -> dict[str, str]:
    details = []
    if link.loss_ratio is not None:
        details.append(f"{t['loss']} {link.loss_ratio * 100:.0f}%")
    if link.rtt_median_seconds is not None:
        details.append(f"RTT {link.rtt_median_seconds * 1000:.0f} ms")
    maintenance = link.status == "maintenance"
    return {
        "id": link.id,
        "state": link.state,
        "name": link.name,
        "provider": names.providers.get(link.id, ""),
        "pill": "maintenance" if maintenance else f"l-{link.state}",
        "word": t["s_maintenance"] if maintenance else t[f"l_{link.state}"],
        "details": " · ".join(details),
    }


def _counter(
    c: CounterView, snapshot: Snapshot, names: Names, lang: Language
) -> dict[str, str | int]:
    t = TEXT.words(lang)
    state = counter_state(c, snapshot.entities)
    title = f"{c.name} — {names.agency(c.site, c.agency)} — {t[state]}"
    if state == "not_serving" and c.blocking:
        blocking = [
            entity_label(snapshot.entities[b], lang) for b in c.blocking if b in snapshot.entities
        ]
        title += f" ({t['blocked_by']}: {', '.join(blocking)})"
    return {
        "number": c.number,
        "state": state,
        "title": title,
        "agency": names.agency(c.site, c.agency, short=True),
    }


def root_causes(view: EntityView, entities: Mapping[str, EntityView]) -> list[str]:
    """The down entities an unreachable one waits for (following failed parents)."""
    out: list[str] = []
    seen: set[str] = set()
    stack = [view.id]
    while stack:
        eid = stack.pop()
        if eid in seen:
            continue
        seen.add(eid)
        v = entities.get(eid)
        if v is None:
            continue
        if eid != view.id and v.status == "down":
            out.append(eid)
            continue
        stack.extend(
            p for p in v.depends_on if p in entities and entities[p].status in FAILED_STATUSES
        )
    return sorted(out)


def group_faults(
    faults: Iterable[EntityView], entities: Mapping[str, EntityView]
) -> list[tuple[EntityView, list[EntityView]]]:
    """Root faults (down, or unreachable with no known cause) with what they make unreachable."""
    affected: dict[str, list[EntityView]] = {}
    roots: list[EntityView] = []
    for f in faults:
        causes = root_causes(f, entities) if f.status == "unreachable" else []
        if not causes:
            roots.append(f)
        for c in causes:
            affected.setdefault(c, []).append(f)
    return [(r, affected.get(r.id, [])) for r in roots]


def _fault(
    view: EntityView, affected: list[EntityView], snapshot: Snapshot, names: Names, lang: Language
) -> dict[str, str | int]:
    t = TEXT.words(lang)
    owner = view.owner or view.team
    shown = ", ".join(entity_label(a, lang) for a in affected[:12])
    if len(affected) > 12:
        shown += ", …"
    return {
        "id": view.id,
        "status": view.status,
        "owner": owner,
        "affected": len(affected),
        "affected_names": shown,
        "label": entity_label(view, lang),
        "kind": t.get("k_" + view.kind, view.kind),
        "status_word": t["s_" + view.status],
        "since": ago(snapshot.taken_at - view.since, lang),
        "owner_name": names.team(view.site, owner),
        "reasons": _reasons(snapshot, view),
    }


def _agencies(
    site: str, apps: Iterable[EntityView], names: Names, lang: Language, optional: set[str]
) -> list[dict[str, object]]:
    t = TEXT.words(lang)
    by_agency: dict[str, list[EntityView]] = {}
    for a in apps:
        by_agency.setdefault(a.labels.get("agency", ""), []).append(a)
    return [
        {
            "id": agency,
            "name": names.agency(site, agency),
            "apps": [
                {
                    "id": a.id,
                    "status": a.status,
                    "name": a.name,
                    "optional": a.id in optional,
                    "word": t["s_" + a.status],
                }
                for a in items
            ],
        }
        for agency, items in by_agency.items()
    ]


def _site(
    site: SiteView, snapshot: Snapshot, names: Names, lang: Language, zone: str, optional: set[str]
) -> dict[str, object]:
    """What the template shows of one site."""
    t = TEXT.words(lang)
    sid = site.site
    iu = site.internet_up
    counters = [_counter(c, snapshot, names, lang) for c in snapshot.counters if c.site == sid]
    groups = group_faults([f for f in snapshot.faults if f.site == sid], snapshot.entities)
    apps = [e for e in snapshot.entities.values() if e.site == sid and e.kind == "application"]
    return {
        "id": sid,
        "name": names.sites.get(sid, sid),
        "internet_word": (
            t["internet_up"] if iu else t["internet_down"] if iu is False else t["internet_unknown"]
        ),
        "internet_class": "up" if iu else "down" if iu is False else "unknown",
        "updated": _local_time(snapshot.taken_at, names.zones.get(sid, zone)),
        "links": [_link(x, names, t) for x in snapshot.links if x.site == sid],
        "counters": counters,
        "totals": [(s, sum(1 for c in counters if c["state"] == s)) for s in TEXT_STATES],
        "fault_count": len(groups),
        "faults": [
            _fault(f, affected, snapshot, names, lang) for f, affected in groups[:MAX_FAULT_ROWS]
        ],
        "more": max(0, len(groups) - MAX_FAULT_ROWS),
        "agencies": _agencies(sid, apps, names, lang, optional),
    }


@functools.cache
def page_template(name: str) -> jinja2.Template:
    """A page template of monitor/web/templates (autoescape on, undefined names are errors);
    the status page's and the central page's (monitor/web/sites.py)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name)


def render_page(
    snapshot: Snapshot,
    plan: Plan | None,
    *,
    lang: Language = "id",
    refresh_seconds: int = 10,
    reload_ok: bool = True,
) -> str:
    """Render the whole status page as one HTML document."""
    t = TEXT.words(lang)
    names = Names.from_plan(plan)
    optional = (
        {e.id for e in plan.entities.values() if e.kind == "application" and not e.critical}
        if plan
        else set()
    )
    other: Language = "en" if lang == "id" else "id"
    site_ids = [s.site for s in snapshot.sites] or list(names.sites)
    first_zone = names.zones.get(site_ids[0], "Asia/Makassar") if site_ids else "Asia/Makassar"
    return page_template("statuspage.html.j2").render(
        lang=lang,
        t=t,
        refresh=int(refresh_seconds),
        title_sites=", ".join(names.sites.get(s, s) for s in site_ids),
        reload_ok=reload_ok,
        other=other,
        sites=[_site(x, snapshot, names, lang, first_zone, optional) for x in snapshot.sites],
        version=__version__,
    )


TEXT_STATES: tuple[CounterState, ...] = ("serving", "not_serving", "maintenance", "unknown")
