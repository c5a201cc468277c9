"""Issue 12 at full length: five sites, one VictoriaMetrics, a 10-minute cut, a dark site.

    python bench/central_cut.py [--cut SECONDS]     # default 600 (the issue's ten minutes)

Prints: sites x series ingested at the centre, VictoriaMetrics' RSS and CPU-seconds (from
/proc) at that load, samples missing after the cut, detection time of the dark site. Uses the
harness and the scenario functions of tests/central (same processes, same checks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.central import harness as H
from tests.central.test_central import DARK_AFTER, largest_gap, run_scenario, site_and_centre


def proc_figures(pid: int) -> tuple[float, float]:
    """(RSS MiB, CPU seconds user+system) of a process, from /proc."""
    rss_kib = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kib / 1024, (int(fields[11]) + int(fields[12])) / ticks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cut", type=float, default=600.0, help="cut length in seconds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpp-central-bench-") as tmp:
        central = H.start_central(Path(tmp))
        try:
            H.wait_for(
                "five sites",
                lambda: len(H.query(central.vm_url, 'up{job="mpp-monitor"}')) == H.SITES,
                60,
            )
            started = time.monotonic()
            out = run_scenario(central, Path(tmp), args.cut)
            elapsed = time.monotonic() - started
            series = H.query(central.vm_url, 'count by (site) ({site!=""})')
            per_site = sorted(int(r["value"][1]) for r in series)
            rss, cpu = proc_figures(central.vm.popen.pid)
            print(f"sites x series at the centre: {len(per_site)} x {per_site}")
            print(f"victoria-metrics: RSS {rss:.0f} MiB, {cpu:.1f} CPU-s over the run "
                  f"(scrape 1s per site; scenario {elapsed:.0f}s)")  # fmt: skip
            print(f"cut {args.cut:.0f}s: {out.missing} of {out.total} site samples missing "
                  "at the centre")  # fmt: skip
            print(f"dark site detected after {out.detection:.1f}s (dark-after {DARK_AFTER}, "
                  "evaluation 5s, group_wait 1s)")  # fmt: skip
            for n in (H.CUT_SITE, H.SUMMARY_SITE):
                local, remote = asyncio.run(site_and_centre(central, n, Path(tmp) / f"r{n}"))
                print(f"monthly report of site{n}, centre vs site: {len(local) - 1} rows, "
                      f"largest difference {largest_gap(local, remote):.4f} pp")  # fmt: skip
        finally:
            central.close()


if __name__ == "__main__":
    main()
