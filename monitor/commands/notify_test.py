"""`mpp-monitor notify-test`: a clearly marked test message to one team, through the real path.

By default the test alert goes to Alertmanager (``POST /api/v2/alerts``), so it travels exactly
like a real one: Alertmanager's routing for the team, its webhook call to the notifier, the
notifier's outbox and the team's gateways. ``--channel`` (or ``--direct``) skips Alertmanager and
posts the webhook payload to the notifier itself, for one channel. Either way the command then
watches the notifier's ``mpp_notifier_messages_total`` until every channel it expects has a
result, and says which were sent and which failed (exit 1 if any failed or none arrived).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

HELP = "send a marked test message to a team (through Alertmanager, or to one channel)"
EXAMPLES = """\
  mpp-monitor notify-test --config /etc/mpp-monitor/inventory.yaml --team kominfo
  mpp-monitor notify-test --config inv.yaml --team it-dukcapil --channel whatsapp
  mpp-monitor notify-test --config inv.yaml --team kominfo --alertmanager http://127.0.0.1:9093 \\
      --notifier http://127.0.0.1:9470
"""

ALERTNAME = "MppNotifyTest"
TERMINAL = ("sent", "failed", "dropped", "expired", "superseded")
SAY = {
    "sent": "terkirim (sent)",
    "superseded": "not needed: an escalation channel, the first channel delivered",
}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the notify-test command's arguments."""
    parser.add_argument("--config", metavar="FILE", required=True, help="inventory file")
    parser.add_argument("--team", required=True, help="the team id to send to")
    parser.add_argument("--site", default="", help="the site (when the team is at several)")
    parser.add_argument(
        "--channel", default="", help="only this channel of the team (goes to the notifier)"
    )
    parser.add_argument(
        "--direct", action="store_true", help="post to the notifier, not through Alertmanager"
    )
    parser.add_argument(
        "--alertmanager", default="http://127.0.0.1:9093", help="Alertmanager (%(default)s)"
    )
    parser.add_argument(
        "--notifier", default="http://127.0.0.1:9469", help="the notifier (%(default)s)"
    )
    parser.add_argument("--notifier-user", default="", help="basic auth user of the notifier")
    parser.add_argument(
        "--notifier-password-file", default="", help="file holding that user's password"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long to wait for the results (default: 150 through Alertmanager, 60 direct)",
    )


def test_alert(site: str, team: str, team_name: str, now: dt.datetime) -> dict[str, Any]:
    """The test alert: critical (so off-hours routes pass it), its own entity, ends in 5 min."""
    stamp = now.strftime("%Y%m%dT%H%M%S")
    return {
        "labels": {
            "alertname": ALERTNAME,
            "site": site,
            "team": team,
            "severity": "critical",
            "entity": f"notify-test-{stamp}",
            "test": "true",
        },
        "annotations": {
            "summary": f"[UJI] Pesan uji mpp-monitor untuk {team_name}: abaikan, bukan gangguan",
            "summary_en": f"[TEST] mpp-monitor test message for {team_name}: no fault, ignore",
            "description": "Dikirim dengan `mpp-monitor notify-test` untuk memeriksa saluran.",
            "description_en": "Sent by `mpp-monitor notify-test` to check the channels.",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(minutes=5)).isoformat(),
    }


def webhook_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """What Alertmanager would post for this one alert (payload version 4)."""
    return {
        "version": "4",
        "groupKey": f"notify-test:{alert['labels']['entity']}",
        "status": "firing",
        "receiver": "notify-test",
        "groupLabels": {"site": alert["labels"]["site"], "team": alert["labels"]["team"]},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "alerts": [{**alert, "status": "firing", "endsAt": "0001-01-01T00:00:00Z"}],
    }


def results(exposition: str, team: str) -> dict[tuple[str, str], float]:
    """mpp_notifier_messages_total of one team: (channel, result) -> count."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == "mpp_notifier_messages_total" and s.labels.get("team") == team:
                out[(s.labels.get("channel", ""), s.labels.get("result", ""))] = s.value
    return out


def outcome(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float], channels: list[str]
) -> dict[str, str]:
    """The first terminal result each channel gained since ``before`` ("" none yet)."""
    out: dict[str, str] = {}
    for channel in channels:
        out[channel] = next(
            (r for r in TERMINAL if after.get((channel, r), 0.0) > before.get((channel, r), 0.0)),
            "",
        )
    return out


async def _send(
    args: argparse.Namespace, site: str, team: Any, channels: list[str], password: str
) -> int:
    import aiohttp

    auth = aiohttp.BasicAuth(args.notifier_user, password) if args.notifier_user else None
    alert = test_alert(site, team.id, team.name, dt.datetime.now(dt.UTC))
    metrics = args.notifier.rstrip("/") + "/metrics"
    direct = bool(args.direct or args.channel)
    wait = args.wait or (60.0 if direct else 150.0)
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(metrics, auth=auth) as r:
            r.raise_for_status()
            before = results(await r.text(), team.id)
        if direct:
            url = f"{args.notifier.rstrip('/')}/api/v1/alerts/webhook/{team.id}"
            params = {"site": site, **({"channel": args.channel} if args.channel else {})}
            async with session.post(
                url, params=params, json=webhook_payload(alert), auth=auth
            ) as r:
                if r.status >= 300:
                    print(f"notify-test: the notifier answered {r.status}: {await r.text()}")
                    return 1
            print(f"notify-test: posted to the notifier for team {team.id} at {site}")
        else:
            url = args.alertmanager.rstrip("/") + "/api/v2/alerts"
            async with session.post(url, json=[alert]) as r:
                if r.status >= 300:
                    print(f"notify-test: Alertmanager answered {r.status}: {await r.text()}")
                    return 1
            print(
                f"notify-test: alert {ALERTNAME} ({alert['labels']['entity']}) given to "
                f"Alertmanager for team {team.id} at {site}; it sends after its group_wait"
            )
        deadline = time.monotonic() + wait
        seen = dict.fromkeys(channels, "")
        while time.monotonic() < deadline and not all(seen.values()):
            await asyncio.sleep(1.0)
            async with session.get(metrics, auth=auth) as r:
                seen = outcome(before, results(await r.text(), team.id), channels)
    for channel, result in seen.items():
        shown = {**SAY, "": f"no result within {wait:.0f} s"}.get(
            result, f"{result} (see the notifier's log)"
        )
        print(f"  {channel}: {shown}")
    return 0 if all(r in SAY for r in seen.values()) and "sent" in seen.values() else 1


def run(args: argparse.Namespace) -> int:
    """Run the notify-test command."""
    from monitor.commands import load_config_or_report

    loaded = load_config_or_report(args.config)
    if loaded is None:
        return 1
    inv = loaded.inventory
    sites = [s for s in inv.sites if any(t.id == args.team for t in s.teams)]
    if args.site:
        sites = [s for s in sites if s.id == args.site]
    if len(sites) != 1:
        where = "" if not sites else f" (at {', '.join(s.id for s in sites)}: give --site)"
        print(f"notify-test: team {args.team!r}: {len(sites)} sites{where}", file=sys.stderr)
        return 2
    site = sites[0]
    team = next(t for t in site.teams if t.id == args.team)
    from monitor.notify.channels import channel_names

    channels = channel_names(team.channels)
    if args.channel:
        if args.channel not in channels:
            print(
                f"notify-test: team {team.id} has no channel {args.channel!r} "
                f"(it has: {', '.join(channels) or 'none'})",
                file=sys.stderr,
            )
            return 2
        channels = [args.channel]
    if not channels:
        print(f"notify-test: team {team.id} has no channels to test", file=sys.stderr)
        return 2
    try:
        password = ""
        if args.notifier_user:
            password = Path(args.notifier_password_file).read_text(encoding="utf-8").strip()
        return asyncio.run(_send(args, site.id, team, channels, password))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"notify-test: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # aiohttp's errors: ClientError, timeouts
        print(f"notify-test: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
