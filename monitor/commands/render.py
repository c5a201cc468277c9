"""`mpp-monitor render`: Alertmanager and Prometheus configuration from the inventory, and the
gammu-smsd configuration for the SMS channel."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = (
    "render alertmanager.yml or prometheus.yml from the inventory, the central store's rules, "
    "or gammu-smsdrc"
)
EXAMPLES = """\
  mpp-monitor render alertmanager --config examples/mpp-paser.yaml > alertmanager.yml
  mpp-monitor render alertmanager --config inv.yaml --notifier-url http://10.0.0.5:9469 \\
      --notifier-user alertmanager --notifier-password-file /etc/prometheus/notifier.pass \\
      --out /etc/prometheus/alertmanager.yml
  mpp-monitor render prometheus --config inv.yaml --monitor 127.0.0.1:9469 \\
      --alertmanager 127.0.0.1:9093 --rules /etc/prometheus/mpp-rules.yml
  mpp-monitor render prometheus --config inv.yaml --remote-write URL \
      --remote-write-auth /etc/prometheus/central.token
  mpp-monitor render prometheus --config inv.yaml --agent --remote-write URL   # no local TSDB
  mpp-monitor render central --out /etc/vmalert/mpp-central-rules.yml
  mpp-monitor render smsd --device /dev/ttyUSB0 --out /etc/gammu-smsdrc
"""

ROOT = Path(__file__).resolve().parent.parent.parent


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the render command's arguments."""
    parser.add_argument("what", choices=["alertmanager", "prometheus", "central", "smsd"])
    parser.add_argument(
        "--config", metavar="FILE", help="inventory file (alertmanager, prometheus)"
    )
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    am = parser.add_argument_group("alertmanager")
    am.add_argument(
        "--notifier-url",
        default="http://127.0.0.1:9469",
        help="base URL of mpp-monitor's notifier webhook (default %(default)s)",
    )
    am.add_argument(
        "--notifier-user",
        default="",
        metavar="USER",
        help="basic-auth user of mpp-monitor's web server (its --web.config basic_auth_users): "
        "Alertmanager's webhook calls, and with `render prometheus` the /metrics scrapes",
    )
    am.add_argument(
        "--notifier-password-file",
        default="",
        metavar="FILE",
        help="file with that user's password, read by Alertmanager and Prometheus (password_file)",
    )
    am.add_argument(
        "--off-hours",
        choices=["critical", "all", "none"],
        default="critical",
        help="what notifies outside service hours and on closed days (default %(default)s)",
    )
    am.add_argument(
        "--heartbeat-url",
        default="",
        metavar="URL",
        help="external dead man's switch receiver for MppWatchdog (re-sent every minute)",
    )
    am.add_argument("--heartbeat-interval", default="1m", help="(default %(default)s)")
    am.add_argument(
        "--unknown-team",
        default="",
        metavar="TEAM",
        help="team receiving alerts whose team label is not in the inventory "
        "(default: each site's network team)",
    )
    am.add_argument("--group-wait", default="30s")
    am.add_argument("--group-interval", default="5m")
    am.add_argument("--repeat-interval", default="4h")
    am.add_argument("--smtp-smarthost", default="localhost:25")
    am.add_argument("--smtp-from", default="mpp-monitor@localhost")
    am.add_argument(
        "--holiday-years",
        default="",
        help="comma-separated years for closed-day intervals (default: this year and next)",
    )
    pr = parser.add_argument_group("prometheus")
    pr.add_argument("--monitor", action="append", default=[], metavar="HOST:PORT")
    pr.add_argument("--alertmanager", action="append", default=[], metavar="HOST:PORT")
    pr.add_argument(
        "--notifier",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="`mpp-monitor notify` to scrape as job mpp-notifier (when it runs apart)",
    )
    pr.add_argument("--rules", action="append", default=[], metavar="FILE")
    pr.add_argument("--scrape-interval", default="15s")
    pr.add_argument(
        "--remote-write",
        metavar="URL",
        default="",
        help="also send every sample to this central store (Prometheus remote_write)",
    )
    pr.add_argument(
        "--remote-write-auth",
        metavar="FILE",
        default="",
        help="file holding the centre's bearer token (or, with --remote-write-user, password)",
    )
    pr.add_argument("--remote-write-user", metavar="NAME", default="", help="basic-auth user")
    pr.add_argument(
        "--remote-write-deadline",
        default="10s",
        metavar="DURATION",
        help="send a batch at the latest after this long (default %(default)s)",
    )
    pr.add_argument(
        "--remote-write-series",
        choices=("all", "summary"),
        default="all",
        help="all: every series; summary: leave the per-target probe detail at the site, "
        "about a fifth of the bandwidth (docs/scale.md) (default %(default)s)",
    )
    pr.add_argument(
        "--agent",
        action="store_true",
        help="for Prometheus in agent mode: no rules or alerting, only remote_write",
    )
    ce = parser.add_argument_group("central (rules for the central store)")
    ce.add_argument(
        "--dark-after",
        default="",
        metavar="DURATION",
        help="a site that sent nothing for this long is dark (default 5m)",
    )
    ce.add_argument(
        "--central-team",
        default="",
        metavar="ID",
        help="team label of the central on-call that receives MppSiteDark (default pusat)",
    )
    ce.add_argument(
        "--runbook-base",
        default="",
        metavar="URL",
        help="public URL of the central page (`mpp-monitor sites`), for absolute runbook links",
    )
    sm = parser.add_argument_group("smsd (gammu-smsd for the SMS channel)")
    sm.add_argument("--device", default="/dev/ttyUSB0", help="the modem (default %(default)s)")
    sm.add_argument("--connection", default="at", help="gammu connection (default %(default)s)")
    sm.add_argument("--model", default="", help="gammu model ('dummy': the emulator)")
    sm.add_argument("--spool", default="/var/spool/gammu", help="spool (default %(default)s)")
    sm.add_argument("--logfile", default="syslog", help="gammu-smsd log (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    """Run the render command."""
    from monitor.commands import load_config_or_report
    from monitor.render.alertmanager import RenderOptions, render_alertmanager
    from monitor.render.central import CentralOptions, render_central
    from monitor.render.prometheus import RemoteWrite, render_prometheus
    from monitor.render.smsd import SmsdOptions, render_smsd

    if args.what == "smsd":
        smsd = SmsdOptions(
            device=args.device,
            connection=args.connection,
            model=args.model,
            spool=Path(args.spool),
            logfile=args.logfile,
        )
        return _write(args, render_smsd(smsd))
    if args.what == "central":
        try:
            opts_c = CentralOptions.parse(
                dark_after=args.dark_after, team=args.central_team, runbook_base=args.runbook_base
            )
        except ValueError as exc:
            print(f"mpp-monitor: {exc}", file=sys.stderr)
            return 2
        return _write(args, render_central(opts_c))
    if not args.config:
        print(f"mpp-monitor: render {args.what} needs --config FILE", file=sys.stderr)
        return 2
    loaded = load_config_or_report(args.config)
    if loaded is None:
        return 1
    inv = loaded.inventory
    if bool(args.notifier_user) != bool(args.notifier_password_file):
        print(
            "mpp-monitor: give both --notifier-user and --notifier-password-file, or neither",
            file=sys.stderr,
        )
        return 2
    password_file = (
        str(Path(args.notifier_password_file).absolute()) if args.notifier_password_file else ""
    )
    if args.what == "alertmanager":
        try:
            years = tuple(int(y) for y in args.holiday_years.split(",") if y.strip())
        except ValueError:
            print(f"mpp-monitor: invalid --holiday-years {args.holiday_years!r}", file=sys.stderr)
            return 2
        opts = RenderOptions(
            notifier_url=args.notifier_url,
            notifier_user=args.notifier_user,
            notifier_password_file=password_file,
            off_hours=args.off_hours,
            group_wait=args.group_wait,
            group_interval=args.group_interval,
            repeat_interval=args.repeat_interval,
            smtp_smarthost=args.smtp_smarthost,
            smtp_from=args.smtp_from,
            holiday_years=years,
            heartbeat_url=args.heartbeat_url,
            heartbeat_interval=args.heartbeat_interval,
            unknown_team=args.unknown_team,
        )
        if args.unknown_team and not any(
            t.id == args.unknown_team for s in inv.sites for t in s.teams
        ):
            print(
                f"mpp-monitor: --unknown-team {args.unknown_team!r}: no such team in the inventory",
                file=sys.stderr,
            )
            return 2
        text = render_alertmanager(inv, opts)
    else:
        if (args.agent or args.remote_write_auth or args.remote_write_user) and not (
            args.remote_write
        ):
            print(
                "mpp-monitor: --agent and --remote-write-auth/-user need --remote-write URL",
                file=sys.stderr,
            )
            return 2
        if args.remote_write_user and not args.remote_write_auth:
            print(
                "mpp-monitor: --remote-write-user needs --remote-write-auth FILE", file=sys.stderr
            )
            return 2
        rw = None
        if args.remote_write:
            error = _check_remote_write(args.remote_write)
            if error:
                print(f"mpp-monitor: invalid --remote-write: {error}", file=sys.stderr)
                return 2
            rw = RemoteWrite(
                url=args.remote_write,
                auth_file=args.remote_write_auth or None,
                username=args.remote_write_user or None,
                batch_send_deadline=args.remote_write_deadline,
                series=args.remote_write_series,
            )
        text = render_prometheus(
            inv,
            monitor_targets=args.monitor or ["127.0.0.1:9469"],
            alertmanager=args.alertmanager or ["127.0.0.1:9093"],
            rule_files=args.rules or [str(ROOT / "alerts" / "mpp-rules.yml")],
            scrape_interval=args.scrape_interval,
            notifier_targets=args.notifier,
            remote_write=rw,
            agent=args.agent,
            scrape_auth=(args.notifier_user, password_file) if args.notifier_user else None,
        )
    return _write(args, text)


def _check_remote_write(url: str) -> str:
    """Why a remote-write URL is refused ("" when it is fine): credentials go in files."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected http(s)://HOST[:PORT]/PATH"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL: put them in a file and pass --remote-write-auth FILE"
    return ""


def _write(args: argparse.Namespace, text: str) -> int:
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
