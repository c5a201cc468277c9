"""The service with the real probes against real loopback servers, scraped over HTTP."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web

from monitor.exporter import metrics_handler
from monitor.service import Service
from probes.settings import HttpSettings, TcpSettings

from .helpers import ResultWatcher, entity, plan, target

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@pytest.fixture
async def web_server() -> AsyncIterator[int]:
    """An HTTP server on a loopback port that answers 200."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server on a loopback port that accepts and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for w in held:
            w.close()
        await server.wait_closed()


async def test_real_probes_on_loopback_are_scheduled_bounded_and_exported(
    web_server: int, silent_server: int
) -> None:
    app_e = entity("application", "portal", "dpmptsp")
    hung_e = entity("application", "silent", "bpjs")
    pc_e = entity("device", "gerai-01-pc", "bpjs")
    good = target(
        app_e, "http", "http", interval=1.2, timeout=1.0,
        address=f"http://127.0.0.1:{web_server}/", settings=HttpSettings(),
    )  # fmt: skip
    hung = target(
        hung_e, "http", "http", interval=1.2, timeout=1.0,
        address=f"http://127.0.0.1:{silent_server}/", settings=HttpSettings(),
    )  # fmt: skip
    tcp = target(
        pc_e, "tcp", "tcp", interval=1.2, timeout=1.0,
        address=f"127.0.0.1:{web_server}", settings=TcpSettings(),
    )  # fmt: skip
    svc = Service()  # the real probe table
    watcher = ResultWatcher()
    svc.listeners.append(watcher)
    web_app = web.Application()
    web_app.router.add_get("/metrics", metrics_handler(svc))
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await svc.apply_plan(plan([app_e, hung_e, pc_e], [good, hung, tcp]))
        await watcher.wait_for(
            lambda: all(len(watcher.of(t.id)) >= 2 for t in (good, hung, tcp)), timeout=15
        )
        for r in watcher.of(hung.id)[:2]:
            assert (r.success, r.reason) == (False, "timeout")
            assert 0.9 <= r.duration_seconds <= 1.1  # the deadline within 10%
        assert all(r.success for r in watcher.of(good.id))
        assert all(r.success for r in watcher.of(tcp.id))
        assert svc.snapshot().entities[hung_e.id].status == "down"
        async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            body = await resp.read()
        text = body.decode()
        assert f'probe_success{{agency="",counter="",device="",entity="{hung_e.id}"' in text
        assert f'probe_http_status_code{{agency="",counter="",device="",entity="{app_e.id}"' in text
        checked = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30
        )
        assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b"")
    finally:
        await svc.stop()
        await runner.cleanup()
