"""The notifier: a bounded queue of messages and workers that deliver them with retries.

``submit`` (called by the webhook handler) turns one Alertmanager group into one message per
channel of the addressed team and enqueues them all, or none when the queue lacks room (then
each is counted ``dropped`` and the caller answers 503, so Alertmanager retries). Workers
send each message with bounded attempts and exponential backoff; a message that still fails
is counted ``failed``. Nothing is lost silently: every message ends ``sent``, ``failed`` or
``dropped`` in ``stats``.

For the exporter (no prometheus_client here): ``stats[(team, channel, result)]`` is the
counter behind ``mpp_notifier_messages_total`` (every configured pair starts at 0 for each
result, so ``increase()`` sees the first failure), ``queue_length`` the gauge behind
``mpp_notifier_queue_length``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zoneinfo
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.notify.channels import DeliveredChannel, DeliveryError, EmailChannel, channel_names
from monitor.notify.delivery import send
from monitor.notify.messages import AlertGroup, Formatter, WebhookAlert, filter_alerts
from monitor.notify.routing import Routing, TeamKey, routing_from_plan

if TYPE_CHECKING:
    from monitor.plan import Plan

PlanSource = Callable[[], "Plan | None"]

log = logging.getLogger("monitor.notify")

RESULTS = ("sent", "failed", "dropped")


class NotifierSettings(BaseModel):
    """Queue, retry and time settings of the notifier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_size: int = Field(default=1000, ge=1)
    workers: int = Field(default=2, ge=1, le=64)
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_base: float = Field(default=1.0, gt=0)  # seconds before the 2nd attempt, then x2
    backoff_max: float = Field(default=60.0, gt=0)
    request_timeout: float = Field(default=10.0, gt=0)  # seconds per attempt
    default_timezone: str = "Asia/Makassar"
    max_alerts_per_message: int = Field(default=10, ge=1)

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
    """One text for one channel of one team."""

    site: str
    team: str
    channel_name: str
    channel: DeliveredChannel
    text: str
    payload: dict[str, Any]


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
    ) -> None:
        """Give ``routing``, or ``plan_source`` (e.g. ``lambda: service.plan``): the routing is
        then rebuilt from the plan whenever a reload replaces it."""
        self.settings = settings or NotifierSettings()
        self._stats: dict[tuple[str, str, str], int] = {}
        self.last_error: dict[tuple[str, str], str] = {}  # (team, channel) -> safe reason
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=self.settings.queue_size)
        self._session = session
        self._own_session = session is None
        self._workers: list[asyncio.Task[None]] = []
        self._targets: dict[TeamKey, list[_Target]] = {}
        self._formatter = Formatter()
        self._plan_source = plan_source
        self._plan: object = None
        # resolutions already announced, per (site, team, fingerprint, startsAt) -> when:
        # Prometheus re-sends a resolved alert for 15 minutes and Alertmanager puts it into
        # the team's next notification; the team must hear "pulih" once.
        self._announced: dict[tuple[str, str, str, str], float] = {}
        self.configure(routing or Routing())
        self._follow_plan()

    # -- configuration ------------------------------------------------------------------

    def configure(self, routing: Routing) -> None:
        """Install new routing (also on reload); raises ValueError on clashing channel names."""
        targets: dict[TeamKey, list[_Target]] = {}
        for key, channels in routing.channels.items():
            names = channel_names(channels)
            targets[key] = [
                _Target(name, ch)
                for name, ch in zip(names, channels, strict=True)
                if not isinstance(ch, EmailChannel)  # Alertmanager delivers e-mail itself
            ]
        self._targets = targets
        self._formatter = Formatter(
            names=dict(routing.names),
            timezones=dict(routing.timezones),
            default_timezone=self.settings.default_timezone,
            max_alerts=self.settings.max_alerts_per_message,
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
        """Messages waiting for a worker."""
        return self._queue.qsize()

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
        fresh = self._not_yet_announced(resolved_site, team, group)
        messages: list[Message] = []
        for t in targets:
            alerts = filter_alerts(fresh, t.channel.severity, t.channel.send_resolved)
            if not alerts:
                continue
            language = t.channel.language
            text = self._formatter.render(alerts, language, group.truncated_alerts)
            payload = {
                "site": resolved_site,
                "team": team,
                "channel": t.name,
                "status": "firing" if any(a.status == "firing" for a in alerts) else "resolved",
                "language": language,
                "text": text,
                "groupKey": group.group_key,
                "truncatedAlerts": group.truncated_alerts,
                "alerts": [a.model_dump(mode="json", by_alias=True) for a in alerts],
            }
            messages.append(Message(resolved_site, team, t.name, t.channel, text, payload))
        if not messages:
            return SubmitResult("nothing")
        room = self.settings.queue_size - self._queue.qsize()
        if room < len(messages):
            for m in messages:
                self._count(m, "dropped")
            log.warning(
                "notify: queue full (%d waiting): dropped %d message(s) for team=%s",
                self._queue.qsize(),
                len(messages),
                team,
            )
            return SubmitResult("dropped", messages=len(messages), detail="notifier queue full")
        for m in messages:
            self._queue.put_nowait(m)
        now = time.monotonic()
        for a in fresh:
            if a.status == "resolved":
                self._announced[_alert_key(resolved_site, team, a)] = now
        return SubmitResult("queued", messages=len(messages))

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

    # -- delivery -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers (and an HTTP session unless one was given)."""
        if self._workers:
            return
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                total=self.settings.request_timeout, sock_read=self.settings.request_timeout
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
            self._own_session = True
        self._workers = [
            asyncio.create_task(self._work(), name=f"notify-worker-{i}")
            for i in range(self.settings.workers)
        ]

    async def join(self) -> None:
        """Wait until every queued message has ended sent, failed or dropped."""
        await self._queue.join()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Deliver what is queued (up to drain_timeout seconds), then stop; the rest is dropped."""
        if self._workers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_timeout):
                    await self._queue.join()
            for task in self._workers:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            self._workers = []
        while not self._queue.empty():
            m = self._queue.get_nowait()
            self._count(m, "dropped")
            self._queue.task_done()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx.append(notifier.cleanup_ctx)``: start with the app, stop after."""
        await self.start()
        yield
        await self.stop()

    async def _work(self) -> None:
        while True:
            m = await self._queue.get()
            try:
                await self._deliver(m)
            except asyncio.CancelledError:
                self._count(m, "dropped")
                raise
            except Exception as exc:  # a bug must not kill the worker nor lose the count
                self._fail(m, f"internal error ({type(exc).__name__})")
            finally:
                self._queue.task_done()

    async def _deliver(self, m: Message) -> None:
        s = self.settings
        assert self._session is not None
        for attempt in range(1, s.max_attempts + 1):
            try:
                try:
                    async with asyncio.timeout(s.request_timeout):
                        await send(self._session, m.channel, m.text, m.payload)
                except TimeoutError:
                    raise DeliveryError("timeout", retry=True) from None
            except DeliveryError as exc:
                log.warning(
                    "notify: team=%s channel=%s attempt %d/%d failed: %s",
                    m.team,
                    m.channel_name,
                    attempt,
                    s.max_attempts,
                    exc.reason,
                )
                if not exc.retry or attempt == s.max_attempts:
                    self._fail(m, exc.reason)
                    return
                # backoff between attempts of one message: not probe scheduling
                await asyncio.sleep(min(s.backoff_max, s.backoff_base * 2 ** (attempt - 1)))
            else:
                self._count(m, "sent")
                self.last_error.pop((m.team, m.channel_name), None)
                log.info("notify: sent to team=%s channel=%s", m.team, m.channel_name)
                return

    def _fail(self, m: Message, reason: str) -> None:
        self._count(m, "failed")
        self.last_error[(m.team, m.channel_name)] = reason
        log.error(
            "notify: team=%s channel=%s message failed for good: %s",
            m.team,
            m.channel_name,
            reason,
        )
