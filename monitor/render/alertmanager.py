"""alertmanager.yml from the inventory: routes and receivers per team, time intervals.

A switch or router that fails makes what hangs off it ``unreachable`` in the monitor's state
(not ``down``), and alerts fire only on ``down``: so dependency silencing is done before
Alertmanager, per entity, rather than by a site-wide inhibition that would also silence
counters on other switches. ``MppSiteOffline`` inhibits only the alerts of what is reached
over the internet (``via="internet"``): local and VPN-reached applications still notify.

Routing: one route per (site, team) matching the ``site`` and ``team`` labels the alert rules
carry; critical alerts always notify; warning/info notify only inside the site's service
hours and never on closed days (configurable with ``off_hours``). Receivers deliver through
the monitor's own notifier webhook (Indonesian messages, WhatsApp/Telegram gateways with
tokens from the environment), or Alertmanager's e-mail where a team has an e-mail channel.

An alert whose ``team`` names no team of the inventory (a typo in a rule, a new agency) is
not dropped: the site route's own receiver ``SITE-unknown-team`` delivers it to the
fallback team (``--unknown-team``, default the site's network team), and the message says
the team was unknown. An alert with no known ``site`` takes the first site's catch-all.

With ``notifier_user``/``notifier_password_file`` (the notifier's ``--web.config`` basic
auth), every webhook call to the notifier carries ``http_config.basic_auth`` with a
``password_file``: the password itself is never written into alertmanager.yml.

Two routes come before the teams' (``continue: false``):

- ``MppWatchdog`` (always firing) goes only to the external heartbeat URL
  (``heartbeat_url``), re-sent every minute; without one it goes nowhere, never to a team.
- The alerts about the monitor itself (``MppMonitorDown``, ``MppMonitorAbsent``,
  ``MppNotifierDown``) go to the operating team by Alertmanager's own e-mail (no mpp-monitor
  process needed) and to the notifier webhook: run ``mpp-monitor notify`` apart
  (``notifier_url`` pointing at it) and a dead prober cannot silence its own alert.
  Alertmanager 0.25's ``telegram_configs`` needs the bot token inline in alertmanager.yml
  (``bot_token_file`` arrives in 0.26): not rendered, since no secret is written inline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from monitor.inventory.expand import VIA_INTERNET, runbook_base
from monitor.inventory.model import Inventory, Site
from monitor.notify.channels import EmailChannel
from monitor.notify.webhook import WEBHOOK_PATH
from monitor.render.yaml import dump as _dump

_DAY_NAMES = {
    "mon": "monday",
    "tue": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]

WATCHDOG = "MppWatchdog"
MONITOR_ALERTS = ("MppMonitorDown", "MppMonitorAbsent", "MppNotifierDown")

# Alerts about the monitor itself are the only ones Alertmanager mails directly (the notifier
# may be the thing that is down): Indonesian subject and text, English below, from the rules'
# own annotations.
MONITOR_MAIL_SUBJECT = (
    '[mpp-monitor] {{ if eq .Status "firing" }}KRITIS{{ else }}PULIH{{ end }}: '
    "{{ .CommonAnnotations.summary }}"
)


def monitor_mail_text(runbook_base: str) -> str:
    """The mail body for the monitor's own alerts; the "Panduan" link is the inventory's
    runbook (``runbook_base``) with the rule's anchor, left out when there is none (the
    rules' own link is relative to the monitor's web server)."""
    runbook = (
        f"Panduan: {runbook_base.split('#')[0]}#"
        '{{ reReplaceAll "^[^#]*#" "" .Annotations.runbook_url }}\n'
        if runbook_base
        else ""
    )
    return (
        "{{ range .Alerts }}"
        '{{ if eq .Status "firing" }}GANGGUAN{{ else }}PULIH{{ end }}: {{ .Annotations.summary }}\n'
        "{{ .Annotations.description }}\n"
        'Sejak: {{ .StartsAt.Format "2006-01-02 15:04 MST" }}\n'
        f"{runbook}\n"
        "({{ .Annotations.summary_en }})\n\n"
        "{{ end }}"
    )


# Alerts held back while their site is offline (no internet uplink): only those the outage
# explains, i.e. links and applications reached over the internet (``via="internet"``, a
# label of the entity series). Local applications (``via="local"``), applications and
# links of their own line (a VPN: ``via`` is the link id) and counters (``down`` is always
# the agency's own cause) still notify.
_SITE_OFFLINE_SILENCES = "MppLinkDown|MppLinkDegraded|MppApplicationDown|MppApplicationSlow"


@dataclass(frozen=True)
class RenderOptions:
    """Knobs for the rendered Alertmanager configuration."""

    notifier_url: str = "http://127.0.0.1:9469"
    off_hours: Literal["critical", "all", "none"] = "critical"  # what notifies off-hours
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    smtp_smarthost: str = "localhost:25"
    smtp_from: str = "mpp-monitor@localhost"
    holiday_years: tuple[int, ...] = ()  # default: this year and next
    heartbeat_url: str = ""  # the dead man's switch receiver outside the building
    heartbeat_interval: str = "1m"
    # who gets the alerts whose `team` label names no team of the inventory (a typo in a
    # rule, a new agency): default each site's network team (Kominfo)
    unknown_team: str = ""
    # basic auth for the notifier's webhook (the notifier's --web.config users): the user,
    # and a file holding the password that Alertmanager reads (never written inline)
    notifier_user: str = ""
    notifier_password_file: str = ""


def _notifier_hook(url: str, opts: RenderOptions) -> dict[str, Any]:
    """One webhook_config calling the notifier (with basic auth when configured)."""
    hook: dict[str, Any] = {"url": url, "send_resolved": True, "max_alerts": 50}
    if opts.notifier_user:
        hook["http_config"] = {
            "basic_auth": {
                "username": opts.notifier_user,
                "password_file": opts.notifier_password_file,
            }
        }
    return hook


def _service_interval(site: Site) -> list[dict[str, Any]]:
    hours = site.service_hours
    out: list[dict[str, Any]] = []
    for day in hours.days:
        o = hours.overrides.get(day)
        start, end = (o.open, o.close) if o else (hours.open, hours.close)
        out.append(
            {
                "weekdays": [_DAY_NAMES[day]],
                "times": [{"start_time": f"{start:%H:%M}", "end_time": _end(end)}],
                "location": site.timezone,
            }
        )
    return out


def _end(t: dt.time) -> str:
    return "24:00" if t >= dt.time(23, 59) else f"{t:%H:%M}"


def closed_dates(site: Site, years: tuple[int, ...]) -> list[dt.date]:
    """Public holidays and extra closed dates of a site in the given years."""
    dates = {d for d in site.closed_days.extra if d.year in years}
    if site.closed_days.holidays:
        import holidays

        cal = holidays.country_holidays(
            site.closed_days.holidays, subdiv=site.closed_days.subdivision, years=list(years)
        )
        dates.update(cal.keys())
    return sorted(dates)


def _closed_interval(site: Site, years: tuple[int, ...]) -> list[dict[str, Any]]:
    return [
        {
            "years": [str(d.year)],
            "months": [_MONTHS[d.month - 1]],
            "days_of_month": [str(d.day)],
            "location": site.timezone,
        }
        for d in closed_dates(site, years)
    ]


def _receiver(inv: Inventory, site: Site, team_id: str, opts: RenderOptions) -> dict[str, Any]:
    team = next(t for t in site.teams if t.id == team_id)
    base = opts.notifier_url.rstrip("/")
    rec: dict[str, Any] = {"name": f"{site.id}-{team.id}"}
    # Every channel, e-mail included, is delivered by the notifier (one message text, the
    # channel's severities, the durable outbox): Alertmanager only calls the webhook.
    if team.channels:
        rec["webhook_configs"] = [
            _notifier_hook(base + WEBHOOK_PATH.format(team=team.id) + f"?site={site.id}", opts)
        ]
    return rec


def fallback_team(site: Site, opts: RenderOptions) -> str:
    """The team receiving the site's alerts of an unknown team (``--unknown-team``, else the
    site's network team; also the network team where the chosen one is not at this site)."""
    wanted = opts.unknown_team or site.network_team
    ids = {t.id for t in site.teams}
    return wanted if wanted in ids else site.network_team


def _unknown_team_receiver(inv: Inventory, site: Site, opts: RenderOptions) -> dict[str, Any]:
    """The catch-all of a site: the fallback team's webhook under its own name."""
    team = fallback_team(site, opts)
    rec = _receiver(inv, site, team, opts)
    rec["name"] = f"{site.id}-unknown-team"
    if "webhook_configs" not in rec:  # a team without channels: the notifier still logs it
        base = opts.notifier_url.rstrip("/")
        url = base + WEBHOOK_PATH.format(team=team) + f"?site={site.id}"
        rec["webhook_configs"] = [_notifier_hook(url, opts)]
    return rec


def _heartbeat(opts: RenderOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Watchdog's route and receiver."""
    receiver: dict[str, Any] = {"name": "heartbeat"}
    if opts.heartbeat_url:
        receiver["webhook_configs"] = [
            {"url": opts.heartbeat_url, "send_resolved": False, "max_alerts": 1}
        ]
    route = {
        "matchers": [f'alertname="{WATCHDOG}"'],
        "receiver": "heartbeat",
        "group_by": ["site"],
        "group_wait": "0s",
        "group_interval": opts.heartbeat_interval,
        "repeat_interval": opts.heartbeat_interval,
        "continue": False,
    }
    return route, receiver


def _monitor_route(
    site: Site, opts: RenderOptions, runbook: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The alerts about the monitor itself: the operating team by e-mail and the webhook."""
    team = next((t for t in site.teams if t.id == site.network_team), None)
    name = f"{site.id}-{site.network_team}-monitor"
    receiver: dict[str, Any] = {"name": name}
    base = opts.notifier_url.rstrip("/")
    receiver["webhook_configs"] = [
        _notifier_hook(
            base + WEBHOOK_PATH.format(team=site.network_team) + f"?site={site.id}", opts
        )
    ]
    emails = [
        ", ".join(c.to) for c in (team.channels if team else []) if isinstance(c, EmailChannel)
    ]
    if emails:  # the path that does not need our process: Alertmanager mails it itself
        text = monitor_mail_text(runbook)
        receiver["email_configs"] = [
            {"to": to, "send_resolved": True, "headers": {"Subject": MONITOR_MAIL_SUBJECT},
             "text": text, "html": f"<pre>{text}</pre>"}
            for to in emails
        ]  # fmt: skip
    route = {
        "matchers": [f'site="{site.id}"', f'alertname=~"{"|".join(MONITOR_ALERTS)}"'],
        "receiver": name,
        "continue": False,
    }
    return route, receiver


def alertmanager_config(inv: Inventory, opts: RenderOptions | None = None) -> dict[str, Any]:
    """The alertmanager.yml content as a dict."""
    opts = opts or RenderOptions()
    this_year = dt.datetime.now(dt.UTC).year
    years = opts.holiday_years or (this_year, this_year + 1)
    receivers: list[dict[str, Any]] = [{"name": "blackhole"}]
    time_intervals: list[dict[str, Any]] = []
    site_routes: list[dict[str, Any]] = []
    inhibit: list[dict[str, Any]] = []
    heartbeat_route, heartbeat_receiver = _heartbeat(opts)
    receivers.append(heartbeat_receiver)
    first_routes: list[dict[str, Any]] = [heartbeat_route]
    for site in inv.sites:
        monitor_route, monitor_receiver = _monitor_route(site, opts, runbook_base(inv))
        first_routes.append(monitor_route)
        receivers.append(monitor_receiver)
    for site in inv.sites:
        hours_name = f"{site.id}-service-hours"
        closed_name = f"{site.id}-closed-days"
        time_intervals.append({"name": hours_name, "time_intervals": _service_interval(site)})
        closed = _closed_interval(site, years)
        if closed:
            time_intervals.append({"name": closed_name, "time_intervals": closed})
        team_routes: list[dict[str, Any]] = []
        for team in site.teams:
            rec = _receiver(inv, site, team.id, opts)
            receivers.append(rec)
            route: dict[str, Any] = {
                "matchers": [f'team="{team.id}"'],
                "receiver": rec["name"],
            }
            if opts.off_hours != "all":
                quiet: dict[str, Any] = {
                    "receiver": rec["name"],
                    "active_time_intervals": [hours_name],
                }
                if closed:
                    quiet["mute_time_intervals"] = [closed_name]
                if opts.off_hours == "critical":
                    route["routes"] = [
                        {"matchers": ['severity="critical"'], "receiver": rec["name"]},
                        quiet,
                    ]
                else:
                    route["routes"] = [quiet]
            team_routes.append(route)
        # what no team route took (a `team` the inventory does not know) goes to the
        # site's fallback team, every hour of every day: never to a blackhole
        unknown = _unknown_team_receiver(inv, site, opts)
        receivers.append(unknown)
        site_routes.append(
            {"matchers": [f'site="{site.id}"'], "receiver": unknown["name"], "routes": team_routes}
        )
    inhibit.extend(
        [
            {
                # no uplink at all: one "site offline" page to Kominfo, not one per agency
                "source_matchers": ['alertname="MppSiteOffline"'],
                "target_matchers": [
                    f'alertname=~"{_SITE_OFFLINE_SILENCES}"',
                    f'via="{VIA_INTERNET}"',
                ],
                "equal": ["site"],
            },
            {
                # a link that is down is not also "degraded"
                "source_matchers": ['alertname="MppLinkDown"'],
                "target_matchers": ['alertname="MppLinkDegraded"'],
                "equal": ["site", "link"],
            },
            {
                # the monitor itself down: its own probe alerts are meaningless
                "source_matchers": ['alertname=~"MppMonitorDown|MppMonitorAbsent"'],
                "target_matchers": ['alertname="MppProbesStale"'],
                "equal": ["site"],
            },
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": ["site", "alertname", "entity"],
            },
        ]
    )
    return {
        "global": {
            "resolve_timeout": "5m",
            "smtp_smarthost": opts.smtp_smarthost,
            "smtp_from": opts.smtp_from,
            "smtp_require_tls": False,
        },
        "route": {
            # an alert with no known `site`: the first site's catch-all
            "receiver": f"{inv.sites[0].id}-unknown-team",
            "group_by": ["site", "team"],
            "group_wait": opts.group_wait,
            "group_interval": opts.group_interval,
            "repeat_interval": opts.repeat_interval,
            "routes": first_routes + site_routes,
        },
        "receivers": receivers,
        "inhibit_rules": inhibit,
        "time_intervals": time_intervals,
    }


def render_alertmanager(inv: Inventory, opts: RenderOptions | None = None) -> str:
    """alertmanager.yml text for the inventory."""
    return _dump(
        alertmanager_config(inv, opts),
        "# Rendered by `mpp-monitor render alertmanager` from the inventory: do not edit,\n"
        "# re-render after changing teams or channels. Check with `amtool check-config`.\n",
    )
