"""Whole stacks side by side: mpp-monitor + Prometheus vs blackbox_exporter + Prometheus.

A user never runs blackbox_exporter alone: Prometheus scrapes one ``/probe`` per target per
interval, and that scrape work (HTTP request, parsing, appending a dozen series per target) is
part of what the probes cost. This script runs, on the same loopback targets and in the same
run, after a warm-up:

(a) ``mpp-monitor run`` with every target, and a real Prometheus scraping its /metrics every
    ``--interval`` seconds;
(b) blackbox_exporter (Debian's package), and a real Prometheus with the standard
    ``__param_target`` relabelling scraping ``/probe`` for every target every ``--interval``;

and prints per process and in total the CPU-seconds per 1,000 probes (``/proc/PID/stat``),
each Prometheus' head series and RSS, and the ratios (a)/(b). ``--repeat`` runs it again and
shows the spread. Targets: bench/targets_server.py (HTTP and TCP on 127.77.0.x, its CPU
charged to neither side) and ICMP echo to 127.88.x.y; loopback only, bounded in count and time.

    .venv/bin/python bench/whole_stack.py --targets 1000 --duration 120 --repeat 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare_blackbox import (
    MODULES,
    Children,
    Layout,
    Mpp,
    add_loop_argument,
    cpu_seconds,
    find_blackbox,
    free_port,
    mix_kinds,
    parse_mix,
    probe_targets,
    raise_open_files,
    rss_mib,
    start_blackbox,
    start_targets,
    wait_http,
    write_inventory,
)

PROMETHEUS = "/usr/bin/prometheus"
MAX_TARGETS = 10_000
MAX_DURATION = 1800


@dataclass
class Side:
    """One stack's figures over the measured window."""

    name: str
    probes: float
    cpu: dict[str, float]  # process -> CPU-seconds in the window
    head_series: float
    prom_rss: float
    prober_rss: float

    def per_1000(self, process: str | None = None) -> float:
        total = sum(self.cpu.values()) if process is None else self.cpu[process]
        return total / self.probes * 1000 if self.probes else float("nan")


def start_prometheus(children: Children, tmp: Path, name: str, config: str) -> tuple[int, str]:
    """A real Prometheus on a free loopback port with this config; (pid, URL)."""
    port = free_port()
    conf = tmp / f"prometheus-{name}.yml"
    conf.write_text(config)
    proc = children.start(
        [PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={tmp / ('tsdb-' + name)}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        tmp / f"prometheus-{name}.log",
    )  # fmt: skip
    return proc.pid, f"http://127.0.0.1:{port}"


def query(url: str, expr: str) -> float:
    """One instant query's first value (nan when empty)."""
    q = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=30) as r:
        doc = json.load(r)
    result = doc["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def head_series(url: str) -> float:
    """Series in Prometheus' head block (its TSDB status API: it does not scrape itself here)."""
    with urllib.request.urlopen(f"{url}/api/v1/status/tsdb", timeout=30) as r:
        return float(json.load(r)["data"]["headStats"]["numSeries"])


def self_scrapes(url: str) -> float:
    """Scrapes Prometheus has made so far, from its own /metrics (interval-length count)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as r:
        text = r.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_target_interval_length_seconds_count")
    )


def mpp_config(target: str, interval: float) -> str:
    return (
        f"global: {{scrape_interval: {interval:g}s, evaluation_interval: {interval:g}s}}\n"
        "scrape_configs:\n"
        f"  - job_name: mpp-monitor\n    scrape_timeout: {min(10, interval):g}s\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )


def blackbox_config(bb: str, targets: list[tuple[str, str]], interval: float) -> str:
    lines = [
        f"global: {{scrape_interval: {interval:g}s, evaluation_interval: {interval:g}s}}",
        "scrape_configs:",
    ]
    for kind, module in MODULES.items():
        mine = [t for k, t in targets if k == kind]
        if not mine:
            continue
        lines += [
            f"  - job_name: blackbox-{kind}",
            "    metrics_path: /probe",
            f"    scrape_timeout: {min(10, interval):g}s",
            f"    params: {{module: [{module}]}}",
            # One static config per target with its own `slot` label: the loopback layout
            # repeats host:port (450 TCP targets on 128 listeners), and Prometheus drops
            # targets whose label sets are identical after relabelling -- without the label
            # it scraped 642 of 1,000 targets (mpp-monitor probes every one of them).
            "    static_configs:",
            *(f"      - {{targets: ['{t}'], labels: {{slot: '{i}'}}}}" for i, t in enumerate(mine)),
            "    relabel_configs:",
            "      - {source_labels: [__address__], target_label: __param_target}",
            "      - {source_labels: [__param_target], target_label: instance}",
            f"      - {{target_label: __address__, replacement: '{bb}'}}",
        ]
    return "\n".join(lines) + "\n"


async def measure_mpp(
    children: Children, tmp: Path, layout: Layout, kinds: list[str], a: argparse.Namespace
) -> Side:
    inv = tmp / "inventory.yaml"
    write_inventory(inv, kinds, layout, a.interval, min(5.0, a.interval * 0.6), 1)
    async with Mpp(children, tmp, "stack", inv, a.source, a.loop) as mpp:
        await mpp.ready(120)
        prom_pid, prom = start_prometheus(
            children, tmp, "mpp", mpp_config(f"127.0.0.1:{mpp.port}", a.interval)
        )
        await wait_http(f"{prom}/-/ready", 60, children.procs[-1], tmp / "prometheus-mpp.log")
        await asyncio.sleep(a.warmup)
        before = {"mpp-monitor": cpu_seconds(mpp.pid), "prometheus": cpu_seconds(prom_pid)}
        runs_before = query_runs(await mpp.scrape())
        await asyncio.sleep(a.duration)
        runs_after = query_runs(await mpp.scrape())
        after = {"mpp-monitor": cpu_seconds(mpp.pid), "prometheus": cpu_seconds(prom_pid)}
        side = Side(
            "mpp-monitor + Prometheus",
            probes=runs_after - runs_before,
            cpu={k: after[k] - before[k] for k in before},
            head_series=head_series(prom),
            prom_rss=rss_mib(prom_pid),
            prober_rss=rss_mib(mpp.pid),
        )
        Children.stop(next(p for p in children.procs if p.pid == prom_pid))
        return side


def query_runs(scraped: tuple[bytes, float, int]) -> float:
    """Sum of mpp_probe_runs_total in a /metrics body."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(scraped[0].decode()):
        for s in family.samples:
            if s.name == "mpp_probe_runs_total":
                total += s.value
    return total


async def measure_blackbox(
    children: Children, tmp: Path, layout: Layout, kinds: list[str], a: argparse.Namespace
) -> Side:
    binary = find_blackbox()
    if binary is None:
        raise SystemExit(1)
    bb_pid, bb_url = start_blackbox(children, tmp, binary, min(5.0, a.interval * 0.6))
    await wait_http(f"{bb_url}/metrics", 30, children.procs[-1], tmp / "blackbox.log")
    targets = probe_targets(kinds, layout)
    bb_host = bb_url.removeprefix("http://")
    prom_pid, prom = start_prometheus(
        children, tmp, "bb", blackbox_config(bb_host, targets, a.interval)
    )
    await wait_http(f"{prom}/-/ready", 60, children.procs[-1], tmp / "prometheus-bb.log")
    await asyncio.sleep(a.warmup)
    before = {"blackbox_exporter": cpu_seconds(bb_pid), "prometheus": cpu_seconds(prom_pid)}
    scrapes_before = self_scrapes(prom)
    await asyncio.sleep(a.duration)
    after = {"blackbox_exporter": cpu_seconds(bb_pid), "prometheus": cpu_seconds(prom_pid)}
    scrapes_after = self_scrapes(prom)
    print(
        f"  blackbox side: Prometheus knows {query(prom, 'count(up)'):.0f} targets, "
        f"scrape loops counted {scrapes_after - scrapes_before:.0f} (self metrics), "
        f"max scrape duration {query(prom, 'max(scrape_duration_seconds)'):.3f}s",
        flush=True,
    )
    # one /probe scrape = one probe: the `up` samples Prometheus stored in the window
    scrapes = query(prom, f"sum(count_over_time(up[{a.duration:g}s]))")
    failed = query(prom, f"sum(count_over_time((up == 0)[{a.duration:g}s:]))")
    failed = 0.0 if failed != failed else failed  # nan: no failed scrape at all
    print(
        f"  blackbox side: {scrapes:.0f} /probe scrapes in the window (expected about "
        f"{len(targets) * a.duration / a.interval:.0f}), {failed:.0f} failed",
        flush=True,
    )
    side = Side(
        "blackbox_exporter + Prometheus",
        probes=scrapes,
        cpu={k: after[k] - before[k] for k in before},
        head_series=head_series(prom),
        prom_rss=rss_mib(prom_pid),
        prober_rss=rss_mib(bb_pid),
    )
    for pid in (prom_pid, bb_pid):
        Children.stop(next(p for p in children.procs if p.pid == pid))
    return side


async def one_run(a: argparse.Namespace, kinds: list[str]) -> tuple[Side, Side]:
    children = Children()
    with tempfile.TemporaryDirectory(prefix="mpp-stack-") as d:
        tmp = Path(d)
        try:
            layout = start_targets(children, tmp, a.warmup * 2 + a.duration * 2 + 300)
            mpp = await measure_mpp(children, tmp, layout, kinds, a)
            bb = await measure_blackbox(children, tmp, layout, kinds, a)
            return mpp, bb
        finally:
            children.stop_all()


def show(runs: list[tuple[Side, Side]]) -> None:
    def spread(values: list[float]) -> str:
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"

    print("\nCPU-seconds per 1,000 probes (median (min-max) over runs)")
    for i, label in enumerate(("mpp-monitor + Prometheus", "blackbox_exporter + Prometheus")):
        sides = [r[i] for r in runs]
        procs = list(sides[0].cpu)
        parts = ", ".join(f"{p} {spread([s.per_1000(p) for s in sides])}" for p in procs)
        print(f"  {label:32} total {spread([s.per_1000() for s in sides])}  ({parts})")
        print(
            f"  {'':32} probes/run {spread([s.probes for s in sides])}, head series "
            f"{spread([s.head_series for s in sides])}, Prometheus RSS "
            f"{spread([s.prom_rss for s in sides])} MiB, prober RSS "
            f"{spread([s.prober_rss for s in sides])} MiB"
        )
    ratios = [m.per_1000() / b.per_1000() for m, b in runs]
    prom = [m.per_1000("prometheus") / b.per_1000("prometheus") for m, b in runs]
    prober = [m.per_1000("mpp-monitor") / b.per_1000("blackbox_exporter") for m, b in runs]
    print(f"\nwhole stack (a)/(b): {spread(ratios)}   (goal <= 0.25)")
    print(f"prober alone:        {spread(prober)}")
    print(f"Prometheus alone:    {spread(prom)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--mix", default="icmp=45,tcp=45,http=10")
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--warmup", type=float, default=30.0)
    p.add_argument("--duration", type=float, default=120.0)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument(
        "--source",
        type=Path,
        default=None,
        help="run mpp-monitor from this source tree (python -m monitor, PYTHONPATH=DIR)",
    )
    add_loop_argument(p)
    a = p.parse_args()
    a.source = a.source.resolve() if a.source else None
    a.targets = max(10, min(a.targets, MAX_TARGETS))
    a.duration = max(10.0, min(a.duration, MAX_DURATION))
    a.warmup = max(0.0, min(a.warmup, 600.0))
    raise_open_files()
    kinds = mix_kinds(a.targets, parse_mix(a.mix))
    started = time.monotonic()
    runs = [asyncio.run(one_run(a, kinds)) for _ in range(max(1, min(a.repeat, 5)))]
    print(
        f"{a.targets} targets ({a.mix}), one probe per target per {a.interval:g} s, "
        f"{a.duration:g} s measured after {a.warmup:g} s warm-up, {len(runs)} run(s), "
        f"{time.monotonic() - started:.0f} s in all; mpp-monitor event loop {a.loop}"
    )
    show(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
