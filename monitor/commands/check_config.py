"""`mpp-monitor check-config FILE`: validate an inventory without probing anything."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import TextIO

from monitor.inventory import ConfigError, Loaded, load_config
from probes.registry import KINDS

HELP = "Validate an inventory file (opens no sockets) and summarise what it describes."
EXAMPLES = """\
  mpp-monitor check-config examples/mpp-paser.yaml
      prints a summary (sites, teams, agencies, counters, targets...) and exits 0;
      a bad file prints every error as FILE:LINE:COL: field.path: message and exits 1
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add check-config's arguments."""
    parser.add_argument("file", metavar="FILE", help="the inventory (YAML) to check")


def load_or_report(file: str, err: TextIO | None = None) -> Loaded | None:
    """Load and expand FILE; on errors print each one and a count to err, return None."""
    err = err if err is not None else sys.stderr
    try:
        return load_config(file)
    except ConfigError as exc:
        for item in exc.errors:
            print(item, file=err)
        n = len(exc.errors)
        print(f"{n} error{'' if n == 1 else 's'} in {file}: nothing loaded", file=err)
        return None


def summary(loaded: Loaded) -> list[str]:
    """Lines describing what the inventory holds, for people."""
    inv, plan = loaded
    sites = inv.sites
    kinds = Counter(e.kind for e in plan.entities.values())
    probes = Counter(t.probe for t in plan.targets)
    apps = [a for s in sites for ag in s.agencies for a in ag.applications]
    confirmed = sum(1 for a in apps if a.health_check_confirmed)
    by_probe = ", ".join(f"{k} {probes[k]}" for k in KINDS if probes[k])
    rows = [
        ("sites", len(sites), ", ".join(s.id for s in sites)),
        ("teams", sum(len(s.teams) for s in sites), ""),
        ("agencies", sum(len(s.agencies) for s in sites), ""),
        ("counters", len(plan.counters), ""),
        ("devices", kinds["device"], "at the counters"),
        ("applications", kinds["application"], f"{confirmed} with a confirmed health check"),
        ("links", kinds["link"], ""),
        ("infrastructure", kinds["infra"], ""),
        ("maintenance", sum(len(s.maintenance) for s in sites), "windows"),
        ("targets", len(plan.targets), by_probe),
    ]
    return [
        f"  {name:<15}{count:>5}" + (f"  ({note})" if note else "") for name, count, note in rows
    ]


def run(args: argparse.Namespace) -> int:
    """Validate the file; print a summary (exit 0) or every error (exit 1)."""
    loaded = load_or_report(args.file)
    if loaded is None:
        return 1
    print(f"{args.file}: OK")
    for line in summary(loaded):
        print(line)
    return 0
