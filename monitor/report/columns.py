"""The report's tables, each column declared once: its CSV name and value, its HTML header (a
key of the i18n catalogue) and cell; one renderer for HTML (page.py) and one for CSV
(tables.py).

A column with no ``csv`` is shown in the HTML page only, one with no ``html`` is written to
the CSV file only. The HTML tables of rows (agencies, applications, counters, links, devices,
worst) each take the columns they show from ``ROW`` (the columns of ``availability.csv``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Generic, Protocol, TypeVar

from monitor.hours import Maintenance
from monitor.report.compute import (
    Day,
    Figures,
    Incident,
    Provider,
    Report,
    Row,
    TeamSummary,
    WindowUse,
)
from monitor.report.i18n import Lang

T = TypeVar("T")


class Page(Protocol):
    """What a cell may ask of the page it is drawn on (monitor.report.page.Page is one)."""

    lang: Lang
    t: Callable[[str], str]

    def agency(self, key: str) -> str: ...
    def agency_counters(self, agency: str) -> Figures: ...
    def charged_text(self, row: Row) -> str: ...
    def counter_name(self, label: str) -> str: ...
    def devices_text(self, row: Row) -> str: ...
    def incident_cause(self, i: Incident) -> str: ...
    def prev_pct_td(self, row: Row, own: bool) -> str: ...
    def target_td(self, row: Row) -> str: ...
    def team(self, key: str) -> str: ...
    def h_td(self, seconds: float) -> str: ...
    def incident_where(self, i: Incident) -> str: ...
    def local(self, ts: float) -> dt.datetime: ...
    def mttr(self, seconds: float | None) -> str: ...
    def pct_td(self, ratio: float | None) -> str: ...
    def scope(self, w: Maintenance) -> str: ...
    def team_short(self, key: str) -> str: ...
    def team_total(self, team: str) -> Row | None: ...
    def window_when(self, w: Maintenance) -> str: ...


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of a table: for CSV, its name and value; for HTML, its header and cell."""

    name: str = ""  # the CSV header
    head: str = ""  # the HTML header: a key of monitor.report.i18n.T
    csv: Callable[[Report, T], str] | None = None  # the CSV value
    html: Callable[[Page, T], str] | None = None  # the HTML cell, the whole <td>…</td>
    num: bool = False  # a number: the header is right-aligned

    def titled(self, head: str) -> Column[T]:
        """The same column under another header."""
        return replace(self, head=head)


def html_table(page: Page, columns: Sequence[Column[T]], items: Iterable[T], tail: str = "") -> str:
    """The HTML table of items; tail: rows added after theirs, as HTML."""
    shown = [c for c in columns if c.html is not None]
    cells = "".join(
        f"<th{' class=n' if c.num else ''}>{escape(page.t(c.head))}</th>" for c in shown
    )
    body = "".join(
        "<tr>" + "".join(c.html(page, x) for c in shown if c.html is not None) + "</tr>"
        for x in items
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}{tail}</tbody></table>"


def csv_table(report: Report, columns: Sequence[Column[T]], items: Iterable[T]) -> str:
    """The CSV text of items (UTF-8, comma-separated, one header line)."""
    shown = [c for c in columns if c.csv is not None]
    rows = ([c.csv(report, x) for c in shown if c.csv is not None] for x in items)
    return csv_text([c.name for c in shown], rows)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV text: the header line, then the rows (comma-separated, "\n" line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


# CSV values ------------------------------------------------------------------------------
def text(value: str) -> str:
    """Free text from the inventory, kept from being read as a formula by a spreadsheet."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def h(seconds: float) -> str:
    return f"{seconds / 3600:.4f}"


def pct(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio * 100:.4f}"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.2f}"


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def iso(report: Report, ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, report.site.tz).isoformat(timespec="seconds")


def site(report: Report, _: object) -> str:
    return report.site.id


def month(report: Report, _: object) -> str:
    return report.month


# HTML cells ------------------------------------------------------------------------------
def td(get: Callable[[Page, T], str]) -> Callable[[Page, T], str]:
    """A cell of text."""
    return lambda page, x: f"<td>{escape(get(page, x))}</td>"


def td_pct(get: Callable[[T], float | None]) -> Callable[[Page, T], str]:
    """A cell of percent, coloured."""
    return lambda page, x: page.pct_td(get(x))


def td_h(get: Callable[[T], float]) -> Callable[[Page, T], str]:
    """A cell of hours."""
    return lambda page, x: page.h_td(get(x))


def td_duration(get: Callable[[T], float]) -> Callable[[Page, T], str]:
    return lambda page, x: f'<td class="n">{page.lang.duration(get(x))}</td>'


def td_when(
    get: Callable[[T], float], note: Callable[[T], str] = lambda x: ""
) -> Callable[[Page, T], str]:
    """A cell of local time, and a word in brackets where note gives its key."""

    def cell(page: Page, x: T) -> str:
        when = page.lang.when(page.local(get(x)))
        key = note(x)
        return f"<td>{escape(when + (f' ({page.t(key)})' if key else ''))}</td>"

    return cell


def td_charged(page: Page, row: Row) -> str:
    return f'<td class="small">{page.charged_text(row)}</td>'


# columns of both -------------------------------------------------------------------------
def hours(name: str, head: str, get: Callable[[T], float]) -> Column[T]:
    """Seconds shown in hours: 4 decimals in CSV, the language's in HTML."""
    return Column(name, head, lambda _, x: h(get(x)), td_h(get), True)


def percent(name: str, head: str, get: Callable[[T], float | None]) -> Column[T]:
    """A ratio shown in percent: 4 decimals in CSV, coloured in HTML."""
    return Column(name, head, lambda _, x: pct(get(x)), td_pct(get), True)


def durations(name: str, head: str, get: Callable[[T], float]) -> Column[T]:
    """Seconds shown in minutes in CSV, as a duration in HTML."""
    return Column(name, head, lambda _, x: minutes(get(x)), td_duration(get), True)


# availability.csv and the HTML tables of rows ----------------------------------------------
def _site_own(report: Report, r: Row) -> str:
    """Own availability; none for the site's totals (internet, counters)."""
    return pct(None if r.level == "site" else r.own)


ROW_COLUMNS: list[Column[Row]] = [
    Column("site", csv=site),
    Column("month", csv=month),
    Column("level", csv=lambda _, r: r.level),
    Column("id", csv=lambda _, r: r.id),
    Column("name", "c_name", lambda _, r: text(r.name), td(lambda _, r: r.name)),
    Column("team", "c_team", lambda _, r: r.team, td(lambda p, r: p.team(r.team))),
    Column("agency", "c_agency", lambda _, r: r.agency, td(lambda p, r: p.agency(r.agency))),
    Column(
        "counter", "c_counter", lambda _, r: r.counter, td(lambda p, r: p.counter_name(r.counter))
    ),
    Column("link", csv=lambda _, r: r.link),
    Column("kind", "c_kind", lambda _, r: r.kind, td(lambda _, r: r.kind)),
    Column("things", csv=lambda _, r: str(r.entities)),
    Column("service_hours", csv=lambda _, r: h(r.figures.service)),
    hours("maintenance_hours", "c_maint", lambda r: r.figures.maintenance),
    hours("unknown_hours", "c_unknown", lambda r: r.figures.unknown),
    Column("known_hours", csv=lambda _, r: h(r.figures.known)),
    Column("up_hours", csv=lambda _, r: h(r.figures.up)),
    hours("down_hours", "c_down", lambda r: r.figures.down),
    hours("unreachable_hours", "c_unreach", lambda r: r.figures.unreachable),
    hours("degraded_hours", "c_degraded", lambda r: r.figures.degraded),
    percent("availability_pct", "c_avail", lambda r: r.availability),
    Column("own_availability_pct", "c_own", _site_own, td_pct(lambda r: r.own), True),
]
ROW = {c.name: c for c in ROW_COLUMNS}
CHARGED: Column[Row] = Column(head="c_charged", html=td_charged)


def row_columns(*names: str) -> list[Column[Row]]:
    """The columns of ROW named, in that order; "name:c_key" shows one under another header."""
    out = []
    for spec in names:
        name, _, head = spec.partition(":")
        column = CHARGED if name == "charged" else ROW[name]
        out.append(column.titled(head) if head else column)
    return out


AGENCIES = [
    *row_columns("name:c_agency", "team", "availability_pct", "own_availability_pct"),
    Column[Row](head="c_target", html=lambda p, r: p.target_td(r), num=True),
    Column[Row](head="c_prev", html=lambda p, r: p.prev_pct_td(r, True), num=True),
    CHARGED,
    Column[Row](
        head="c_counters_serve",
        html=lambda p, r: p.pct_td(p.agency_counters(r.id).availability()),
        num=True,
    ),
]
APPLICATIONS = row_columns(
    "name",
    "agency",
    "availability_pct",
    "own_availability_pct",
    "charged",
    "down_hours",
    "unreachable_hours",
    "maintenance_hours",
    "unknown_hours",
)
COUNTERS = [
    *row_columns("name:c_counter", "agency", "availability_pct", "own_availability_pct"),
    Column[Row](head="c_devices", html=lambda p, r: f'<td class="small">{p.devices_text(r)}</td>'),
    *row_columns("charged", "down_hours:c_cannot", "maintenance_hours", "unknown_hours"),
]
LINKS = row_columns(
    "name",
    "team",
    "availability_pct",
    "degraded_hours",
    "down_hours",
    "maintenance_hours",
    "unknown_hours",
)
INFRA = row_columns(
    "name",
    "team",
    "availability_pct",
    "own_availability_pct",
    "down_hours",
    "unreachable_hours",
    "unknown_hours",
)
WORST = row_columns("name", "availability_pct", "own_availability_pct", "charged")


# attribution.csv ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Charge:
    """A row's unavailable time of one kind, charged to one team (or teams, "a+b")."""

    row: Row
    what: str
    key: str
    seconds: float


ATTRIBUTION: list[Column[Charge]] = [
    Column("site", csv=site),
    Column("month", csv=month),
    Column("level", csv=lambda _, c: c.row.level),
    Column("id", csv=lambda _, c: c.row.id),
    Column("name", csv=lambda _, c: text(c.row.name)),
    Column("team", csv=lambda _, c: c.row.team),
    Column("what", csv=lambda _, c: c.what),
    Column("charged_team", csv=lambda _, c: c.key),
    Column("own", csv=lambda _, c: yes(c.row.team in c.key.split("+"))),
    Column("hours", csv=lambda _, c: h(c.seconds)),
    Column(
        "pct_of_known",
        csv=lambda _, c: pct(c.seconds / c.row.figures.known if c.row.figures.known > 0 else None),
    ),
]


# incidents.csv and the HTML incident tables ------------------------------------------------
def _what(page: Page, i: Incident) -> str:
    return f"<td>{escape(i.name)} <span class=small>({escape(page.t('l_' + i.level))})</span></td>"


INCIDENTS: list[Column[Incident]] = [
    Column("site", csv=site),
    Column(
        "start",
        "c_start",
        lambda rep, i: iso(rep, i.start),
        td_when(lambda i: i.start, lambda i: "before" if i.open_start else ""),
    ),
    Column(
        "end",
        "c_end",
        lambda rep, i: iso(rep, i.end),
        td_when(lambda i: i.end, lambda i: "ongoing" if i.open_end else ""),
    ),
    durations("duration_minutes", "c_duration", lambda i: i.duration),
    durations("service_minutes", "c_in_service", lambda i: i.service),
    Column(head="c_what", html=_what),
    Column(head="c_where", html=td(lambda p, i: p.incident_where(i))),
    Column("level", csv=lambda _, i: i.level),
    Column("id", csv=lambda _, i: i.id),
    Column("name", csv=lambda _, i: text(i.name)),
    Column("status", "c_status", lambda _, i: i.status, td(lambda p, i: p.t("s_" + i.status))),
    Column("owner_team", "c_owner", lambda _, i: i.owner, td(lambda p, i: p.team(i.owner))),
    Column("owner_name", csv=lambda rep, i: text(_team_names(rep, i.owner))),
    Column("team", csv=lambda _, i: i.team),
    Column("agency", csv=lambda _, i: i.agency),
    Column("counter", csv=lambda _, i: i.counter),
    Column("link", csv=lambda _, i: i.link),
    Column(
        "cause",
        "c_cause",
        lambda _, i: text(i.cause),
        lambda p, i: f'<td class="small">{escape(p.incident_cause(i))}</td>',
    ),
    Column("began_before_month", csv=lambda _, i: yes(i.open_start)),
    Column("ongoing_at_end", csv=lambda _, i: yes(i.open_end)),
]


def _team_names(report: Report, key: str) -> str:
    return " + ".join(report.team_names.get(k, k) for k in key.split("+")) if key else ""


# providers.csv and the HTML tables of uplinks against their SLA -----------------------------
def _met(page: Page, p: Provider) -> str:
    if p.met is None:
        return "<td>—</td>"
    cls, word = ("good", "yes") if p.met else ("bad", "no")
    return f'<td class="{cls}">{escape(page.t(word))}</td>'


PROVIDERS: list[Column[Provider]] = [
    Column("site", csv=site),
    Column("month", csv=month),
    Column("link", csv=lambda _, p: p.link.id),
    Column("name", "c_name", lambda _, p: text(p.link.name), td(lambda _, p: p.link.name)),
    Column(
        "provider",
        "c_provider",
        lambda _, p: text(p.link.provider),
        td(lambda _, p: p.link.provider),
    ),
    Column(
        "sla_pct",
        "c_sla",
        lambda _, p: pct(p.link.sla),
        lambda page, p: f'<td class="n">{page.lang.pct(p.link.sla)}</td>',
        True,
    ),
    percent("availability_pct", "c_avail", lambda p: p.row.availability),
    Column("sla_met", "c_sla_met", lambda _, p: "" if p.met is None else yes(p.met), _met),
    Column(head="c_prev", html=lambda page, p: page.prev_pct_td(p.row, False), num=True),
    durations("down_service_minutes", "c_down_service", lambda p: p.outage_service),
    Column(
        "outages",
        "c_outages",
        lambda _, p: str(len(p.outages)),
        lambda _, p: f'<td class="n">{len(p.outages)}</td>',
        True,
    ),
    hours("degraded_hours", "c_degraded", lambda p: p.row.figures.degraded),
    Column("known_hours", csv=lambda _, p: h(p.row.figures.known)),
    Column("unknown_hours", csv=lambda _, p: h(p.row.figures.unknown)),
]
OUTAGES: list[Column[Incident]] = [
    Column(
        head="c_start",
        html=td_when(lambda i: i.start, lambda i: "before" if i.open_start else ""),
    ),
    Column(head="c_end", html=td_when(lambda i: i.end, lambda i: "ongoing" if i.open_end else "")),
    Column(head="c_duration", html=td_duration(lambda i: i.duration), num=True),
    Column(head="c_in_service", html=td_duration(lambda i: i.service), num=True),
]


# teams.csv and the HTML teams table --------------------------------------------------------
def _team(page: Page, s: TeamSummary) -> str:
    return f"<td>{escape(s.name)} <span class=small>({escape(s.team)})</span></td>"


def _team_pct(get: Callable[[Row], float | None]) -> Callable[[Page, TeamSummary], str]:
    """A percent of the team's total row."""

    def cell(page: Page, s: TeamSummary) -> str:
        row = page.team_total(s.team)
        return page.pct_td(get(row) if row else None)

    return cell


TEAMS: list[Column[TeamSummary]] = [
    Column("site", csv=site),
    Column("month", csv=month),
    Column("team", "c_team", lambda _, s: s.team, _team),
    Column("name", csv=lambda _, s: text(s.name)),
    Column(head="c_avail", html=_team_pct(lambda r: r.availability), num=True),
    Column(head="c_own", html=_team_pct(lambda r: r.own), num=True),
    hours("own_downtime_hours", "c_own_down", lambda s: s.own_down),
    hours("caused_unreachable_hours", "c_caused", lambda s: s.caused_for_others),
    hours("counters_not_serving_hours", "c_counter_h", lambda s: s.counters),
    Column(
        "incidents",
        "c_incidents",
        lambda _, s: str(s.incidents),
        lambda _, s: f'<td class="n">{s.incidents}</td>',
        True,
    ),
    Column(
        "mttr_minutes",
        "c_mttr",
        lambda _, s: "" if s.mttr is None else minutes(s.mttr),
        lambda p, s: f'<td class="n">{p.mttr(s.mttr)}</td>',
        True,
    ),
]


# daily.csv ---------------------------------------------------------------------------------
DAILY: list[Column[Day]] = [
    Column("site", csv=site),
    Column("date", csv=lambda _, d: d.date.isoformat()),
    Column("service_hours", csv=lambda _, d: h(d.service)),
    Column("counters_known_hours", csv=lambda _, d: h(d.counters.known)),
    Column("counters_serving_hours", csv=lambda _, d: h(d.counters.up)),
    Column("counters_pct", csv=lambda _, d: pct(d.counters.availability())),
    Column("applications_known_hours", csv=lambda _, d: h(d.applications.known)),
    Column("applications_up_hours", csv=lambda _, d: h(d.applications.up)),
    Column("applications_pct", csv=lambda _, d: pct(d.applications.availability())),
]


# the HTML tables of maintenance, gaps and closed days --------------------------------------
MAINTENANCE: list[Column[WindowUse]] = [
    Column(head="c_id", html=td(lambda _, u: u.window.id)),
    Column(head="c_desc", html=td(lambda _, u: u.window.description)),
    Column(head="c_scope", html=td(lambda p, u: p.scope(u.window))),
    Column(head="c_when", html=td(lambda p, u: p.window_when(u.window))),
    Column(
        head="c_in_service",
        html=lambda p, u: f"<td class=n>{p.lang.hours(u.service)}</td>",
        num=True,
    ),
]
GAPS: list[Column[tuple[float, float]]] = [
    Column(head="c_start", html=td_when(lambda g: g[0])),
    Column(head="c_end", html=td_when(lambda g: g[1])),
    Column(head="c_duration", html=td_duration(lambda g: g[1] - g[0]), num=True),
]
CLOSED: list[Column[tuple[dt.date, str]]] = [
    Column(head="c_date", html=td(lambda p, c: f"{p.lang.date(c[0])} {c[0].year}")),
    Column(head="c_holiday", html=td(lambda _, c: c[1])),
]
