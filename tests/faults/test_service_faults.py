"""FAULTS.md, The service: nobody scraping, many targets, slow clients, a silent target."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import random
import socket
import tracemalloc
from collections.abc import AsyncIterator, Callable

import pytest

from monitor.inventory import load_plan
from monitor.plan import Entity, Plan, Target
from monitor.web.app import METRICS_HANDLER
from probes.base import ProbeResult
from probes.settings import HttpSettings
from tests.runtime.helpers import FakeProbes, entity, ok, plan, target

from .conftest import Serve, fetch, samples

SITE = """\
sites:
  - id: paser
    name: MPP Paser
    teams: [{id: kominfo, name: Diskominfo}, {id: bpjs, name: Tim TI BPJS}]
"""


def many(n: int, *, interval: float, timeout: float) -> tuple[list[Entity], list[Target]]:
    """n counter PCs, one target each."""
    entities = [entity("device", f"gerai-{i:04d}-pc", "bpjs") for i in range(n)]
    targets = [target(e, "icmp", interval=interval, timeout=timeout) for e in entities]
    return entities, targets


class Tally:
    """Counts results per target (keeps no result objects, unlike ResultWatcher)."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}
        self.total = 0
        self._changed = asyncio.Event()

    def __call__(self, t: Target, result: ProbeResult, wall: float) -> None:
        self.runs[t.id] = self.runs.get(t.id, 0) + 1
        self.total += 1
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait (bounded) until predicate() holds, re-checking after every result."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


async def test_nobody_scraping_probing_goes_on_counters_count_memory_flat(serve: Serve) -> None:
    """Prometheus away: every run is still counted, and nothing piles up between scrapes."""
    fake = FakeProbes()
    entities, targets = many(100, interval=0.1, timeout=0.08)
    tally = Tally()
    served = await serve(
        plan(entities, targets), probes=fake.table(), history_size=5, listeners=[tally]
    )
    svc = served.service

    def rounds(k: int) -> bool:
        return len(tally.runs) == len(targets) and min(tally.runs.values()) >= k

    await tally.wait_for(lambda: rounds(6), timeout=20)  # every history is full
    tracemalloc.start()
    try:
        await tally.wait_for(lambda: rounds(12), timeout=20)
        gc.collect()
        first, _ = tracemalloc.get_traced_memory()
        results_then = tally.total
        await tally.wait_for(lambda: rounds(36), timeout=40)
        gc.collect()
        second, _ = tracemalloc.get_traced_memory()
        grown_by = tally.total - results_then
    finally:
        tracemalloc.stop()
    # about 2,400 results in between: keeping even 64 bytes per result would show
    assert grown_by >= 2000
    assert second - first < 64 * grown_by, (first, second, grown_by)
    assert all(len(svc.state.target_state(t.id).history) <= 5 for t in targets)

    svc.scheduler.set_targets([])  # freeze the counts; the state keeps every target
    _, _, text = await fetch(served.url + "metrics")
    runs = samples(text, "mpp_probe_runs_total")
    assert {t.id: runs[t.id] for t in targets} == tally.runs  # every run counted
    assert sum(runs.values()) == tally.total


async def test_many_targets_start_on_time_without_pile_up(serve: Serve) -> None:
    """1,000 targets at 1 s: every one runs once per interval; lateness stays small."""
    fake = FakeProbes()
    rng = random.Random(7)

    async def network_like(t: Target, n: int) -> ProbeResult:
        await asyncio.sleep(rng.uniform(0.001, 0.02))
        return ok()

    entities, targets = many(1000, interval=1.0, timeout=0.5)
    for t in targets:
        fake.script[t.id] = network_like
    served = await serve(plan(entities, targets), probes=fake.table())
    svc, watcher = served.service, served.watcher
    await watcher.wait_for(lambda: all(watcher.of(t.id) for t in targets), timeout=10)
    start = len(watcher.results)
    await watcher.wait_for(lambda: len(watcher.results) >= start + 3 * len(targets), timeout=20)
    sched = svc.scheduler
    assert sched.skipped == 0
    walls: dict[str, list[float]] = {}
    for t, _, wall in watcher.results:
        walls.setdefault(t.id, []).append(wall)
    for tid, ws in walls.items():
        gaps = [b - a for a, b in itertools.pairwise(ws)]
        # one run per interval: no second job, no catch-up bursts (generous: +-50%)
        assert all(0.5 <= g <= 1.5 for g in gaps), (tid, gaps)
    buckets = dict(sched.lateness.cumulative())
    assert buckets[0.25] == sched.lateness.count == sched.started  # every start < 250 ms late


@pytest.fixture
async def held_sockets() -> AsyncIterator[list[socket.socket]]:
    """Sockets the test opens; closed afterwards."""
    held: list[socket.socket] = []
    try:
        yield held
    finally:
        for s in held:
            s.close()


async def test_slow_clients_holding_metrics_and_the_page_do_not_block_scrapes(
    serve: Serve, held_sockets: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    """Readers that never read a large /metrics or the page: other scrapes are still served."""
    fake = FakeProbes()
    entities, targets = many(3000, interval=30.0, timeout=1.0)
    # the status page needs the site directory (site and team names)
    site = load_plan("site.yaml", SITE)
    big = Plan(tuple(targets), {e.id: e for e in entities}, (), site.sites)
    served = await serve(big, probes=fake.table())
    svc = served.service
    for t in targets:  # one result each now, instead of waiting for the timetable
        svc.scheduler.submit(t.id)
    await served.watcher.wait_for(lambda: len(served.watcher.results) >= len(targets))

    # The /metrics responses in progress (a stalled reader keeps its response in progress).
    handler = served.server.app[METRICS_HANDLER]
    renders_before = handler.renders
    _, _, full = await fetch(served.url + "metrics")
    assert len(full) > 8 * 1024 * 1024  # larger than any socket buffer on the way

    loop = asyncio.get_running_loop()
    held = held_sockets
    for i in range(30):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.setblocking(False)
        await loop.sock_connect(s, ("127.0.0.1", served.port))
        if i % 3 == 0:
            await loop.sock_sendall(s, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        elif i % 3 == 1:
            await loop.sock_sendall(s, b"GET /?lang=en HTTP/1.1\r\nHost: x\r\n\r\n")
        else:
            await loop.sock_sendall(s, b"GET / HTTP/1.1\r\nHost: x\r\nX-a: ")  # slowloris
        held.append(s)
    async with asyncio.timeout(10):
        while handler.in_progress < 10:
            await asyncio.sleep(0.01)

    for _ in range(3):
        async with asyncio.timeout(10):  # generous: a scrape takes well under a second
            status, _, text = await fetch(served.url + "metrics")
        assert status == 200
        assert text.count("\nprobe_success{") == len(targets)  # the whole exposition
        assert handler.in_progress >= 10  # the slow ones are still held meanwhile
        async with asyncio.timeout(10):
            status, _, page = await fetch(served.url + "?lang=en")
        assert status == 200 and "</html>" in page
        async with asyncio.timeout(10):
            status, _, _ = await fetch(served.url + "api/v1/status")
        assert status == 200
    # the slow clients give up: not an error of ours
    for s in held:
        s.close()
    held.clear()
    async with asyncio.timeout(10):
        while handler.in_progress:
            # an abandoned response is freed with a reference cycle through its exception
            gc.collect()
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # let aiohttp finish the closed connections
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # the stalled readers shared renderings instead of holding one copy each
    assert handler.renders - renders_before < 10


async def test_silent_targets_fail_at_their_deadline_and_the_others_stay_on_schedule(
    serve: Serve, web_ports: tuple[int, int]
) -> None:
    good_port, silent_port = web_ports
    entities, targets = [], []
    for i in range(30):
        e = entity("application", f"silent-{i:02d}", "bpjs")
        entities.append(e)
        targets.append(
            target(e, "http", "http", interval=1.0, timeout=0.8, settings=HttpSettings(),
                   address=f"http://127.0.0.1:{silent_port}/")
        )  # fmt: skip
    good = []
    for i in range(5):
        e = entity("application", f"good-{i}", "dpmptsp")
        entities.append(e)
        good.append(
            target(e, "http", "http", interval=1.0, timeout=0.8, settings=HttpSettings(),
                   address=f"http://127.0.0.1:{good_port}/")
        )  # fmt: skip
    served = await serve(plan(entities, targets + good))  # the real probes
    svc, watcher = served.service, served.watcher
    await watcher.wait_for(lambda: all(len(watcher.of(t.id)) >= 4 for t in good), timeout=15)
    for t in targets:
        for r in watcher.of(t.id):
            assert (r.success, r.reason) == (False, "timeout")
            assert 0.72 <= r.duration_seconds <= 0.88  # the deadline within 10%
    for t in good:
        results = watcher.of(t.id)
        assert all(r.success for r in results), results
        walls = [w for tt, _, w in watcher.results if tt.id == t.id]
        gaps = [b - a for a, b in itertools.pairwise(walls)]
        assert all(0.75 <= g <= 1.25 for g in gaps), gaps  # on the 1 s timetable
    assert svc.scheduler.skipped == 0
    buckets = dict(svc.scheduler.lateness.cumulative())
    assert buckets[0.25] == svc.scheduler.lateness.count  # nobody started late
