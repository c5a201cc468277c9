"""The status page: server-rendered HTML for a wall screen, Bahasa Indonesia or English.

No JavaScript: the page reloads itself with a meta refresh. Every text from the inventory
or the state goes through ``html.escape`` (names may contain anything, ``<script>`` too),
and the web app adds a Content-Security-Policy that forbids scripts as a second guard.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Literal

from monitor import __version__
from monitor.i18n import Catalogue, Language
from monitor.plan import Plan
from monitor.state import CounterView, EntityView, LinkView, Snapshot

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

_CSS = """
:root{--bg:#0f1419;--fg:#e6e6e6;--muted:#9aa4ad;--card:#1b2229;--green:#1e8e3e;
--red:#c5221f;--amber:#e37400;--grey:#5f6368;--unknown:#3c4a57}
*{box-sizing:border-box}
body{margin:0;padding:1.2rem 1.6rem;background:var(--bg);color:var(--fg);
font:18px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:1rem 2rem;margin-bottom:.6rem}
h1{font-size:2rem;margin:0}
h2{font-size:1.35rem;margin:1.2rem 0 .5rem;color:var(--muted);text-transform:uppercase;
letter-spacing:.05em}
h3{font-size:1.05rem;margin:0 0 .3rem}
a{color:#8ab4f8}
.muted{color:var(--muted)}
.pill{display:inline-block;padding:.15rem .7rem;border-radius:1rem;font-weight:700}
.banner{background:var(--amber);color:#000;padding:.6rem 1rem;border-radius:.4rem;
font-weight:600}
.links{display:flex;flex-wrap:wrap;gap:.8rem}
.link{background:var(--card);border-left:.6rem solid var(--unknown);padding:.6rem 1rem;
border-radius:.4rem;min-width:18rem}
.link b{font-size:1.2rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.2rem,1fr));gap:.5rem}
.counter{border-radius:.5rem;padding:.4rem .5rem;min-height:5.2rem;display:flex;
flex-direction:column;justify-content:space-between;color:#fff}
.counter .num{font-size:2rem;font-weight:800;line-height:1}
.counter .agency{font-size:.85rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.serving,.up,.l-up{background:var(--green)}
.not_serving,.down,.unreachable,.l-down{background:var(--red)}
.maintenance{background:var(--grey)}
.unknown,.l-unknown{background:var(--unknown)}
.l-degraded{background:var(--amber)}
.link.l-up{border-color:var(--green);background:var(--card)}
.link.l-down{border-color:var(--red);background:var(--card)}
.link.l-degraded{border-color:var(--amber);background:var(--card)}
.link.l-unknown{border-color:var(--unknown);background:var(--card)}
.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:1rem;height:1rem;border-radius:.2rem;
vertical-align:-.15rem;margin-right:.3rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #2c353e;vertical-align:top}
th{color:var(--muted);font-weight:600}
.agencies{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.6rem}
.agencybox{background:var(--card);padding:.6rem .8rem;border-radius:.4rem}
.agencybox ul{list-style:none;margin:0;padding:0}
.agencybox li{display:flex;justify-content:space-between;gap:.5rem;padding:.15rem 0}
.agencybox li .pill{font-size:.8rem;padding:.05rem .5rem;align-self:flex-start;white-space:nowrap}
footer{margin-top:1.5rem;color:var(--muted);font-size:.85rem}
"""


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


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _reasons(snapshot: Snapshot, view: EntityView) -> str:
    reasons = sorted(
        {
            t.reason
            for tid in view.targets
            if (t := snapshot.targets.get(tid)) is not None and t.success is False and t.reason
        }
    )
    return ", ".join(reasons)


def _link_html(link: LinkView, names: Names, lang: Language) -> str:
    t = TEXT.words(lang)
    details = []
    if link.loss_ratio is not None:
        details.append(f"{t['loss']} {link.loss_ratio * 100:.0f}%")
    if link.rtt_median_seconds is not None:
        details.append(f"RTT {link.rtt_median_seconds * 1000:.0f} ms")
    provider = names.providers.get(link.id, "")
    state = link.state if link.status != "maintenance" else "maintenance"
    word = t["s_maintenance"] if state == "maintenance" else t[f"l_{link.state}"]
    pill_class = "maintenance" if state == "maintenance" else f"l-{link.state}"
    return (
        f'<div class="link l-{_e(link.state)}" data-link="{_e(link.id)}" '
        f'data-state="{_e(link.state)}">'
        f"<b>{_e(link.name)}</b>"
        + (f' <span class="muted">{_e(provider)}</span>' if provider else "")
        + f'<div><span class="pill {pill_class}">{_e(word)}</span> '
        f'<span class="muted">{_e(" · ".join(details))}</span></div></div>'
    )


def _counter_html(
    c: CounterView, snapshot: Snapshot, names: Names, lang: Language
) -> tuple[str, CounterState]:
    t = TEXT.words(lang)
    state = counter_state(c, snapshot.entities)
    title = f"{c.name} — {names.agency(c.site, c.agency)} — {t[state]}"
    if state == "not_serving" and c.blocking:
        blocking = [
            entity_label(snapshot.entities[b], lang) for b in c.blocking if b in snapshot.entities
        ]
        title += f" ({t['blocked_by']}: {', '.join(blocking)})"
    html = (
        f'<div class="counter {state}" data-number="{c.number}" data-state="{state}" '
        f'title="{_e(title)}"><span class="num">{c.number}</span>'
        f'<span class="agency">{_e(names.agency(c.site, c.agency, short=True))}</span></div>'
    )
    return html, state


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


def _fault_row(
    view: EntityView, affected: list[EntityView], snapshot: Snapshot, names: Names, lang: Language
) -> str:
    t = TEXT.words(lang)
    owner = view.owner or view.team
    shown = ", ".join(entity_label(a, lang) for a in affected[:12])
    if len(affected) > 12:
        shown += ", …"
    impact = (
        f'<span title="{_e(shown)}">{len(affected)} {_e(t["s_unreachable"].lower())}</span>'
        if affected
        else ""
    )
    return (
        f'<tr data-entity="{_e(view.id)}" data-status="{_e(view.status)}" '
        f'data-owner="{_e(owner)}" data-affected="{len(affected)}">'
        f"<td>{_e(entity_label(view, lang))}</td>"
        f"<td>{_e(t.get('k_' + view.kind, view.kind))}</td>"
        f'<td><span class="pill {_e(view.status)}">{_e(t["s_" + view.status])}</span></td>'
        f"<td>{_e(ago(snapshot.taken_at - view.since, lang))}</td>"
        f"<td><b>{_e(names.team(view.site, owner))}</b></td>"
        f"<td>{impact}</td>"
        f'<td class="muted">{_e(_reasons(snapshot, view))}</td></tr>'
    )


def _applications_html(
    site: str, apps: Iterable[EntityView], names: Names, lang: Language, optional: set[str]
) -> str:
    t = TEXT.words(lang)
    by_agency: dict[str, list[EntityView]] = {}
    for a in apps:
        by_agency.setdefault(a.labels.get("agency", ""), []).append(a)
    boxes = []
    for agency, items in by_agency.items():
        rows = "".join(
            f'<li data-entity="{_e(a.id)}" data-status="{_e(a.status)}"><span>{_e(a.name)}'
            + (f' <span class="muted">({_e(t["optional"])})</span>' if a.id in optional else "")
            + f'</span><span class="pill {_e(a.status)}">{_e(t["s_" + a.status])}</span></li>'
            for a in items
        )
        boxes.append(
            f'<div class="agencybox" data-agency="{_e(agency)}">'
            f"<h3>{_e(names.agency(site, agency))}</h3><ul>{rows}</ul></div>"
        )
    return f'<div class="agencies">{"".join(boxes)}</div>'


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
    out: list[str] = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">'
        f"<title>{_e(t['title'])} — {_e(', '.join(names.sites.get(s, s) for s in site_ids))}"
        f"</title><style>{_CSS}</style></head><body>"
    ]
    if not reload_ok:
        out.append(f'<p class="banner" id="reload-failed">{_e(t["reload_failed"])}</p>')
    for site in snapshot.sites or ():
        sid = site.site
        zone = names.zones.get(sid, first_zone)
        iu = site.internet_up
        iu_word = (
            t["internet_up"] if iu else t["internet_down"] if iu is False else t["internet_unknown"]
        )
        iu_class = "up" if iu else "down" if iu is False else "unknown"
        out.append(
            f'<section class="site" data-site="{_e(sid)}"><header>'
            f"<h1>{_e(names.sites.get(sid, sid))}</h1>"
            f'<span>{_e(t["internet"])}: <span class="pill {iu_class}" id="internet">'
            f"{_e(iu_word)}</span></span>"
            f'<span class="muted">{_e(t["updated"])} {_e(_local_time(snapshot.taken_at, zone))}'
            f'</span><a href="?lang={other}">{_e(t["other_lang"])}</a></header>'
        )
        links = [x for x in snapshot.links if x.site == sid]
        if links:
            out.append(
                f'<h2>{_e(t["uplinks"])}</h2><div class="links" id="uplinks">'
                + "".join(_link_html(x, names, lang) for x in links)
                + "</div>"
            )
        counters = [c for c in snapshot.counters if c.site == sid]
        if counters:
            tiles = [_counter_html(c, snapshot, names, lang) for c in counters]
            totals = {s: sum(1 for _, st in tiles if st == s) for s in TEXT_STATES}
            legend = "".join(
                f'<span><i class="{s}"></i>{_e(t[s])} ({totals[s]})</span>' for s in TEXT_STATES
            )
            out.append(
                f"<h2>{_e(t['counters'])} ({len(counters)})</h2>"
                f'<div class="legend">{legend}</div>'
                f'<div class="grid" id="counters">{"".join(h for h, _ in tiles)}</div>'
            )
        faults = [f for f in snapshot.faults if f.site == sid]
        groups = group_faults(faults, snapshot.entities)
        out.append(f"<h2>{_e(t['faults'])} ({len(groups)})</h2>")
        if groups:
            head = "".join(
                f"<th>{_e(t[k])}</th>"
                for k in ("what", "kind", "status", "since", "team", "affected", "reason")
            )
            rows = "".join(
                _fault_row(f, affected, snapshot, names, lang)
                for f, affected in groups[:MAX_FAULT_ROWS]
            )
            if len(groups) > MAX_FAULT_ROWS:
                more = len(groups) - MAX_FAULT_ROWS
                rows += f'<tr><td colspan="7" class="muted">+{more} {_e(t["more"])}</td></tr>'
            out.append(
                f'<table id="faults"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            )
        else:
            out.append(f'<p id="faults" class="muted">{_e(t["no_faults"])}</p>')
        apps = [e for e in snapshot.entities.values() if e.site == sid and e.kind == "application"]
        if apps:
            out.append(
                f"<h2>{_e(t['applications'])}</h2>"
                + _applications_html(sid, apps, names, lang, optional)
            )
        out.append("</section>")
    out.append(
        f'<footer>mpp-monitor {_e(__version__)} · <a href="/api/v1/status">/api/v1/status</a>'
        ' · <a href="/metrics">/metrics</a></footer></body></html>'
    )
    return "".join(out)


TEXT_STATES: tuple[CounterState, ...] = ("serving", "not_serving", "maintenance", "unknown")
