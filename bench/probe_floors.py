"""Where mpp-monitor's CPU per probe goes: floors, probe functions, scheduling, GC pauses.

In-process figures (CPU-seconds of this process, user + system) that explain
``compare_blackbox.py``'s totals:

* floors: a bare asyncio TCP connect (``open_connection`` + abort, and ``sock_connect``),
  a bare aiohttp GET (new session per request, as the probe does);
* the probe functions themselves (``probes.tcp/http/icmp.probe``), back to back;
* the runtime around a probe: the real ``Service`` (APScheduler timetable, task, semaphore,
  timeout, state) with a no-op probe, N targets at an interval, and the same with the
  APScheduler firing replaced by plain ``loop.call_at`` timers (an experiment, not the
  shipped code);
* ``--gc``: garbage-collection pauses and start lateness of a 10,000-target Service whose
  /metrics is rendered every 5 s, as shipped and with ``gc.freeze()`` after the plan is
  applied (full collections walk every object the plan and state hold).

Loopback only (bench/targets_server.py in a child process; ICMP to 127.88.0.x needs root).

    .venv/bin/python bench/probe_floors.py [--probes 4000] [--targets 2000] [--gc] [--no-runtime]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import math
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import compare_blackbox as cb

from monitor.inventory import load_plan
from monitor.plan import TARGET_LABELS, Target
from monitor.scheduler import bucket_quantile, first_run
from monitor.service import Service
from probes import http, icmp, tcp
from probes.base import ProbeContext, ProbeResult
from probes.settings import HttpSettings, IcmpSettings, TcpSettings

MAX_PROBES = 50_000


def _target(i: int, kind: str, address: str) -> Target:
    return Target(
        id=f"floor/{kind}/{i}",
        probe=kind,  # type: ignore[arg-type]
        address=address,
        entity="floor",
        interval=15,
        timeout=5,
        settings=None,
        labels=dict.fromkeys(TARGET_LABELS, ""),
    )


async def back_to_back(
    name: str, n: int, concurrency: int, one: Callable[[int], Awaitable[Any]]
) -> None:
    """Run ``one(i)`` n times, ``concurrency`` at once; print CPU ms per call."""
    sem = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with sem:
            await one(i)

    t0 = os.times()
    await asyncio.gather(*(run(i) for i in range(n)))
    t1 = os.times()
    user, system = (t1.user - t0.user) / n * 1000, (t1.system - t0.system) / n * 1000
    print(f"  {name:<44}{user:>7.3f}{system:>7.3f}{user + system:>7.3f}")


async def floors(layout: cb.Layout, n: int, root: bool) -> None:
    """Bare library floors and the probe functions, back to back (concurrency 8)."""
    loop = asyncio.get_running_loop()
    ctx = ProbeContext(monotonic=time.monotonic, wall=time.time)
    tcps = [_target(i, "tcp", f"{h}:{p}") for i, (h, p) in enumerate(layout.tcp)]
    urls = [f"http://{h}:{p}/" for h, p in layout.http]
    https = [_target(i, "http", u) for i, u in enumerate(urls)]
    tcp_settings, http_settings = TcpSettings(), HttpSettings()

    async def open_connection(i: int) -> None:
        h, p = layout.tcp[i % len(layout.tcp)]
        _, writer = await asyncio.open_connection(h, p)
        writer.transport.abort()

    async def sock_connect(i: int) -> None:
        h, p = layout.tcp[i % len(layout.tcp)]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            await loop.sock_connect(s, (h, p))
        finally:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
            s.close()

    async def aiohttp_get(i: int) -> None:
        conn = aiohttp.TCPConnector(force_close=True, use_dns_cache=False)
        async with (
            aiohttp.ClientSession(connector=conn) as session,
            session.get(urls[i % len(urls)]) as r,
        ):
            await r.read()

    async def tcp_probe(i: int) -> None:
        r = await tcp.probe(tcps[i % len(tcps)], tcp_settings, ctx)
        assert r.success, r.reason

    async def http_probe(i: int) -> None:
        r = await http.probe(https[i % len(https)], http_settings, ctx)
        assert r.success, r.reason

    print(f"back to back, {n} calls, 8 at a time: CPU ms per call")
    print(f"  {'':<44}{'user':>7}{'sys':>7}{'total':>7}")
    await back_to_back("floor: asyncio open_connection + abort", n, 8, open_connection)
    await back_to_back("floor: loop.sock_connect + RST close", n, 8, sock_connect)
    await back_to_back("floor: aiohttp GET, session per request", n // 2, 8, aiohttp_get)
    await back_to_back("probes.tcp.probe", n, 8, tcp_probe)
    for lean in (True, False):
        http.LEAN = lean
        path = "lean path" if lean else "aiohttp client path"
        await back_to_back(f"probes.http.probe ({path})", n // 2, 8, http_probe)
    http.LEAN = True
    if root:
        await icmp.setup(ctx)
        icmps = [_target(i, "icmp", cb.icmp_address(i)) for i in range(200)]
        icmp_settings = IcmpSettings(count=1)

        async def icmp_probe(i: int) -> None:
            r = await icmp.probe(icmps[i % len(icmps)], icmp_settings, ctx)
            assert r.success, r.reason

        try:
            await back_to_back("probes.icmp.probe (shared socket, 1 echo)", n, 8, icmp_probe)
        finally:
            icmp.close(ctx)


async def _noop(target: Target, settings: Any, ctx: ProbeContext) -> ProbeResult:
    return ProbeResult(True, 0.001, phases={"connect": 0.001}, values={"ip_protocol": 4})


def _plan_file(tmp: Path, n: int, interval: float) -> Path:
    layout = cb.Layout(http=[("127.77.0.1", 1)], tcp=[("127.77.0.1", 2)], pid=0)
    path = tmp / f"floor-{n}.yaml"
    cb.write_inventory(path, ["tcp"] * n, layout, interval, min(5, interval / 2), 1)
    return path


def _call_at_timetable(service: Service) -> dict[str, asyncio.TimerHandle]:
    """Experiment: fire runs from loop.call_at timers instead of APScheduler's jobs.

    Returns the live timer per target: cancel them all before stopping the service.
    """
    sched = service.scheduler
    sched._aps.pause()  # an experiment on the real object
    loop = asyncio.get_running_loop()
    timers: dict[str, asyncio.TimerHandle] = {}

    def fire(tid: str, planned: float, interval: float) -> None:
        sched.submit(tid, planned)
        nxt = planned + interval
        timers[tid] = loop.call_at(loop.time() + (nxt - time.time()), fire, tid, nxt, interval)

    now = time.time()
    for t in sched.targets.values():
        p = first_run(t.id, t.interval, now)
        timers[t.id] = loop.call_at(loop.time() + (p - now), fire, t.id, p, t.interval)
    return timers


async def runtime(tmp: Path, n: int, interval: float, seconds: float) -> None:
    """CPU per run of the Service around a no-op probe (scheduling + state)."""
    plan = load_plan(_plan_file(tmp, n, interval))
    print(f"runtime around a no-op probe: {n} targets, {interval:g} s interval, {seconds:g} s")
    for variant in ("APScheduler (shipped)", "loop.call_at timers"):
        service = Service(probes={"tcp": _noop})
        await service.apply_plan(plan)
        timers = _call_at_timetable(service) if variant.startswith("loop") else {}
        try:
            await asyncio.sleep(interval + 1)
            r0, t0 = service.scheduler.started, os.times()
            await asyncio.sleep(seconds)
            t1, runs = os.times(), service.scheduler.started - r0
        finally:
            for timer in timers.values():
                timer.cancel()
            await service.stop()
        gc.collect()  # the next variant starts without this one's garbage
        user, system = (t1.user - t0.user) / runs * 1000, (t1.system - t0.system) / runs * 1000
        print(f"  {variant:<44}{user:>7.3f}{system:>7.3f}{user + system:>7.3f}  ({runs} runs)")


class _GcTracker:
    """A gc.callbacks entry recording (generation, seconds) of every collection."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))


async def _icmp_like(target: Target, settings: Any, ctx: ProbeContext) -> ProbeResult:
    return ProbeResult(
        True,
        0.002,
        phases={"resolve": 0.0, "setup": 0.0001, "rtt": 0.0015},
        values={
            "ip_protocol": 4,
            "packets_sent": 1,
            "packets_received": 1,
            "loss_ratio": 0.0,
            "rtt_min_seconds": 0.0015,
            "rtt_median_seconds": 0.0015,
            "rtt_mean_seconds": 0.0015,
            "rtt_max_seconds": 0.0015,
            "rtt_stddev_seconds": 0.0,
        },
    )


def _bucket(q: float, bounds: tuple[float, ...], counts: list[int]) -> float:
    """Return the upper bound of the histogram bucket holding quantile q."""
    cumulative = itertools.accumulate(counts)
    return bucket_quantile(q, list(zip((*bounds, math.inf), cumulative, strict=True)))


async def gc_pauses(tmp: Path, n: int, seconds: float) -> None:
    """GC pauses and start lateness of a Service with n targets and a render every 5 s,
    as shipped and with ``gc.freeze()`` after the plan is applied."""
    plan = load_plan(_plan_file(tmp, n, 15))
    print(
        f"garbage collection: {n} targets, 15 s interval, ICMP-like no-op probe, "
        f"/metrics rendered every 5 s, {seconds:g} s"
    )
    for freeze in (False, True):
        track = _GcTracker()
        service = Service(probes={"tcp": _icmp_like})
        await service.apply_plan(plan)
        await asyncio.sleep(16)
        if freeze:
            gc.collect()
            gc.freeze()
        await asyncio.sleep(2)
        before = list(service.scheduler.lateness.counts)
        gc.callbacks.append(track)
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await asyncio.sleep(5)
                await service.render_metrics()
        finally:
            gc.callbacks.remove(track)
            after = list(service.scheduler.lateness.counts)
            bounds = service.scheduler.lateness.bounds
            await service.stop()
            gc.unfreeze()
        counts = [b - a for a, b in zip(before, after, strict=True)]
        total = sum(counts)
        full = [p for g, p in track.pauses if g == 2]
        worst = f"{max(full) * 1000:6.1f} ms" if full else "     -   "
        gen01 = max((p for g, p in track.pauses if g < 2), default=0.0) * 1000
        label = "after gc.freeze()" if freeze else "as shipped"
        print(
            f"  {label:<18} full collections {len(full):>2}, longest {worst}; longest gen 0/1 "
            f"{gen01:5.1f} ms; lateness p99 <= {_bucket(0.99, bounds, counts) * 1000:g} ms, "
            f"p99.9 <= {_bucket(0.999, bounds, counts) * 1000:g} ms ({total} runs)"
        )


async def amain() -> None:
    """Parse arguments and run the parts."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--probes", type=int, default=4000, help="calls per back-to-back figure")
    p.add_argument("--targets", type=int, default=2000, help="targets for the runtime figure")
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--seconds", type=float, default=30.0, help="runtime window")
    p.add_argument("--gc", action="store_true", help="also measure GC pauses at 10,000 targets")
    p.add_argument("--no-runtime", action="store_true", help="floors and probes only")
    p.add_argument("--gc-seconds", type=float, default=60.0, help="window of the GC part")
    a = p.parse_args()
    n = max(100, min(a.probes, MAX_PROBES))
    cb.raise_open_files()
    children = cb.Children()
    with tempfile.TemporaryDirectory(prefix="mpp-floors-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            layout = cb.start_targets(children, tmp, 1800)
            await floors(layout, n, os.geteuid() == 0)
            if not a.no_runtime:
                await runtime(tmp, min(a.targets, cb.MAX_TARGETS), a.interval, min(a.seconds, 300))
            if a.gc:
                await gc_pauses(tmp, 10_000, min(a.gc_seconds, 300))
        finally:
            children.stop_all()


if __name__ == "__main__":
    asyncio.run(amain())
