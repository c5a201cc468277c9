"""/metrics under readers that stall: a send deadline, and one rendering shared by all."""

from __future__ import annotations

import asyncio
import gzip

import aiohttp
import pytest
from aiohttp import web

from monitor.exporter import MetricsHandler

PIECE = b"x" * (1 << 20)


class FakeRenderer:
    """Renders `pieces` MiB; counts renderings."""

    def __init__(self, pieces: int) -> None:
        self.pieces = pieces
        self.calls = 0

    async def render_pieces(self) -> list[bytes]:
        self.calls += 1
        return [PIECE] * self.pieces

    async def gzip(self, pieces: list[bytes]) -> list[bytes]:
        return [gzip.compress(b"".join(pieces), 1)]


class FakeService:
    def __init__(self, pieces: int) -> None:
        self.renderer = FakeRenderer(pieces)


async def serve(handler: MetricsHandler) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_get("/metrics", handler.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def stalled_reader(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Send a scrape, read the headers, then stop reading."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    writer.transport.pause_reading()  # type: ignore[attr-defined]
    return reader, writer


async def test_a_reader_that_stalls_past_the_deadline_is_cut() -> None:
    service = FakeService(200)
    handler = MetricsHandler(service, deadline=0.5)  # type: ignore[arg-type]
    runner, port = await serve(handler)
    try:
        reader, w = await stalled_reader(port)
        await asyncio.sleep(1.0)  # stall past the deadline (this is the fault itself)
        w.transport.resume_reading()  # type: ignore[attr-defined]
        got = 0
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            while True:
                chunk = await asyncio.wait_for(reader.read(1 << 16), 10)
                if not chunk:
                    raise asyncio.IncompleteReadError(b"", None)
                got += len(chunk)
        assert got < 50 * len(PIECE)  # cut short: far from the 200 MiB (socket buffers aside)
        assert handler.in_progress == 0
        w.close()
    finally:
        await runner.cleanup()


async def test_concurrent_scrapes_share_one_rendering_and_are_served_in_full() -> None:
    service = FakeService(32)  # more than the socket buffers hold
    handler = MetricsHandler(service, deadline=30, max_age=60, gzip_loopback=True)  # type: ignore[arg-type]
    runner, port = await serve(handler)
    try:
        stalled = [await stalled_reader(port) for _ in range(5)]
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            for enc in ("identity", "gzip", "identity"):
                async with s.get(
                    f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": enc}
                ) as r:
                    body = await r.read()
                    assert r.status == 200
                    text = gzip.decompress(body) if enc == "gzip" else body
                    assert text == PIECE * 32
        assert handler.in_progress == 5  # the stalled ones are still being served
        assert service.renderer.calls == 1  # and they all share one rendering
        for _, w in stalled:
            w.transport.abort()
        # alone again: the next scrape renders afresh (never a stale copy to a lone scraper)
        for _ in range(100):
            if handler.in_progress == 0:
                break
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
            assert r.status == 200
        assert service.renderer.calls == 2
    finally:
        await runner.cleanup()
