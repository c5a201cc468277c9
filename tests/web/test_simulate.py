"""The simulator: loopback only, faults through dependencies, the control endpoint."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import dns.asyncquery
import dns.message
import pytest

from monitor.inventory import load_plan
from monitor.plan import Plan
from monitor.sim.simulator import Faults, SimulationError, Simulator, non_loopback

from .helpers import DEMO, REPO, free_port, monitor_cmd


def small_inventory(port: int) -> str:
    """Two links, a switch with a PC behind it, an app through both links, HTTPS, DNS."""
    return f"""
defaults: {{interval: 10s, timeout: 1s}}
sites:
  - id: s
    name: Sim
    teams: [{{id: kominfo, name: Kominfo}}, {{id: it-a, name: A}}]
    links:
      - {{id: a, name: A, anchors: [{{probe: tcp, address: 127.60.0.1, port: {port}}}]}}
      - id: b
        name: B
        anchors:
          - {{probe: http, address: "http://127.60.0.2:{port}/generate_204"}}
          - {{probe: dns, address: 127.60.0.3, settings: {{query_name: example.org, port: {port}}}}}
    infrastructure:
      - {{id: sw, name: SW, kind: switch, address: 127.60.1.1, checks: ["tcp:{port}"]}}
    agencies:
      - id: ag
        name: Agency
        team: it-a
        applications:
          - {{id: app, name: App, url: "http://127.60.2.1:{port}/health", links: [a, b]}}
          - {{id: only-a, name: OnlyA, url: "https://127.60.2.2:{port}/x", links: [a]}}
    counters:
      - number: 1
        agency: ag
        switch: sw
        devices: [{{id: pc, address: 127.60.3.1, checks: ["tcp:{port}"]}}]
"""


@pytest.fixture
def plan(tmp_path: Path) -> tuple[Plan, int]:
    port = free_port()
    path = tmp_path / "sim.yaml"
    path.write_text(small_inventory(port))
    return load_plan(path), port


@pytest.fixture
async def sim(plan: tuple[Plan, int]) -> AsyncIterator[tuple[Simulator, int]]:
    p, port = plan
    s = Simulator(p, seed=1)
    await s.start(("127.0.0.1", 0))
    try:
        yield s, port
    finally:
        await s.stop()


async def connects(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(2):
            _, w = await asyncio.open_connection(host, port)
    except OSError:
        return False
    w.close()
    return True


async def get(url: str, timeout: float = 2.0) -> int | str:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            http.get(url, ssl=False) as r,
        ):
            await r.read()
            return r.status
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError as exc:
        return type(exc).__name__


def test_non_loopback_inventories_are_refused(tmp_path: Path) -> None:
    text = small_inventory(8080).replace("127.60.2.1", "10.1.2.3")
    bad = load_plan("bad.yaml", text)
    assert non_loopback(bad) == ["s/application/ag-app/http: 10.1.2.3"]
    with pytest.raises(SimulationError, match=r"refusing to simulate.*\n  s/application/ag-app"):
        Simulator(bad)
    src = load_plan("src.yaml", text.replace("10.1.2.3", "127.60.2.1").replace(
        "id: a, name: A,", "id: a, name: A, source: 192.0.2.7,"
    ))  # fmt: skip
    assert non_loopback(src) == [
        "s/link/a/tcp-127.60.0.1: source 192.0.2.7",
        "s/application/ag-only-a/http: source 192.0.2.7",  # probed through link a
    ]


@pytest.mark.parametrize("example", ["mpp-paser.yaml"])
def test_the_real_building_cannot_be_simulated(example: str) -> None:
    path = REPO / "examples" / example
    assert path.exists()
    out = subprocess.run(
        monitor_cmd("simulate", str(path), "--control", f"127.0.0.1:{free_port()}"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert out.returncode == 1
    assert "refusing to simulate" in out.stderr and "Traceback" not in out.stderr


def test_demo_inventory_is_loopback_only() -> None:
    plan = load_plan(DEMO)
    assert non_loopback(plan) == []
    assert len(plan.counters) == 44
    kinds = {e.kind for e in plan.entities.values()}
    assert kinds == {"link", "infra", "device", "application"}


def test_down_follows_dependencies(plan: tuple[Plan, int]) -> None:
    p, _ = plan
    f = Faults(p.entities)
    app, only_a, pc = "s/application/ag-app", "s/application/ag-only-a", "s/device/gerai-01-pc"
    f.set("s/infra/sw", "down", True)
    assert "down" in f.effective(pc)
    assert "down" not in f.effective(app)
    f.set("s/link/a", "down", True)
    assert "down" in f.effective(only_a) and "down" not in f.effective(app)  # B still up
    f.set("s/link/b", "slow", True)
    assert f.effective(app) == frozenset()  # slowness is not inherited
    f.set("s/link/b", "down", True)
    assert "down" in f.effective(app)
    f.clear()
    assert all(not f.effective(e) for e in p.entities)
    assert f.resolve("sw") == "s/infra/sw"
    assert f.resolve("gerai-01-pc") == pc
    assert f.resolve("only-a") == only_a  # an application by its own id
    with pytest.raises(KeyError, match="unknown entity"):
        f.resolve("nope")


async def test_faults_switch_endpoints(sim: tuple[Simulator, int]) -> None:
    s, port = sim
    assert await connects("127.60.3.1", port)
    assert await get(f"http://127.60.2.1:{port}/health") == 200
    assert await get(f"http://127.60.0.2:{port}/generate_204") == 204
    assert await get(f"https://127.60.2.2:{port}/x") == 200  # self-signed TLS

    await s.set_fault("s/infra/sw", "down", True)
    assert not await connects("127.60.3.1", port)  # the PC behind the switch
    assert not await connects("127.60.1.1", port)
    assert await connects("127.60.0.1", port)

    await s.set_fault("s/link/a", "down", True)
    assert not await connects("127.60.0.1", port)
    assert await get(f"https://127.60.2.2:{port}/x") == "ClientConnectorError"
    assert await get(f"http://127.60.2.1:{port}/health") == 200  # through link B

    await s.set_fault("s/application/ag-app", "http_503", True)
    assert await get(f"http://127.60.2.1:{port}/health") == 503

    await s.clear_faults()
    assert await connects("127.60.3.1", port)
    assert await get(f"https://127.60.2.2:{port}/x") == 200
    assert await get(f"http://127.60.2.1:{port}/health") == 200


async def test_slow_and_loss(sim: tuple[Simulator, int]) -> None:
    s, port = sim
    url = f"http://127.60.2.1:{port}/health"
    await s.set_fault("s/application/ag-app", "slow", True)
    start = time.monotonic()
    assert await get(url) == 200
    assert time.monotonic() - start >= 0.4  # 0.4 x the 1 s timeout added
    await s.set_fault("s/application/ag-app", "slow", False)
    await s.set_fault("s/application/ag-app", "loss", True)
    results = await asyncio.gather(*(get(url, timeout=0.6) for _ in range(30)))
    lost = results.count("timeout")
    assert 2 <= lost <= 20, results  # about 30 %
    assert results.count(200) == 30 - lost


async def test_dns_anchor_answers_and_goes_silent(sim: tuple[Simulator, int]) -> None:
    s, port = sim
    q = dns.message.make_query("example.org", "A")
    r = await dns.asyncquery.udp(q, "127.60.0.3", port=port, timeout=2)
    assert [rr.to_text() for rr in r.answer[0]] == ["127.0.0.1"]
    await s.set_fault("s/link/b", "down", True)
    with pytest.raises(dns.exception.Timeout):
        await dns.asyncquery.udp(q, "127.60.0.3", port=port, timeout=0.5)


async def test_control_endpoint(sim: tuple[Simulator, int]) -> None:
    s, port = sim
    base = s.control_url
    assert base is not None
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "faults", json={"entity": "sw", "fault": "down"}) as r:
            assert r.status == 200
            body = await r.json()
        assert [(f["entity"], f["fault"], f["source"]) for f in body["faults"]] == [
            ("s/infra/sw", "down", "manual")
        ]
        assert not await connects("127.60.3.1", port)
        async with http.post(
            base + "faults", json={"entity": "sw", "fault": "down", "on": False}
        ) as r:
            assert (await r.json())["faults"] == []
        assert await connects("127.60.3.1", port)
        for bad, status in [
            ({"entity": "sw", "fault": "fire"}, 400),
            ({"fault": "down"}, 400),
            ({"entity": "sw", "fault": "down", "on": "yes"}, 400),
            ({"entity": "nope", "fault": "down"}, 404),
            ([1, 2], 400),
        ]:
            async with http.post(base + "faults", json=bad) as r:
                assert r.status == status, bad
        async with http.post(base + "faults", data=b"x" * 100_000) as r:
            assert r.status == 413
        async with http.post(
            base + "faults", json={"entity": "gerai-01-pc", "fault": "down", "seconds": 0.3}
        ) as r:
            assert (await r.json())["faults"][0]["remaining_seconds"] <= 0.3
        deadline = time.monotonic() + 5
        while not await connects("127.60.3.1", port):  # the timed fault expires by itself
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        async with http.get(base + "entities") as r:
            ids = {e["id"] for e in (await r.json())["entities"]}
        assert "s/device/gerai-01-pc" in ids
        async with http.post(base + "faults", json={"entity": "a", "fault": "down"}) as r:
            pass
        async with http.delete(base + "faults") as r:
            assert json.loads(await r.text())["faults"] == []


async def test_control_endpoint_is_loopback_only(plan: tuple[Plan, int]) -> None:
    s = Simulator(plan[0])
    with pytest.raises(SimulationError, match="loopback only"):
        await s.start(("0.0.0.0", 0))
    assert all(e.server is None for e in s.endpoints)


async def test_port_in_use_is_a_clear_error(plan: tuple[Plan, int]) -> None:
    p, port = plan
    blocker = await asyncio.start_server(lambda r, w: None, "127.60.3.1", port)
    try:
        s = Simulator(p)
        with pytest.raises(SimulationError, match=rf"cannot listen on 127.60.3.1:{port}.*in use"):
            await s.start(None)
        assert all(e.server is None for e in s.endpoints)
    finally:
        blocker.close()
        await blocker.wait_closed()


async def test_random_faults_come_and_go(plan: tuple[Plan, int]) -> None:
    s = Simulator(plan[0], seed=5, random_faults=True)
    picks = [s._pick_random() for _ in range(200)]
    assert all(p is not None for p in picks)
    kinds = {plan[0].entities[p[0]].kind for p in picks if p}
    assert kinds == {"link", "infra", "device", "application"}
    # a random switch fault never takes the router (or a switch with children) down
    assert all(
        not any(p[0] in e.depends_on for e in plan[0].entities.values() if e.kind == "infra")
        for p in picks
        if p and plan[0].entities[p[0]].kind == "infra"
    )
    assert all(10 < p[2] < 100 for p in picks if p)
