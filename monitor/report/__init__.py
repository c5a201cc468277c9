"""The monthly uptime report: history from Prometheus, service time and maintenance from the
inventory, figures per team, agency, application, counter, device and uplink, rendered as
one printable HTML file and CSV files. See docs/report.md."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path

import aiohttp

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
from monitor.report.prom import Prometheus, PrometheusError, redact
from monitor.report.tables import render_csv

__all__ = [
    "History",
    "Report",
    "ReportError",
    "build_report",
    "make_report",
    "render_csv",
    "render_html",
    "write_report",
]

FORMATS = ("html", "csv")


class ReportError(Exception):
    """The report cannot be made; the message is one line for people."""


def pick_sites(plan: Plan, site_id: str | None) -> list[SiteInfo]:
    """The sites to report: the one asked for, or every site of the inventory."""
    sites = list(plan.sites)
    if site_id is None:
        return sites
    for s in sites:
        if s.id == site_id:
            return [s]
    known = ", ".join(s.id for s in sites)
    raise ReportError(f"unknown site {site_id!r}: the inventory has {known}")


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
        raise ReportError(
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


def write_report(
    report: Report, out: Path, formats: Iterable[str] = FORMATS, lang: str = "id"
) -> list[Path]:
    """Write the HTML and/or CSV files into out; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    fmts = set(formats)
    if "html" in fmts:
        path = out / f"report-{report.site.id}-{report.month}.html"
        path.write_text(render_html(report, lang), encoding="utf-8")
        written.append(path)
    if "csv" in fmts:
        for name, text in render_csv(report).items():
            path = out / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
