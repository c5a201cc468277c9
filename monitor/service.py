"""The running service: the current plan, the state, the scheduler and the metrics registry.

``Service.apply_plan(plan)`` is both start and reload, and it is all or nothing. First every
runtime object the new plan needs is built beside the running ones, one stage at a time
(``STAGES``): the state (entity references, dependency cycles, kept and new counters), the
scheduler's jobs (a probe for every kind, a timetable for every new or re-timed target),
the maintenance windows (asked once for every entity) and, when a notifier runs here, its
routing (every team's channels). Only when all of them are built are they swapped in, by
code that cannot fail. When a stage fails nothing changes: the old plan keeps probing,
``mpp_config_last_reload_successful`` goes to 0, the status page shows its banner and the
log names the stage and the reason. On success, removed targets lose their job and state,
changed ones are rescheduled (one job per target, never two), unchanged ones keep counters
and history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry

from monitor.exporter import MetricsRenderer, MonitorCollector, NotifierStats
from monitor.plan import Plan, Target
from monitor.scheduler import Scheduler
from monitor.state import InMaintenance, Snapshot, State
from probes.base import ProbeContext, ProbeFunc, ProbeResult

log = logging.getLogger(__name__)

STAGES: Final = ("state", "jobs", "maintenance", "routing")
"""What ``apply_plan`` builds for a new plan, in order, before it swaps anything in."""


class PlanRejected(Exception):
    """A plan could not be applied; ``stage`` says which part of it (one of ``STAGES``)."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


def notifier_routing(plan: Plan) -> object:
    """The notifier's routing for a plan, checked as ``Notifier.configure`` checks it."""
    from monitor.notify.channels import channel_names
    from monitor.notify.routing import routing_from_plan

    routing = routing_from_plan(plan)
    for channels in routing.channels.values():
        channel_names(channels)  # raises ValueError naming a clash
    return routing


class Service:
    """Composition root of the runtime: holds the Plan, the State and the Scheduler."""

    def __init__(
        self,
        *,
        probes: Mapping[str, ProbeFunc] | None = None,
        concurrency: int = 256,
        down_after: int = 2,
        up_after: int = 2,
        history_size: int = 60,
        maintenance_for: Callable[[Plan], InMaintenance | None] | None = None,
        routing_for: Callable[[Plan], object] | None = None,
        resources: dict[str, Any] | None = None,
        refresh_interval: float = 1.0,
        render_slice: float = 0.002,
        after_warm: Callable[[], None] | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._maintenance_for = maintenance_for
        # builds (and so checks) the routing of the notifier that follows this service's plan
        self._routing_for = routing_for
        self.refresh_interval = refresh_interval
        self.ctx = ProbeContext(monotonic=monotonic, wall=wall, resources=resources or {})
        self._state = State(
            down_after=down_after, up_after=up_after, history_size=history_size, wall=wall
        )
        self._scheduler = Scheduler(
            self._on_result,
            self.ctx,
            probes=probes,
            concurrency=concurrency,
            wall=wall,
            monotonic=monotonic,
        )
        self.plan: Plan | None = None
        self._reload_successful = False
        self._reload_success_timestamp: float | None = None
        self.last_reload_error: str | None = None
        self.notifier: NotifierStats | None = None  # set by whoever owns the notifier
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(MonitorCollector(self, self._notifier))
        self.renderer = MetricsRenderer(self, self._notifier, slice_seconds=render_slice)
        self._refresher: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
        # called once a plan's /metrics label text is built (run: settle the GC's heap)
        self._after_warm = after_warm
        self._started = False
        # Called after every recorded result (status page push, tests); must not raise.
        self.listeners: list[Callable[[Target, ProbeResult, float], None]] = []

    # -- MetricsSource ---------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Return the runtime state."""
        return self._state

    @property
    def scheduler(self) -> Scheduler:
        """Return the scheduler."""
        return self._scheduler

    @property
    def reload_successful(self) -> bool:
        """Return True if the last configuration load (start or reload) worked."""
        return self._reload_successful

    @property
    def reload_success_timestamp(self) -> float | None:
        """Return the wall time of the last successful load (None before the first)."""
        return self._reload_success_timestamp

    def _notifier(self) -> NotifierStats | None:
        return self.notifier

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Return True once a plan is running."""
        return self._started and self.plan is not None

    async def apply_plan(self, plan: Plan) -> None:
        """Start with, or reload to, a plan: all of it or, on error, none of it.

        Raises what the failing stage raised (the reason is recorded and logged first)."""
        now = self._wall()
        try:
            commit = self.prepare(plan, now)
        except PlanRejected as rejected:
            self.reload_failed(rejected.reason, stage=rejected.stage)
            cause = rejected.__cause__
            raise (cause if cause is not None else rejected) from None
        commit()
        self.plan = plan
        self._reload_successful = True
        self._reload_success_timestamp = now
        self.last_reload_error = None
        if self._warming is not None:
            self._warming.cancel()
        # Label text for /metrics is built now, in slices, not during the first scrape.
        self._warming = asyncio.get_running_loop().create_task(self._warm(), name="metrics warm-up")
        if not self._started:
            self._scheduler.start()
            self._refresher = asyncio.get_running_loop().create_task(
                self._refresh_loop(), name="state refresh"
            )
            self._started = True
        log.info("plan applied: %d targets, %d entities", len(plan.targets), len(plan.entities))

    def prepare(self, plan: Plan, now: float | None = None) -> Callable[[], None]:
        """Build every runtime object the plan needs, beside the running ones (``STAGES``).

        Returns the commit that swaps them all in; raises PlanRejected naming the stage that
        failed, with nothing changed. Also what a dry run (a fuzz test) uses."""
        now = self._wall() if now is None else now
        stage = STAGES[0]
        try:
            commit_state = self._state.prepare(plan, now)
            stage = "jobs"
            commit_jobs = self._scheduler.prepare(plan.targets)
            stage = "maintenance"
            in_maintenance = self._maintenance_for(plan) if self._maintenance_for else None
            if in_maintenance is not None:
                for eid in plan.entities:  # a broken window fails now, not at every refresh
                    in_maintenance(eid, now)
            stage = "routing"
            if self._routing_for is not None:
                self._routing_for(plan)
        except Exception as exc:
            # KeyError's str() adds quotes; its message is the first argument.
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise PlanRejected(stage, str(reason)) from exc

        def commit() -> None:
            # plain assignments and APScheduler job changes, nothing left that can fail
            self._state.set_maintenance(in_maintenance)
            commit_state()
            commit_jobs()

        return commit

    def reload_failed(self, reason: str, *, stage: str | None = None) -> None:
        """Record a failed load (the old plan keeps running); reason must hold no secrets."""
        self._reload_successful = False
        self.last_reload_error = reason
        where = f" (building the new {stage})" if stage else ""
        log.error("configuration not applied%s, keeping the previous one: %s", where, reason)

    async def stop(self) -> None:
        """Stop probing and cancel in-flight runs, without tracebacks."""
        for task in (self._refresher, self._warming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresher = self._warming = None
        await self._scheduler.stop()
        self.renderer.close()
        self._started = False

    async def _warm(self) -> None:
        await self.renderer.warm()
        if self._after_warm is not None:
            self._after_warm()

    async def _refresh_loop(self) -> None:
        # Maintenance windows open and close with time, not only with results.
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                # a wall clock set back would otherwise stall APScheduler's timetable
                self._scheduler.follow_clock()
            except Exception:
                log.exception("re-planning after a clock step failed")
            if not self._state.time_dependent:
                continue
            try:
                self._state.refresh()
            except Exception:
                log.exception("state refresh failed")

    def _on_result(self, target: Target, result: ProbeResult, wall: float) -> None:
        self._state.record(target.id, result, wall)
        for listener in self.listeners:
            listener(target, result, wall)

    # -- reads -----------------------------------------------------------------------------

    def snapshot(self, *, include_targets: bool = True) -> Snapshot:
        """Return plain read-only views of sites, links, counters, entities and targets."""
        return self._state.snapshot(include_targets=include_targets)

    async def render_metrics(self) -> bytes:
        """Render /metrics without holding the event loop for long."""
        return await self.renderer.render_async()
