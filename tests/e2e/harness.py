"""The running pieces of the end-to-end test: inventory, monitor, Prometheus, Alertmanager.

Everything here runs inside the monitor's namespace (the caller's thread has entered it,
and child processes inherit it), on that namespace's own loopback: fixed ports are safe
there. Every process is stopped by ``Processes.close()`` (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from ruamel.yaml import YAML
from ruamel.yaml.compat import StringIO

from tests.dashboards.promserver import start_prometheus
from tests.e2e import topology as T

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "alerts" / "mpp-rules.yml"
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
AMTOOL_BIN = "/usr/bin/amtool"

SITE = "e2e"
TEAMS = ("kominfo", "it-dukcapil", "it-samsat", "dpmptsp")
MONITOR_PORT = 9469
ALERTMANAGER_PORT = 9093
SINK_PORT = 9999
APP_URL = f"http://{T.APP_ADDRESS}:{T.APP_PORT}"
SWITCH_ID = "sw-gerai"
# the secrets the gateway channels read from the environment (fake values for the sink)
SECRET_ENV = {"E2E_WAHA_KEY": "waha-e2e-key", "E2E_FONNTE_TOKEN": "fonnte-e2e-token"}

INTERVAL = 1.0
TIMEOUT = 0.8
FOR_WINDOW = "5s"
GROUP_WAIT = "1s"
GROUP_INTERVAL = "2s"
GROUP_INTERVAL_S = 2.0


# ---- configuration ------------------------------------------------------------------------


def inventory(sink_port: int = SINK_PORT) -> dict[str, Any]:
    """The inventory of the test network (see tests/e2e/topology.py)."""

    def hook(team: str) -> dict[str, Any]:
        return {"kind": "webhook", "url": f"http://127.0.0.1:{sink_port}/hook/{team}"}

    def link(n: int) -> dict[str, Any]:
        return {
            "id": f"isp{n}",
            "name": f"ISP {n}",
            "provider": f"Penyedia {n}",
            "source": T.uplink_source(n),
            "anchors": [
                {
                    "name": "anchor",
                    "address": T.uplink_anchor(n),
                    # 30 echoes per run: 30% loss is measured well, a run is never all lost
                    "settings": {"count": 30, "spacing": "0.02s"},
                }
            ],
            "degraded": {"loss": "10%", "latency": "150ms"},
        }

    counters = [
        {
            "number": number,
            "agency": "dukcapil",
            "switch": SWITCH_ID,
            "devices": [
                {"id": dev, "kind": dev, "address": address} for dev, address in devices.items()
            ],
        }
        for number, devices in T.COUNTER_DEVICES.items()
    ]
    return {
        "defaults": {
            "interval": f"{INTERVAL}s",
            "timeout": f"{TIMEOUT}s",
            "down_after": 2,
            "up_after": 2,
        },
        "sites": [
            {
                "id": SITE,
                "name": "MPP Uji Ujung-ke-Ujung",
                "timezone": "Asia/Makassar",
                "closed_days": {"holidays": None},
                "network_team": "kominfo",
                "manager_team": "dpmptsp",
                "teams": [
                    {
                        "id": "kominfo",
                        "name": "Diskominfo (jaringan)",
                        "channels": [
                            hook("kominfo"),
                            {
                                "kind": "waha",
                                "chat_id": "120363000000000001@g.us",
                                "base_url": f"http://127.0.0.1:{sink_port}/waha/kominfo",
                                "session": "e2e",
                                "edition": "plus",
                                "api_key": {"env": "E2E_WAHA_KEY"},
                            },
                        ],
                    },
                    {
                        "id": "it-dukcapil",
                        "name": "Tim TI Disdukcapil",
                        "channels": [
                            hook("it-dukcapil"),
                            {
                                "kind": "fonnte",
                                "target": "628000000003",
                                "base_url": f"http://127.0.0.1:{sink_port}/fonnte/it-dukcapil",
                                "token": {"env": "E2E_FONNTE_TOKEN"},
                            },
                        ],
                    },
                    {"id": "it-samsat", "name": "Tim TI Samsat", "channels": [hook("it-samsat")]},
                    {"id": "dpmptsp", "name": "DPMPTSP", "channels": [hook("dpmptsp")]},
                ],
                "links": [link(n) for n in T.UPLINKS],
                "infrastructure": [
                    {
                        "id": SWITCH_ID,
                        "name": "Switch gerai",
                        "kind": "switch",
                        "address": T.SWITCH_ADDRESS,
                    }
                ],
                "agencies": [
                    {
                        "id": "dukcapil",
                        "name": "Dinas Dukcapil",
                        "team": "it-dukcapil",
                        "applications": [
                            {
                                "id": "siak",
                                "name": "SIAK",
                                "url": f"{APP_URL}/dukcapil/health",
                                "links": [f"isp{n}" for n in T.UPLINKS],
                            }
                        ],
                    },
                    {
                        "id": "samsat",
                        "name": "Samsat",
                        "team": "it-samsat",
                        "applications": [
                            {
                                "id": "esamsat",
                                "name": "e-Samsat",
                                "url": f"{APP_URL}/samsat/health",
                                "links": [f"isp{n}" for n in T.UPLINKS],
                            }
                        ],
                    },
                ],
                "counters": counters,
            }
        ],
    }


def write_yaml(path: Path, data: Any) -> Path:
    """Write data as YAML."""
    yaml = YAML()
    yaml.default_flow_style = False
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(data, f)
    return path


def short_rules(src: Path, dst: Path, window: str = FOR_WINDOW) -> list[str]:
    """Copy the committed rules with every ``for:`` replaced by ``window``; return the alerts.

    Only the ``for:`` lines change (expressions, labels and annotations stay byte for byte).
    Alerts on the scrape job itself (absent, down) keep a minute: Prometheus applies its
    first scrape targets about 5 s after it starts, so ``absent(up{...})`` is briefly true.
    """
    text = src.read_text(encoding="utf-8")
    self_alerts = ("MppMonitorAbsent", "MppMonitorDown")

    def shorten(m: re.Match[str]) -> str:
        before = text[: m.start()]
        name = re.findall(r"(?m)^\s+- alert:\s*(\S+)\s*$", before)[-1]
        return f"{m.group(1)}for: {'1m' if name in self_alerts else window}"

    new, count = re.subn(r"(?m)^(\s+)for:\s*\S+\s*$", shorten, text)
    # keep_firing_for (2m: bridges a monitor restart) would delay every "resolved" here
    new = re.sub(r"(?m)^(\s+)keep_firing_for:\s*\S+\s*$", rf"\g<1>keep_firing_for: {window}", new)
    alerts = re.findall(r"(?m)^\s+- alert:\s*(\S+)\s*$", text)
    if count != len(alerts):
        raise AssertionError(f"{src}: {len(alerts)} alerts but {count} 'for:' lines")
    dst.write_text(new, encoding="utf-8")
    return alerts


def run_cli(*args: str, timeout: float = 60) -> str:
    """Run ``mpp-monitor ARGS`` (this interpreter) and return stdout; fail with stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"mpp-monitor {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


# ---- processes ----------------------------------------------------------------------------


@dataclass
class Process:
    """A child process with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 25) -> str:
        """The last lines of its log."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        """AssertionError with its log when it has exited."""
        if self.popen.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.popen.returncode}:\n{self.tail(40)}"
            )


@dataclass
class Processes:
    """Every child process of the test, stopped by close()."""

    workdir: Path
    items: list[Process] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Process:
        """Start a process with stdout and stderr going to WORKDIR/NAME.log."""
        log = self.workdir / f"{name}.log"
        with log.open("ab") as f:
            popen = subprocess.Popen(
                list(argv),
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env={**os.environ, **(env or {})},
            )
        proc = Process(name, popen, log)
        self.items.append(proc)
        return proc

    def close(self) -> None:
        """SIGTERM every process (newest first), SIGKILL what is still running after 10 s."""
        for proc in reversed(self.items):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in reversed(self.items):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=10)


# ---- HTTP ---------------------------------------------------------------------------------


class Http:
    """JSON/text GETs with short timeouts (one session for the whole test); ``headers``
    e.g. the Authorization of a monitor whose web server has basic auth (Prometheus and
    Alertmanager ignore it)."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=5), headers=headers
        )

    async def close(self) -> None:
        """Close the session."""
        await self.session.close()

    async def json(self, url: str, **params: str) -> Any:
        """GET url and decode JSON."""
        async with self.session.get(url, params=params or None) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def text(self, url: str) -> str:
        """GET url as text."""
        async with self.session.get(url) as resp:
            resp.raise_for_status()
            return await resp.text()

    async def ok(self, url: str) -> bool:
        """True when GET url answers 2xx."""
        try:
            async with self.session.get(url) as resp:
                return 200 <= resp.status < 300
        except (aiohttp.ClientError, TimeoutError):
            return False


async def eventually(
    what: str,
    check: Callable[[], Awaitable[tuple[bool, Any]]],
    timeout: float,
    *,
    poll: float = 0.25,
    alive: Callable[[], None] = lambda: None,
) -> Any:
    """Poll ``check`` (returns (done, detail)) until done; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    detail: Any = None
    while True:
        alive()
        try:
            done, detail = await check()
        except (aiohttp.ClientError, TimeoutError) as exc:
            done, detail = False, f"{type(exc).__name__}: {exc}"
        if done:
            return detail
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not true after {timeout:.0f}s; last: {detail}")
        await asyncio.sleep(poll)


# ---- the stack ----------------------------------------------------------------------------


@dataclass
class Stack:
    """URLs of the running pieces, and reads of their state for the assertions."""

    http: Http
    procs: Processes
    monitor_url: str
    prom_url: str
    am_url: str

    def alive(self) -> None:
        """AssertionError when a child process has died."""
        for p in self.procs.items:
            p.check_alive()

    async def status(self) -> dict[str, Any]:
        """The monitor's /api/v1/status."""
        data: dict[str, Any] = await self.http.json(self.monitor_url + "/api/v1/status")
        return data

    async def entity_statuses(self) -> dict[str, str]:
        """Entity id -> status, from the monitor."""
        return {e["id"]: e["status"] for e in (await self.status())["entities"]}

    async def prom_query(self, expr: str) -> list[dict[str, Any]]:
        """A Prometheus instant query's result list."""
        data = await self.http.json(self.prom_url + "/api/v1/query", query=expr)
        if data.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {data}")
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    async def prom_alerts(self) -> list[dict[str, str]]:
        """Label sets of ALERTS (pending and firing)."""
        return [r["metric"] for r in await self.prom_query("ALERTS")]

    async def am_alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's alerts (active, inhibited and silenced; not resolved ones)."""
        data: list[dict[str, Any]] = await self.http.json(self.am_url + "/api/v2/alerts")
        return data

    async def diagnostics(self, sink_dump: str) -> str:
        """What a failing run needs to be understood."""
        out: list[str] = ["===== diagnostics ====="]

        async def section(title: str, fn: Callable[[], Awaitable[str]]) -> None:
            try:
                body = await fn()
            except Exception as exc:
                body = f"(unavailable: {type(exc).__name__}: {exc})"
            out.append(f"--- {title}\n{body}")

        async def entities() -> str:
            st = await self.status()
            lines = [
                f"{e['id']}: {e['status']} owner={e['owner']}"
                for e in st["entities"]
                if e["status"] != "up"
            ] or ["(all entities up)"]
            lines += [
                f"link {x['id']}: state={x['state']} loss={x['loss_ratio']}" for x in st["links"]
            ]
            lines += [
                f"counter {c['number']}: can_serve={c['can_serve']} blocking={c['blocking']}"
                for c in st["counters"]
            ]
            lines.append(f"sites: {json.dumps(st['sites'])}")
            return "\n".join(lines)

        async def metrics() -> str:
            text = await self.http.text(self.monitor_url + "/metrics")
            keep = re.compile(
                r"^(mpp_entity_status\{.*\} 1|mpp_link_state\{.*\} 1|mpp_link_loss_ratio|"
                r"mpp_site_internet_up|mpp_can_serve|mpp_notifier_messages_total\{.*\} [1-9]|"
                r"mpp_notifier_queue_length|mpp_config_last_reload_successful)"
            )
            lines = [ln for ln in text.splitlines() if keep.match(ln) and 'status="up"' not in ln]
            return "\n".join(lines[:80])

        async def alerts() -> str:
            rows = await self.prom_query("ALERTS")
            return (
                "\n".join(
                    f"{r['metric'].get('alertname')} {r['metric'].get('alertstate')} "
                    + json.dumps(
                        {k: v for k, v in r["metric"].items() if k not in ("__name__",)},
                        sort_keys=True,
                    )
                    for r in rows
                )
                or "(none)"
            )

        async def am() -> str:
            rows = await self.am_alerts()
            return (
                "\n".join(
                    f"{a['labels'].get('alertname')} team={a['labels'].get('team')} "
                    f"state={a['status']['state']} inhibitedBy={a['status'].get('inhibitedBy')}"
                    for a in rows
                )
                or "(none)"
            )

        await section("monitor /api/v1/status (not up)", entities)
        await section("monitor /metrics excerpt", metrics)
        await section("Prometheus ALERTS", alerts)
        await section("Alertmanager /api/v2/alerts", am)
        out.append(f"--- sink\n{sink_dump}")
        for p in self.procs.items:
            out.append(f"--- log of {p.name} (exit {p.popen.poll()})\n{p.tail()}")
        return "\n".join(out)


# ---- the stack ----------------------------------------------------------------------------


def _dump_yaml(data: Any) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    buf = StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


async def start_stack(
    net: T.MppNet,
    tmp: Path,
    procs: Processes,
    http: Http,
    stack_cm: contextlib.ExitStack,
    *,
    inventory_data: dict[str, Any] | None = None,
    monitor_args: Sequence[str] = (),
    render_args: Sequence[str] = (),
    prometheus_args: Sequence[str] = (),
) -> Stack:
    """Start the application server, the monitor, Alertmanager and Prometheus (the monitor
    with ``monitor_args``, e.g. ``--outbox``; Alertmanager rendered with ``render_args``,
    Prometheus with ``prometheus_args``)."""
    inv = write_yaml(tmp / "inventory.yaml", inventory_data or inventory(SINK_PORT))
    run_cli("check-config", str(inv))
    app_state = tmp / "apps"
    app_state.mkdir()
    procs.start(
        "appserver",
        [
            "ip",
            "netns",
            "exec",
            net.inet.name,
            sys.executable,
            "-m",
            "tests.e2e.appserver",
            "--listen",
            f"{T.APP_ADDRESS}:{T.APP_PORT}",
            "--state-dir",
            str(app_state),
        ],
    )
    monitor_url = f"http://127.0.0.1:{MONITOR_PORT}"
    procs.start(
        "monitor",
        [
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--config",
            str(inv),
            "--listen",
            f"127.0.0.1:{MONITOR_PORT}",
            *monitor_args,
        ],
        env=SECRET_ENV,
    )

    def alive() -> None:
        for p in procs.items:
            p.check_alive()

    async def reachable(url: str) -> tuple[bool, str]:
        return await http.ok(url), url

    await eventually(
        "application server", lambda: reachable(f"{APP_URL}/samsat/health"), 20, alive=alive
    )
    await eventually("monitor ready", lambda: reachable(monitor_url + "/-/ready"), 20, alive=alive)

    am_yml = tmp / "alertmanager.yml"
    am_yml.write_text(
        run_cli(
            "render",
            "alertmanager",
            "--config",
            str(inv),
            "--notifier-url",
            monitor_url,
            "--off-hours",
            "all",
            "--group-wait",
            GROUP_WAIT,
            "--group-interval",
            GROUP_INTERVAL,
            "--repeat-interval",
            "1h",
            *render_args,
        )
    )
    check = subprocess.run(
        [AMTOOL_BIN, "check-config", str(am_yml)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, f"amtool check-config:\n{check.stdout}{check.stderr}"
    am_url = f"http://127.0.0.1:{ALERTMANAGER_PORT}"
    procs.start(
        "alertmanager",
        [
            ALERTMANAGER_BIN,
            f"--config.file={am_yml}",
            f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",
            "--log.level=info",
        ],
    )
    await eventually("alertmanager ready", lambda: reachable(am_url + "/-/ready"), 20, alive=alive)

    rules = tmp / "mpp-rules.yml"
    short_rules(RULES, rules)
    prom_yml = run_cli(
        "render",
        "prometheus",
        "--config",
        str(inv),
        "--monitor",
        f"127.0.0.1:{MONITOR_PORT}",
        "--alertmanager",
        f"127.0.0.1:{ALERTMANAGER_PORT}",
        "--rules",
        str(rules),
        "--scrape-interval",
        "1s",
        *prometheus_args,
    )
    config = YAML(typ="safe").load(prom_yml)
    # the monitor's own alerts take site and team from here (alerts/README.md)
    config["global"].setdefault("external_labels", {}).update(site=SITE, team="kominfo")
    prom = stack_cm.enter_context(start_prometheus(_dump_yaml(config)))
    stack = Stack(http, procs, monitor_url, prom.url, am_url)

    async def scraped() -> tuple[bool, Any]:
        rows = await stack.prom_query('up{job="mpp-monitor"} == 1')
        return bool(rows), rows

    await eventually("Prometheus scrapes the monitor", scraped, 20, alive=stack.alive)
    return stack


def run_in_network(
    label: str,
    main: Callable[[T.MppNet, Path, dict[str, Any]], Awaitable[None]],
    tmp: Path,
    timeout: float,
) -> dict[str, Any]:
    """Build the test network, run ``main(net, tmp, report)`` inside the monitor's namespace,
    remove the network (also on failure, checked), print and return the report."""
    from tests.netns import Topology, list_namespaces

    started = time.monotonic()
    report: dict[str, Any] = {}
    names: list[str] = []
    try:
        with Topology() as topo:
            net = T.build(topo)
            names = net.names()
            net.mon.run(main, net, tmp, report, timeout=timeout)
    finally:
        left = set(names) & set(list_namespaces())
        print(f"{label}: {time.monotonic() - started:.0f}s; {report}", flush=True)
    assert names and not left, f"namespaces left behind: {sorted(left)}"
    return report
