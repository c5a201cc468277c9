"""`mpp-monitor simulate`: run a loopback-only inventory's targets as a simulated MPP."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from monitor.inventory import ConfigError, load_plan
from monitor.sim.simulator import SimulationError, Simulator
from monitor.web.config import ListenError, parse_listen

HELP = "Run a simulated MPP (servers for every target of a loopback-only inventory)."
EXAMPLES = """\
  mpp-monitor simulate examples/demo.yaml
  mpp-monitor simulate examples/demo.yaml --faults none --control 127.0.0.1:9470
  curl -d '{"entity": "sw-lantai1", "fault": "down", "on": true}' http://127.0.0.1:9470/faults
  curl http://127.0.0.1:9470/faults

Faults: down, slow, loss, http_503. Only inventories whose every address is on loopback
(127.0.0.0/8, ::1) can be simulated; a real building's inventory is refused.
"""

DEFAULT_CONTROL = "127.0.0.1:9470"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the simulate options."""
    parser.add_argument("config", help="inventory file with loopback addresses only")
    parser.add_argument(
        "--control",
        default=DEFAULT_CONTROL,
        metavar="HOST:PORT",
        help=f"control endpoint for faults, loopback only (default {DEFAULT_CONTROL})",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable runs)")
    parser.add_argument(
        "--faults",
        choices=("random", "none"),
        default="random",
        help="random: occasional faults come and go by themselves (default); none: only the "
        "ones switched on through the control endpoint",
    )


async def _main(args: argparse.Namespace, control: tuple[str, int]) -> int:
    plan = load_plan(args.config)
    sim = Simulator(plan, seed=args.seed, random_faults=args.faults == "random")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start(control)
    try:
        print(
            f"mpp-monitor simulate: {len(plan.targets)} targets on {len(sim.endpoints)} "
            f"loopback endpoints; faults: {args.faults}",
            flush=True,
        )
        print(f"control: {sim.control_url}faults", flush=True)
        await stop.wait()
    finally:
        await sim.stop()
    print("mpp-monitor simulate: stopped", file=sys.stderr, flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the simulator in the foreground until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        control = parse_listen(args.control)
        return asyncio.run(_main(args, control))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (SimulationError, ListenError) as exc:
        print(f"mpp-monitor simulate: {exc}", file=sys.stderr)
        return 1
