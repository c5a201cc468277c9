"""The notifier: a durable outbox of messages and one delivery lane per team channel.

``submit`` (called by the webhook handler) turns one Alertmanager group into one message per
channel of the addressed team and stores them all in the outbox (``outbox.py``: SQLite, WAL,
fsynced) before it returns, so the webhook's 2xx means "on disk"; or none when the outbox is
full (then each is counted ``dropped`` and the caller answers 503, so Alertmanager retries).

Each (site, team, channel) is a **lane** delivered in order: its oldest message is retried
with exponential backoff for as long as it lives (``message_ttl``, default 24 h; then it is
counted ``expired``), and the messages behind it wait, so a team never reads "pulih" before
"putus". A message that cannot succeed (a 4xx, a missing secret) is counted ``failed``.
**Stale news is collapsed**: when a resolution arrives while the firing message it answers is
still waiting (the uplink was down), that firing message is withdrawn (counted
``collapsed``) and the team gets one "PULIH" message with the outage's span instead of a late
"down" followed by "up"; a repeat of alerts already waiting is not queued twice. Messages
survive a restart (and ``kill -9``): ``start`` picks up what the outbox holds.

**Escalation** (a channel's ``when``/``after``, see ``channels/base.py``): an ``offline``
channel (SMS by default) gets a message at once while the site has no internet (known from a
firing ``MppSiteOffline`` the notifier has seen, or from ``offline_source``, the monitor's own
state when both run in one process); otherwise a critical firing message waits there on
standby for ``after`` seconds and is sent only if none of the team's ``always`` channels has
delivered it by then (else it is counted ``superseded``). When the site goes offline, waiting
standby messages of its lanes become due at once. A lane delivers its due messages in order.

**"Site offline" is not late news**: a firing ``MppSiteOffline`` that a channel could not take
(its gateway is beyond the cut uplinks) could only arrive once the internet is back, when it
is no longer true. While the site is marked offline (the alert has not resolved) a message
reporting it (with whatever came in the same group), once an attempt has failed, is held
for at most ``offline_hold`` (15 min) after it was accepted, so that its resolution
collapses it into one "PULIH" message with the outage's span; the SMS went at once. A channel
that still gets through (a gateway inside the building)
delivers at once. A restart keeps this: a firing site-offline message recovered from the
outbox marks its site offline again (its failed attempts are on disk).

**The local fast path**: with ``offline_source`` (the notifier inside ``run``), the notifier
watches the monitor's own ``mpp_site_internet_up``; when a site loses its last uplink it
sends "site offline" at once to the network team's ``offline`` channels (SMS), without waiting
for Prometheus' ``for: 2m`` and Alertmanager's grouping, which need minutes, and "pulih" with
the span when the internet is back. Alertmanager's ``MppSiteOffline`` for the same outage
(until an hour after it) is then not sent on those channels a second time.

For the exporter (no prometheus_client here): ``stats[(team, channel, result)]`` is the
counter behind ``mpp_notifier_messages_total`` (every configured pair starts at 0 for each
result, so ``increase()`` sees the first failure), ``queue_length`` the gauge behind
``mpp_notifier_queue_length``, ``outbox_stats`` the depth and oldest age per channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import sqlite3
import time
import zoneinfo
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.i18n import Language
from monitor.notify.channels import DeliveredChannel, DeliveryError, channel_names
from monitor.notify.delivery import deliver
from monitor.notify.messages import AlertGroup, Formatter, WebhookAlert, filter_alerts
from monitor.notify.outbox import NewMessage, Outbox, Stored
from monitor.notify.routing import Routing, TeamKey, routing_from_plan

if TYPE_CHECKING:
    from monitor.plan import Plan

PlanSource = Callable[[], "Plan | None"]

log = logging.getLogger("monitor.notify")

RESULTS = ("sent", "failed", "dropped", "expired", "collapsed", "superseded")
SITE_OFFLINE_ALERT = "MppSiteOffline"
# The longest wait a gateway's Retry-After / retry_after may impose on a message.
MAX_RETRY_AFTER = 3600.0
FAST_PATH_MEMORY = "fast_path"  # the outbox memory entry of the fast path
FAST_PATH_MEMORY_SECONDS = 3600  # AM's copy of a fast-path outage is dropped this long after
TOLD_MEMORY_SECONDS = 7 * 86400  # how long a lane remembers the firing alerts it carried


class NotifierSettings(BaseModel):
    """Queue, retry and time settings of the notifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_size: int = Field(default=10_000, ge=1)  # messages the outbox holds at most
    workers: int = Field(default=4, ge=1, le=64)  # sends at the same time (over all lanes)
    # attempts per message; None: retry until it expires (message_ttl)
    max_attempts: int | None = Field(default=None, ge=1, le=1_000_000)
    message_ttl: float = Field(default=24 * 3600.0, gt=0, le=30 * 86400)  # seconds
    backoff_base: float = Field(default=1.0, gt=0, le=3600)  # before the 2nd attempt, then x2
    backoff_max: float = Field(default=60.0, gt=0, le=3600)
    request_timeout: float = Field(default=10.0, gt=0)  # seconds per attempt
    default_timezone: str = "Asia/Makassar"
    max_alerts_per_message: int = Field(default=10, ge=1)
    # a firing "site offline" waits this long on internet channels for its resolution
    offline_hold: float = Field(default=900.0, ge=0, le=86400)
    watch_interval: float = Field(default=1.0, gt=0, le=60)  # the local fast path's check

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Makassar)") from None
        return value


@dataclass(frozen=True)
class _Target:
    name: str
    channel: DeliveredChannel


@dataclass(slots=True)
class Message:
    """One text for one channel of one team (``id`` is its row in the outbox)."""

    site: str
    team: str
    channel_name: str
    channel: DeliveredChannel | None  # None: recovered from the outbox, channel now gone
    text: str
    payload: dict[str, Any]
    id: int = 0
    created: float = field(default_factory=time.time)  # wall time accepted
    expires: float = math.inf
    attempts: int = 0
    in_flight: bool = False
    blocked: bool = False  # it waited behind a failing attempt: the way out was down

    @property
    def not_before(self) -> float:
        """Wall time before which it is not sent (a standby escalation); 0: due now."""
        return float(self.payload.get("notBefore", 0.0))

    @property
    def standby_for(self) -> list[int]:
        """Outbox ids whose delivery makes this escalation unneeded (empty: not standby)."""
        return [int(i) for i in self.payload.get("escalates", [])]

    @property
    def lane(self) -> Lane:
        """Where it waits: its team's channel."""
        return (self.site, self.team, self.channel_name)

    def alerts(self) -> list[WebhookAlert]:
        """The alerts it reports (from its payload)."""
        return [WebhookAlert.model_validate(a) for a in self.payload.get("alerts", [])]


Lane = tuple[str, str, str]  # (site, team, channel name)


@dataclass(frozen=True)
class SubmitResult:
    """What happened to a submitted group."""

    outcome: Literal["queued", "nothing", "dropped", "unknown_team", "unknown_channel", "no_site"]
    messages: int = 0
    detail: str = ""


ANNOUNCED_MEMORY_SECONDS = 30 * 60  # longer than Prometheus' 15 min of resolved re-sends


def _alert_key(site: str, team: str, alert: WebhookAlert) -> tuple[str, str, str, str]:
    started = alert.starts_at.isoformat() if alert.starts_at else ""
    fingerprint = alert.fingerprint or repr(sorted(alert.labels.items()))
    return (site, team, fingerprint, started)


class Notifier:
    """Bounded queue plus delivery workers; counts every message's outcome."""

    def __init__(
        self,
        routing: Routing | None = None,
        settings: NotifierSettings | None = None,
        *,
        plan_source: PlanSource | None = None,
        session: aiohttp.ClientSession | None = None,
        outbox: Outbox | None = None,
        offline_source: Callable[[str], bool | None] | None = None,
    ) -> None:
        """Give ``routing``, or ``plan_source`` (e.g. ``lambda: service.plan``): the routing is
        then rebuilt from the plan whenever a reload replaces it. Without ``outbox`` messages
        are kept in an in-memory SQLite database (not durable: for tests and embedding).
        ``offline_source(site)`` says whether a site has no internet now (the monitor's state;
        None: not known yet, e.g. just after a start)."""
        self.settings = settings or NotifierSettings()
        self._stats: dict[tuple[str, str, str], int] = {}
        self.last_error: dict[tuple[str, str], str] = {}  # (team, channel) -> safe reason
        self.outbox = outbox or Outbox()
        self._lanes: dict[Lane, deque[Message]] = {}
        self._lane_tasks: dict[Lane, asyncio.Task[None]] = {}
        self._wake: dict[Lane, asyncio.Event] = {}
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._slots = asyncio.Semaphore(self.settings.workers)
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._running = False
        self._recovered = False
        self._session = session
        self._own_session = session is None
        self._targets: dict[TeamKey, list[_Target]] = {}
        self._formatter = Formatter()
        self._plan_source = plan_source
        self._plan: object = None
        # resolutions already announced, per (site, team, fingerprint, startsAt) -> when:
        # Prometheus re-sends a resolved alert for 15 minutes and Alertmanager puts it into
        # the team's next notification; the team must hear "pulih" once.
        self._announced: dict[tuple[str, str, str, str], float] = {}
        self.offline_source = offline_source
        self._offline_sites: set[str] = set()  # MppSiteOffline firing, as seen by the webhook
        self._told: dict[tuple[Lane, tuple[str, str, str, str]], float] = {}  # lane carried it
        self._delivered: dict[int, float] = {}  # outbox id -> when it was sent
        self._fast_offline: dict[str, float] = {}  # site -> wall time the fast path told
        self._fast_seen: dict[str, float] = {}  # site -> until when AM's copies are dropped
        self._network_teams: dict[str, str] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._lane_failing: set[Lane] = set()  # its last attempt failed (or, after a start, one)
        self.configure(routing or Routing())
        self._follow_plan()

    # -- configuration ------------------------------------------------------------------

    def configure(self, routing: Routing) -> None:
        """Install new routing (also on reload); raises ValueError on clashing channel names."""
        targets: dict[TeamKey, list[_Target]] = {}
        for key, channels in routing.channels.items():
            names = channel_names(channels)
            targets[key] = [_Target(name, ch) for name, ch in zip(names, channels, strict=True)]
        self._targets = targets
        self._network_teams = dict(routing.network_teams)
        self._formatter = Formatter(
            names=dict(routing.names),
            timezones=dict(routing.timezones),
            default_timezone=self.settings.default_timezone,
            max_alerts=self.settings.max_alerts_per_message,
            runbook_url=routing.runbook_url,
        )
        for (_, team), team_targets in targets.items():
            for t in team_targets:
                for result in RESULTS:
                    self._stats.setdefault((team, t.name, result), 0)

    def _follow_plan(self) -> None:
        """Rebuild the routing when the plan source hands out a new plan (a reload)."""
        if self._plan_source is None:
            return
        plan = self._plan_source()
        if plan is None or plan is self._plan:
            return
        self._plan = plan
        try:
            self.configure(routing_from_plan(plan))
        except ValueError as exc:  # keep delivering with the previous routing
            log.error("notify: new configuration not applied, keeping the old one: %s", exc)

    @property
    def stats(self) -> dict[tuple[str, str, str], int]:
        """Messages by (team, channel, result); every configured pair is present from 0."""
        self._follow_plan()
        return self._stats

    @property
    def queue_length(self) -> int:
        """Messages waiting in the outbox (all channels)."""
        return self._pending

    @property
    def outbox_stats(self) -> dict[tuple[str, str], tuple[int, float]]:
        """(team, channel) -> (messages waiting, age of the oldest in seconds; 0 when none).

        Every configured channel is present, so an alert on the age has a series to read."""
        self._follow_plan()
        out: dict[tuple[str, str], tuple[int, float]] = {}
        for (_, team), targets in self._targets.items():
            for t in targets:
                out.setdefault((team, t.name), (0, 0.0))
        now = time.time()
        for (_, team, name), lane in self._lanes.items():
            if not lane:
                continue
            depth, age = out.get((team, name), (0, 0.0))
            out[(team, name)] = (depth + len(lane), max(age, now - lane[0].created))
        return out

    def channels(self, site: str, team: str) -> list[DeliveredChannel]:
        """The channels the notifier delivers to for one team (e-mail is Alertmanager's)."""
        self._follow_plan()
        return [t.channel for t in self._targets.get((site, team), [])]

    def teams(self) -> list[TeamKey]:
        """The (site, team) pairs with channels the notifier delivers to."""
        self._follow_plan()
        return sorted(self._targets)

    # -- intake -------------------------------------------------------------------------

    def _resolve_site(self, team: str, site: str | None, group: AlertGroup) -> str | None:
        if site:
            return site
        for labels in (group.common_labels, group.group_labels):
            if labels.get("site"):
                return labels["site"]
        sites = [s for s, t in self._targets if t == team]
        return sites[0] if len(sites) == 1 else None

    def submit(
        self,
        group: AlertGroup,
        *,
        team: str,
        site: str | None = None,
        channel: str | None = None,
    ) -> SubmitResult:
        """Queue one message per channel of the team (all or none); never blocks."""
        self._follow_plan()
        resolved_site = self._resolve_site(team, site, group)
        if resolved_site is None:
            return SubmitResult("no_site", detail="give ?site= (team is configured at several)")
        targets = self._targets.get((resolved_site, team))
        if targets is None:
            return SubmitResult(
                "unknown_team", detail=f"no team {team!r} at site {resolved_site!r}"
            )
        if channel is not None:
            targets = [t for t in targets if t.name == channel]
            if not targets:
                return SubmitResult("unknown_channel", detail=f"team {team!r} has no {channel!r}")
        self._track_offline(resolved_site, group)
        fresh = self._not_yet_announced(resolved_site, team, group)
        offline = self.site_offline(resolved_site)
        messages: list[Message] = []
        standby: list[Message] = []
        for t in targets:
            alerts = filter_alerts(fresh, t.channel.severity, t.channel.send_resolved)
            lane: Lane = (resolved_site, team, t.name)
            if t.channel.when != "always" and resolved_site in self._fast_seen:
                alerts = [a for a in alerts if not _from_alertmanager_site_offline(a)]
            if t.channel.when == "always" or offline:
                batches = [(alerts, False)]
            else:  # an escalation channel while the site is online
                told = [a for a in alerts if a.status == "resolved" and self._was_told(lane, a)]
                urgent = [
                    a
                    for a in alerts
                    if a.status == "firing" and a.labels.get("severity") == "critical"
                ]
                batches = [(told, False), (urgent if t.channel.after else [], True)]
            for batch, is_standby in batches:
                if not batch:
                    continue
                m = self._message(resolved_site, team, t, batch, group)
                if not self._repeats_waiting(m):
                    (standby if is_standby else messages).append(m)
        if standby and not messages:  # no other channel to wait for: escalate now
            messages, standby = standby, []
        messages += standby
        if not messages:
            return SubmitResult("nothing")
        room = self.settings.queue_size - self._pending
        if room < len(messages):
            for m in messages:
                self._count(m, "dropped")
            log.warning(
                "notify: outbox full (%d waiting): dropped %d message(s) for team=%s",
                self._pending,
                len(messages),
                team,
            )
            return SubmitResult("dropped", messages=len(messages), detail="notifier outbox full")
        wall = time.time()
        for m in messages:
            m.created, m.expires = wall, wall + self.settings.message_ttl
            if m in standby:
                assert m.channel is not None and m.channel.after is not None
                m.payload["notBefore"] = wall + m.channel.after
        try:
            ids = self.outbox.add(
                NewMessage(m.site, m.team, m.channel_name, m.created, m.expires, m.text, m.payload)
                for m in messages
            )
        except sqlite3.Error as exc:  # disk full, I/O error: Alertmanager must retry
            for m in messages:
                self._count(m, "dropped")
            log.error("notify: outbox write failed, %d message(s) refused: %s", len(messages), exc)
            return SubmitResult("dropped", messages=len(messages), detail="outbox write failed")
        for m, ident in zip(messages, ids, strict=True):
            m.id = ident
        if standby:
            siblings = [m.id for m in messages if m not in standby]
            for m in standby:
                m.payload["escalates"] = siblings
                self.outbox.replace(m.id, m.text, m.payload)
        for m in messages:
            self._collapse_into(m)
            self._enqueue(m)
        self._withdraw_standby(resolved_site, team, fresh)
        now = time.monotonic()
        for a in fresh:
            if a.status == "resolved":
                self._announced[_alert_key(resolved_site, team, a)] = now
        return SubmitResult("queued", messages=len(messages))

    def _message(
        self, site: str, team: str, t: _Target, alerts: list[WebhookAlert], group: AlertGroup
    ) -> Message:
        language = t.channel.language
        text = self._render(t.channel, alerts, language, group.truncated_alerts)
        payload = {
            "site": site,
            "team": team,
            "channel": t.name,
            "status": "firing" if any(a.status == "firing" for a in alerts) else "resolved",
            "language": language,
            "text": text,
            "groupKey": group.group_key,
            "truncatedAlerts": group.truncated_alerts,
            "alerts": [a.model_dump(mode="json", by_alias=True) for a in alerts],
        }
        return Message(site, team, t.name, t.channel, text, payload)

    def _render(
        self,
        channel: DeliveredChannel | None,
        alerts: list[WebhookAlert],
        language: Language,
        truncated: int,
    ) -> str:
        if channel is not None and channel.short:
            return self._formatter.render_short(alerts, language)
        return self._formatter.render(alerts, language, truncated)

    # -- escalation ---------------------------------------------------------------------

    def site_offline(self, site: str) -> bool:
        """True while the site has no internet, as far as the notifier knows."""
        if site in self._offline_sites:
            return True
        return bool(self.offline_source and self.offline_source(site))

    def _track_offline(self, site: str, group: AlertGroup) -> None:
        for a in group.alerts:
            if not _from_alertmanager_site_offline(a):
                continue  # the local fast path keeps its own record (_fast_offline)
            where = a.labels.get("site", site)
            if a.status == "resolved":
                if where in self._offline_sites:
                    self._offline_sites.discard(where)
                    for key, event in self._wake.items():  # held messages may go now
                        if key[0] == where:
                            event.set()
            elif where not in self._offline_sites:
                self._offline_sites.add(where)
                self._escalate_site(where)

    def _escalate_site(self, site: str) -> None:
        """The site went offline: its standby escalations are due now."""
        for key, lane in self._lanes.items():
            if key[0] != site:
                continue
            due = False
            for m in lane:
                if m.not_before and not m.in_flight:
                    m.payload["notBefore"] = 0.0
                    m.payload["escalates"] = []
                    self.outbox.replace(m.id, m.text, m.payload)
                    due = True
            if due:
                self._wake.get(key, asyncio.Event()).set()

    async def _watch_sites(self) -> None:
        """The local fast path (see the module docstring)."""
        while True:
            try:
                self.check_sites()
            except Exception:  # a bug here must not stop the watch
                log.exception("notify: site watch failed")
            await asyncio.sleep(self.settings.watch_interval)  # a periodic check, not a wait

    def check_sites(self, now: float | None = None) -> None:
        """Compare each site's internet with what the fast path told; act on changes."""
        source = self.offline_source
        if source is None:
            return
        self._follow_plan()
        wall = time.time() if now is None else now
        changed = False
        for site, team in self._network_teams.items():
            offline = source(site)
            if offline is None:  # not known yet (a restart): keep what was told
                continue
            if offline:
                if site not in self._fast_offline:
                    self._fast_offline[site] = wall
                    self._fast_seen[site] = math.inf
                    self._fast_path(site, team, wall, None)
                    changed = True
            elif site in self._fast_offline:
                started = self._fast_offline.pop(site)
                self._fast_seen[site] = wall + FAST_PATH_MEMORY_SECONDS
                self._fast_path(site, team, started, wall)
                changed = True
        for site, until in list(self._fast_seen.items()):
            if until < wall:
                del self._fast_seen[site]
                changed = True
        if changed:  # kept on disk: a restart mid-outage sends no second "offline" SMS
            memory = {"offline": self._fast_offline, "seen": self._fast_seen}
            self.outbox.remember(FAST_PATH_MEMORY, memory)

    def _fast_path(self, site: str, team: str, wall: float, ended: float | None) -> None:
        started = dt.datetime.fromtimestamp(wall, dt.UTC).isoformat()
        site_name = self._formatter.names.get(("site", site), site)
        alert: dict[str, Any] = {
            "status": "firing" if ended is None else "resolved",
            "labels": {
                "alertname": SITE_OFFLINE_ALERT,
                "severity": "critical",
                "site": site,
                "team": team,
                "kind": "site",
                "source": "mpp-monitor",
            },
            "annotations": {
                "summary": f"{site_name} tanpa internet: semua link putus",
                "summary_en": f"{site_name} offline: every internet link is down",
            },
            "startsAt": started,
            "fingerprint": f"fast-{site}",
        }
        if ended is not None:
            alert["endsAt"] = dt.datetime.fromtimestamp(ended, dt.UTC).isoformat()
        group = AlertGroup.model_validate(
            {"status": alert["status"], "groupKey": f"fast/{site}", "alerts": [alert]}
        )
        offline = [
            t.name for t in self._targets.get((site, team), []) if t.channel.when != "always"
        ]
        if ended is not None:  # it answers the fast "offline" (also after a restart)
            fast = WebhookAlert.model_validate(alert)
            for name in offline:
                self._told[((site, team, name), _alert_key(site, team, fast))] = time.monotonic()
        log.warning(
            "notify: site %s %s: telling %s by %s",
            site,
            "has no internet" if ended is None else "is back online",
            team,
            offline,
        )
        for name in offline:
            self.submit(group, team=team, site=site, channel=name)

    def _due_at(self, m: Message) -> float:
        """Wall time from which the message may be sent (standby, or a held site-offline)."""
        due = m.not_before
        if (
            m.site in self._offline_sites
            and m.blocked  # it could not get through: the way out was down
            and m.payload.get("status") == "firing"
            and not (m.channel is not None and m.channel.short)
            and _reports_site_offline(m)
        ):
            due = max(due, m.created + self.settings.offline_hold)
        return due

    def _was_told(self, lane: Lane, alert: WebhookAlert) -> bool:
        return (lane, _alert_key(lane[0], lane[1], alert)) in self._told

    def _remember_told(self, m: Message) -> None:
        now = time.monotonic()
        if len(self._told) > 50_000:
            horizon = now - TOLD_MEMORY_SECONDS
            self._told = {k: t for k, t in self._told.items() if t >= horizon}
        for a in m.alerts():
            if a.status == "firing":
                self._told[(m.lane, _alert_key(m.site, m.team, a))] = now

    def _withdraw_standby(self, site: str, team: str, alerts: list[WebhookAlert]) -> None:
        """Resolved alerts: standby escalations that wait to report them firing go."""
        resolved = {_alert_key(site, team, a) for a in alerts if a.status == "resolved"}
        if not resolved:
            return
        for key in list(self._lanes):
            if key[:2] == (site, team):
                self._collapse(key, resolved, only=lambda m: bool(m.standby_for or m.not_before))

    def _not_yet_announced(self, site: str, team: str, group: AlertGroup) -> list[WebhookAlert]:
        """The group's alerts minus resolutions this team was already told about."""
        now = time.monotonic()
        horizon = now - ANNOUNCED_MEMORY_SECONDS
        if len(self._announced) > 10_000 or any(t < horizon for t in self._announced.values()):
            self._announced = {k: t for k, t in self._announced.items() if t >= horizon}
        return [
            a
            for a in group.alerts
            if a.status != "resolved" or _alert_key(site, team, a) not in self._announced
        ]

    def _count(self, m: Message, result: str) -> None:
        key = (m.team, m.channel_name, result)
        self._stats[key] = self._stats.get(key, 0) + 1

    def _repeats_waiting(self, m: Message) -> bool:
        """True when every alert of a firing message is already waiting, firing, in its lane
        (Alertmanager's repeat_interval while the uplink is down): no second copy."""
        if m.payload.get("status") != "firing":
            return False
        lane = self._lanes.get(m.lane)
        if not lane:
            return False
        waiting = {
            _alert_key(m.site, m.team, a)
            for w in lane
            if not w.in_flight
            for a in w.alerts()
            if a.status == "firing"
        }
        return all(_alert_key(m.site, m.team, a) in waiting for a in m.alerts())

    def _collapse_into(self, new: Message) -> None:
        """Withdraw waiting firing alerts that ``new`` reports resolved (see the docstring)."""
        resolved = {
            _alert_key(new.site, new.team, a) for a in new.alerts() if a.status == "resolved"
        }
        if resolved:
            self._collapse(new.lane, resolved, only=lambda m: m is not new)

    def _collapse(
        self,
        key: Lane,
        resolved: set[tuple[str, str, str, str]],
        only: Callable[[Message], bool],
    ) -> None:
        lane = self._lanes.get(key)
        if not lane:
            return
        for old in list(lane):
            if old.in_flight or not only(old):
                continue  # being sent now: it will arrive before the resolution
            alerts = old.alerts()
            keep = [
                a
                for a in alerts
                if not (a.status == "firing" and _alert_key(old.site, old.team, a) in resolved)
            ]
            if len(keep) == len(alerts):
                continue
            if not keep:
                if lane[0] is old:  # the head waited for a retry: the next one may go now
                    self._wake.get(key, asyncio.Event()).set()
                self._finish(old, "collapsed")
                self.outbox.remove([old.id])
                log.info(
                    "notify: team=%s channel=%s: a waiting alert resolved before delivery: "
                    "one message with its span instead",
                    old.team,
                    old.channel_name,
                )
                continue
            language: Language = "en" if old.payload.get("language") == "en" else "id"
            channel = self._channel(old.site, old.team, old.channel_name) or old.channel
            truncated = int(old.payload.get("truncatedAlerts", 0))
            old.text = self._render(channel, keep, language, truncated)
            old.payload = {
                **old.payload,
                "text": old.text,
                "status": "firing" if any(a.status == "firing" for a in keep) else "resolved",
                "alerts": [a.model_dump(mode="json", by_alias=True) for a in keep],
            }
            self.outbox.replace(old.id, old.text, old.payload)

    def _enqueue(self, m: Message) -> None:
        m.blocked = m.lane in self._lane_failing
        if not m.not_before:
            self._remember_told(m)
        self._lanes.setdefault(m.lane, deque()).append(m)
        self._pending += 1
        self._idle.clear()
        self._kick(m.lane)

    def _kick(self, lane: Lane) -> None:
        if not self._running:
            return
        if lane not in self._lane_tasks:
            self._lane_tasks[lane] = asyncio.create_task(
                self._run_lane(lane), name=f"notify-{'/'.join(lane)}"
            )

    def _finish(self, m: Message, result: str) -> None:
        """Take a message out of its lane and count how it ended (the caller updates disk)."""
        lane = self._lanes.get(m.lane)
        if lane is not None and m in lane:
            lane.remove(m)
            self._pending -= 1
        self._count(m, result)
        if self._pending == 0:
            self._idle.set()

    # -- delivery -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start delivering (and an HTTP session unless one was given); pick up what the
        outbox holds from before a restart."""
        if self._running:
            return
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                total=self.settings.request_timeout, sock_read=self.settings.request_timeout
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
            self._own_session = True
        self._running = True
        if not self._recovered:
            self._recovered = True
            self._recover(self.outbox.pending())
            fast = self.outbox.recall(FAST_PATH_MEMORY, {})
            if isinstance(fast, dict):  # a restart in the middle of an outage: no second SMS
                self._fast_offline.update(fast.get("offline", {}))
                self._fast_seen.update(fast.get("seen", {}))
        for lane, waiting in self._lanes.items():
            if waiting:
                self._kick(lane)
        if self.offline_source is not None and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_sites(), name="notify-offline-watch")

    def _recover(self, stored: list[Stored]) -> None:
        known = {m.id for lane in self._lanes.values() for m in lane}
        fresh = [s for s in stored if s.id not in known]
        for s in fresh:
            m = Message(
                s.site,
                s.team,
                s.channel,
                self._channel(s.site, s.team, s.channel),
                s.text,
                s.payload,
                id=s.id,
                created=s.created,
                expires=s.expires,
                attempts=s.attempts,
            )
            if not m.not_before:
                self._remember_told(m)
            if m.attempts:  # delivery had failed before the restart
                self._lane_failing.add(m.lane)
            if m.payload.get("status") == "firing" and _reports_site_offline(m):
                self._offline_sites.add(m.site)  # its resolution has not come yet
            self._lanes.setdefault(m.lane, deque()).append(m)
            self._pending += 1
            self._idle.clear()
        for key in self._lane_failing:
            for w in self._lanes.get(key, ()):
                w.blocked = True
        if fresh:
            log.info("notify: %d message(s) waiting in the outbox from before", len(fresh))

    def _channel(self, site: str, team: str, name: str) -> DeliveredChannel | None:
        self._follow_plan()
        for t in self._targets.get((site, team), []):
            if t.name == name:
                return t.channel
        return None

    def retry_now(self) -> None:
        """Cut every lane's backoff short (connectivity is back): retry the heads now."""
        for event in self._wake.values():
            event.set()

    async def quiet(self) -> None:
        """Wait until no send is in progress (each attempt's outcome has been recorded)."""
        await self._quiet.wait()

    async def join(self) -> None:
        """Wait until every waiting message has ended (sent, failed, expired, collapsed)."""
        await self._idle.wait()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Deliver what is waiting (up to drain_timeout seconds), then stop. A durable outbox
        keeps the rest for the next start; an in-memory one counts it ``dropped``."""
        if self._running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_timeout):
                    await self._idle.wait()
            self._running = False
            tasks = list(self._lane_tasks.values())
            if self._watcher is not None:
                tasks.append(self._watcher)
                self._watcher = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._lane_tasks.clear()
        if self._pending:
            if self.outbox.durable:
                log.info(
                    "notify: %d message(s) kept in the outbox for the next start", self._pending
                )
            else:
                for lane in list(self._lanes.values()):
                    for m in list(lane):
                        self._finish(m, "dropped")
                self._lanes.clear()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx.append(notifier.cleanup_ctx)``: start with the app, stop after."""
        await self.start()
        yield
        await self.stop()

    async def _run_lane(self, key: Lane) -> None:
        """Deliver one lane's messages in order, the oldest first, until it is empty."""
        lane = self._lanes[key]
        wake = self._wake.setdefault(key, asyncio.Event())
        try:
            while lane:
                now = time.time()
                m = next((w for w in lane if self._due_at(w) <= now), None)
                if m is None:  # only standby or held messages: sleep until the first is due
                    delay: float | None = min(self._due_at(w) for w in lane) - now
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await wake.wait()
                    continue
                try:
                    delay = await self._attempt(m)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug must not stop the lane nor lose the count
                    self._fail(m, f"internal error ({type(exc).__name__})")
                    continue
                if delay is None:
                    continue
                # backoff before the head's next attempt: not probe scheduling
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await wake.wait()
        finally:
            if self._lane_tasks.get(key) is asyncio.current_task():
                del self._lane_tasks[key]

    async def _attempt(self, m: Message) -> float | None:
        """Try the lane's head once: None when it has ended, else seconds until the next try."""
        s = self.settings
        if time.time() >= m.expires:
            self._finish(m, "expired")
            self.outbox.remove([m.id])
            self.last_error[(m.team, m.channel_name)] = "expired undelivered"
            log.error(
                "notify: team=%s channel=%s message expired after %d attempt(s) (%s)",
                m.team,
                m.channel_name,
                m.attempts,
                _age(time.time() - m.created),
            )
            return None
        if any(i in self._delivered for i in m.standby_for):
            self._finish(m, "superseded")
            self.outbox.remove([m.id])
            log.info(
                "notify: team=%s channel=%s: escalation not needed, delivered on another channel",
                m.team,
                m.channel_name,
            )
            return None
        channel = self._channel(m.site, m.team, m.channel_name) or m.channel
        if channel is None:
            self._fail(m, "channel no longer configured")
            return None
        assert self._session is not None
        m.in_flight = True
        self._in_flight += 1
        self._quiet.clear()
        try:
            async with self._slots:
                try:
                    async with asyncio.timeout(s.request_timeout):
                        await deliver(self._session, channel, m.text, m.payload)
                except TimeoutError:
                    raise DeliveryError("timeout", retry=True) from None
        except DeliveryError as exc:
            m.attempts += 1
            log.warning(
                "notify: team=%s channel=%s attempt %d%s failed: %s",
                m.team,
                m.channel_name,
                m.attempts,
                f"/{s.max_attempts}" if s.max_attempts else "",
                exc.reason,
            )
            if not exc.retry or (s.max_attempts is not None and m.attempts >= s.max_attempts):
                self._fail(m, exc.reason)
                return None
            self.last_error[(m.team, m.channel_name)] = exc.reason
            self._lane_failing.add(m.lane)
            for w in self._lanes.get(m.lane, ()):
                w.blocked = True
            self.outbox.attempted(m.id, m.attempts, exc.reason)
            if m.payload.get("delivered_to"):  # part of it went (SMS numbers): keep that
                self.outbox.replace(m.id, m.text, m.payload)
            delay = min(s.backoff_max, s.backoff_base * 2.0 ** min(m.attempts - 1, 30))
            if exc.retry_after is not None:
                # the gateway said when (Retry-After, Telegram's retry_after): sooner is
                # refused again, later only delays; bounded so a bad value cannot park it
                delay = min(exc.retry_after, MAX_RETRY_AFTER)
            return max(0.0, min(delay, m.expires - time.time()))
        finally:
            m.in_flight = False
            self._in_flight -= 1
            if self._in_flight == 0:
                self._quiet.set()
        self._finish(m, "sent")
        self._lane_failing.discard(m.lane)
        self.outbox.remove([m.id])
        self._delivered[m.id] = time.time()
        self._remember_told(m)
        if len(self._delivered) > 100_000:
            horizon = time.time() - 2 * self.settings.message_ttl
            self._delivered = {i: t for i, t in self._delivered.items() if t >= horizon}
        self.last_error.pop((m.team, m.channel_name), None)
        log.info("notify: sent to team=%s channel=%s", m.team, m.channel_name)
        return None

    def _fail(self, m: Message, reason: str) -> None:
        self._finish(m, "failed")
        self.outbox.remove([m.id])
        self.last_error[(m.team, m.channel_name)] = reason
        log.error(
            "notify: team=%s channel=%s message failed for good: %s",
            m.team,
            m.channel_name,
            reason,
        )


def _from_alertmanager_site_offline(a: WebhookAlert) -> bool:
    return a.labels.get("alertname") == SITE_OFFLINE_ALERT and "source" not in a.labels


def _reports_site_offline(m: Message) -> bool:
    """The message says (among others, maybe) that its site is offline now."""
    return any(
        a.get("labels", {}).get("alertname") == SITE_OFFLINE_ALERT
        and "source" not in a.get("labels", {})
        and a.get("status") == "firing"
        for a in m.payload.get("alerts", [])
    )


def _age(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
