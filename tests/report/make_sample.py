"""Regenerate the committed sample report, examples/report-2026-02/: the whole Paser building.

    .venv/bin/python -m tests.report.make_sample [--step 300] [--out examples/report-2026-02]

Builds a synthetic January and February 2026 for examples/mpp-paser.yaml (44 counters, 183
entities: tests/report/building.py), backfills it with promtool, serves it with the real
prometheus binary on loopback, and runs the report for February (compared with January) in
Bahasa Indonesia (HTML, CSV, xlsx) and in English (HTML). The output is the same on every
run: the history is seeded, and the generation time and the data source shown are fixed.
A sample every 5 minutes keeps the backfill small (3.9 million samples, about a minute);
the figures are computed at the step the history was written with.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from monitor.report import make_report, render_html, write_report
from tests.report.building import building
from tests.report.history import backfill, serve_history
from tests.report.synthetic import WITA

ROOT = Path(__file__).resolve().parents[2]
GENERATED = dt.datetime(2026, 3, 2, 8, 0, tzinfo=WITA).timestamp()
SOURCE = "Prometheus (data sintetis: tests/report/building.py)"


def main() -> int:
    """Build the two months, load them into Prometheus, write the sample report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", type=int, default=300, help="seconds between samples (300)")
    ap.add_argument("--out", type=Path, default=ROOT / "examples" / "report-2026-02")
    args = ap.parse_args()
    t0 = time.monotonic()
    history = building(args.step)
    plan, site = history.plan, history.site
    with tempfile.TemporaryDirectory(prefix="mpp-sample-") as tmp:
        data = backfill(history, Path(tmp))
        t1 = time.monotonic()
        with serve_history(data, args.step) as prom:
            report = asyncio.run(
                make_report(plan, site, "2026-02", prom.url, step=args.step, now=GENERATED)
            )
        t2 = time.monotonic()
    report.source = SOURCE
    for old in args.out.glob("*"):
        old.unlink()
    written = write_report(report, args.out, ("html", "csv", "xlsx"), "id")
    english = args.out / f"report-{site.id}-{report.month}.en.html"
    english.write_text(render_html(report, "en"), encoding="utf-8")
    for path in [*written, english]:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    print(
        f"step {args.step}s: built and backfilled in {t1 - t0:.1f}s, report in {t2 - t1:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
