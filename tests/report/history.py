"""Load a synthetic month into a real Prometheus: promtool backfill, then the server."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TextIO, cast

from tests.dashboards.promserver import PromServer, start_prometheus
from tests.report.building import Building
from tests.report.synthetic import SITE, Month

PROMTOOL = "promtool"
# promtool cuts one block per 2 h by default and re-reads the whole input for every block:
# a month took 7 minutes. Larger blocks (it picks 1458 h for this value) take seconds.
MAX_BLOCK = "--max-block-duration=2000h"


class _AsSite:
    """A text sink that gives the synthetic site (tests/report/synthetic.py, site "paser")
    another site id, and keeps "# EOF" for the last site of the file."""

    def __init__(self, out: TextIO, site: str, last: bool) -> None:
        self.out, self.site, self.last = out, site, last

    def write(self, text: str) -> int:
        if text == "# EOF\n" and not self.last:
            return 0
        text = text.replace(f'site="{SITE}"', f'site="{self.site}"')
        return self.out.write(text.replace(f'entity="{SITE}/', f'entity="{self.site}/'))

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)


def write_sites(months: Mapping[str, Month], out: TextIO) -> None:
    """Several synthetic sites (site id -> month) in one OpenMetrics text, as a centre
    receiving remote_write from each holds them: told apart by the ``site`` label only."""
    for i, (site, month) in enumerate(months.items()):
        month.write_openmetrics(cast(TextIO, _AsSite(out, site, i == len(months) - 1)))


def backfill(month: Month | Building | Mapping[str, Month], workdir: Path) -> Path:
    """Write the month (or several sites' months) as OpenMetrics and turn it into TSDB
    blocks; return the data dir."""
    text = workdir / "history.om"
    with text.open("w", encoding="utf-8") as f:
        if isinstance(month, Mapping):
            write_sites(month, f)
        else:
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
