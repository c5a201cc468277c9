"""Benchmark /metrics rendering: CPU per scrape, size, series, longest event-loop hold.

Builds a synthetic plan (icmp/http/tcp/dns mix, links, switches, counters), gives every
target a realistic result, then measures with ``time.process_time``:

* the fast renderer cold (label text built), after every target got a new result (the
  usual case when the scrape and probe intervals are equal), and with nothing new;
* prometheus_client's ``generate_latest`` over the same Collector, for comparison;
* gzip (level 1) of the body; the longest synchronous slice of ``render_async``.

Prints figures only. Usage: python bench/metrics_render.py [--targets 10000 2200 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, generate_latest

from monitor.exporter import MetricsRenderer, MonitorCollector
from monitor.plan import TARGET_LABELS, Counter, Entity, Plan, Target
from monitor.service import Service
from probes.base import ProbeResult

SITE = "paser"
KINDS = ("icmp",) * 6 + ("http",) * 2 + ("tcp", "dns")


def _labels(**kw: str) -> dict[str, str]:
    out = dict.fromkeys(TARGET_LABELS, "")
    out.update(kw)
    return out


def synthetic_plan(n_targets: int) -> Plan:
    """Return a plan with n_targets targets: 2 targets per entity, a switch per 40 devices."""
    entities: dict[str, Entity] = {}
    targets: list[Target] = []
    links = []
    for i in range(3):
        eid = f"{SITE}/link/isp-{i}"
        entities[eid] = Entity(
            eid, "link", f"ISP {i}", SITE, "kominfo",
            _labels(site=SITE, team="kominfo", kind="link", entity=eid, link=f"isp-{i}"),
            loss_degraded=0.05, latency_degraded=0.1,
        )  # fmt: skip
        links.append(eid)
    core = f"{SITE}/infra/sw-core"
    entities[core] = Entity(
        core, "infra", "core", SITE, "kominfo",
        _labels(site=SITE, team="kominfo", kind="infra", entity=core),
    )  # fmt: skip
    counters: list[Counter] = []
    k = 0
    while len(targets) < n_targets:
        kind = KINDS[k % len(KINDS)]
        agency = f"agency-{k % 20:02d}"
        team = f"team-{k % 20:02d}"
        if kind == "icmp" and k % 40 == 0:
            sw = f"{SITE}/infra/sw-{k // 40}"
            entities[sw] = Entity(
                sw, "infra", f"switch {k // 40}", SITE, "kominfo",
                _labels(site=SITE, team="kominfo", kind="infra", entity=sw), depends_on=(core,),
            )  # fmt: skip
        sw = f"{SITE}/infra/sw-{k // 40}"
        if kind in ("http", "dns"):
            eid = f"{SITE}/application/app-{k}"
            lab = _labels(site=SITE, team=team, kind="application", entity=eid, agency=agency)
            e = Entity(eid, "application", f"app {k}", SITE, team, lab, depends_on=tuple(links))
        else:
            eid = f"{SITE}/device/gerai-{k}-pc"
            lab = _labels(
                site=SITE, team=team, kind="device", entity=eid, agency=agency,
                counter=f"{k % 44 + 1:02d}", device=f"gerai-{k}-pc",
            )  # fmt: skip
            deps = (sw,) if sw in entities else (core,)
            e = Entity(eid, "device", f"pc {k}", SITE, team, lab, depends_on=deps)
        entities[eid] = e
        for check in ("a", "b"):
            if len(targets) >= n_targets:
                break
            targets.append(
                Target(f"{eid}/{kind}-{check}", cast(Any, kind), "127.0.0.1", eid, 15.0, 5.0,
                       None, dict(e.labels))
            )  # fmt: skip
        k += 1
    for n in range(1, 45):
        devs = tuple(eid for eid in list(entities)[:200] if "/device/" in eid)[n : n + 2]
        counters.append(Counter(SITE, n, f"Gerai {n}", "agency-01", "team-01", devs, ()))
    return Plan(tuple(targets), entities, tuple(counters), cast(Any, None))


def result_for(kind: str, rnd: random.Random) -> ProbeResult:
    """Return a plausible result of a probe kind."""
    ok = rnd.random() > 0.05
    d = rnd.uniform(0.001, 0.2)
    if kind == "icmp":
        rtt = rnd.uniform(0.0005, 0.05)
        return ProbeResult(
            ok, d, "" if ok else "timeout",
            phases={"resolve": 0.0, "setup": 0.0001, "rtt": rtt},
            values={"packets_sent": 3, "packets_received": 3 if ok else 0,
                    "loss_ratio": 0.0 if ok else 1.0, "rtt_min_seconds": rtt * 0.8,
                    "rtt_median_seconds": rtt, "rtt_mean_seconds": rtt,
                    "rtt_max_seconds": rtt * 1.3, "rtt_stddev_seconds": rtt * 0.1,
                    "ip_protocol": 4},
        )  # fmt: skip
    if kind == "http":
        return ProbeResult(
            ok, d, "" if ok else "status",
            phases={"resolve": 0.0, "connect": d / 5, "tls": d / 4, "processing": d / 3,
                    "transfer": d / 10},
            values={"status_code": 200 if ok else 503, "http_version": 1.1,
                    "content_length": rnd.randint(100, 9000), "redirects": 0,
                    "ssl_earliest_cert_expiry": 1.8e9, "ip_protocol": 4},
            info={"tls_version": "TLS 1.3"},
        )  # fmt: skip
    if kind == "tcp":
        return ProbeResult(
            ok, d, "" if ok else "connect_refused",
            phases={"resolve": 0.0, "connect": d, "tls": 0.0, "exchange": 0.0},
            values={"ip_protocol": 4},
        )  # fmt: skip
    return ProbeResult(
        ok, d, "" if ok else "rcode",
        phases={"lookup": d}, values={"lookup_seconds": d, "dns_answer_rrs": 1, "dns_rcode": 0},
    )  # fmt: skip


def feed(svc: Service, plan: Plan, rnd: random.Random, wall: float) -> None:
    """Give every target one new result."""
    for t in plan.targets:
        svc.state.record(t.id, result_for(t.probe, rnd), wall)


def cpu(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    """Return (median CPU seconds, last result) of fn()."""
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return statistics.median(times), out


async def longest_hold(renderer: MetricsRenderer) -> float:
    """Return the longest wall time a streamed render held the loop without yielding."""
    gaps: list[float] = []
    stop = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await renderer.render_async()
    stop = True
    await task
    return max(gaps)


def bench(n_targets: int, rnd: random.Random) -> None:
    """Print the figures for one plan size."""
    plan = synthetic_plan(n_targets)
    svc = Service(probes={})
    svc.state.apply_plan(plan, time.time())
    wall = time.time()
    feed(svc, plan, rnd, wall)
    renderer = MetricsRenderer(svc)
    t0 = time.process_time()
    body = renderer.render()
    cold = time.process_time() - t0
    series = sum(1 for ln in body.split(b"\n") if ln and not ln.startswith(b"#"))
    t_feed, _ = cpu(lambda: feed(svc, plan, rnd, wall + 15))
    t_new = []
    for i in range(3):
        feed(svc, plan, rnd, wall + 30 + i)
        t0 = time.process_time()
        body = renderer.render()
        t_new.append(time.process_time() - t0)
    t_same, body = cpu(renderer.render)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MonitorCollector(svc))
    t_generic, generic = cpu(lambda: generate_latest(reg), repeat=1)
    t_gzip, zipped = cpu(lambda: gzip.compress(body, 1, mtime=0), repeat=1)
    hold = asyncio.run(longest_hold(renderer))
    print(
        f"{n_targets:>6} targets {series:>7} series {len(body) / 1e6:6.2f} MB "
        f"(gzip-1 {len(zipped) / 1e6:5.2f} MB)\n"
        f"       CPU s per scrape: first {cold:.3f}, after new results "
        f"{statistics.median(t_new):.3f}, nothing new {t_same:.3f}; "
        f"prometheus_client generate_latest {t_generic:.3f} (same bytes: {generic == body}); "
        f"gzip-1 {t_gzip:.3f}\n"
        f"       longest event-loop hold while streaming: {hold * 1000:.1f} ms; "
        f"recording {n_targets} results: {t_feed:.3f} s"
    )


def main() -> int:
    """Run the benchmark for each size given."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, nargs="+", default=[2200, 10000])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    print(f"python {sys.version.split()[0]}; figures are CPU seconds per scrape")
    for n in args.targets:
        bench(n, rnd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
