"""The running service: the current plan, the state, the scheduler and the metrics registry.

``Service.apply_plan(plan)`` is both start and reload: it validates the plan for the
runtime first (probe kinds, entity references, dependency cycles) and changes nothing when
that fails, recording the failure for ``mpp_config_last_reload_successful``. On success it
diffs the old and new targets: removed ones lose their job and state, changed ones are
rescheduled (one job per target, never two), unchanged ones keep counters and history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from monitor.exporter import MetricsRenderer, MonitorCollector, NotifierStats
from monitor.plan import Plan, Target
from monitor.scheduler import Scheduler
from monitor.state import InMaintenance, Snapshot, State
from probes.base import ProbeContext, ProbeFunc, ProbeResult

log = logging.getLogger(__name__)


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
        resources: dict[str, Any] | None = None,
        refresh_interval: float = 1.0,
        render_chunk: int = 250,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._maintenance_for = maintenance_for
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
        self.renderer = MetricsRenderer(self, self._notifier, chunk=render_chunk)
        self._refresher: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
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
        """Start with, or reload to, a plan; on error keep the old one and re-raise."""
        try:
            State.check(plan)
            self._scheduler.check(plan.targets)
            in_maintenance = self._maintenance_for(plan) if self._maintenance_for else None
        except Exception as exc:
            # KeyError's str() adds quotes; its message is the first argument.
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            self.reload_failed(str(reason))
            raise
        now = self._wall()
        self._state.set_maintenance(in_maintenance)
        self._state.apply_plan(plan, now)
        self._scheduler.set_targets(plan.targets)
        self.plan = plan
        self._reload_successful = True
        self._reload_success_timestamp = now
        self.last_reload_error = None
        if self._warming is not None:
            self._warming.cancel()
        # Label text for /metrics is built now, in slices, not during the first scrape.
        self._warming = asyncio.get_running_loop().create_task(
            self.renderer.warm(), name="metrics warm-up"
        )
        if not self._started:
            self._scheduler.start()
            self._refresher = asyncio.get_running_loop().create_task(
                self._refresh_loop(), name="state refresh"
            )
            self._started = True
        log.info("plan applied: %d targets, %d entities", len(plan.targets), len(plan.entities))

    def reload_failed(self, reason: str) -> None:
        """Record a failed load (the old plan keeps running); reason must hold no secrets."""
        self._reload_successful = False
        self.last_reload_error = reason
        log.error("configuration not applied, keeping the previous one: %s", reason)

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
