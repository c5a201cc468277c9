"""Count the series one site sends to the centre, from an inventory, without probing anything.

Loads the inventory (e.g. examples/mpp-paser.yaml: it is only read, never probed), gives
every target one plausible result in memory (as bench/metrics_render.py does), renders
/metrics and counts the series per metric family.

With ``--measure SECONDS`` it also runs the real pipeline on loopback: that /metrics body
(fresh random results at every scrape) served on 127.0.0.1, a real Prometheus rendered by
``render prometheus --remote-write`` for the inventory (its rules, scrape every --scrape s)
and a real single-node VictoriaMetrics as the centre. It prints the head series of the site
Prometheus (exporter + recording rules + scrape series), the series the centre holds for the
site, the remote_write bytes and samples sent (Prometheus' own counters, so bytes per sample
on the wire after snappy) and VictoriaMetrics' RSS. Figures only, no assertion; nothing but
127.0.0.1 is contacted (the inventory's addresses are never probed).

Usage: python bench/site_series.py [--config examples/mpp-paser.yaml] [--scrape 15]
       python bench/site_series.py --measure 180 --scrape 15
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from bench.central_cut import proc_figures
from bench.metrics_render import feed
from monitor.exporter import MetricsRenderer
from monitor.inventory.expand import load_plan
from monitor.plan import Plan
from monitor.service import Service

# Series Prometheus adds per scrape job (up, scrape_duration_seconds, scrape_samples_scraped,
# scrape_samples_post_metric_relabeling, scrape_series_added): 5 per target of a job.
SCRAPE_SERIES_PER_JOB = 5


def family(line: bytes) -> str:
    """Return the metric name of one exposition line."""
    end = len(line)
    for sep in (b"{", b" "):
        i = line.find(sep)
        if 0 <= i < end:
            end = i
    return line[:end].decode()


def exporter_series(plan: Plan) -> Counter[str]:
    """Return the number of series per metric family that mpp-monitor exports for the plan."""
    svc = Service(probes={})
    now = time.time()
    svc.state.apply_plan(plan, now)
    feed(svc, plan, random.Random(7), now)
    body = MetricsRenderer(svc).render()
    counts: Counter[str] = Counter()
    for ln in body.split(b"\n"):
        if ln and not ln.startswith(b"#"):
            counts[family(ln)] += 1
    return counts


def prom_counter(url: str, name: str) -> float:
    """Sum of a metric's samples in a Prometheus /metrics page."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(
        float(ln.rsplit(" ", 1)[1])
        for ln in text.splitlines()
        if ln.startswith(name) and ln[len(name) : len(name) + 1] in ("{", " ")
    )


async def serve_metrics(plan: Plan, port: int) -> web.AppRunner:
    """Serve the plan's /metrics on 127.0.0.1:port, with fresh results at every scrape."""
    svc = Service(probes={})
    svc.state.apply_plan(plan, time.time())
    renderer = MetricsRenderer(svc)
    rnd = random.Random(11)

    async def metrics(_: web.Request) -> web.Response:
        feed(svc, plan, rnd, time.time())
        return web.Response(body=renderer.render(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def measure(a: argparse.Namespace, plan: Plan, site: str) -> None:
    """Run exporter body -> real Prometheus -> real VictoriaMetrics and print the figures."""
    from tests.central import harness as H
    from tests.e2e.harness import Processes, run_cli

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    mport = H.free_port()
    runner = asyncio.run_coroutine_threadsafe(serve_metrics(plan, mport), loop).result(30)
    with tempfile.TemporaryDirectory(prefix="mpp-scale-") as tmp:
        work = Path(tmp)
        procs = Processes(work)
        try:
            vm_url, vm = H.start_vm(procs, work)
            cfg = work / "prometheus.yml"
            run_cli("render", "prometheus", "--config", str(a.config),
                    "--monitor", f"127.0.0.1:{mport}", "--scrape-interval", f"{a.scrape:g}s",
                    "--remote-write", vm_url + "/api/v1/write",
                    "--remote-write-series", a.series, "--out", str(cfg))  # fmt: skip
            pport = H.free_port()
            prom = procs.start("prometheus", [
                H.PROMETHEUS_BIN, f"--config.file={cfg}", f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{pport}",
            ])  # fmt: skip
            purl = f"http://127.0.0.1:{pport}"
            H.wait_for("prometheus ready", lambda: H.ok(purl + "/-/ready"), 60)
            warm = 3 * a.scrape + 10
            print(f"warming up {warm:.0f} s, then measuring {a.measure:.0f} s ...", flush=True)
            time.sleep(warm)
            b0 = prom_counter(purl, "prometheus_remote_storage_bytes_total")
            s0 = prom_counter(purl, "prometheus_remote_storage_samples_total")
            time.sleep(a.measure)
            b1 = prom_counter(purl, "prometheus_remote_storage_bytes_total")
            s1 = prom_counter(purl, "prometheus_remote_storage_samples_total")
            head = prom_counter(purl, "prometheus_tsdb_head_series")
            rec = H.query(purl, 'count({__name__=~".+:.+"})')
            central = H.query(vm_url, f'count({{site="{site}"}})')
            rss, cpu = proc_figures(vm.popen.pid)
            prss, pcpu = proc_figures(prom.popen.pid)
            urllib.request.urlopen(vm_url + "/internal/force_flush", timeout=30).close()
            disk = prom_counter(vm_url, "vm_data_size_bytes")
            rows = prom_counter(vm_url, "vm_rows")
        finally:
            procs.close()
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
    n_rec = int(rec[0]["value"][1]) if rec else 0
    n_central = int(central[0]["value"][1]) if central else 0
    dbytes, dsamples = b1 - b0, s1 - s0
    print(f"site Prometheus head series: {head:.0f} (recording-rule series {n_rec})")
    print(f"series at the centre for site {site} (--remote-write-series {a.series}): {n_central}")
    print(f"remote_write over {a.measure:.0f} s: {dsamples:.0f} samples, {dbytes / 1e6:.2f} MB "
          f"= {dbytes / max(dsamples, 1):.2f} bytes/sample, {dsamples / a.measure:.0f} samples/s, "
          f"{8 * dbytes / a.measure / 1000:.1f} kbit/s")  # fmt: skip
    print(f"site Prometheus: RSS {prss:.0f} MiB, {pcpu:.1f} CPU-s (whole run)")
    print(f"victoria-metrics: RSS {rss:.0f} MiB, {cpu:.1f} CPU-s (whole run), "
          f"{disk / 1e6:.2f} MB on disk for {rows:.0f} rows and index entries "
          f"(young parts, not merged yet: an upper bound)")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=Path("examples/mpp-paser.yaml"))
    p.add_argument("--scrape", type=float, default=15.0, help="scrape interval, s")
    p.add_argument("--top", type=int, default=12, help="families to list")
    p.add_argument("--measure", type=float, default=0.0, metavar="SECONDS",
                   help="also run exporter, Prometheus, VictoriaMetrics this long")  # fmt: skip
    p.add_argument("--series", choices=("all", "summary"), default="all",
                   help="render prometheus --remote-write-series")  # fmt: skip
    a = p.parse_args()
    plan = load_plan(a.config)
    counts = exporter_series(plan)
    total = sum(counts.values())
    kinds = Counter(t.probe for t in plan.targets)
    print(f"inventory {a.config}: {len(plan.targets)} targets {dict(kinds)}, "
          f"{len(plan.entities)} entities, {len(plan.counters)} counters")  # fmt: skip
    print(f"{'family':<44} {'series':>7}")
    for name, n in counts.most_common(a.top):
        print(f"{name:<44} {n:>7}")
    rest = total - sum(n for _, n in counts.most_common(a.top))
    print(f"{'(other ' + str(len(counts) - a.top) + ' families)':<44} {rest:>7}")
    scrape = 2 * SCRAPE_SERIES_PER_JOB  # mpp-monitor and the notifier jobs
    print(f"exporter series: {total}; with Prometheus' scrape series: {total + scrape}")
    per_s = (total + scrape) / a.scrape
    print(f"samples/s per site at a {a.scrape:g} s scrape: {per_s:.1f}")
    for sites in (50, 500, 1000):
        print(f"  {sites:>5} sites: {sites * (total + scrape):>10,} series, "
              f"{sites * per_s:>10,.0f} samples/s")  # fmt: skip
    if a.measure > 0:
        measure(a, plan, plan.targets[0].labels["site"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
