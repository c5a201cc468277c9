"""`mpp-monitor targets FILE`: the targets an inventory expands into, for people or scripts."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from monitor.commands.check_config import load_or_report
from monitor.plan import Plan, Target
from probes.registry import KINDS
from probes.settings import SecretRef

HELP = "List the targets an inventory expands into, with their labels and dependencies."
EXAMPLES = """\
  mpp-monitor targets examples/mpp-paser.yaml
      a table: target id, probe, address, interval, team, agency, counter, depends on
  mpp-monitor targets examples/mpp-paser.yaml --kind device --probe icmp
      only the counter devices' ping checks
  mpp-monitor targets examples/mpp-paser.yaml --json | jq '.[] | select(.labels.counter == "07")'
      JSON for scripts (secrets appear only as {"env": NAME} or {"file": PATH})
"""

ENTITY_KINDS = ("link", "infra", "device", "application")
# Labels shown in JSON under "labels" ("entity" has its own key).
JSON_LABELS = ("site", "team", "kind", "agency", "counter", "device", "link")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the targets command's arguments."""
    parser.add_argument("file", metavar="FILE", help="the inventory (YAML)")
    parser.add_argument("--json", action="store_true", help="print JSON (a list of objects)")
    parser.add_argument("--site", metavar="ID", help="only this site's targets")
    parser.add_argument(
        "--kind",
        action="append",
        choices=ENTITY_KINDS,
        help="only targets of this kind of entity (repeatable)",
    )
    parser.add_argument(
        "--probe",
        action="append",
        choices=KINDS,
        help="only targets of this probe kind (repeatable)",
    )


def plain(value: Any) -> Any:
    """JSON-ready data from a settings model; a SecretRef becomes its reference, not a value."""
    if isinstance(value, SecretRef):
        return {"env": value.env} if value.env is not None else {"file": str(value.file)}
    if isinstance(value, BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def select(plan: Plan, args: argparse.Namespace) -> list[Target]:
    """The plan's targets that pass the --site/--kind/--probe filters, in plan order."""
    out = []
    for t in plan.targets:
        if args.site is not None and t.labels["site"] != args.site:
            continue
        if args.kind and t.labels["kind"] not in args.kind:
            continue
        if args.probe and t.probe not in args.probe:
            continue
        out.append(t)
    return out


def as_json(plan: Plan, targets: list[Target]) -> list[dict[str, Any]]:
    """The JSON objects for these targets."""
    return [
        {
            "id": t.id,
            "probe": t.probe,
            "address": t.address,
            "interval": t.interval,
            "timeout": t.timeout,
            "entity": t.entity,
            "labels": {name: t.labels.get(name, "") for name in JSON_LABELS},
            "depends_on": list(plan.entities[t.entity].depends_on),
            "settings": plain(t.settings),
        }
        for t in targets
    ]


def _seconds(value: float) -> str:
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g}m"
    return f"{value:g}s"


def table(plan: Plan, targets: list[Target]) -> list[str]:
    """Aligned text lines for people."""
    header = ("TARGET", "PROBE", "ADDRESS", "EVERY", "TEAM", "AGENCY", "GERAI", "DEPENDS ON")
    rows = [header]
    for t in targets:
        parents = plan.entities[t.entity].depends_on
        rows.append(
            (
                t.id,
                t.probe,
                t.address,
                _seconds(t.interval),
                t.labels["team"],
                t.labels["agency"] or "-",
                t.labels["counter"] or "-",
                ", ".join(parents) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    return [line.rstrip() for line in lines]


def run(args: argparse.Namespace) -> int:
    """Print the expanded targets (exit 1 with every error when the file is invalid)."""
    loaded = load_or_report(args.file)
    if loaded is None:
        return 1
    plan = loaded.plan
    sites = [s.id for s in plan.sites]
    if args.site is not None and args.site not in sites:
        print(f"unknown site {args.site!r} (known: {', '.join(sites)})", file=sys.stderr)
        return 2
    targets = select(plan, args)
    if args.json:
        json.dump(as_json(plan, targets), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    for line in table(plan, targets):
        print(line)
    print(f"{len(targets)} target{'' if len(targets) == 1 else 's'}")
    return 0
