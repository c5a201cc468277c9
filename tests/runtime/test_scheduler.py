"""Scheduler: staggering, deadlines, errors, concurrency, overlap, lateness, reload, stop."""

from __future__ import annotations

import asyncio
import logging
import math
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from monitor.plan import Target
from monitor.scheduler import (
    MAX_SLOT,
    PER_SLOT,
    SLOT,
    Histogram,
    Scheduler,
    bucket_quantile,
    first_run,
    slot_width,
    stagger_phase,
)
from probes.base import ProbeContext, ProbeResult

from .helpers import FakeProbes, ResultWatcher, entity, eventually, hang_forever, ok, target

CTX = ProbeContext(monotonic=lambda: 0.0, wall=lambda: 0.0)


def targets(n: int, *, interval: float = 0.2, timeout: float = 0.15) -> list[Target]:
    e = entity("device", "pc", "bpjs")
    return [target(e, f"check-{i}", interval=interval, timeout=timeout) for i in range(n)]


@pytest.fixture
async def rig(fake_probes: FakeProbes) -> AsyncIterator[tuple[Scheduler, ResultWatcher]]:
    watcher = ResultWatcher()
    sched = Scheduler(watcher, CTX, probes=fake_probes.table(), concurrency=64)
    try:
        yield sched, watcher
    finally:
        await sched.stop()


def test_stagger_is_stable_across_processes_and_within_the_interval() -> None:
    tid = "paser/device/gerai-07-pc/icmp"
    code = f"from monitor.scheduler import stagger_phase; print(stagger_phase({tid!r}, 15.0))"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert seen == {repr(stagger_phase(tid, 15.0))}
    phases = [stagger_phase(f"paser/device/gerai-{i:02d}-pc/icmp", 15.0) for i in range(300)]
    assert all(0 <= p < 15.0 for p in phases)
    assert len({int(p) for p in phases}) == 15  # every second of the interval gets some
    now = 1_700_000_000.3
    t = first_run(tid, 15.0, now)
    assert now < t <= now + 15.0
    k = (t - stagger_phase(tid, 15.0)) / 15.0
    assert k == pytest.approx(round(k), abs=1e-6)  # on the target's own grid


async def test_every_target_runs_on_its_interval(
    rig: tuple[Scheduler, ResultWatcher], fake_probes: FakeProbes
) -> None:
    sched, watcher = rig
    ts = targets(5)
    sched.set_targets(ts)
    sched.start()
    assert sorted(sched.job_ids()) == sorted(t.id for t in ts)
    await watcher.wait_for(lambda: all(len(watcher.of(t.id)) >= 3 for t in ts))
    assert all(r.success for _, r, _ in watcher.results)


async def test_hung_probe_times_out_at_its_deadline_and_next_runs_go_on(
    rig: tuple[Scheduler, ResultWatcher], fake_probes: FakeProbes
) -> None:
    sched, watcher = rig
    hung, other = targets(2, interval=1.2, timeout=1.0)  # 10% of 1 s: room for a busy host

    async def first_hangs(t: Target, n: int) -> ProbeResult:
        if n == 0:
            return await hang_forever(t, n)
        return ok()

    fake_probes.script[hung.id] = first_hangs
    sched.set_targets([hung, other])
    sched.start()
    await watcher.wait_for(lambda: len(watcher.of(hung.id)) >= 2 and len(watcher.of(other.id)) >= 2)
    first, second = watcher.of(hung.id)[:2]
    assert (first.success, first.reason) == (False, "timeout")
    assert 1.0 <= first.duration_seconds <= 1.1  # deadline within 10%
    assert second.success
    assert all(r.success for r in watcher.of(other.id))


async def test_unexpected_exception_is_reason_error_logged_once_without_secrets(
    rig: tuple[Scheduler, ResultWatcher],
    fake_probes: FakeProbes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sched, watcher = rig
    (t,) = targets(1)

    async def broken(t: Target, n: int) -> ProbeResult:
        raise RuntimeError("could not use http://admin:s3cr3t@10.0.0.1/")

    fake_probes.script[t.id] = broken
    sched.set_targets([t])
    with caplog.at_level(logging.INFO):
        sched.start()
        await watcher.wait_for(lambda: len(watcher.of(t.id)) >= 3)
    assert {(r.success, r.reason) for r in watcher.of(t.id)} == {(False, "error")}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "RuntimeError" in errors[0].getMessage()
    assert "s3cr3t" not in caplog.text
    assert all("s3cr3t" not in str(r.info) for r in watcher.of(t.id))


async def test_global_concurrency_limit(fake_probes: FakeProbes) -> None:
    watcher = ResultWatcher()
    sched = Scheduler(watcher, CTX, probes=fake_probes.table(), concurrency=2)
    gate = asyncio.Event()

    async def gated(t: Target, n: int) -> ProbeResult:
        await gate.wait()
        return ok()

    ts = targets(5, interval=0.2, timeout=5.0)
    for t in ts:
        fake_probes.script[t.id] = gated
    try:
        sched.set_targets(ts)
        sched.start()
        await fake_probes.wait_for(lambda: fake_probes.active == 2)
        await eventually(lambda: sched.waiting == 3)
        assert (sched.in_flight, sched.waiting) == (2, 3)
        gate.set()
        await watcher.wait_for(lambda: all(watcher.of(t.id) for t in ts))
        assert fake_probes.max_active == 2
    finally:
        await sched.stop()


async def test_a_run_still_going_makes_the_next_ones_skipped_not_queued(
    rig: tuple[Scheduler, ResultWatcher], fake_probes: FakeProbes
) -> None:
    sched, watcher = rig
    (t,) = targets(1, interval=0.2, timeout=1.0)  # a timeout longer than the interval
    fake_probes.script[t.id] = hang_forever
    sched.set_targets([t])
    sched.start()
    await watcher.wait_for(lambda: len(watcher.of(t.id)) >= 1)
    assert watcher.of(t.id)[0].reason == "timeout"
    assert sched.skipped >= 3  # planned at +0.2 .. +0.8 while the first run hung
    assert fake_probes.calls[t.id] <= 2  # nothing queued up behind the hung run


async def test_lateness_is_actual_start_minus_planned(fake_probes: FakeProbes) -> None:
    now = [1_700_000_000.0]
    watcher = ResultWatcher()
    sched = Scheduler(watcher, CTX, probes=fake_probes.table(), wall=lambda: now[0])
    (t,) = targets(1, interval=15.0, timeout=5.0)
    try:
        sched.set_targets([t])  # not started: only our manual submissions run
        sched.submit(t.id, planned=now[0] - 0.3, grace=15)
        await watcher.wait_for(lambda: len(watcher.results) == 1)
        assert sched.lateness.count == 1
        assert sched.lateness.sum == pytest.approx(0.3)
        assert dict(sched.lateness.cumulative())[0.25] == 0
        assert dict(sched.lateness.cumulative())[0.5] == 1
        # a start missed by more than the grace time is skipped, not run late
        sched.submit(t.id, planned=now[0] - 20, grace=15)
        assert sched.skipped == 1
        assert fake_probes.calls[t.id] == 1
    finally:
        await sched.stop()


async def test_lateness_is_recorded_for_every_real_start(
    rig: tuple[Scheduler, ResultWatcher],
) -> None:
    sched, watcher = rig
    ts = targets(3)
    sched.set_targets(ts)
    sched.start()
    await watcher.wait_for(lambda: len(watcher.results) >= 9)
    assert sched.lateness.count == sched.started >= 9
    assert sched.lateness.sum >= 0
    assert sched.lateness.cumulative()[-1] == (float("inf"), sched.lateness.count)


def test_histogram_buckets_are_cumulative() -> None:
    h = Histogram((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v)
    assert h.cumulative() == [(0.1, 2), (1.0, 3), (float("inf"), 4)]
    assert (h.count, h.sum) == (4, pytest.approx(3.65))
    assert h.quantile(0.5) == 0.1
    assert h.quantile(0.9) == float("inf")
    assert math.isnan(Histogram((0.1,)).quantile(0.5))


def test_bucket_quantile_interpolates_like_promql() -> None:
    # histogram_quantile(0.5, ...) over le=1: 10, le=2: 30, +Inf: 40 is 1 + (20-10)/(30-10) = 1.5
    buckets = [(1.0, 10.0), (2.0, 30.0), (float("inf"), 40.0)]
    assert bucket_quantile(0.5, buckets, interpolate=True) == pytest.approx(1.5)
    assert bucket_quantile(0.1, buckets, interpolate=True) == pytest.approx(0.4)
    assert bucket_quantile(0.99, buckets, interpolate=True) == 2.0  # in +Inf: highest finite
    assert bucket_quantile(0.5, buckets) == 2.0
    assert math.isnan(bucket_quantile(0.5, []))
    assert math.isnan(bucket_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)], interpolate=True))


async def test_reload_reschedules_changed_cancels_stale_runs_and_never_duplicates(
    rig: tuple[Scheduler, ResultWatcher], fake_probes: FakeProbes
) -> None:
    sched, watcher = rig
    a, b, c = targets(3, interval=0.2, timeout=5.0)
    fake_probes.script[a.id] = hang_forever
    sched.set_targets([a, b, c])
    sched.start()
    await fake_probes.wait_for(lambda: fake_probes.calls.get(a.id, 0) >= 1)
    await watcher.wait_for(lambda: len(watcher.of(b.id)) >= 1)
    a2 = replace(a, address="127.0.0.9")
    b2 = replace(b, interval=0.3)
    sched.set_targets([a2, b2])  # c removed
    assert sorted(sched.job_ids()) == sorted([a.id, b.id])
    assert sched.job_interval(b.id) == pytest.approx(0.3)
    assert sched.job_interval(a.id) == pytest.approx(0.2)  # kept its timetable
    await fake_probes.wait_for(lambda: fake_probes.calls.get(a.id, 0) >= 2)  # re-run, new def
    assert not [r for t, r, _ in watcher.results if t is a]  # stale run dropped, no result
    c_runs = len(watcher.of(c.id))
    await watcher.wait_for(lambda: len(watcher.of(b.id)) >= 4)
    assert len(watcher.of(c.id)) == c_runs
    assert sched.targets[b.id] is b2


async def test_unknown_probe_kind_is_rejected_before_anything_changes(
    rig: tuple[Scheduler, ResultWatcher],
) -> None:
    sched, _ = rig
    e = entity("application", "x", "bpjs")
    with pytest.raises(KeyError, match="no probe for kind 'ftp'"):
        sched.set_targets([*targets(1), target(e, "ftp", "ftp")])
    assert sched.job_ids() == []


async def test_stop_cancels_in_flight_runs_quietly(
    fake_probes: FakeProbes, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = ResultWatcher()
    sched = Scheduler(watcher, CTX, probes=fake_probes.table())
    ts = targets(3, interval=0.2, timeout=10.0)
    for t in ts:
        fake_probes.script[t.id] = hang_forever
    sched.set_targets(ts)
    with caplog.at_level(logging.DEBUG):
        sched.start()
        await fake_probes.wait_for(lambda: fake_probes.active == 3)
        await sched.stop()
    assert fake_probes.active == 0
    assert watcher.results == []
    assert not sched.running
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("interval", [0.2, 1.0, 5.0, 15.0, 60.0, 300.0])
@pytest.mark.parametrize("n", [1, 3, 40, 300, 1000, 2200, 10_000, 100_000])
def test_slot_width_doubles_until_a_slot_holds_enough_targets(interval: float, n: int) -> None:
    width = slot_width(interval, n)
    k = math.log2(width / SLOT)
    assert k == pytest.approx(round(k)) and k >= 0  # SLOT times a power of two
    capped = width * 2 > MAX_SLOT + 1e-9 or width * 2 > interval / 8 + 1e-9
    assert n * width >= PER_SLOT * interval or capped  # wide enough, or as wide as allowed
    if width > SLOT:  # and no wider than needed
        assert n * (width / 2) < PER_SLOT * interval


def test_slot_widths_of_the_documented_sizes() -> None:
    assert slot_width(15.0, 10_000) == 0.05  # ~33 targets per firing already
    assert slot_width(15.0, 1000) == 0.4  # 38 firings per interval instead of 300
    assert slot_width(15.0, 1) == MAX_SLOT
    assert slot_width(1.0, 1) == 0.1  # at most an eighth of the interval


def _jobs(sched: Scheduler) -> int:
    return len(sched._aps.get_jobs())


async def test_slots_follow_the_plan_size_and_every_target_stays_on_exactly_one() -> None:
    sched = Scheduler(lambda *a: None, CTX, probes=FakeProbes().table())
    try:
        few = targets(1000, interval=15.0, timeout=5.0)
        many = few + [replace(t, id=f"{t.id}-{copy}") for copy in "bc" for t in few]
        sched.set_targets(few)
        wide = sched.slot_count()
        assert wide <= math.ceil(15.0 / 0.4) and _jobs(sched) == wide
        sched.set_targets(many)  # 3,000 targets: 100 ms slots, every target moves grid
        assert len(many) == 3000 and slot_width(15.0, 3000) == 0.1
        assert wide < sched.slot_count() <= math.ceil(15.0 / 0.1)
        assert _jobs(sched) == sched.slot_count()  # no job left without targets
        assert sorted(sched.job_ids()) == sorted(t.id for t in many)  # each one once
        sched.set_targets(few)  # and back: the narrow slots lose their jobs
        assert sched.slot_count() == wide and _jobs(sched) == wide
        assert sorted(sched.job_ids()) == sorted(t.id for t in few)
    finally:
        await sched.stop()
