"""CPU cost of ICMP probes: one shared socket (probes.icmp) vs a socket per ping (icmplib).

Pings 127.0.0.1..127.0.0.N on loopback only, a bounded number of probes (one echo each) at a
few concurrency levels, and prints CPU-seconds (user + system of this process) per 1,000
probes. Needs root or CAP_NET_RAW (raw sockets), or an open net.ipv4.ping_group_range with
``--mode dgram`` (icmplib then runs with privileged=False).

    .venv/bin/python bench/icmp_sockets.py [--probes 2000] [--concurrency 50 200] [--mode raw]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable

import icmplib

from monitor.plan import TARGET_LABELS, Target
from probes import icmp
from probes.base import ProbeContext
from probes.settings import IcmpSettings

MAX_PROBES = 20_000  # hard bound whatever the arguments say


def _target(address: str) -> Target:
    return Target(
        id=f"bench/{address}",
        probe="icmp",
        address=address,
        entity="bench",
        interval=10,
        timeout=2.0,
        settings=None,
        labels=dict.fromkeys(TARGET_LABELS, ""),
    )


async def _run(
    n: int, concurrency: int, one: Callable[[str], Awaitable[bool]], hosts: int
) -> tuple[float, float, float, int]:
    """Run n probes with `concurrency` workers; return (user s, system s, wall s, ok)."""
    ok = 0
    next_i = 0

    async def worker() -> None:
        nonlocal ok, next_i
        while next_i < n:
            i = next_i
            next_i += 1
            if await one(f"127.0.0.{1 + i % hosts}"):
                ok += 1

    t0, wall0 = os.times(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    t1 = os.times()
    return t1.user - t0.user, t1.system - t0.system, time.perf_counter() - wall0, ok


async def main() -> None:
    """Parse arguments, run each variant per concurrency level, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=2000, help="probes per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--hosts", type=int, default=200, help="distinct 127.0.0.x targets")
    parser.add_argument("--mode", choices=["raw", "dgram"], default="raw")
    args = parser.parse_args()
    n = min(args.probes, MAX_PROBES)
    hosts = max(1, min(args.hosts, 254))

    ctx = ProbeContext(monotonic=time.monotonic, wall=time.time)
    await icmp.setup(ctx, mode=args.mode)
    settings = IcmpSettings(count=1, spacing=0.01)
    payload = bytes(settings.payload_size)

    async def shared(address: str) -> bool:
        return (await icmp.probe(_target(address), settings, ctx)).success

    async def pinger_only(address: str) -> bool:
        # the shared socket alone, without the probe around it (resolve, stats, result)
        pinger = ctx.resources["icmp"].pinger(socket.AF_INET, None)
        fut = await pinger.send(address, payload)
        try:
            return (await asyncio.wait_for(fut, 2)).kind == "reply"
        except TimeoutError:
            return False

    async def per_ping(address: str) -> bool:
        host = await icmplib.async_ping(address, count=1, timeout=2, privileged=args.mode == "raw")
        return bool(host.is_alive)

    print(f"{n} probes of 1 echo each to 127.0.0.1..{hosts}, mode {args.mode}")
    print("CPU-seconds per 1,000 probes (user + system = total; the kernel's loopback echo")
    print("processing is charged to the sender's system time)")
    head = f"{'variant':<28}{'concurrency':>12}{'user':>8}{'system':>8}{'total':>8}"
    print(f"{head}{'wall s':>9}{'ok':>7}")
    try:
        for c in args.concurrency:
            variants = (
                ("shared socket: probe()", shared),
                ("shared socket: Pinger only", pinger_only),
                ("socket per ping: icmplib", per_ping),
            )
            for name, fn in variants:
                await _run(min(n, 100), c, fn, hosts)  # warm-up
                user, system, wall, ok = await _run(n, c, fn, hosts)
                k = 1000 / n
                figures = f"{user * k:>8.3f}{system * k:>8.3f}{(user + system) * k:>8.3f}"
                print(f"{name:<28}{c:>12}{figures}{wall:>9.2f}{ok:>7}")
    finally:
        icmp.close(ctx)


if __name__ == "__main__":
    asyncio.run(main())
