"""Benchmark the scheduler: start lateness with and without concurrent /metrics scrapes.

Runs the real Service (APScheduler timetable, state, renderer, aiohttp /metrics on a
loopback port) with fake probes that wait 1-50 ms like network I/O and return ICMP-like
results, for N targets at a fixed interval. Phase 1 probes only; phase 2 adds a scraper in
a separate process fetching /metrics every few seconds (as Prometheus would, from
outside). Prints exact lateness quantiles (actual - planned start), runs skipped, CPU
seconds per 1,000 probes, scrape durations and RSS. Prints figures only.

Usage: python bench/scheduler_lateness.py [--targets 10000] [--interval 15] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web
from metrics_render import synthetic_plan

from monitor.commands.run import settle_memory
from monitor.exporter import metrics_handler
from monitor.plan import Plan, Target
from monitor.scheduler import Histogram
from monitor.service import Service
from probes.base import ProbeContext, ProbeResult
from probes.registry import KINDS

SCRAPER = r"""
import sys, time, urllib.request
url, every, until = sys.argv[1], float(sys.argv[2]), time.time() + float(sys.argv[3])
while time.time() < until:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        n = len(r.read())
    print(f"{time.perf_counter() - t0:.4f} {n}", flush=True)
    time.sleep(max(0.0, every - (time.perf_counter() - t0)))
"""


class RecordingHistogram(Histogram):
    """A histogram that also keeps raw observations (for exact quantiles)."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[float] = []

    def observe(self, value: float) -> None:
        """Add one observation and keep it."""
        super().observe(value)
        self.raw.append(value)


def quantiles(values: list[float]) -> str:
    """Return p50/p90/p99/max in milliseconds."""
    if not values:
        return "no starts"
    v = sorted(values)

    def q(p: float) -> float:
        return v[min(len(v) - 1, int(p * len(v)))] * 1000

    return (
        f"p50 {q(0.5):.2f} ms, p90 {q(0.9):.2f} ms, p99 {q(0.99):.2f} ms, max {v[-1] * 1000:.1f} ms"
    )


def rss_mb() -> float:
    """Return this process's resident set size in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_probe(rnd: random.Random):  # type: ignore[no-untyped-def]
    """Return a fake probe: 1-50 ms of waiting, an ICMP-like result."""

    async def probe(t: Target, settings: object, ctx: ProbeContext) -> ProbeResult:
        t0 = ctx.monotonic()
        await asyncio.sleep(rnd.uniform(0.001, 0.05))
        rtt = rnd.uniform(0.0005, 0.02)
        return ProbeResult(
            True,
            ctx.monotonic() - t0,
            phases={"resolve": 0.0, "setup": 0.0001, "rtt": rtt},
            values={"packets_sent": 3, "packets_received": 3, "loss_ratio": 0.0,
                    "rtt_min_seconds": rtt, "rtt_median_seconds": rtt, "rtt_mean_seconds": rtt,
                    "rtt_max_seconds": rtt, "rtt_stddev_seconds": 0.0, "ip_protocol": 4},
        )  # fmt: skip

    return probe


def with_interval(plan: Plan, interval: float) -> Plan:
    """Return the plan with every target at this interval (timeout a third of it)."""
    from dataclasses import replace

    targets = tuple(replace(t, interval=interval, timeout=interval / 3) for t in plan.targets)
    return replace(plan, targets=targets)


async def phase(
    svc: Service, hist: RecordingHistogram, seconds: float, scrape_url: str | None, every: float
) -> None:
    """Run for a while (optionally scraped from another process) and print the figures."""
    hist.raw.clear()
    skipped0 = svc.scheduler.skipped
    started0 = svc.scheduler.started
    cpu0 = time.process_time()
    scraper = None
    if scrape_url:
        scraper = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRAPER, scrape_url, str(every), str(seconds),
            stdout=subprocess.PIPE,
        )  # fmt: skip
    await asyncio.sleep(seconds)
    scrapes: list[tuple[float, int]] = []
    if scraper is not None:
        out, _ = await scraper.communicate()
        scrapes = [(float(a), int(b)) for a, b in (ln.split() for ln in out.decode().splitlines())]
    cpu = time.process_time() - cpu0
    starts = svc.scheduler.started - started0
    label = f"scraped every {every:g} s" if scrape_url else "not scraped"
    label += f" (host load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    print(f"  {label}: {starts} starts in {seconds:g} s; lateness {quantiles(hist.raw)}")
    print(
        f"    runs skipped {svc.scheduler.skipped - skipped0}; process CPU {cpu:.2f} s "
        f"= {cpu / max(1, starts) * 1000:.3f} CPU-s per 1,000 probes; RSS {rss_mb():.0f} MB"
    )
    if scrapes:
        times = [t for t, _ in scrapes]
        print(
            f"    {len(scrapes)} scrapes: median {statistics.median(times):.3f} s, "
            f"max {max(times):.3f} s wall (client side), {scrapes[-1][1] / 1e6:.1f} MB each"
        )


async def run(args: argparse.Namespace) -> None:
    """Start the service, run both phases, stop."""
    rnd = random.Random(args.seed)
    probe = make_probe(rnd)
    plan = with_interval(synthetic_plan(args.targets), args.interval)
    svc = Service(probes={k: probe for k in KINDS}, after_warm=settle_memory)  # as `run` does
    hist = RecordingHistogram()
    svc.scheduler.lateness = hist
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(svc))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    print(
        f"{args.targets} targets every {args.interval:g} s "
        f"({args.targets / args.interval:.0f} probes/s); RSS before start {rss_mb():.0f} MB"
    )
    try:
        await svc.apply_plan(plan)
        # first interval: every target reaches its first slot (the stagger spreads them)
        await asyncio.sleep(args.interval)
        await phase(svc, hist, args.duration, None, args.scrape_every)
        await phase(svc, hist, args.duration, url, args.scrape_every)
    finally:
        await svc.stop()
        await runner.cleanup()


def main() -> int:
    """Parse arguments and run."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--interval", type=float, default=15.0)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    ap.add_argument("--scrape-every", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=3)
    asyncio.run(run(ap.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
