"""The cross-site ranking: one line per MPP, every figure taken from that site's own Report.

Nothing is computed here that a site report does not already show: service (counters able
to serve) and internet availability are ``Report.headline()``, the month before is
``Report.previous.headline()``, charged counter-hours are the site's ``TeamSummary.counters``
(teams.csv ``counters_not_serving_hours``), agencies are its agency rows (availability.csv).
A site without data is listed, not ranked. See docs/report.md, "Many sites: the ranking".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from monitor.plan import SiteInfo
from monitor.report.columns import csv_text, h, pct, text
from monitor.report.compute import Report
from monitor.report.i18n import RANKING_DEFINITIONS, Lang
from monitor.report.page import ratio_class, render_page

TEMPLATE = "ranking.html.j2"
WORST_SHOWN = 10  # agencies on the page; ranking-agencies.csv lists them all


@dataclass(frozen=True)
class AgencyFigures:
    """One agency of one site, from its row in the site's report."""

    site: SiteInfo
    id: str
    name: str
    team: str
    own: float | None  # own availability (0..1)
    availability: float | None
    target: float


@dataclass(frozen=True)
class SiteFigures:
    """One site's line in the ranking; data=False: Prometheus had nothing for the month."""

    site: SiteInfo
    data: bool
    service: float | None = None  # counters able to serve over measured service time
    internet: float | None = None
    service_before: float | None = None  # the month before, None without its data
    internet_before: float | None = None
    counters: int = 0
    measured: float = 0.0  # counter-seconds of measured service time
    network: float = 0.0  # counter-seconds unable to serve charged to the network team
    agencies_charged: float = 0.0  # ... charged to the agencies' teams
    agencies: tuple[AgencyFigures, ...] = ()
    partial: bool = False
    page: str = ""  # the site report's HTML, relative to the ranking's folder
    rank: int | None = None

    @property
    def worst(self) -> AgencyFigures | None:
        """The site's agency with the lowest own availability."""
        rated = worst_first(self.agencies)
        return rated[0] if rated else None


def site_figures(report: Report, page: str = "") -> SiteFigures:
    """A site's line, read off its report."""
    site = report.site
    service, _, internet = report.headline()
    before = report.previous.headline() if report.previous is not None else (None, None, None)
    charged = {s.team: s.counters for s in report.teams}
    agency_teams = {a.team for a in site.agencies} - {site.network_team}
    agencies = tuple(
        AgencyFigures(site, r.id, r.name, r.team, r.own, r.availability, report.target_of(r.id))
        for r in report.by_level("agency")
    )
    return SiteFigures(
        site=site,
        data=True,
        service=service,
        internet=internet,
        service_before=before[0],
        internet_before=before[2],
        counters=len(report.by_level("counter")),
        measured=report.counters_total.known,
        network=charged.get(site.network_team, 0.0),
        agencies_charged=sum(charged.get(t, 0.0) for t in sorted(agency_teams)),
        agencies=agencies,
        partial=report.partial,
        page=page,
    )


def no_data(site: SiteInfo) -> SiteFigures:
    """The line of a site Prometheus has nothing for in the month."""
    return SiteFigures(site=site, data=False)


def worst_first(agencies: Iterable[AgencyFigures]) -> list[AgencyFigures]:
    """Agencies with an own availability, lowest first (then site and agency id)."""
    rated = [a for a in agencies if a.own is not None]
    return sorted(rated, key=lambda a: (a.own, a.site.id, a.id))


@dataclass(frozen=True)
class Ranking:
    """The month's ranking: ranked sites (rank 1 = best), then the unranked ones."""

    month: str
    sites: list[SiteFigures]
    agencies: list[AgencyFigures]  # every agency of the ranked sites, worst first
    source: str = ""
    generated: float = 0.0

    @property
    def partial(self) -> bool:
        """Some site's month had not ended."""
        return any(s.partial for s in self.sites)


def rank(
    month: str, sites: Iterable[SiteFigures], source: str = "", generated: float = 0.0
) -> Ranking:
    """Rank by service availability (highest first), then internet, then site id; sites
    without a service figure keep their order after the ranked ones, with no rank."""
    given = list(sites)
    rated = [s for s in given if s.service is not None]
    rated.sort(key=lambda s: (-(s.service or 0.0), -_or(s.internet, -1.0), s.site.id))
    ranked = [replace(s, rank=i) for i, s in enumerate(rated, 1)]
    rest = [s for s in given if s.service is None]
    agencies = worst_first(a for s in ranked for a in s.agencies)
    return Ranking(month, [*ranked, *rest], agencies, source, generated)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


# CSV ---------------------------------------------------------------------------------------
def _status(s: SiteFigures) -> str:
    return "ranked" if s.rank is not None else "no_data" if not s.data else "no_service_time"


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def _worst(get: Callable[[AgencyFigures], str]) -> Callable[[SiteFigures], str]:
    return lambda s: get(s.worst) if s.worst is not None else ""


SITE_COLUMNS: list[tuple[str, Callable[[SiteFigures], str]]] = [
    ("rank", lambda s: _opt(s.rank)),
    ("site", lambda s: s.site.id),
    ("name", lambda s: text(s.site.name)),
    ("region", lambda s: s.site.region),
    ("regency", lambda s: s.site.regency),
    ("status", _status),
    ("counters", lambda s: str(s.counters) if s.data else ""),
    ("counters_known_hours", lambda s: h(s.measured) if s.data else ""),
    ("service_availability_pct", lambda s: pct(s.service)),
    ("internet_availability_pct", lambda s: pct(s.internet)),
    ("service_prev_pct", lambda s: pct(s.service_before)),
    ("internet_prev_pct", lambda s: pct(s.internet_before)),
    ("network_team", lambda s: s.site.network_team),
    ("network_charged_hours", lambda s: h(s.network) if s.data else ""),
    ("agencies_charged_hours", lambda s: h(s.agencies_charged) if s.data else ""),
    ("worst_agency", _worst(lambda a: a.id)),
    ("worst_agency_own_pct", _worst(lambda a: pct(a.own))),
    ("partial", lambda s: "yes" if s.partial else "no"),
]
AGENCY_COLUMNS: list[tuple[str, Callable[[int, AgencyFigures], str]]] = [
    ("rank", lambda i, _: str(i)),
    ("site", lambda _, a: a.site.id),
    ("site_name", lambda _, a: text(a.site.name)),
    ("region", lambda _, a: a.site.region),
    ("regency", lambda _, a: a.site.regency),
    ("agency", lambda _, a: a.id),
    ("name", lambda _, a: text(a.name)),
    ("team", lambda _, a: a.team),
    ("own_availability_pct", lambda _, a: pct(a.own)),
    ("availability_pct", lambda _, a: pct(a.availability)),
    ("target_pct", lambda _, a: pct(a.target)),
]


def ranking_csv(r: Ranking) -> str:
    """ranking.csv: one row per site, ranked ones first."""
    rows = ([get(s) for _, get in SITE_COLUMNS] for s in r.sites)
    return csv_text([name for name, _ in SITE_COLUMNS], rows)


def agencies_csv(r: Ranking) -> str:
    """ranking-agencies.csv: every agency of the ranked sites, lowest own availability first."""
    rows = ([get(i, a) for _, get in AGENCY_COLUMNS] for i, a in enumerate(r.agencies, 1))
    return csv_text([name for name, _ in AGENCY_COLUMNS], rows)


def render_ranking_csv(r: Ranking) -> dict[str, str]:
    """File name -> CSV text."""
    return {"ranking.csv": ranking_csv(r), "ranking-agencies.csv": agencies_csv(r)}


# HTML --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """A figure on the page: its text, CSS class and a small note under it."""

    text: str
    cls: str = ""
    note: str = ""


class RankingPage:
    """Render one Ranking in one language: plain values, the template escapes them."""

    def __init__(self, ranking: Ranking, lang: Lang) -> None:
        self.r = ranking
        self.lang = lang
        self.t = lang.t

    def ratio(self, now: float | None, before: float | None = None) -> Cell:
        note = ""
        if before is not None:
            note = f"{self.t('c_prev')} {self.lang.pct(before)} {self.lang.delta(before, now)}"
        return Cell(self.lang.pct(now), ratio_class(now), note)

    def place(self, site: SiteInfo) -> str:
        return ", ".join(x for x in (site.regency, site.region) if x)

    def site_row(self, s: SiteFigures) -> dict[str, Any]:
        worst = s.worst
        missing = ""
        if s.rank is None:
            missing = self.t("rk_no_data" if not s.data else "rk_unmeasured")
        return {
            "rank": _opt(s.rank) or "—",
            "name": s.site.name,
            "id": s.site.id,
            "href": s.page,
            "place": self.place(s.site),
            "missing": missing,
            "counters": str(s.counters),
            "service": self.ratio(s.service, s.service_before),
            "internet": self.ratio(s.internet, s.internet_before),
            "network": self.lang.num(s.network / 3600, 2),
            "agencies": self.lang.num(s.agencies_charged / 3600, 2),
            "worst": f"{worst.name} ({self.lang.pct(worst.own)})" if worst is not None else "—",
        }

    def agency_row(self, i: int, a: AgencyFigures) -> dict[str, Any]:
        met = a.own is not None and a.own >= a.target - 1e-9
        verdict = self.t("met" if met else "missed")
        target = f"{self.t('c_target')} {self.lang.pct(a.target)}: {verdict}"
        return {
            "rank": str(i),
            "name": a.name,
            "site": a.site.name,
            "place": self.place(a.site),
            "own": Cell(self.lang.pct(a.own), ratio_class(a.own), target),
            "availability": self.ratio(a.availability),
        }

    def network_head(self) -> str:
        teams = {s.site.network_team for s in self.r.sites}
        if len(teams) == 1:
            return self.t("rk_network").format(team=next(iter(teams)))
        return self.t("rk_network_any")

    def render(self, templates: Path | None = None) -> str:
        """The page from templates/ranking.html.j2 (or the one in templates, if given)."""
        r, t = self.r, self.t
        month_name = self.lang.month_named(r.month)
        generated = dt.datetime.fromtimestamp(r.generated, dt.UTC)
        worst = r.agencies[:WORST_SHOWN]
        return render_page(
            templates,
            TEMPLATE,
            self.lang,
            title=f"{t('rk_title')} — {month_name}",
            subtitle=t("rk_subtitle").format(n=len(r.sites), month=month_name),
            generated=f"{generated:%Y-%m-%d %H:%M} UTC",
            source=r.source,
            partial=r.partial,
            network_head=self.network_head(),
            sites=[self.site_row(s) for s in r.sites],
            worst=[self.agency_row(i, a) for i, a in enumerate(worst, 1)],
            worst_note=t("rk_worst_note").format(n=len(worst), total=len(r.agencies)),
            definitions=RANKING_DEFINITIONS[self.lang.code],
        )


def render_ranking_html(r: Ranking, lang: str = "id", templates: Path | None = None) -> str:
    """The ranking as one HTML document (templates: a folder of edited templates)."""
    return RankingPage(r, Lang.of(lang)).render(templates)
