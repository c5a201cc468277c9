"""`mpp-monitor report`: the monthly uptime report (HTML + CSV) from Prometheus' history."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

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
    parser.add_argument("--config", required=True, metavar="FILE", help="the inventory (YAML)")
    parser.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="base URL of the Prometheus that scrapes mpp-monitor, e.g. http://127.0.0.1:9090",
    )
    parser.add_argument(
        "--month", required=True, metavar="YYYY-MM", help="the month, in the site's time zone"
    )
    parser.add_argument("--site", metavar="ID", help="only this site (default: every site)")
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
        help="a folder of edited report templates (report.html.j2, report.css) to use first",
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
    from monitor.inventory import ConfigError, load_plan
    from monitor.report import ReportError, make_report, pick_sites, write_report

    try:
        plan = load_plan(args.config)
    except ConfigError as exc:
        for item in exc.errors:
            print(item, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot read {args.config}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        sites = pick_sites(plan, args.site)
        out = Path(args.out)
        for site in sites:
            report = await make_report(
                plan, site, args.month, args.prometheus, step=args.step, query_timeout=args.timeout
            )
            target = out if len(sites) == 1 else out / site.id
            templates = Path(args.templates) if args.templates else None
            written = write_report(report, target, args.format, args.lang, templates, args.browser)
            for path in written:
                print(path)
    except ReportError as exc:
        print(f"mpp-monitor report: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"mpp-monitor report: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Make the report; exit 1 with one line on a known problem."""
    return asyncio.run(_run(args))
