"""Loopback targets for the benchmarks: small HTTP servers and TCP listeners on 127.x.

Run as a separate process (so its CPU is charged to neither side being measured). Binds
``--addresses`` addresses ``BASE+1 .. BASE+N`` (127.0.0.0/8 only), each with one HTTP
server (``GET /`` answers 200 with a short body) and one TCP listener (accepts, then
closes), every port picked by the kernel. Prints one JSON line on stdout when ready::

    {"http": [["127.77.0.1", 40123], ...], "tcp": [["127.77.0.1", 40124], ...], "pid": 123}

then serves until stdin reaches end of file (the parent exited or closed it), SIGTERM, or
``--max-seconds``, whichever comes first.

    .venv/bin/python bench/targets_server.py [--addresses 64] [--base 127.77.0.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import socket
import sys
import threading

from aiohttp import web

BODY = b"ok\n"
MAX_ADDRESSES = 4096
BACKLOG = 4096


class _CloseAtOnce(asyncio.Protocol):
    """TCP target: the handshake is the check; close right after accepting."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        pass


async def _handle(request: web.BaseRequest) -> web.Response:
    return web.Response(body=BODY, content_type="text/plain")


def addresses(base: str, count: int) -> list[str]:
    """Return ``count`` loopback addresses after ``base`` (ValueError outside 127.0.0.0/8)."""
    start = ipaddress.IPv4Address(base)
    loopback = ipaddress.IPv4Network("127.0.0.0/8")
    out = []
    for i in range(1, count + 1):
        addr = start + i
        if addr not in loopback:
            raise ValueError(f"{addr} is outside 127.0.0.0/8")
        out.append(str(addr))
    return out


def _listen(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


async def serve(hosts: list[str], max_seconds: float) -> None:
    """Start the servers, print the layout, serve until told to stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def watch_stdin() -> None:
        # The parent holds our stdin: EOF means it is gone, so never outlive it.
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()

    http_server = web.Server(_handle, access_log=None)
    servers: list[asyncio.Server] = []
    layout: dict[str, object] = {"http": [], "tcp": [], "pid": os.getpid()}
    try:
        for host in hosts:
            hs = _listen(host)
            servers.append(await loop.create_server(http_server, sock=hs, backlog=BACKLOG))
            layout["http"].append([host, hs.getsockname()[1]])  # type: ignore[attr-defined]
            ts = _listen(host)
            servers.append(await loop.create_server(_CloseAtOnce, sock=ts, backlog=BACKLOG))
            layout["tcp"].append([host, ts.getsockname()[1]])  # type: ignore[attr-defined]
        print(json.dumps(layout), flush=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_seconds):
                await stop.wait()
    finally:
        for s in servers:
            s.close()
        await http_server.shutdown(1.0)


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=64, help="number of 127.x addresses")
    parser.add_argument("--base", default="127.77.0.0", help="addresses start after this one")
    parser.add_argument(
        "--max-seconds", type=float, default=3600, help="exit after this long whatever happens"
    )
    args = parser.parse_args()
    hosts = addresses(args.base, max(1, min(args.addresses, MAX_ADDRESSES)))
    asyncio.run(serve(hosts, args.max_seconds))


if __name__ == "__main__":
    main()
