"""The aiohttp handler of /metrics: shared renderings for stalled readers, a send deadline."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from monitor.exporter.families import CONTENT_TYPE
from monitor.exporter.renderer import MetricsRenderer

log = logging.getLogger(__name__)


class _HasRenderer(Protocol):
    @property
    def renderer(self) -> MetricsRenderer: ...


class MetricsHandler:
    """The aiohttp handler serving the service's /metrics (gzip when asked).

    Readers that stall must neither block other scrapes nor multiply memory: a scrape that
    arrives while others are still being sent shares their rendering (and its gzip) if it is
    at most ``max_age`` seconds old, each response sends that shared text piece by piece (no copy
    per client), and a response not sent within ``deadline`` seconds is abandoned and its
    connection closed. So stalled readers hold at most ``deadline / max_age`` renderings.

    A scraper on a loopback address (Prometheus on the same server, as deploy/ installs it)
    gets the text uncompressed even when it accepts gzip: compressing costs both sides CPU
    for bandwidth a loopback link does not need (``gzip_loopback=True`` compresses anyway).
    """

    def __init__(
        self,
        service: _HasRenderer,
        *,
        deadline: float = 30.0,
        max_age: float = 1.0,
        gzip_loopback: bool = False,
    ):
        self.service = service
        self.deadline = deadline
        self.max_age = max_age
        self.gzip_loopback = gzip_loopback
        self.in_progress = 0  # responses being sent now
        self.renders = 0  # renderings made (shared by concurrent scrapes)
        self._lock = asyncio.Lock()
        self._at = -math.inf
        self._plain: list[bytes] = []
        self._gzip: list[bytes] | None = None

    async def _body(self, gzipped: bool) -> list[bytes]:
        loop = asyncio.get_running_loop()
        async with self._lock:
            # Share a rendering only with responses still being sent (readers that stall),
            # and only while it is young: a scrape after the others finished gets fresh data.
            shared = self.in_progress > 1 and loop.time() - self._at <= self.max_age
            if not shared:
                self._plain = await self.service.renderer.render_pieces()
                self._gzip = None
                self._at = loop.time()
                self.renders += 1
            if not gzipped:
                return self._plain  # the shared object itself: no copy per client
            if self._gzip is None:
                self._gzip = await self.service.renderer.gzip(self._plain)
            return self._gzip

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one scrape."""
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "") and (
            self.gzip_loopback or not from_loopback(request)
        )
        resp = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
        if gzipped:
            resp.headers["Content-Encoding"] = "gzip"
        self.in_progress += 1
        try:
            async with asyncio.timeout(self.deadline):
                pieces = await self._body(gzipped)
                resp.content_length = sum(len(p) for p in pieces)
                await resp.prepare(request)
                for piece in pieces:
                    await resp.write(piece)
                await resp.write_eof()
        except ConnectionError:
            # The scraper went away mid-body (timeout, restart): nothing to report. A reset
            # while writing raises ConnectionResetError; leaving while we wait for it to read
            # (drain) raises a plain ConnectionError("Connection lost").
            log.debug("/metrics client disconnected during the response")
        except TimeoutError:
            log.warning("/metrics: client did not read in %gs: connection closed", self.deadline)
            if request.transport is not None:
                request.transport.abort()
        finally:
            self.in_progress -= 1
        return resp


def from_loopback(request: web.Request) -> bool:
    """Return True if the request's peer is a loopback address (127.0.0.0/8, ::1)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not isinstance(peer, tuple) or not peer:
        return False  # a Unix socket, or gone
    try:
        return ipaddress.ip_address(str(peer[0]).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def metrics_handler(
    service: _HasRenderer, *, deadline: float = 30.0, max_age: float = 1.0
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Return an aiohttp handler for a service's /metrics (see MetricsHandler)."""
    return MetricsHandler(service, deadline=deadline, max_age=max_age).handle
