"""Shared pieces of the FAULTS.md tests: the real service and web app on a loopback port.

``serve(...)`` starts ``monitor.service.Service`` (real probes unless a table is given) with
the real aiohttp app (``monitor.web.make_app``) on 127.0.0.1, port 0, optionally with the
notifier's webhook mounted, and stops everything at the end of the test, also on failure.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitor.inventory import load_plan
from monitor.notify.notifier import Notifier, NotifierSettings
from monitor.plan import Plan
from monitor.service import Service
from monitor.web.app import Reloader, WebServer, make_app
from monitor.web.config import WebConfig
from tests.probes.conftest import (  # noqa: F401 - fixtures shared with the probe tests
    dns_server,
    ipv6_loopback,
    silent_udp_port,
)
from tests.runtime.helpers import ResultWatcher
from tests.support.exposition import metric_samples


@dataclass
class Served:
    """A running service with its web app."""

    service: Service
    server: WebServer
    url: str  # base URL, ending in "/"
    watcher: ResultWatcher
    inventory: Path | None
    notifier: Notifier | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port


Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Start Service + web app from an inventory text or a Plan; stop them afterwards."""
    started: list[Served] = []

    async def start(
        source: str | Plan,
        *,
        probes: dict[str, Any] | None = None,
        web_config: WebConfig | None = None,
        with_notifier: bool = False,
        server_kw: dict[str, Any] | None = None,
        listeners: list[Any] | None = None,
        **service_kw: Any,
    ) -> Served:
        inventory: Path | None = None
        if isinstance(source, str):
            inventory = tmp_path / "inventory.yaml"
            inventory.write_text(source, encoding="utf-8")
            plan = load_plan(inventory)
        else:
            plan = source
        service = Service(probes=probes, **service_kw)
        watcher = ResultWatcher()
        # listeners=[...] replaces the watcher (which keeps every result it sees)
        service.listeners.extend(listeners if listeners is not None else [watcher])
        notifier: Notifier | None = None
        if with_notifier:
            notifier = Notifier(
                plan_source=lambda: service.plan,
                settings=NotifierSettings(backoff_base=0.001, max_attempts=2),
            )
            service.notifier = notifier
        reloader = Reloader(service, inventory or tmp_path / "no-inventory.yaml")
        app = make_app(service, reloader, web_config=web_config, notifier=notifier)
        server = WebServer(app, web_config=web_config, **(server_kw or {}))
        served: Served | None = None
        try:
            await service.apply_plan(plan)
            url = await server.start("127.0.0.1", 0)
            served = Served(service, server, url, watcher, inventory, notifier)
        finally:
            if served is None:
                await service.stop()
        started.append(served)
        return served

    try:
        yield start
    finally:
        for s in reversed(started):
            await s.server.stop()
            await s.service.stop()


async def fetch(
    url: str, *, method: str = "GET", timeout: float = 10.0, **kw: Any
) -> tuple[int, dict[str, str], str]:
    """One request with a fresh session: (status, headers, body text)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.request(method, url, **kw) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.text()


samples = metric_samples  # the fault tests call it by its short name


class Canary:
    """A loopback TCP listener that records every connection it is offered (and answers 200)."""

    def __init__(self) -> None:
        self.peers: list[str] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Canary:
        """Listen on 127.0.0.1, port 0."""

        async def seen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.peers.append(str(writer.get_extra_info("peername")))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            try:
                await writer.drain()
            finally:
                writer.close()

        self._server = await asyncio.start_server(seen, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def canary() -> AsyncIterator[Canary]:
    """A loopback server that must never be contacted."""
    c = await Canary().start()
    try:
        yield c
    finally:
        await c.close()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def web_ports() -> AsyncIterator[tuple[int, int]]:
    """(an HTTP server on 127.0.0.1 answering 200, a server that accepts and never answers)."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield runner.addresses[0][1], silent.sockets[0].getsockname()[1]
    finally:
        silent.close()
        for w in held:
            w.close()
        await silent.wait_closed()
        await runner.cleanup()
