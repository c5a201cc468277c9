"""`mpp-monitor install`: add our jobs, rules and routes to Debian's Prometheus and Alertmanager."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HELP = "add mpp-monitor to Debian's prometheus.yml and alertmanager.yml (kept, not replaced)"
EXAMPLES = """\
  mpp-monitor install --config /etc/mpp-monitor/inventory.yaml --dry-run
  mpp-monitor install --config /etc/mpp-monitor/inventory.yaml
  mpp-monitor install --config inv.yaml --root /tmp/try --retention 120d
  systemctl reload prometheus prometheus-alertmanager   # afterwards
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the install command's arguments."""
    parser.add_argument("--config", metavar="FILE", required=True, help="inventory file")
    parser.add_argument(
        "--root", default="/", help="install under this directory instead of / (default /)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change (a diff), write nothing"
    )
    parser.add_argument(
        "--monitor", default="127.0.0.1:9469", help="mpp-monitor run's address (%(default)s)"
    )
    parser.add_argument(
        "--notifier", default="", metavar="HOST:PORT", help="mpp-monitor notify, when apart"
    )
    parser.add_argument(
        "--alertmanager", default="localhost:9093", help="Alertmanager's address (%(default)s)"
    )
    parser.add_argument(
        "--notifier-url",
        default="",
        help="base URL of the notifier webhook (default http://MONITOR, or http://NOTIFIER)",
    )
    parser.add_argument(
        "--notifier-user", default="", help="basic auth user of the notifier's webhook"
    )
    parser.add_argument(
        "--notifier-password-file",
        default="",
        help="file Alertmanager reads that user's password from (readable by prometheus)",
    )
    parser.add_argument(
        "--unknown-team", default="", help="who gets alerts of an unknown team (network team)"
    )
    parser.add_argument(
        "--off-hours", choices=["critical", "all", "none"], default="critical",
        help="what notifies outside service hours (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--heartbeat-url", default="", help="external dead man's switch for MppWatchdog"
    )
    parser.add_argument(
        "--retention",
        default="90d",
        metavar="DAYSd",
        help="Prometheus retention, at least 45d (default %(default)s; never lowered)",
    )
    parser.add_argument(
        "--command",
        default="",
        help="the mpp-monitor the units run (default: this one, found on PATH)",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="do not check the results with promtool and amtool before writing",
    )


def _days(text: str) -> int | None:
    value = text.removesuffix("d")
    return int(value) if value.isdigit() else None


def _command(arg: str) -> str:
    if arg:
        return arg
    found = shutil.which("mpp-monitor") or str(Path(sys.executable).with_name("mpp-monitor"))
    return str(Path(found).resolve()) if Path(found).exists() else found


def check(changes: list[object], tools: bool) -> list[str]:
    """Problems promtool and amtool find in the merged files (empty: fine or no tools)."""
    from monitor.install import RULES_NAME, Change

    if not tools:
        return []
    by_name = {c.path.name: c for c in changes if isinstance(c, Change)}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mpp-install-") as tmp:
        d = Path(tmp)
        for name in ("prometheus.yml", RULES_NAME, "alertmanager.yml"):
            (d / name).write_text(by_name[name].new, encoding="utf-8")
        for tool, argv in (
            ("promtool", ["check", "config", str(d / "prometheus.yml")]),
            ("amtool", ["check-config", str(d / "alertmanager.yml")]),
        ):
            if shutil.which(tool) is None:
                print(f"mpp-monitor install: {tool} not found: not checked", file=sys.stderr)
                continue
            done = subprocess.run(
                [tool, *argv], capture_output=True, text=True, timeout=120, check=False
            )
            if done.returncode != 0:
                problems.append(f"{tool} {' '.join(argv[:2])}: {done.stdout}{done.stderr}")
    return problems


def run(args: argparse.Namespace) -> int:
    """Run the install command."""
    from monitor.commands import load_config_or_report
    from monitor.install import InstallError, Options, apply, plan
    from monitor.render.alertmanager import RenderOptions

    days = _days(args.retention)
    if days is None:
        print(f"mpp-monitor install: --retention {args.retention!r}: want days, e.g. 90d")
        return 2
    loaded = load_config_or_report(args.config)
    if loaded is None:
        return 1
    if bool(args.notifier_user) != bool(args.notifier_password_file):
        print("mpp-monitor install: give both --notifier-user and --notifier-password-file")
        return 2
    root = Path(args.root)
    url = args.notifier_url or f"http://{args.notifier or args.monitor}"
    opts = Options(
        root=root,
        monitor=args.monitor,
        notifier=args.notifier,
        alertmanager=args.alertmanager,
        retention_days=days,
        command=_command(args.command),
        alertmanager_options=RenderOptions(
            notifier_url=url,
            off_hours=args.off_hours,
            heartbeat_url=args.heartbeat_url,
            unknown_team=args.unknown_team,
            notifier_user=args.notifier_user,
            notifier_password_file=args.notifier_password_file,
        ),
    )
    try:
        changes = plan(loaded.inventory, opts)
    except InstallError as exc:
        print(f"mpp-monitor install: {exc}", file=sys.stderr)
        return 1
    problems = check(list(changes), tools=not args.no_check)
    if problems:
        for problem in problems:
            print(f"mpp-monitor install: {problem}", file=sys.stderr)
        print("mpp-monitor install: nothing written", file=sys.stderr)
        return 1
    for change in changes:
        state = "changes" if change.changed else "unchanged"
        print(
            f"{'would write' if args.dry_run and change.changed else state}: "
            f"/{change.path} ({change.why})"
        )
        if args.dry_run and change.changed:
            sys.stdout.write(change.diff())
    if args.dry_run:
        return 0
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    written = apply(changes, root, stamp)
    if written:
        print(
            f"mpp-monitor install: wrote {len(written)} files (old ones kept as "
            f"NAME.mpp-monitor-{stamp}); now: systemctl daemon-reload; "
            "systemctl reload prometheus prometheus-alertmanager; "
            "systemctl enable --now mpp-monitor mpp-monitor-refresh.timer"
        )
    else:
        print("mpp-monitor install: everything already in place; nothing written")
    if not (root / "etc/mpp-monitor/inventory.yaml").exists():
        print(
            f"mpp-monitor install: note: the units read /etc/mpp-monitor/inventory.yaml, "
            f"which does not exist under {root}",
            file=sys.stderr,
        )
    return 0
