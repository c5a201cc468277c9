"""The monthly uptime report: history from Prometheus, service time and maintenance from the
inventory, figures per team, agency, application, counter, device and uplink, rendered as
one printable HTML file and CSV files. See docs/report.md."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import aiohttp
import jinja2

from monitor.plan import Plan, SiteInfo
from monitor.report.compute import (
    History,
    Report,
    build_report,
    month_range,
    parse_month,
    previous_month,
)
from monitor.report.fetch import fetch_history
from monitor.report.page import render_html
from monitor.report.pdf import PdfError, html_to_pdf
from monitor.report.prom import Prometheus, PrometheusError, redact
from monitor.report.ranking import Ranking, render_ranking_csv, render_ranking_html
from monitor.report.tables import render_csv

__all__ = [
    "History",
    "NoDataError",
    "Report",
    "ReportError",
    "build_report",
    "make_report",
    "render_csv",
    "render_html",
    "write_ranking",
    "write_report",
]

FORMATS = ("html", "csv", "pdf", "xlsx")
DEFAULT_FORMATS = ("html", "csv")


class ReportError(Exception):
    """The report cannot be made; the message is one line for people."""


class NoDataError(ReportError):
    """Prometheus holds nothing for the site in the month (other sites may still report)."""


def pick_sites(plans: Sequence[Plan], site_id: str | None) -> list[tuple[Plan, SiteInfo]]:
    """The sites to report, each with its inventory's Plan: the one asked for, or every site
    of every inventory (in file order)."""
    sites = [(plan, s) for plan in plans for s in plan.sites]
    if site_id is None:
        return sites
    for plan, s in sites:
        if s.id == site_id:
            return [(plan, s)]
    known = ", ".join(s.id for _, s in sites)
    where = "the inventory has" if len(plans) == 1 else "the inventories have"
    raise ReportError(f"unknown site {site_id!r}: {where} {known}")


async def make_report(
    plan: Plan,
    site: SiteInfo,
    month: str,
    prometheus_url: str,
    *,
    step: float = 15.0,
    now: float | None = None,
    session: aiohttp.ClientSession | None = None,
    query_timeout: float = 120.0,
    compare: bool = True,
) -> Report:
    """Query Prometheus and compute one site's report for month (YYYY-MM); with compare, the
    month before too (report.previous, None when Prometheus holds nothing for it)."""
    try:
        parse_month(month)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    if not 1 <= step <= 3600:
        raise ReportError(f"invalid step {step:g}s: use the scrape interval, 1 to 3600 seconds")
    start, end = month_range(site, month)
    now = time.time() if now is None else now
    if start >= now:
        raise ReportError(f"month {month} has not started yet")
    partial = end > now
    if partial:
        # up to the last whole step before now
        end = start + math.floor((now - start) / step) * step
        if end <= start:
            raise ReportError(f"month {month} has only just started: no whole step to report")
    own = session is None
    sess = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
    try:
        prom = Prometheus(prometheus_url, sess, timeout=query_timeout)
        try:
            await prom.check()
            history = await fetch_history(prom, site.id, start, end, step)
            before = previous_month(month)
            earlier = None
            if compare and history.has_data():
                p_start, p_end = month_range(site, before)
                earlier = await fetch_history(prom, site.id, p_start, p_end, step)
        except PrometheusError as exc:
            raise ReportError(str(exc)) from None
    finally:
        if own:
            await sess.close()
    if not history.has_data():
        raise NoDataError(
            f"no data for site {site.id!r} in {month} at {redact(prometheus_url)} "
            "(no mpp_entity_status, mpp_can_serve or mpp_link_state series): is this the "
            "Prometheus that scrapes mpp-monitor, and does its retention reach that month?"
        )
    report = build_report(plan, site, month, history)
    if earlier is not None and earlier.has_data():
        report.previous = build_report(plan, site, before, earlier)
    report.source = redact(prometheus_url)
    report.generated = now
    report.partial = partial
    return report


def _html(render: Callable[[], str], templates: Path | None) -> str:
    """A page; a broken edited template is a one-line error naming its file and line."""
    if templates is not None and not templates.is_dir():
        raise ReportError(f"templates folder {templates} not found (--templates)")
    try:
        return render()
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        where = templates if templates is not None else "the report templates"
        raise ReportError(f"template error in {where}: {exc.message or exc}") from None


def write_report(
    report: Report,
    out: Path,
    formats: Iterable[str] = DEFAULT_FORMATS,
    lang: str = "id",
    templates: Path | None = None,
    browser: str | None = None,
) -> list[Path]:
    """Write the HTML, PDF, CSV and/or xlsx files into out; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    fmts = set(formats)
    stem = f"report-{report.site.id}-{report.month}"
    html = ""
    if fmts & {"html", "pdf"}:
        html = _html(lambda: render_html(report, lang, templates), templates)
    if "html" in fmts:
        written += _write_texts(out, {f"{stem}.html": html})
    if "pdf" in fmts:
        path = out / f"{stem}.pdf"
        try:
            html_to_pdf(html, path, browser)
        except PdfError as exc:
            raise ReportError(str(exc)) from None
        written.append(path)
    if "xlsx" in fmts:
        from monitor.report.xlsx import write_xlsx

        path = out / f"{stem}.xlsx"
        write_xlsx(report, path)
        written.append(path)
    if "csv" in fmts:
        written += _write_texts(out, render_csv(report))
    return written


def _write_texts(out: Path, files: dict[str, str]) -> list[Path]:
    """Write each file name -> text into out (UTF-8); return the paths."""
    paths = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def write_ranking(
    ranking: Ranking,
    out: Path,
    formats: Iterable[str] = DEFAULT_FORMATS,
    lang: str = "id",
    templates: Path | None = None,
) -> list[Path]:
    """Write ranking-<month>.html (with html) and ranking.csv, ranking-agencies.csv (with csv)
    into out; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    fmts = set(formats)
    if "html" in fmts:
        html = _html(lambda: render_ranking_html(ranking, lang, templates), templates)
        written += _write_texts(out, {f"ranking-{ranking.month}.html": html})
    if "csv" in fmts:
        written += _write_texts(out, render_ranking_csv(ranking))
    return written
