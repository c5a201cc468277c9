"""`mpp-monitor probe`: run one probe of the inventory now and print what it found."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

HELP = "run one target's probe now and print the result (phases, reason, values)"
EXAMPLES = """\
  mpp-monitor probe --config examples/demo.yaml demo/application/bpjs-vclaim/http
  mpp-monitor probe --config inventory.yaml paser/device/gerai-07-pc/icmp --json
  mpp-monitor targets inventory.yaml     # to find target ids
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the probe command's arguments."""
    parser.add_argument("--config", required=True, metavar="FILE", help="inventory file")
    parser.add_argument("target", metavar="TARGET_ID", help="target id (see `targets`)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


async def _run_one(target: Any) -> Any:
    from probes import get_probe
    from probes.base import ProbeContext

    ctx = ProbeContext(monotonic=time.monotonic, wall=time.time)
    func = get_probe(target.probe)
    start = time.monotonic()
    try:
        async with asyncio.timeout(target.timeout + 1.0):
            return await func(target, target.settings, ctx)
    except TimeoutError:
        from probes.base import ProbeResult

        return ProbeResult(False, time.monotonic() - start, "timeout")
    finally:
        close = ctx.resources.get("close")
        if callable(close):
            res = close()
            if asyncio.iscoroutine(res):
                await res


def run(args: argparse.Namespace) -> int:
    """Run the probe command."""
    from monitor.commands import load_config_or_report

    loaded = load_config_or_report(args.config)
    plan = loaded.plan if loaded is not None else None
    if plan is None:
        return 1
    try:
        target = plan.target(args.target)
    except KeyError:
        close = [t.id for t in plan.targets if args.target in t.id][:10]
        hint = ("; did you mean: " + ", ".join(close)) if close else ""
        print(f"mpp-monitor: no target {args.target!r} in {args.config}{hint}", file=sys.stderr)
        return 1
    try:
        result = asyncio.run(_run_one(target))
    except Exception as exc:  # start-up errors such as ICMP not permitted
        print(f"mpp-monitor: {exc}", file=sys.stderr)
        return 1
    if args.json:
        out = {
            "target": target.id,
            "probe": target.probe,
            "address": target.address,
            "success": result.success,
            "reason": result.reason,
            "duration_seconds": result.duration_seconds,
            "phases": result.phases,
            "values": result.values,
            "info": result.info,
        }
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        verdict = "BERHASIL / OK" if result.success else f"GAGAL / FAILED ({result.reason})"
        print(f"target   {target.id}")
        print(f"probe    {target.probe} {target.address}")
        print(f"result   {verdict} in {result.duration_seconds * 1000:.1f} ms")
        for name, secs in result.phases.items():
            print(f"phase    {name:<11} {secs * 1000:9.2f} ms")
        for name, value in sorted(result.values.items()):
            print(f"value    {name:<28} {value:g}")
        for name, text in sorted(result.info.items()):
            print(f"info     {name:<28} {text}")
    return 0 if result.success else 2
