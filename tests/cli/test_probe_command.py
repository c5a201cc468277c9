"""`mpp-monitor probe`: one target of the inventory, probed now, printed for an IT officer."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

INVENTORY = """\
defaults: {{interval: 10s, timeout: 2s}}
sites:
  - id: t
    name: Test
    teams: [{{id: kominfo, name: K}}, {{id: it-a, name: A}}]
    agencies:
      - id: a
        name: A
        team: it-a
        applications:
          - {{id: ok, name: OK, url: "http://127.0.0.1:{port}/health"}}
          - {{id: broken, name: Broken, url: "http://127.0.0.1:{port}/broken"}}
          - {{id: closed, name: Closed, address: "127.0.0.1:{closed}"}}
"""


@pytest.fixture
async def server() -> AsyncIterator[int]:
    async def health(_: web.Request) -> web.Response:
        return web.Response(text="sehat")

    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance")

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def probe_cli(inv: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        "probe",
        "--config",
        str(inv),
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def inventory(tmp_path: Path, server: int) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(INVENTORY.format(port=server, closed=free_port()))
    return path


async def test_success_prints_phases_and_values(inventory: Path) -> None:
    code, out, err = await probe_cli(inventory, "t/application/a-ok/http")
    assert code == 0, err
    assert "result   BERHASIL / OK" in out
    for phase in ("resolve", "connect", "processing", "transfer"):
        assert f"phase    {phase}" in out
    assert "value    status_code" in out and " 200" in out


async def test_failure_names_the_reason_and_exits_2(inventory: Path) -> None:
    code, out, _ = await probe_cli(inventory, "t/application/a-broken/http", "--json")
    assert code == 2
    data = json.loads(out)
    assert data["success"] is False
    assert data["reason"] == "status"
    assert data["values"]["status_code"] == 503
    code, out, _ = await probe_cli(inventory, "t/application/a-closed/tcp", "--json")
    assert code == 2
    assert json.loads(out)["reason"] == "connect_refused"


async def test_unknown_target_suggests_close_ids(inventory: Path) -> None:
    code, out, err = await probe_cli(inventory, "a-ok")
    assert code == 1 and out == ""
    assert "no target 'a-ok'" in err and "t/application/a-ok/http" in err
    assert "Traceback" not in err


async def test_bad_inventory_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sites: [{id: t, name: T, teams: [{id: k, name: K}], bogus: 1}]\n")
    code, _, err = await probe_cli(bad, "x")
    assert code == 1
    assert f"{bad}:1:" in err and "unknown field 'bogus'" in err
