"""The scheduler: staggered runs fired by one APScheduler job per time slot, a global limit.

APScheduler (3.11, ``AsyncIOScheduler``) owns the timetable. Each target's start is spread
over its interval by a stable hash of the target id (phase-aligned to the epoch, so a restart
keeps each target's slot), rounded down to a grid of slots. All targets with the same
interval and the same slot share ONE interval job: one APScheduler firing starts every probe
due in that slot (the per-firing cost of APScheduler -- trigger arithmetic, job store
re-sorting, wake-up -- was the largest single cost in the profile, see docs/performance.md).
The slot width (``slot_width``) grows from ``SLOT`` (50 ms) by doubling, up to ``MAX_SLOT``,
until a slot holds ``PER_SLOT`` targets on average: at 10,000 targets every 15 s the slots
are 50 ms wide (300 firings per interval instead of 10,000, ~33 targets each), at 1,000
they are 400 ms (38 firings, ~27 each) instead of 300 firings of ~3.
A small custom executor receives each due slot with its *planned* time, so start lateness
(actual - planned) is exact; it runs each probe as our own asyncio task, which we can cancel
cleanly on reload and shutdown.

Every run: wait for a slot of the global concurrency limit, record lateness, then call the
probe under ``asyncio.timeout(target.timeout + backstop_grace)``. A timeout becomes
``ProbeResult(success=False, reason="timeout")``; an unexpected exception becomes
``reason="error"`` and is logged once per target and exception type (type name only: the
message could carry a URL with credentials). A run still going when the next one is due
makes the next one skipped (counted), never queued.

APScheduler plans each next run from the previous one in *wall* time, so a wall clock set
back (NTP stepping at boot, an operator) would stall every job for the size of the step.
``follow_clock()``, called about every second by the service, notices a step (wall minus
monotonic changed) and re-plans every job on its grid from the new time.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.interval import IntervalTrigger

from monitor.plan import Target
from probes.base import ProbeContext, ProbeFunc, ProbeResult

log = logging.getLogger(__name__)

LATENESS_BUCKETS: Final[tuple[float, ...]] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


SLOT: Final = 0.05
"""The narrowest time slot in seconds: targets whose staggered start falls in the same slot
(and that share an interval) are fired together by one APScheduler job."""

MAX_SLOT: Final = 0.8
"""The widest slot in seconds (and at most an eighth of the interval)."""

PER_SLOT: Final = 16
"""Slots widen (doubling) while they hold fewer targets than this on average."""

SlotKey = tuple[float, float]
"""(interval, slot phase) in seconds: identifies one slot job."""


CLOCK_STEP: Final = 1.0
"""A change of (wall - monotonic) this large, in seconds, is a clock step, not NTP slewing."""


def backstop_grace(timeout: float) -> float:
    """Extra time the scheduler allows beyond a probe's own deadline (at most 5%, 0.25 s)."""
    return min(0.25, 0.05 * timeout)


ResultSink = Callable[[Target, ProbeResult, float], None]
"""Called with (target, result, wall time) after every run of a target still planned."""


class Histogram:
    """Plain cumulative-free bucket counts (the exporter turns them into a histogram)."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Iterable[float] = LATENESS_BUCKETS) -> None:
        self.bounds: tuple[float, ...] = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # last: above every bound (+Inf only)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, int]]:
        """Return (upper bound, cumulative count) pairs ending with (+Inf, count)."""
        out: list[tuple[float, int]] = []
        total = 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out

    def quantile(self, q: float) -> float:
        """Return the upper bound of the bucket holding quantile q (for benchmarks)."""
        return bucket_quantile(q, self.cumulative())


def bucket_quantile(
    q: float, cumulative: Sequence[tuple[float, float]], *, interpolate: bool = False
) -> float:
    """Return the q-quantile of a histogram given as (upper bound, cumulative count) pairs.

    Without ``interpolate``: the upper bound of the bucket holding it (``+Inf`` possible).
    With it: as PromQL's ``histogram_quantile`` (linear within the bucket; the highest finite
    bound when it falls in ``+Inf``). NaN when the histogram is empty. The one copy used by
    the scheduler and the benchmark scripts.
    """
    if not cumulative or cumulative[-1][1] <= 0:
        return math.nan
    rank = q * cumulative[-1][1]
    lo, prev = 0.0, 0.0
    for bound, total in cumulative:
        if total >= rank:
            if not interpolate:
                return bound
            if math.isinf(bound):
                return lo
            return lo + (bound - lo) * (rank - prev) / max(total - prev, 1e-12)
        lo, prev = bound, total
    return lo if interpolate else math.inf


def stagger_phase(target_id: str, interval: float) -> float:
    """Return the target's stable offset within its interval (crc32, not salted hash())."""
    millis = max(1, round(interval * 1000))
    return (zlib.crc32(target_id.encode()) % millis) / 1000.0


def first_run(target_id: str, interval: float, now: float) -> float:
    """Return the first wall time after ``now`` on the target's epoch-aligned grid."""
    phase = stagger_phase(target_id, interval)
    k = math.ceil((now - phase) / interval)
    t = phase + k * interval
    while t <= now:
        t += interval
    return t


def slot_width(interval: float, targets: int) -> float:
    """Return the slot width for ``targets`` targets sharing an ``interval``: ``SLOT`` doubled
    while a slot would hold fewer than ``PER_SLOT`` of them on average, at most ``MAX_SLOT``
    and an eighth of the interval. Powers of two, so a plan must double or halve its size
    before its targets move to another grid."""
    width = SLOT
    while (
        targets * width < PER_SLOT * interval
        and width * 2 <= MAX_SLOT + 1e-9
        and width * 2 <= interval / 8 + 1e-9
    ):
        width *= 2
    return round(width, 6)


def slot_phase(target_id: str, interval: float, width: float = SLOT) -> float:
    """Return the target's stable offset within its interval, rounded down to the slot grid."""
    phase = stagger_phase(target_id, interval)
    return round(math.floor(phase / width + 1e-9) * width, 6)


def slot_keys(targets: Collection[Target]) -> dict[str, SlotKey]:
    """Return the slot job of every target (slot widths from the targets per interval)."""
    counts = Counter(t.interval for t in targets)
    width = {interval: slot_width(interval, n) for interval, n in counts.items()}
    return {t.id: (t.interval, slot_phase(t.id, t.interval, width[t.interval])) for t in targets}


def slot_first_run(key: SlotKey, now: float) -> float:
    """Return the first wall time after ``now`` on a slot's epoch-aligned grid."""
    interval, phase = key
    k = math.ceil((now - phase) / interval)
    t = phase + k * interval
    while t <= now:
        t += interval
    return t


def slot_job_id(key: SlotKey) -> str:
    """Return the APScheduler job id of a slot."""
    return f"slot {key[0]!r}s +{key[1]!r}s"


class _ProbeExecutor(BaseExecutor):  # type: ignore[misc]
    """Hands each due run (with its planned time) to the Scheduler instead of running it."""

    def __init__(self, owner: Scheduler) -> None:
        super().__init__()
        self._owner = owner

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        # Overridden whole: overlap is counted by the Scheduler (APScheduler would log a
        # warning per skipped run through MaxInstancesReachedError).
        self._owner.fire_slot(job.args[0], run_times[-1].timestamp(), job.misfire_grace_time)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self.submit_job(job, run_times)

    def shutdown(self, wait: bool = True) -> None:
        self._owner.cancel_all()


class Scheduler:
    """Runs every target's probe on its own staggered timetable."""

    def __init__(
        self,
        on_result: ResultSink,
        ctx: ProbeContext,
        *,
        probes: Mapping[str, ProbeFunc] | None = None,
        concurrency: int = 256,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._on_result = on_result
        self._ctx = ctx
        self._probes = probes
        self._probe_cache: dict[str, ProbeFunc] = {}
        self.concurrency = concurrency
        self._sem = asyncio.Semaphore(concurrency)
        self._wall = wall
        self._monotonic = monotonic
        self._targets: dict[str, Target] = {}
        self._slots: dict[SlotKey, dict[str, None]] = {}  # slot -> its target ids, in order
        self._slot_of: dict[str, SlotKey] = {}  # target id -> its slot
        self._tasks: dict[str, asyncio.Task[None]] = {}  # running, by target id
        self._all_tasks: set[asyncio.Task[None]] = set()
        self._logged_errors: set[tuple[str, str]] = set()
        self.lateness = Histogram()
        self.in_flight = 0  # probes executing (holding a concurrency slot)
        self.waiting = 0  # runs waiting for a slot
        self.skipped = 0  # runs not started: previous still running, or missed entirely
        self.started = 0  # runs started
        self.clock_steps = 0  # wall clock steps noticed by follow_clock()
        self._clock_offset: float | None = None  # wall - monotonic when last looked
        if logging.getLogger("apscheduler").level == logging.NOTSET:
            # "Added job"/"Removed job" at INFO for every one of 10,000 targets is noise.
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            executors={"default": _ProbeExecutor(self)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    # -- configuration ---------------------------------------------------------------------

    def probe_for(self, kind: str) -> ProbeFunc:
        """Return the probe function for a kind (KeyError naming it if there is none)."""
        fn = self._probe_cache.get(kind)
        if fn is None:
            if self._probes is not None:
                try:
                    fn = self._probes[kind]
                except KeyError:
                    raise KeyError(f"no probe for kind {kind!r}") from None
            else:
                from probes import get_probe

                fn = get_probe(kind)
            self._probe_cache[kind] = fn
        return fn

    def check(self, targets: Iterable[Target]) -> None:
        """Raise (KeyError/ValueError) if any target cannot be scheduled."""
        for t in targets:
            self.probe_for(t.probe)
            if not (0 < t.interval < math.inf and 0 < t.timeout < math.inf):
                raise ValueError(f"target {t.id}: interval and timeout must be positive and finite")

    @property
    def targets(self) -> Mapping[str, Target]:
        """Return the scheduled targets by id."""
        return self._targets

    def job_ids(self) -> list[str]:
        """Return the ids of the targets on the timetable (members of a slot job)."""
        jobs = {job.id for job in self._aps.get_jobs()}
        return [tid for key, ids in self._slots.items() if slot_job_id(key) in jobs for tid in ids]

    def job_interval(self, target_id: str) -> float | None:
        """Return the interval of a target's slot job in seconds (None if it has none)."""
        key = self._slot_of.get(target_id)
        job = None if key is None else self._aps.get_job(slot_job_id(key))
        return None if job is None else float(job.trigger.interval.total_seconds())

    def slot_count(self) -> int:
        """Return the number of slot jobs (APScheduler jobs) on the timetable."""
        return len(self._slots)

    @property
    def running(self) -> bool:
        """Return True once started and until stopped."""
        return bool(self._aps.running)

    def set_targets(self, targets: Iterable[Target]) -> None:
        """Schedule exactly these targets: add new, drop removed, reschedule changed.

        A changed target's in-flight run is cancelled (its result would describe the old
        definition); its job is replaced only when the interval changed, so the timetable
        keeps its slot otherwise (unless the number of targets at its interval doubled or
        halved, which changes the slot width: then every such target moves, by less than the
        width). Unchanged targets are not touched otherwise.
        """
        self.prepare(targets)()

    def prepare(self, targets: Iterable[Target]) -> Callable[[], None]:
        """Check the targets and build the timetable of every new or re-timed one; return
        the commit that installs them (see ``set_targets``).

        Nothing changes here: a target that cannot be scheduled (no probe for its kind, an
        interval no timetable can hold) raises, naming it, and the current jobs keep running."""
        new = {t.id: t for t in targets}
        self.check(new.values())
        keys = slot_keys(new.values())
        triggers: dict[SlotKey, tuple[IntervalTrigger, int]] = {}
        now = self._wall()
        for tid, t in new.items():
            key = keys[tid]
            if key in self._slots or key in triggers:
                continue
            try:
                triggers[key] = self._trigger(key, now)
            except (OverflowError, ValueError, OSError) as exc:
                raise ValueError(
                    f"target {tid}: cannot schedule every {t.interval:g}s: {exc}"
                ) from None
        return partial(self._install, new, keys, triggers)

    def _trigger(self, key: SlotKey, now: float) -> tuple[IntervalTrigger, int]:
        """A slot's interval trigger on its epoch-aligned grid, and its misfire grace (s)."""
        interval = key[0]
        start = datetime.fromtimestamp(slot_first_run(key, now), UTC)
        trigger = IntervalTrigger(seconds=interval, start_date=start, timezone=UTC)
        # what APScheduler computes when the job is added: fail now, not half-way through
        trigger.get_next_fire_time(None, datetime.fromtimestamp(now, UTC))
        return trigger, max(1, int(interval))

    def _install(
        self,
        new: dict[str, Target],
        keys: dict[str, SlotKey],
        triggers: dict[SlotKey, tuple[IntervalTrigger, int]],
    ) -> None:
        resume = self._aps.state == STATE_RUNNING
        if resume:
            self._aps.pause()  # one wake-up after all changes instead of one per job
        try:
            touched: set[SlotKey] = set()
            for tid in [tid for tid in self._targets if tid not in new]:
                touched.add(self._leave_slot(tid))
                self._cancel(tid)
            old_targets = self._targets
            self._targets = new
            for tid, t in new.items():
                old = old_targets.get(tid)
                if old is not None and old != t:
                    self._cancel(tid)
                key = keys[tid]  # a new interval, or a new slot width for the interval
                if self._slot_of.get(tid) != key:
                    if tid in self._slot_of:
                        touched.add(self._leave_slot(tid))
                    self._slots.setdefault(key, {})[tid] = None
                    self._slot_of[tid] = key
                    touched.add(key)
            for key in touched:
                has_job = self._aps.get_job(slot_job_id(key)) is not None
                if not self._slots.get(key):
                    self._slots.pop(key, None)
                    if has_job:
                        self._aps.remove_job(slot_job_id(key))
                elif not has_job:
                    trigger = triggers.get(key) or self._trigger(key, self._wall())
                    self._add_job(key, *trigger)
        finally:
            if resume:
                self._aps.resume()

    def _leave_slot(self, target_id: str) -> SlotKey:
        key = self._slot_of.pop(target_id)
        self._slots[key].pop(target_id, None)
        return key

    def _add_job(self, key: SlotKey, trigger: IntervalTrigger, grace: int) -> None:
        job_id = slot_job_id(key)
        self._aps.add_job(
            self.fire_slot,
            trigger=trigger,
            args=(key,),
            id=job_id,
            name=job_id,
            misfire_grace_time=grace,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the timetable (must be called from inside the running event loop)."""
        self._clock_offset = self._wall() - self._monotonic()
        self._aps.start()

    def follow_clock(self) -> float:
        """Re-plan every job if the wall clock stepped; return the step in seconds (0 if none)."""
        offset = self._wall() - self._monotonic()
        last, self._clock_offset = self._clock_offset, offset
        step = 0.0 if last is None else offset - last
        if abs(step) < CLOCK_STEP or self._aps.state != STATE_RUNNING:
            return 0.0
        self.clock_steps += 1
        log.warning("wall clock stepped by %+.1f s: re-planning every target", step)
        now = self._wall()
        self._aps.pause()  # one wake-up after all changes
        try:
            for key in self._slots:
                if self._aps.get_job(slot_job_id(key)) is not None:
                    when = datetime.fromtimestamp(slot_first_run(key, now), UTC)
                    self._aps.modify_job(slot_job_id(key), next_run_time=when)
        finally:
            self._aps.resume()
        return step

    async def stop(self) -> None:
        """Stop the timetable and cancel in-flight runs, quietly; wait until they end."""
        if self._aps.running:
            self._aps.shutdown(wait=False)  # deferred to the loop; calls cancel_all()
        self.cancel_all()
        tasks = list(self._all_tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let APScheduler's deferred shutdown run

    def cancel_all(self) -> None:
        """Cancel every in-flight run."""
        for task in list(self._all_tasks):
            task.cancel()
        self._tasks.clear()

    def _cancel(self, target_id: str) -> None:
        task = self._tasks.pop(target_id, None)
        if task is not None:
            task.cancel()

    # -- runs ------------------------------------------------------------------------------

    def fire_slot(
        self, key: SlotKey, planned: float | None = None, grace: float | None = None
    ) -> None:
        """Start one run of every target in a slot planned at wall time ``planned``."""
        for tid in list(self._slots.get(key, ())):
            self.submit(tid, planned, grace)

    def submit(
        self, target_id: str, planned: float | None = None, grace: float | None = None
    ) -> None:
        """Start one run of a target planned at wall time ``planned`` (unless overlapping)."""
        target = self._targets.get(target_id)
        if target is None:
            return
        now = self._wall()
        if planned is None:
            planned = now
        if target_id in self._tasks or (grace is not None and now - planned > grace):
            self.skipped += 1
            return
        task = asyncio.get_running_loop().create_task(
            self._run(target, planned), name=f"probe {target_id}"
        )
        self._tasks[target_id] = task
        self._all_tasks.add(task)
        task.add_done_callback(partial(self._done, target_id))

    def _done(self, target_id: str, task: asyncio.Task[None]) -> None:
        self._all_tasks.discard(task)
        if self._tasks.get(target_id) is task:
            del self._tasks[target_id]

    async def _run(self, target: Target, planned: float) -> None:
        probe = self.probe_for(target.probe)
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        try:
            self.started += 1
            self.lateness.observe(max(0.0, self._wall() - planned))
            self.in_flight += 1
            t0 = self._monotonic()
            try:
                # The probes keep target.timeout themselves and then return a result with
                # their phases and partial figures; the small grace lets that result win over
                # this backstop, which only catches a probe that ignores its deadline.
                async with asyncio.timeout(target.timeout + backstop_grace(target.timeout)):
                    result = await probe(target, target.settings, self._ctx)
            except TimeoutError:
                result = ProbeResult(False, self._monotonic() - t0, reason="timeout")
            except Exception as exc:
                result = ProbeResult(
                    False, self._monotonic() - t0, reason="error", info={"detail": "internal"}
                )
                key = (target.id, type(exc).__name__)
                if key not in self._logged_errors:
                    self._logged_errors.add(key)
                    log.error(
                        "probe %s for target %s raised %s (reported as reason=error; logged once)",
                        target.probe,
                        target.id,
                        type(exc).__name__,
                    )
            finally:
                self.in_flight -= 1
        finally:
            self._sem.release()
        if self._targets.get(target.id) is not target:
            return  # removed or changed while running
        try:
            self._on_result(target, result, self._wall())
        except Exception:
            log.exception("recording the result of %s failed", target.id)
