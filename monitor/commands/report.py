"""`mpp-monitor report`: the monthly uptime report (HTML + CSV) from Prometheus' history."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.plan import Plan

HELP = "Make the monthly uptime report (HTML, PDF, CSV, xlsx) from the history in Prometheus."
EXAMPLES = """\
  mpp-monitor report --config inventory.yaml --prometheus http://127.0.0.1:9090 \\
      --month 2026-02 --out laporan/2026-02
      writes report-<site>-2026-02.html (Bahasa Indonesia) and availability.csv,
      attribution.csv, incidents.csv, teams.csv, daily.csv for every site
  mpp-monitor report --config inventory.yaml --prometheus http://127.0.0.1:9090 \\
      --month 2026-02 --site paser --lang en --format html --out /tmp/report
      one site, English, HTML only
  mpp-monitor report --config inventory.yaml --prometheus http://127.0.0.1:9090 \\
      --month 2026-02 --format html,pdf,xlsx,csv --templates /etc/mpp-monitor/report \\
      --out laporan/2026-02
      also the PDF for the meeting (headless Chromium) and the workbook for Excel, with the
      letterhead and signatures from edited templates
  mpp-monitor report --config sites/paser.yaml --config sites/penajam.yaml \\
      --prometheus http://central:8428 --month 2026-02 --out laporan/2026-02
      at a centre holding many sites: each site's report in laporan/2026-02/<site>/, and
      the ranking of the MPPs in ranking-2026-02.html, ranking.csv, ranking-agencies.csv
"""


def _formats(value: str) -> list[str]:
    from monitor.report import FORMATS

    chosen = [v.strip().lower() for v in value.split(",") if v.strip()]
    bad = [v for v in chosen if v not in FORMATS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(
            f"invalid format {','.join(bad) or value!r}: use html, csv, pdf, xlsx or a list "
            "such as html,pdf,csv"
        )
    return chosen


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the report's arguments."""
    parser.add_argument(
        "--config",
        required=True,
        action="append",
        metavar="FILE",
        help="the inventory (YAML); repeat it for more files (a centre keeps one per site): "
        "site ids must be unique across them",
    )
    parser.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="base URL of the Prometheus that scrapes mpp-monitor (or of the central store "
        "the sites remote-write to), e.g. http://127.0.0.1:9090",
    )
    parser.add_argument(
        "--month", required=True, metavar="YYYY-MM", help="the month, in the site's time zone"
    )
    parser.add_argument("--site", metavar="ID", help="only this site (default: every site)")
    parser.add_argument(
        "--ranking",
        action="store_true",
        help="also write the cross-site ranking (ranking-<month>.html, ranking.csv, "
        "ranking-agencies.csv) into --out: the default when the run covers several sites",
    )
    parser.add_argument(
        "--format",
        type=_formats,
        default=["html", "csv"],
        metavar="html,csv",
        help="what to write: html, csv, pdf (headless Chromium), xlsx (default: html,csv)",
    )
    parser.add_argument(
        "--templates",
        metavar="DIR",
        help="a folder of edited report templates (report.html.j2, ranking.html.j2, "
        "report.css) to use first",
    )
    parser.add_argument(
        "--browser",
        metavar="PROGRAM",
        help="the Chromium to print the PDF with (default: chromium on PATH)",
    )
    parser.add_argument(
        "--lang",
        choices=("id", "en"),
        default="id",
        help="language of the HTML: id (Bahasa Indonesia, default) or en",
    )
    parser.add_argument(
        "--step",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="resolution: the scrape interval of mpp-monitor (default: 15)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="limit per Prometheus query (default: 120)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write into")


async def _run(args: argparse.Namespace) -> int:
    from monitor.inventory import ConfigError, load_plans
    from monitor.report import ReportError

    try:
        plans = load_plans(args.config)
    except ConfigError as exc:
        for item in exc.errors:
            print(item, file=sys.stderr)
        return 1
    try:
        return await _reports(args, plans)
    except ReportError as exc:
        print(f"mpp-monitor report: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"mpp-monitor report: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1


async def _reports(args: argparse.Namespace, plans: list[Plan]) -> int:
    """Each site's report, then the ranking when it is asked for or there are several sites;
    exit 1 only if no site had data (the missing ones are named on stderr)."""
    from monitor.report import NoDataError, make_report, pick_sites, write_ranking, write_report
    from monitor.report.prom import redact
    from monitor.report.ranking import SiteFigures, no_data, rank, site_figures

    sites = pick_sites(plans, args.site)
    ranking = args.ranking or len(sites) > 1
    out = Path(args.out)
    templates = Path(args.templates) if args.templates else None
    lines: list[SiteFigures] = []
    for plan, site in sites:
        try:
            report = await make_report(
                plan, site, args.month, args.prometheus, step=args.step, query_timeout=args.timeout
            )
        except NoDataError as exc:
            if not ranking:
                raise
            print(f"mpp-monitor report: {exc}", file=sys.stderr)
            lines.append(no_data(site))
            continue
        target = out if len(sites) == 1 else out / site.id
        written = write_report(report, target, args.format, args.lang, templates, args.browser)
        _print(written)
        lines.append(site_figures(report, _page(written, out)))
    if not any(line.data for line in lines):
        print(f"mpp-monitor report: no site has data in {args.month}", file=sys.stderr)
        return 1
    if ranking:
        result = rank(args.month, lines, redact(args.prometheus), time.time())
        _print(write_ranking(result, out, args.format, args.lang, templates))
    return 0


def _print(paths: list[Path]) -> None:
    for path in paths:
        print(path)


def _page(written: list[Path], out: Path) -> str:
    """The site report's HTML relative to out (for the ranking's link), "" without one."""
    return next((p.relative_to(out).as_posix() for p in written if p.suffix == ".html"), "")


def run(args: argparse.Namespace) -> int:
    """Make the report; exit 1 with one line on a known problem."""
    return asyncio.run(_run(args))
