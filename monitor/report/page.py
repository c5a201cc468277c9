"""The report as one self-contained, printable HTML file (inline CSS, inline SVG, no JS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from html import escape
from pathlib import Path

import jinja2
from markupsafe import Markup

from monitor.hours import Maintenance
from monitor.report.columns import (
    AGENCIES,
    APPLICATIONS,
    CLOSED,
    COUNTERS,
    GAPS,
    INCIDENTS,
    INFRA,
    LINKS,
    MAINTENANCE,
    OUTAGES,
    PROVIDERS,
    TEAMS,
    WORST,
    html_table,
)
from monitor.report.compute import Figures, Incident, Provider, Report, Row
from monitor.report.i18n import DEFINITIONS, Lang
from monitor.report.spans import total
from monitor.state import calendar as cal

GOOD, WARN = 0.99, 0.95
TEMPLATE = "report.html.j2"
SECTIONS = (
    "summary",
    "charts",
    "agencies",
    "applications",
    "counters",
    "providers",
    "links",
    "teams",
    "worst",
    "incidents",
    "infra",
    "maintenance",
    "gaps",
    "closed",
    "definitions",
)


def environment(templates: Path | None = None) -> jinja2.Environment:
    """Jinja2 with autoescape: templates from the folder given, then the package's own."""
    package = jinja2.PackageLoader("monitor.report", "templates")
    loader: jinja2.BaseLoader = package
    if templates is not None:
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(templates), package])
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["css_string"] = css_string
    return env


def render_page(templates: Path | None, name: str, lang: Lang, **values: object) -> str:
    """Template name (from templates, else the package's) in lang, ending in one newline."""
    env = environment(templates)
    html = env.get_template(name).render(lang=lang.code, t=lang.t, **values)
    return html if html.endswith("\n") else html + "\n"


def css_string(text: str) -> Markup:
    """Text as a quoted CSS string (for @page content): anything but letters, digits and a
    few signs as a CSS escape, so no quote, backslash or "</style>" gets through."""
    safe = " .,:;()-_+/"
    # an escape ends at its first whitespace, which it swallows: give it one of its own
    body = "".join(c if c.isalnum() or c in safe else f"\\{ord(c):x} " for c in text)
    return Markup(f'"{body}"')  # noqa: S704 - escaped above


def ratio_class(ratio: float | None) -> str:
    """The CSS class of a ratio: good (99 % and up), warn (95 % and up), bad; "" for none."""
    if ratio is None:
        return ""
    return "good" if ratio >= GOOD else "warn" if ratio >= WARN else "bad"


def _color(ratio: float | None) -> str:
    if ratio is None:
        return "#b8c0c8"
    return "#2e8b47" if ratio >= GOOD else "#e0a100" if ratio >= WARN else "#c8362d"


class Page:
    """Render one Report in one language."""

    def __init__(self, report: Report, lang: Lang) -> None:
        self.r: Report = report
        self.lang: Lang = lang
        self.t: Callable[[str], str] = lang.t

    # helpers ---------------------------------------------------------------------------
    def team(self, key: str) -> str:
        """Team names ("a+b" -> "A + B"); "cause unknown" for none."""
        if not key:
            return self.t("unexplained")
        return " + ".join(self.r.team_names.get(k, k) for k in key.split("+"))

    def agency(self, key: str) -> str:
        return self.r.agency_names.get(key, key)

    def team_short(self, key: str) -> str:
        return key.replace("+", " + ") if key else self.t("unexplained")

    def counter_name(self, label: str) -> str:
        """ "07" -> the counter's name from the inventory ("Gerai 7")."""
        row = next((r for r in self.r.by_level("counter") if r.counter == label), None)
        return row.name if row is not None else label

    def link_name(self, key: str) -> str:
        return next((x.name for x in self.r.site.links if x.id == key), key)

    def devices_text(self, row: Row) -> str:
        """A counter's devices and their availability, e.g. "pc 99,10 %; printer 100,00 %"."""
        prefix = f"{row.name} · "
        parts = [
            f"{escape(d.name.removeprefix(prefix))} "
            f'<span class="{ratio_class(d.availability)}">{self.lang.pct(d.availability)}</span>'
            for d in self.r.devices_of(row)
        ]
        return "; ".join(parts)

    def incident_cause(self, i: Incident) -> str:
        """Why, in plain words, and who fixes it."""
        t = self.t
        if i.status == "down":
            why = t("why_down").format(name=i.name)
        elif i.status == "unreachable":
            why = (
                t("why_unreachable").format(parts=i.cause)
                if i.cause
                else t("why_unreachable_unknown")
            )
        else:
            why = t("why_counter").format(parts=i.cause) if i.cause else t("why_counter_unknown")
        return f"{why} {t('why_owner').format(team=self.team(i.owner))}"

    def previous_row(self, row: Row) -> Row | None:
        prev = self.r.previous
        return prev.row(row.level, row.id) if prev is not None else None

    def prev_pct_td(self, row: Row, own: bool) -> str:
        """Last month's (own) availability of the same row, and the change in points."""
        before = self.previous_row(row)
        if before is None:
            return "<td class=n>—</td>"
        then, now = (before.own, row.own) if own else (before.availability, row.availability)
        change = self.delta(then, now)
        return f'<td class="n">{self.lang.pct(then)}<br><span class=small>{change}</span></td>'

    def delta(self, then: float | None, now: float | None) -> str:
        """ "+0,62 poin" / "−1,20 poin"; empty without both figures."""
        return self.lang.delta(then, now)

    def target_td(self, row: Row) -> str:
        """The agency's target and whether its own availability met it."""
        target = self.r.target_of(row.id)
        own = row.own
        if own is None:
            return f'<td class="n">{self.lang.pct(target)}</td>'
        met = own >= target - 1e-9
        word = self.t("met" if met else "missed")
        return (
            f'<td class="n">{self.lang.pct(target)}<br>'
            f'<span class="{"good" if met else "bad"}">{escape(word)}</span></td>'
        )

    def local(self, ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, self.r.site.tz)

    def mttr(self, seconds: float | None) -> str:
        return "—" if seconds is None else self.lang.duration(seconds)

    def units(self, *keys: str) -> str:
        """A note saying which columns are in hours."""
        names = ", ".join(self.t(k) for k in keys)
        return f"<p class=small>{escape(names)}: {escape(self.t('hours'))}</p>"

    def pct_td(self, ratio: float | None) -> str:
        return f'<td class="n {ratio_class(ratio)}">{self.lang.pct(ratio)}</td>'

    def h_td(self, seconds: float) -> str:
        return f'<td class="n">{self.lang.num(seconds / 3600, 2)}</td>'

    def charged_text(self, row: Row) -> str:
        """E.g. "0,60 % tak terjangkau dibebankan ke kominfo"."""
        known = row.figures.known
        if known <= 0:
            return ""
        parts = [
            f"{self.lang.pct(s / known)} {self.t('s_' + what)} {self.t('charged_to')} "
            f"{escape(self.team(key))}"
            for what, key, s in row.others()
        ]
        return "; ".join(parts)

    def team_total(self, team: str) -> Row | None:
        return next((row for row in self.r.by_level("team") if row.id == team), None)

    # sections --------------------------------------------------------------------------
    def render(self, templates: Path | None = None) -> str:
        """The page from templates/report.html.j2 (or the one in templates, if given)."""
        r, t = self.r, self.t
        month_name = self.lang.month_named(r.month)
        first, last = self.local(r.start), self.local(r.end)
        names = {x.id: x.name for x in r.site.teams}
        signed = self.local(r.generated)
        sections = {
            name: Markup(getattr(self, name)())  # noqa: S704 - every section escapes its text
            for name in SECTIONS
        }
        return render_page(
            templates,
            TEMPLATE,
            self.lang,
            title=f"{t('title')} — {r.site.name} — {month_name}",
            footer=f"{r.site.name} · {t('title')} {month_name}",
            site=r.site,
            month_name=month_name,
            period=f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}",
            step=f"{r.step:g}",
            source=r.source,
            generated=f"{self.local(r.generated):%Y-%m-%d %H:%M}",
            signed_on=f"{signed.day} {self.lang.month(signed.year, signed.month)}",
            partial=r.partial,
            manager=names.get(r.site.manager_team or "", ""),
            network=names.get(r.site.network_team, r.site.network_team),
            sections=sections,
        )

    def summary(self) -> str:
        """Page one: the findings in sentences, then the key figures."""
        r, t, lang = self.r, self.t, self.lang
        prev = r.previous
        n_incidents = sum(1 for i in r.incidents if i.level != "counter")
        mttr = r.mttr()
        service = sum(d.service for d in r.days)
        counters, apps, internet = r.headline()
        before = prev.headline() if prev is not None else (None, None, None)
        kpis = [
            (lang.pct(counters), t("kpi_counters"), self.delta(before[0], counters)),
            (lang.pct(apps), t("kpi_apps"), self.delta(before[1], apps)),
            (lang.pct(internet), t("kpi_internet"), self.delta(before[2], internet)),
            (str(n_incidents), t("kpi_incidents"), ""),
            (lang.duration(mttr) if mttr is not None else "—", t("kpi_mttr"), ""),
            (lang.hours(service), t("kpi_service"), ""),
            (lang.hours(total(r.gaps)), t("kpi_unknown"), ""),
            (lang.hours(sum(w.service for w in r.windows)), t("kpi_maint"), ""),
        ]
        cards = "".join(
            f'<div class="kpi"><div class="v">{escape(v)}</div>'
            f'<div class="l">{escape(k)}</div>'
            + (f'<div class="l">{escape(t("c_prev"))}: {escape(d)}</div>' if d else "")
            + "</div>"
            for v, k, d in kpis
        )
        items = "".join(f"<li>{x}</li>" for x in self.findings())
        return (
            f'<section class="summary"><h2>{t("exec_summary")}</h2><ul class="findings">{items}'
            f'</ul><div class="kpis">{cards}</div></section>'
        )

    def findings(self) -> list[str]:
        """The executive summary's sentences, as HTML (every name escaped)."""
        r, t, lang = self.r, self.t, self.lang
        counters, _, internet = r.headline()
        service = sum(d.service for d in r.days)
        prev = r.previous.headline() if r.previous is not None else None

        def compared(now: float | None, index: int) -> str:
            if prev is None or prev[index] is None:
                return ""
            change = t("es_prev").format(
                pct=lang.pct(prev[index]), delta=self.delta(prev[index], now)
            )
            return f" ({escape(change)})"

        n = len(r.by_level("counter"))
        out = [
            escape(
                t("es_counters").format(
                    pct=lang.pct(counters), n=n, hours=lang.num(service / 3600, 1)
                )
            )
            + compared(counters, 0)
        ]
        links = [escape(t("es_internet").format(pct=lang.pct(internet))) + compared(internet, 2)]
        for p in r.providers():
            key = {None: "es_link_nosla", True: "es_link_met", False: "es_link_missed"}[p.met]
            words = t(key).format(
                name=p.link.name,
                pct=lang.pct(p.row.availability),
                sla=lang.pct(p.link.sla),
                down=lang.duration(p.outage_service),
            )
            links.append(f'<span class="{"bad" if p.met is False else ""}">{escape(words)}</span>')
        out.append(" ".join(links))
        below = []
        for row in r.by_level("agency"):
            target = r.target_of(row.id)
            if row.own is not None and row.own < target - 1e-9:
                goal = f"{t('c_target')} {lang.pct(target)}"
                below.append(f"{self.agency(row.id)} {lang.pct(row.own)} ({goal})")
        out.append(
            escape(t("es_below").format(items="; ".join(below)) if below else t("es_all_met"))
        )
        # the shared things (uplinks, network, applications) stop many counters at once
        worst = sorted(
            (i for i in r.incidents if i.level in ("link", "infra", "application")),
            key=lambda i: (-i.service, i.start, i.id),
        )[:3]
        if worst:
            lines = "".join(
                f"<li>{escape(i.name)}: {escape(lang.duration(i.service))} — "
                f"{escape(self.incident_cause(i))}</li>"
                for i in worst
            )
            out.append(f"{escape(t('es_worst'))}<ol>{lines}</ol>")
        rated = [x for x in r.by_level("counter") if x.availability is not None]
        lowest = sorted(rated, key=lambda x: (x.availability or 0.0, x.id))[:3]
        if lowest and (lowest[0].availability or 0.0) < 1:
            items = "; ".join(f"{x.name} {lang.pct(x.availability)}" for x in lowest)
            out.append(escape(t("es_lowest").format(items=items)))
        if r.previous is None:
            out.append(f"<span class=small>{escape(t('no_previous'))}</span>")
        return out

    def charts(self) -> str:
        t = self.t
        return (
            f"<h2>{t('chart_days')}</h2>{self.day_chart()}"
            f'<div class="two"><div><h3>{t("chart_agencies")}</h3>{self.agency_chart()}</div>'
            f"<div><h3>{t('chart_links')}</h3>{self.link_chart()}</div></div>"
        )

    def day_chart(self) -> str:
        days = self.r.days
        closed = self.closed_days()
        values = [d.counters.availability() for d in days if d.service > 0]
        lo = _floor(values)
        width, height, left, bottom, top = 760, 210, 44, 34, 10
        n = max(1, len(days))
        slot = (width - left - 6) / n
        plot_h = height - bottom - top
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{escape(self.t("chart_days"))}" font-size="9">'
        ]
        for k in range(5):
            v = lo + (1 - lo) * k / 4
            y = top + plot_h * (1 - (v - lo) / (1 - lo))
            out.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{width - 4}" y2="{y:.1f}" stroke="#e3e7eb"/>'
                f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">'
                f"{escape(self.lang.pct(v, 0))}</text>"
            )
        for i, d in enumerate(days):
            x = left + i * slot + slot * 0.15
            w = slot * 0.7
            label_x = left + i * slot + slot / 2
            if d.service <= 0:
                reason = f" — {closed[d.date]}" if d.date in closed else ""
                out.append(
                    f'<rect x="{x:.1f}" y="{top + plot_h - 3}" width="{w:.1f}" height="3" '
                    f'fill="#d5dade"><title>{escape(self.lang.date(d.date))}: '
                    f"{escape(self.t('closed'))}{escape(reason)}</title></rect>"
                )
                color = "#c8362d" if d.date in closed else "#9aa4ad"
            else:
                ratio = d.counters.availability()
                shown = lo if ratio is None else max(lo, ratio)
                bar = plot_h * (shown - lo) / (1 - lo)
                tip = f"{self.lang.date(d.date)}: {self.lang.pct(ratio)}"
                out.append(
                    f'<rect x="{x:.1f}" y="{top + plot_h - bar:.1f}" width="{w:.1f}" '
                    f'height="{max(bar, 1):.1f}" fill="{_color(ratio)}">'
                    f"<title>{escape(tip)}</title></rect>"
                )
                color = "#1b1f24"
            out.append(
                f'<text x="{label_x:.1f}" y="{height - bottom + 12}" text-anchor="middle" '
                f'fill="{color}">{d.date.day}</text>'
                f'<text x="{label_x:.1f}" y="{height - bottom + 23}" text-anchor="middle" '
                f'fill="{color}" font-size="7">{escape(self.lang.date(d.date)[:3])}</text>'
            )
        out.append("</svg>")
        return "".join(out)

    def _hbars(
        self, items: list[tuple[str, list[tuple[float | None, str]]]], legend: list[str]
    ) -> str:
        values = [v for _, bars in items for v, _ in bars]
        lo = _floor(values)
        width, left, bar_h, gap = 440, 120, 14, 8
        per = len(legend) * bar_h + gap
        height = 26 + len(items) * per + 16
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'role="img" font-size="11">'
        ]
        plot_w = width - left - 66
        shades = ["#1f5f8b", "#6aa5cf"]
        for k, name in enumerate(legend):
            x = 4 + k * 190
            out.append(
                f'<rect x="{x}" y="4" width="10" height="10" fill="{shades[k % 2]}"/>'
                f'<text x="{x + 14}" y="13">{escape(name)}</text>'
            )
        y = 26
        for label, bars in items:
            out.append(
                f'<text x="{left - 6}" y="{y + bar_h * len(bars) / 2 + 4:.1f}" '
                f'text-anchor="end">{escape(_trim(label, 18))}</text>'
            )
            for k, (v, tip) in enumerate(bars):
                shown = lo if v is None else max(lo, v)
                w = plot_w * (shown - lo) / (1 - lo)
                out.append(
                    f'<rect x="{left}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h - 1}" '
                    f'fill="{shades[k % 2]}"><title>{escape(tip)}</title></rect>'
                    f'<text x="{left + max(w, 1) + 3:.1f}" y="{y + bar_h - 4}" '
                    f'class="{ratio_class(v)}">{escape(self.lang.pct(v))}</text>'
                )
                y += bar_h
            y += gap
        out.append(
            f'<text x="{left}" y="{height - 2}">{escape(self.lang.pct(lo, 0))}</text>'
            f'<text x="{left + plot_w}" y="{height - 2}" text-anchor="end">100 %</text></svg>'
        )
        return "".join(out)

    def agency_apps(self, agency: str) -> Row | None:
        apps = [r for r in self.r.by_level("application") if r.agency == agency]
        if not apps:
            return None
        out = Figures()
        for r in apps:
            out.add(r.figures)
        return Row("agency", agency, agency, apps[0].team, out)

    def agency_chart(self) -> str:
        items = []
        for row in self.r.by_level("agency"):
            name = self.agency(row.id)
            apps = self.agency_apps(row.id)
            own = apps.own if apps is not None else None
            serve = self.agency_counters(row.id).availability()
            items.append(
                (
                    name,
                    [
                        (own, f"{name}, {self.t('legend_apps')}: {self.lang.pct(own)}"),
                        (serve, f"{name}, {self.t('legend_counters')}: {self.lang.pct(serve)}"),
                    ],
                )
            )
        return self._hbars(items, [self.t("legend_apps"), self.t("legend_counters")])

    def link_chart(self) -> str:
        items = [
            (row.name, [(row.availability, f"{row.name}: {self.lang.pct(row.availability)}")])
            for row in self.r.by_level("link")
        ]
        return self._hbars(items, [self.t("c_avail")])

    def agency_counters(self, agency: str) -> Figures:
        out = Figures()
        for row in self.r.by_level("counter"):
            if row.agency == agency:
                out.add(row.figures)
        return out

    def agencies(self) -> str:
        table = html_table(self, AGENCIES, self.r.by_level("agency"))
        return f"<h2>{self.t('agencies')}</h2>" + table

    def applications(self) -> str:
        return (
            f"<h2>{self.t('applications')}</h2>"
            + self.units("c_down", "c_unreach", "c_maint", "c_unknown")
            + html_table(self, APPLICATIONS, self.r.by_level("application"))
        )

    def counters(self) -> str:
        table = html_table(self, COUNTERS, self.r.by_level("counter"))
        return f"<h2>{self.t('counters')}</h2>" + table

    def links(self) -> str:
        t, internet = self.t, self.r.internet
        tail = (
            f"<tr><td><b>{escape(t('kpi_internet'))}</b></td><td></td>"
            f"{self.pct_td(internet.availability())}<td></td>{self.h_td(internet.down)}"
            f"{self.h_td(internet.maintenance)}{self.h_td(internet.unknown)}</tr>"
        )
        return f"<h2>{t('links')}</h2>" + html_table(self, LINKS, self.r.by_level("link"), tail)

    def infra(self) -> str:
        rows = self.r.by_level("infra")
        if not rows:
            return ""
        return f"<h2>{self.t('infra')}</h2>" + html_table(self, INFRA, rows)

    def providers(self) -> str:
        t = self.t
        providers = self.r.providers()
        if not providers:
            return ""
        out = [
            f"<h2>{t('providers')}</h2><p class=small>{escape(t('providers_note'))}</p>",
            html_table(self, PROVIDERS, providers),
        ]
        evidence = [p for p in providers if p.outages]
        if evidence:
            out.append(f"<h3>{escape(t('evidence'))}</h3>")
            out += [self.evidence(p) for p in evidence]
        return "".join(out)

    def evidence(self, p: Provider) -> str:
        """One uplink's outages: when, how long, how much of it in service hours."""
        t = self.t
        title = t("evidence_of").format(
            name=p.link.name, provider=p.link.provider or "—", n=len(p.outages)
        )
        in_service = sum(i.service for i in p.outages)
        tail = (
            f"<tr><td colspan=3><b>{escape(t('evidence_total'))}</b></td>"
            f'<td class="n"><b>{self.lang.duration(in_service)}</b></td></tr>'
        )
        return f"<p><b>{escape(title)}</b></p>" + html_table(self, OUTAGES, p.outages, tail)

    def teams(self) -> str:
        return (
            f"<h2>{self.t('teams')}</h2>"
            + self.units("c_own_down", "c_caused", "c_counter_h")
            + html_table(self, TEAMS, self.r.teams)
        )

    def worst(self) -> str:
        t = self.t

        def ranked(rows: list[Row]) -> list[Row]:
            rated = [r for r in rows if r.availability is not None and r.availability < 1]
            return sorted(rated, key=lambda r: (r.availability or 0.0, -r.figures.down, r.id))[:5]

        def block(title: str, rows: list[Row]) -> str:
            inner = html_table(self, WORST, rows) if rows else f"<p>{t('none')}</p>"
            return f"<div><h3>{escape(title)}</h3>{inner}</div>"

        return (
            f"<h2>{t('worst')}</h2><div class=two>"
            + block(t("worst_counters"), ranked(self.r.by_level("counter")))
            + block(t("worst_apps"), ranked(self.r.by_level("application")))
            + "</div>"
        )

    def incident_where(self, i: Incident) -> str:
        bits = []
        if i.counter:
            bits.append(self.counter_name(i.counter))
        if i.agency:
            bits.append(self.r.agency_names.get(i.agency, i.agency))
        if i.link:
            bits.append(self.link_name(i.link))
        return ", ".join(bits)

    def incidents(self) -> str:
        t = self.t
        things = [i for i in self.r.incidents if i.level != "counter"]
        counters = [i for i in self.r.incidents if i.level == "counter"]
        out = [f"<h2>{t('incidents')}</h2>"]
        if not self.r.incidents:
            return out[0] + f"<p>{t('no_incidents')}</p>"
        out.append(f"<p class=small>{escape(t('incidents_note'))}</p>")
        if things:
            out.append(f"<h3>{escape(t('incidents_things'))}</h3>" + self.incident_table(things))
        if counters:
            out.append(
                f"<h3>{escape(t('incidents_counters'))}</h3>" + self.incident_table(counters)
            )
        return "".join(out)

    def incident_table(self, incidents: list[Incident]) -> str:
        return html_table(self, INCIDENTS, incidents)

    def window_when(self, w: Maintenance) -> str:
        if w.weekly is not None:
            days = ", ".join(self.lang.weekday(d) for d in w.weekly.days)
            return f"{self.t('every')} {days} {w.weekly.start:%H:%M}–{_clock(w.weekly.end)}"
        assert w.start is not None and w.end is not None
        return f"{w.start:%Y-%m-%d %H:%M} – {w.end:%Y-%m-%d %H:%M}"

    def scope(self, w: Maintenance) -> str:
        for key, value in w.scope.model_dump().items():
            if value not in (None, False):
                word = self.t("scope_" + key)
                return word if key == "site" else f"{word} {value}"
        return ""

    def maintenance(self) -> str:
        t = self.t
        if not self.r.windows:
            return f"<h2>{t('maintenance')}</h2><p>{t('no_maintenance')}</p>"
        return f"<h2>{t('maintenance')}</h2>" + html_table(self, MAINTENANCE, self.r.windows)

    def gaps(self) -> str:
        t = self.t
        if not self.r.gaps:
            return f"<h2>{t('gaps')}</h2><p>{t('no_gaps')}</p>"
        return f"<h2>{t('gaps')}</h2>" + html_table(self, GAPS, self.r.gaps)

    def closed_days(self) -> dict[dt.date, str]:
        first = self.local(self.r.start).date()
        last = self.local(self.r.end - 1).date()
        language = "id" if self.lang.code == "id" else "en_US"
        days = cal.closed_days(self.r.site, first, last, language=language)
        extra = set(self.r.site.closed_days.extra)
        return {d: self.t("extra_closed") if d in extra else name for d, name in days.items()}

    def closed(self) -> str:
        t = self.t
        closed = self.closed_days()
        if not closed:
            return f"<h2>{t('closed_days')}</h2><p>{t('none')}</p>"
        return f"<h2>{t('closed_days')}</h2>" + html_table(self, CLOSED, closed.items())

    def definitions(self) -> str:
        items = "".join(f"<li>{text}</li>" for text in DEFINITIONS[self.lang.code])
        return f'<h2>{self.t("definitions")}</h2><ol class="def">{items}</ol>'


def _clock(t: dt.time) -> str:
    return "24:00" if t == dt.time.max else f"{t:%H:%M}"


def _floor(values: Iterable[float | None]) -> float:
    """The lower end of a bar chart's axis: 90 %, or lower in steps of 10 % when needed."""
    known = [v for v in values if v is not None]
    lo = 0.9
    while known and min(known) < lo and lo > 0:
        lo = round(lo - 0.1, 1)
    return max(lo, 0.0)


def _trim(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_html(report: Report, lang: str = "id", templates: Path | None = None) -> str:
    """The report as one HTML document (templates: a folder of edited templates)."""
    return Page(report, Lang.of(lang)).render(templates)
