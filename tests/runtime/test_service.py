"""Service: start, reload diff, bad reload, /metrics over HTTP, maintenance, clean stop."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.exporter import CONTENT_TYPE, MetricsHandler, MetricsRenderer, metrics_handler
from monitor.plan import Plan
from monitor.service import Service

from .helpers import (
    FakeProbes,
    Mpp,
    ResultWatcher,
    entity,
    eventually,
    hang_forever,
    plan,
    target,
)


@pytest.fixture
def fast_mpp() -> Mpp:
    return Mpp(interval=0.2, timeout=0.15)


@pytest.fixture
async def service(fake_probes: FakeProbes) -> AsyncIterator[tuple[Service, ResultWatcher]]:
    svc = Service(probes=fake_probes.table(), refresh_interval=0.05)
    watcher = ResultWatcher()
    svc.listeners.append(watcher)
    try:
        yield svc, watcher
    finally:
        await svc.stop()


def runs(svc: Service, tid: str) -> int:
    return svc.state.target_state(tid).runs


async def test_start_probes_every_target_and_exports_it(
    service: tuple[Service, ResultWatcher], fast_mpp: Mpp
) -> None:
    svc, watcher = service
    assert not svc.ready
    await svc.apply_plan(fast_mpp.plan())
    assert svc.ready and svc.reload_successful
    await watcher.wait_for(lambda: all(len(watcher.of(t.id)) >= 2 for t in fast_mpp.targets))
    text = (await svc.render_metrics()).decode()
    for t in fast_mpp.targets:
        assert f'target="{t.id}"' in text
    assert text.count("\nprobe_success{") == len(fast_mpp.targets)
    assert svc.registry.get_sample_value("mpp_config_last_reload_successful") == 1
    snap = svc.snapshot()
    assert snap.counters[0].can_serve is True
    assert {e.status for e in snap.entities.values()} == {"up"}


async def test_reload_diff_keeps_unchanged_drops_removed_reschedules_changed(
    service: tuple[Service, ResultWatcher], fast_mpp: Mpp
) -> None:
    svc, watcher = service
    m = fast_mpp
    await svc.apply_plan(m.plan())
    await watcher.wait_for(lambda: all(len(watcher.of(t.id)) >= 2 for t in m.targets))
    before = {t.id: runs(svc, t.id) for t in m.targets}
    slower = replace(m.t_pc, interval=0.3)
    moved = replace(m.t_app, address="http://127.0.0.1:8081/")
    kept = [t for t in m.targets if t.entity != m.printer.id]
    kept = [slower if t.id == slower.id else moved if t.id == moved.id else t for t in kept]
    entities = [e for e in m.entities if e.id != m.printer.id]
    counter = replace(m.counter, devices=(m.pc.id,))
    await svc.apply_plan(plan(entities, kept, [counter]))
    jobs = svc.scheduler.job_ids()
    assert sorted(jobs) == sorted(t.id for t in kept)  # one job each, none left behind
    assert svc.scheduler.job_interval(m.t_pc.id) == pytest.approx(0.3)
    assert runs(svc, m.t_core.id) >= before[m.t_core.id]  # unchanged: counters kept
    assert runs(svc, m.t_pc.id) >= before[m.t_pc.id]  # interval change: counters kept
    assert runs(svc, m.t_app.id) == 0  # new address: a new series
    text = (await svc.render_metrics()).decode()
    assert m.printer.id not in text
    n = len(watcher.results)
    await watcher.wait_for(lambda: len(watcher.results) >= n + 2 * len(kept))
    assert not [t for t, _, _ in watcher.results[n:] if t.entity == m.printer.id]


async def test_a_bad_reload_keeps_the_old_plan_running(
    service: tuple[Service, ResultWatcher], fast_mpp: Mpp
) -> None:
    svc, watcher = service
    await svc.apply_plan(fast_mpp.plan())
    ok_ts = svc.reload_success_timestamp
    ftp = target(entity("application", "ftp", "bpjs"), "ftp", "ftp")
    bad = plan([*fast_mpp.entities, entity("application", "ftp", "bpjs")], [ftp])
    with pytest.raises(KeyError):
        await svc.apply_plan(bad)
    assert not svc.reload_successful
    assert svc.last_reload_error == "no probe for kind 'ftp'"
    assert svc.reload_success_timestamp == ok_ts
    assert svc.plan is not bad
    assert svc.registry.get_sample_value("mpp_config_last_reload_successful") == 0
    assert sorted(svc.scheduler.job_ids()) == sorted(t.id for t in fast_mpp.targets)
    n = len(watcher.results)
    await watcher.wait_for(lambda: len(watcher.results) >= n + len(fast_mpp.targets))
    svc.reload_failed("inventory.yaml:3:1: mapping values are not allowed here")
    assert svc.registry.get_sample_value("mpp_config_last_reload_successful") == 0
    await svc.apply_plan(fast_mpp.plan())
    assert svc.registry.get_sample_value("mpp_config_last_reload_successful") == 1


async def test_metrics_handler_serves_plain_and_gzip(
    service: tuple[Service, ResultWatcher], fast_mpp: Mpp
) -> None:
    svc, watcher = service
    await svc.apply_plan(fast_mpp.plan())
    await watcher.wait_for(lambda: len(watcher.results) >= len(fast_mpp.targets))
    app = web.Application()
    app.router.add_get("/metrics", MetricsHandler(svc, gzip_loopback=True).handle)
    app.router.add_get("/default", metrics_handler(svc))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        # by default a scraper on loopback gets plain text even when it accepts gzip
        local = await client.get("/default", headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in local.headers
        assert b"\nprobe_success{" in await local.read()
        plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert plain.status == 200
        assert plain.headers["Content-Type"] == CONTENT_TYPE
        body = await plain.read()
        assert b"\nprobe_success{" in body
        zipped = await client.get(
            "/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        assert zipped.headers.get("Content-Encoding") == "gzip"
        raw = gzip.decompress(await zipped.read())
        # same families (values may have moved on between the two scrapes)
        assert [ln for ln in raw.split(b"\n") if ln.startswith(b"# ")] == [
            ln for ln in body.split(b"\n") if ln.startswith(b"# ")
        ]


async def test_maintenance_windows_come_from_the_plan(
    fake_probes: FakeProbes, fast_mpp: Mpp
) -> None:
    seen: list[Plan] = []

    def maintenance_for(p: Plan):  # type: ignore[no-untyped-def]
        seen.append(p)
        return lambda eid, wall: eid == fast_mpp.printer.id

    svc = Service(probes=fake_probes.table(), maintenance_for=maintenance_for)
    watcher = ResultWatcher()
    svc.listeners.append(watcher)
    try:
        p = fast_mpp.plan()
        await svc.apply_plan(p)
        assert seen == [p]
        await watcher.wait_for(lambda: len(watcher.of(fast_mpp.t_printer.id)) >= 1)
        assert svc.snapshot().entities[fast_mpp.printer.id].status == "maintenance"
    finally:
        await svc.stop()


async def test_stop_is_quiet_with_probes_in_flight(
    fake_probes: FakeProbes, fast_mpp: Mpp, caplog: pytest.LogCaptureFixture
) -> None:
    for t in fast_mpp.targets:
        fake_probes.script[t.id] = hang_forever
    svc = Service(probes=fake_probes.table())
    slow = [replace(t, timeout=30.0) for t in fast_mpp.targets]
    with caplog.at_level(logging.DEBUG):
        await svc.apply_plan(plan(fast_mpp.entities, slow, [fast_mpp.counter]))
        await fake_probes.wait_for(lambda: fake_probes.active == len(slow))
        assert svc.scheduler.in_flight == len(slow)
        await svc.stop()
    assert fake_probes.active == 0
    assert not svc.scheduler.running
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_maintenance_window_opening_is_seen_without_new_results(
    fake_probes: FakeProbes, fast_mpp: Mpp
) -> None:
    window_open = [False]
    svc = Service(
        probes=fake_probes.table(),
        refresh_interval=0.05,
        maintenance_for=lambda p: lambda eid, wall: window_open[0] and eid == fast_mpp.core.id,
    )
    watcher = ResultWatcher()
    svc.listeners.append(watcher)
    try:
        await svc.apply_plan(fast_mpp.plan())
        await watcher.wait_for(lambda: len(watcher.of(fast_mpp.t_core.id)) >= 1)
        svc.scheduler.set_targets([])  # no more results: only the clock moves now
        core = svc.state.entity_state(fast_mpp.core.id)
        assert core.status == "up"
        window_open[0] = True
        await eventually(lambda: core.status == "maintenance")
    finally:
        await svc.stop()


async def test_a_scraper_leaving_mid_body_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BigRenderer(MetricsRenderer):
        async def render_pieces(self) -> list[bytes]:
            # far more than the socket buffers: the writer is still busy when we leave
            return [b"# first piece\n"] + [b"x" * 65536 + b"\n"] * 800

    class Stub:
        renderer = BigRenderer(Service(probes={}))

    app = web.Application()
    handler = MetricsHandler(Stub())  # type: ignore[arg-type]
    app.router.add_get("/metrics", handler.handle)
    with caplog.at_level(logging.DEBUG):
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            await reader.readuntil(b"# first piece\n")
            assert handler.in_progress == 1
            writer.transport.abort()
            # the response ends (an error when writing, or aiohttp cancelling the handler)
            await eventually(lambda: handler.in_progress == 0)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_after_warm_runs_once_each_plan_has_its_label_text(
    fake_probes: FakeProbes, fast_mpp: Mpp
) -> None:
    """`run` settles the garbage collector's heap here (gc.freeze after the label text)."""
    seen: list[int] = []
    warmed = asyncio.Event()

    def after_warm() -> None:
        seen.append(len(svc.renderer._tlabels))
        warmed.set()

    svc = Service(probes=fake_probes.table(), after_warm=after_warm)
    try:
        m = fast_mpp
        await svc.apply_plan(m.plan())
        await warmed.wait()
        warmed.clear()
        kept = [t for t in m.targets if t.entity != m.printer.id]
        entities = [e for e in m.entities if e.id != m.printer.id]
        await svc.apply_plan(plan(entities, kept, [replace(m.counter, devices=(m.pc.id,))]))
        await warmed.wait()
        assert seen == [len(m.targets), len(kept)]  # every series' text, before the hook
    finally:
        await svc.stop()
