"""Where the CPU of ``mpp-monitor run`` goes under the whole-stack load, sampled with py-spy.

Starts bench/targets_server.py, writes the same inventory as bench/whole_stack.py (1,000
targets, icmp=45,tcp=45,http=10, one probe per target per 15 s), runs ``mpp-monitor run``
(from ``--source``, default this tree), scrapes its /metrics every interval as Prometheus
would, and after a warm-up records ``py-spy record --format raw`` for ``--duration``
seconds. Prints the share of the sampled CPU per part (inclusive: a sample counts for every
part on its stack) and the CPU-seconds of the process over the window; keeps the collapsed
stacks in ``--out``. Needs root (py-spy attaches with ptrace; ICMP uses raw sockets).

    .venv/bin/python bench/profile_run.py --duration 60 --out /tmp/mpp.collapsed
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare_blackbox import (
    Children,
    Mpp,
    add_loop_argument,
    cpu_seconds,
    mix_kinds,
    parse_mix,
    raise_open_files,
    start_targets,
    write_inventory,
)

ROOT = Path(__file__).resolve().parent.parent

# (part, substrings of a frame "function (file:line)" that put a sample in it)
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("APScheduler firing (wake-up, trigger, job store)", ("apscheduler/",)),
    ("  hand-off to Scheduler.submit / fire_slot", ("Scheduler.submit (", "Scheduler.fire_slot (")),
    ("task creation (create_task)", ("create_task (",)),
    ("Scheduler._run (the probe and all under it)", ("Scheduler._run (",)),
    ("  asyncio.timeout enter/exit", ("asyncio/timeouts.py",)),
    ("  HTTP probe (probes/http.py)", ("probes/http.py",)),
    ("    aiohttp client (client*, connector)", ("aiohttp/client", "aiohttp/connector")),
    ("    getaddrinfo via the thread pool", ("getaddrinfo",)),
    ("  TCP probe (probes/tcp.py)", ("probes/tcp.py",)),
    ("  ICMP probe (probes/icmp*.py)", ("probes/icmp",)),
    ("  socket connect (sock_connect, create_connection)", ("sock_connect", "create_connection (")),
    ("  state update (monitor/state)", ("monitor/state/",)),
    ("exporter rendering (+prometheus_client)", ("monitor/exporter/", "prometheus_client/")),
    ("aiohttp web server (serving /metrics)", ("aiohttp/web_",)),
    ("thread pool workers", ("concurrent/futures/thread.py",)),
    ("event loop: epoll wait", ("EpollSelector.select (",)),
    ("event loop: I/O callbacks", ("_process_events", "_read_ready", "_write_ready", "_sock_")),
    ("logging", ("logging/",)),
]  # fmt: skip


def breakdown(collapsed: Path) -> tuple[int, list[tuple[str, int]], Counter[str]]:
    """Return (total samples, inclusive samples per part, exclusive samples per leaf file)."""
    total = 0
    parts: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        total += count
        for name, needles in PARTS:
            if any(needle in stack for needle in needles):
                parts[name] += count
        leaf = stack.rsplit(";", 1)[-1]
        leaves[leaf.split(" (", 1)[-1].rsplit(":", 1)[0].split("site-packages/")[-1]] += count
    return total, [(name, parts[name]) for name, _ in PARTS], leaves


async def run(a: argparse.Namespace) -> int:
    children = Children()
    with tempfile.TemporaryDirectory(prefix="mpp-profile-") as d:
        tmp = Path(d)
        try:
            layout = start_targets(children, tmp, a.warmup + a.duration + 300)
            kinds = mix_kinds(a.targets, parse_mix(a.mix))
            inv = tmp / "inventory.yaml"
            write_inventory(inv, kinds, layout, a.interval, min(5.0, a.interval * 0.6), 1)
            async with Mpp(children, tmp, "profile", inv, a.source, a.loop) as mpp:
                await mpp.ready(120)

                async def scraper() -> None:
                    while True:
                        await mpp.scrape(decode=False)
                        await asyncio.sleep(a.interval)

                task = asyncio.create_task(scraper())
                await asyncio.sleep(a.warmup)
                spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                cpu0, t0 = cpu_seconds(mpp.pid), time.monotonic()
                proc = await asyncio.create_subprocess_exec(
                    spy, "record", "--pid", str(mpp.pid), "--duration", str(int(a.duration)),
                    "--rate", str(a.rate), "--format", "raw", "--output", str(a.out),
                    "--nonblocking",
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                await proc.wait()
                cpu = cpu_seconds(mpp.pid) - cpu0
                wall = time.monotonic() - t0
                task.cancel()
        finally:
            children.stop_all()
    probes = a.targets * wall / a.interval
    print(
        f"mpp-monitor from {a.source or ROOT}: {a.targets} targets ({a.mix}) every "
        f"{a.interval:g} s, scraped every {a.interval:g} s; {wall:.0f} s window, "
        f"{cpu:.2f} CPU-s ({cpu / probes * 1000:.3f} per 1,000 probes, about {probes:.0f} probes), "
        f"py-spy at {a.rate}/s; event loop {a.loop}"
    )
    show(a.out)
    return 0


def show(collapsed: Path) -> None:
    """Print the breakdown of a collapsed-stacks file."""
    total, parts, leaves = breakdown(collapsed)
    print("\nshare of sampled CPU, inclusive (a sample counts for every part on its stack):")
    for name, n in parts:
        print(f"  {name:60} {100 * n / max(total, 1):5.1f} %")
    print("\nexclusive, by file of the innermost frame (top 15):")
    for leaf, n in leaves.most_common(15):
        print(f"  {leaf:60} {100 * n / max(total, 1):5.1f} %")
    print(f"\ncollapsed stacks: {collapsed}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--mix", default="icmp=45,tcp=45,http=10")
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--warmup", type=float, default=20.0)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--rate", type=int, default=250)
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mpp.collapsed")
    p.add_argument("--source", type=Path, default=ROOT, help="source tree to run (PYTHONPATH)")
    p.add_argument("--analyze", type=Path, default=None, help="only print the breakdown of FILE")
    add_loop_argument(p)
    a = p.parse_args()
    if a.analyze is not None:
        show(a.analyze)
        return 0
    a.targets = max(10, min(a.targets, 10_000))
    a.duration = max(5.0, min(a.duration, 600.0))
    a.source = a.source.resolve()
    if os.geteuid() != 0:
        print("needs root (py-spy ptrace, raw ICMP sockets)", file=sys.stderr)
        return 1
    raise_open_files()
    return asyncio.run(run(a))


if __name__ == "__main__":
    raise SystemExit(main())
