"""`mpp-monitor demo`: a simulated MPP on loopback and the monitor watching it, one command."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from pathlib import Path

from monitor.commands.run import StartupError, serve
from monitor.inventory import ConfigError, load_plan
from monitor.plan import Plan
from monitor.sim.simulator import SimulationError, Simulator
from monitor.web.config import DEFAULT_LISTEN, ListenError, WebConfig, is_loopback, parse_listen

HELP = "Run a simulated MPP on this machine and the monitor against it (no network needed)."
EXAMPLES = f"""\
  mpp-monitor demo
  mpp-monitor demo --listen 127.0.0.1:9469 --control 127.0.0.1:9470 --seed 7

Then open the status page (printed at start-up) and switch faults on yourself:
  curl -d '{{"entity": "isp-a", "fault": "down"}}' http://127.0.0.1:9470/faults
Everything stays on 127.0.0.0/8; the default listen address is {DEFAULT_LISTEN}.
"""

DEFAULT_CONTROL = "127.0.0.1:9470"


def demo_inventory() -> Path:
    """examples/demo.yaml of this source tree."""
    return Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the demo options."""
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"status page and /metrics, loopback only (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--control",
        default=DEFAULT_CONTROL,
        metavar="HOST:PORT",
        help=f"the simulator's fault control endpoint (default {DEFAULT_CONTROL})",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="a loopback-only inventory (default examples/demo.yaml)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed for the faults")
    parser.add_argument(
        "--faults",
        choices=("random", "none"),
        default="random",
        help="random (default): faults come and go by themselves; none: only yours",
    )


def icmp_permitted() -> bool:
    """True if this process may send ICMP echoes (raw or datagram socket)."""
    from probes.icmp_socket import IcmpUnavailable, detect_mode

    try:
        detect_mode()
    except IcmpUnavailable:
        return False
    return True


def without_icmp(plan: Plan) -> Plan:
    """The plan minus its ICMP targets (loopback always answers them anyway)."""
    return dataclasses.replace(plan, targets=tuple(t for t in plan.targets if t.probe != "icmp"))


async def _main(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else demo_inventory()
    try:
        listen = parse_listen(args.listen)
        control = parse_listen(args.control)
        if not is_loopback(listen[0]):
            raise ListenError(f"the demo listens on loopback only, not {listen[0]}")
        plan = load_plan(path)
    except (ConfigError, ListenError) as exc:
        print(f"mpp-monitor demo: {exc}", file=sys.stderr)
        return 1
    drop_icmp = any(t.probe == "icmp" for t in plan.targets) and not icmp_permitted()
    if drop_icmp:
        plan = without_icmp(plan)
        print(
            "mpp-monitor demo: ICMP is not permitted for this user: skipping the ICMP checks "
            "(see docs/icmp.md to enable them)",
            file=sys.stderr,
        )

    def loader(p: str | Path) -> Plan:
        fresh = load_plan(p)
        return without_icmp(fresh) if drop_icmp else fresh

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        sim = Simulator(plan, seed=args.seed, random_faults=args.faults == "random")
        await sim.start(control)
    except SimulationError as exc:
        print(f"mpp-monitor demo: {exc}", file=sys.stderr)
        return 1

    def listening(url: str) -> None:
        print(
            "\n".join(
                [
                    "",
                    f"  MPP demo: {len(plan.targets)} simulated targets on 127.0.0.0/8, "
                    f"faults: {args.faults}",
                    f"  Status page   {url}",
                    f"  English       {url}?lang=en",
                    f"  Metrics       {url}metrics",
                    f"  JSON status   {url}api/v1/status",
                    f"  Faults        {sim.control_url}faults",
                    "",
                    "  Switch a fault on yourself, e.g. the floor-2 switch:",
                    f'    curl -d \'{{"entity": "sw-lantai2", "fault": "down"}}\' '
                    f"{sim.control_url}faults",
                    "  The first results arrive within seconds; faults show after two failed "
                    "checks (about 10 s).",
                    "  Stop with Ctrl-C.",
                    "",
                ]
            ),
            flush=True,
        )

    try:
        await serve(
            plan,
            config_path=path,
            listen=listen,
            web_config=WebConfig(),
            stop=stop,
            loader=loader,
            on_listening=listening,
        )
    except StartupError as exc:
        print(f"mpp-monitor demo: {exc}", file=sys.stderr)
        return 1
    finally:
        await sim.stop()
    print("mpp-monitor demo: stopped", file=sys.stderr, flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("mpp_monitor.simulate").setLevel(logging.INFO)
    return asyncio.run(_main(args))
