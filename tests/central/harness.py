"""Five simulated sites remote-writing to one real VictoriaMetrics, on 127.0.0.0/8.

Each site: ``mpp-monitor simulate`` + ``mpp-monitor run`` on a tiny inventory of its own
(distinct site id, addresses and ports), and a real Prometheus rendered by
``render prometheus --remote-write`` (site 5 in ``--agent`` mode). Site 1 writes through a
``CutProxy`` the test can block (connections refused/closed) and restore; site 3 sends only
the summary series (``--remote-write-series summary``). Every process is stopped by
``Processes.close()``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import Process, Processes, run_cli, write_yaml
from tests.render.amserver import eventually, free_port

VM_BIN = shutil.which("victoria-metrics")
VMALERT_BIN = shutil.which("vmalert")
PROMETHEUS_BIN = "prometheus"
SITES = 5
AGENT_SITE = 5  # this site's Prometheus runs in agent mode (no local TSDB to query)
CUT_SITE = 1  # this site writes through the proxy
SUMMARY_SITE = 3  # this site sends only the summary series (--remote-write-series summary)
DARK_SITE = 4  # this site stops entirely in the scenario
INTERVAL = "1s"


def site_id(n: int) -> str:
    return f"site{n}"


def inventory(n: int) -> dict[str, Any]:
    """A small loopback inventory of site n: one link, one router, two applications."""
    return {
        "defaults": {"interval": INTERVAL, "timeout": "800ms", "down_after": 2, "up_after": 2},
        "sites": [
            {
                "id": site_id(n),
                "name": f"MPP uji {n}",
                "timezone": "Asia/Makassar",
                "region": "kaltim",
                "regency": f"kab{n}",
                "service_hours": {
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "open": "00:00",
                    "close": "24:00",
                },
                "closed_days": {"holidays": None},
                "network_team": "kominfo",
                "manager_team": "dpmptsp",
                "teams": [
                    {"id": "kominfo", "name": "Diskominfo"},
                    {"id": "dpmptsp", "name": "DPMPTSP"},
                    {"id": "it-dukcapil", "name": "Tim TI Disdukcapil"},
                ],
                "links": [
                    {
                        "id": "isp-a",
                        "name": "ISP A",
                        "anchors": [
                            {
                                "name": "tcp",
                                "probe": "tcp",
                                "address": f"127.6{n}.1.1",
                                "port": 8400 + n,
                            },
                        ],
                    }
                ],
                "infrastructure": [
                    {
                        "id": "router",
                        "name": "Router",
                        "kind": "router",
                        "address": f"127.6{n}.2.1",
                        "checks": [f"tcp:{8500 + n}"],
                    },
                ],
                "agencies": [
                    {
                        "id": "dukcapil",
                        "name": "Disdukcapil",
                        "team": "it-dukcapil",
                        "applications": [
                            {
                                "id": "siak",
                                "name": "SIAK",
                                "url": f"http://127.6{n}.3.1:{8600 + n}/health",
                                "links": ["isp-a"],
                            },
                            {
                                "id": "antrian",
                                "name": "Antrian",
                                "url": f"http://127.6{n}.3.2:{8600 + n}/health",
                                "local": True,
                                "switch": "router",
                            },
                        ],
                    }
                ],
            }
        ],
    }


# ---- HTTP -----------------------------------------------------------------------------------


def get_json(url: str, params: dict[str, Any] | None = None, timeout: float = 10) -> Any:
    """GET url?params and decode JSON."""
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


def ok(url: str) -> bool:
    """True when GET url answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(200 <= resp.status < 300)
    except OSError:
        return False


def query(base: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """Instant query (Prometheus API, also VictoriaMetrics'): the result vector."""
    params: dict[str, Any] = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    data = get_json(base + "/api/v1/query", params)
    assert data["status"] == "success", data
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


# ---- the proxy ------------------------------------------------------------------------------


class CutProxy:
    """A loopback TCP proxy on its own event loop thread; ``cut()`` refuses and closes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.blocked = False
        self.loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, uw))
        try:
            await asyncio.gather(self._pipe(reader, uw), self._pipe(ur, writer))
        finally:
            self._writers.difference_update((writer, uw))

    def _abort_all(self) -> None:
        for w in list(self._writers):
            w.transport.abort()

    def cut(self) -> None:
        """Refuse new connections (accept and reset) and reset the open ones."""
        self.blocked = True
        self.loop.call_soon_threadsafe(self._abort_all)

    def restore(self) -> None:
        self.blocked = False

    def close(self) -> None:
        async def stop() -> None:
            self._abort_all()
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


# ---- the sites and the centre ---------------------------------------------------------------


@dataclass
class Site:
    n: int
    inventory: Path
    monitor_port: int
    prometheus_url: str  # "" for the agent (it has no query API)
    control: str  # the simulator's fault endpoint
    procs: list[Process] = field(default_factory=list)

    @property
    def id(self) -> str:
        return site_id(self.n)

    def fault(self, entity: str, fault: str, on: bool) -> None:
        """Switch a simulated fault on or off (POST /faults of the site's simulator)."""
        body = json.dumps({"entity": entity, "fault": fault, "on": on}).encode()
        req = urllib.request.Request(self.control + "/faults", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200, resp.status

    def stop(self) -> None:
        """Stop this site's processes (monitor, simulator, Prometheus)."""
        for p in self.procs:
            if p.popen.poll() is None:
                p.popen.terminate()
        for p in self.procs:
            p.popen.wait(15)


@dataclass
class Central:
    workdir: Path
    procs: Processes
    vm_url: str
    vm: Process
    proxy: CutProxy
    sites: list[Site]

    def site(self, n: int) -> Site:
        return self.sites[n - 1]

    def close(self) -> None:
        try:
            self.procs.close()
        finally:
            self.proxy.close()


def start_vm(procs: Processes, workdir: Path) -> tuple[str, Process]:
    """A single-node VictoriaMetrics on a free loopback port, ready."""
    assert VM_BIN is not None
    port = free_port()
    proc = procs.start("victoria-metrics", [
        VM_BIN, "-retentionPeriod=1d", "-search.disableCache", "-search.latencyOffset=0s",
        f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={workdir / 'vm-data'}",
    ])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    eventually("victoria-metrics ready", lambda: proc.popen.poll() is None and ok(url + "/health"))
    return url, proc


def start_site(procs: Processes, workdir: Path, n: int, write_url: str) -> Site:
    """Simulator, monitor and Prometheus (remote-writing to write_url) of site n."""
    d = workdir / site_id(n)
    d.mkdir()
    inv = write_yaml(d / "inventory.yaml", inventory(n))
    control, mport, pport = free_port(), free_port(), free_port()
    sim = procs.start(f"{site_id(n)}-simulate", [
        *_cli(), "simulate", str(inv), "--faults", "none", "--control", f"127.0.0.1:{control}",
    ])  # fmt: skip
    mon = procs.start(f"{site_id(n)}-run", [
        *_cli(), "run", "--config", str(inv), "--listen", f"127.0.0.1:{mport}", "--no-notify",
    ])  # fmt: skip
    agent = n == AGENT_SITE
    cfg = d / "prometheus.yml"
    run_cli("render", "prometheus", "--config", str(inv), "--monitor", f"127.0.0.1:{mport}",
            "--scrape-interval", INTERVAL, "--remote-write", write_url,
            "--remote-write-deadline", "1s", *(["--agent"] if agent else []),
            *(["--remote-write-series", "summary"] if n == SUMMARY_SITE else []),
            "--out", str(cfg))  # fmt: skip
    args = [PROMETHEUS_BIN, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{pport}"]
    if agent:
        args += ["--enable-feature=agent", f"--storage.agent.path={d / 'wal'}"]
    else:
        args += [f"--storage.tsdb.path={d / 'tsdb'}"]
    prom = procs.start(f"{site_id(n)}-prometheus", args)
    url = f"http://127.0.0.1:{pport}"
    for p, ready in (
        (sim, ""),
        (mon, f"http://127.0.0.1:{mport}/metrics"),
        (prom, url + "/-/ready"),
    ):
        eventually(f"{p.name} ready", _alive_and_ok(p, ready), 30)
    return Site(n, inv, mport, "" if agent else url, f"http://127.0.0.1:{control}",
                [mon, sim, prom])  # fmt: skip


def _alive_and_ok(p: Process, url: str) -> Callable[[], bool]:
    return lambda: p.popen.poll() is None and (not url or ok(url))


def _cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "monitor"]


def start_central(workdir: Path) -> Central:
    """VictoriaMetrics, the proxy for CUT_SITE, and the five sites."""
    procs = Processes(workdir)
    proxy: CutProxy | None = None
    try:
        vm_url, vm = start_vm(procs, workdir)
        vm_port = int(vm_url.rsplit(":", 1)[1])
        proxy = CutProxy(vm_port)
        sites = []
        for n in range(1, SITES + 1):
            port = proxy.port if n == CUT_SITE else vm_port
            sites.append(start_site(procs, workdir, n, f"http://127.0.0.1:{port}/api/v1/write"))
        return Central(workdir, procs, vm_url, vm, proxy, sites)
    except BaseException:
        procs.close()
        if proxy is not None:
            proxy.close()
        raise


def wait_for(what: str, check: Any, timeout: float, poll: float = 0.5) -> Any:
    """Poll check() until truthy (returned); AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError:  # not listening yet, or a reset while it starts
            last = None
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"{what}: not true after {timeout:.0f}s (last {last!r})")
