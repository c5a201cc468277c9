"""Load a synthetic month into a real Prometheus: promtool backfill, then the server."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.dashboards.promserver import PromServer, start_prometheus
from tests.report.building import Building
from tests.report.synthetic import Month

PROMTOOL = "promtool"
# promtool cuts one block per 2 h by default and re-reads the whole input for every block:
# a month took 7 minutes. Larger blocks (it picks 1458 h for this value) take seconds.
MAX_BLOCK = "--max-block-duration=2000h"


def backfill(month: Month | Building, workdir: Path) -> Path:
    """Write the month as OpenMetrics and turn it into TSDB blocks; return the data dir."""
    text = workdir / "history.om"
    with text.open("w", encoding="utf-8") as f:
        month.write_openmetrics(f)
    data = workdir / "data"
    subprocess.run(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            MAX_BLOCK,
            "-q",
            str(text),
            str(data),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    text.unlink()
    return data


@contextlib.contextmanager
def serve_history(data: Path, step: int) -> Iterator[PromServer]:
    """Prometheus on loopback over those blocks. The lookback delta is just under the step:
    samples sit exactly on the step grid, so an evaluation sees its own step's sample and
    never the previous one (a missing sample is then "no data", as after a failed scrape)."""
    with start_prometheus(
        "global:\n  scrape_interval: 15s\n",
        extra_args=[f"--query.lookback-delta={step - 1}s"],
        data_dir=data,
    ) as prom:
        yield prom
