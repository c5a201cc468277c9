"""An agency application server for the end-to-end test (run inside a namespace).

``python -m tests.e2e.appserver --listen 10.63.100.10:8080 --state-dir DIR`` serves
``GET /{app}/health``: 200 "OK", or the status code written in ``DIR/{app}.status`` (e.g.
503) — the test flips an application by writing that file. Prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web


def make_app(state_dir: Path) -> web.Application:
    """The application with its health endpoints."""

    async def health(request: web.Request) -> web.Response:
        name = request.match_info["app"]
        try:
            status = int((state_dir / f"{name}.status").read_text().strip() or "200")
        except (OSError, ValueError):
            status = 200
        text = "OK" if status < 400 else "Layanan tidak tersedia"
        return web.Response(status=status, text=f"{name}: {text}\n")

    app = web.Application()
    app.router.add_get("/{app}/health", health)
    return app


async def main(host: str, port: int, state_dir: Path) -> None:
    """Serve until SIGTERM."""
    runner = web.AppRunner(make_app(state_dir), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--state-dir", required=True, type=Path)
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    asyncio.run(main(host, int(port), args.state_dir))
    sys.exit(0)
