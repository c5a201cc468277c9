"""The alert path when the building's internet is down, with every real part on loopback.

The demo building (``mpp-monitor simulate``), the prober (``run --no-notify``), the notifier
apart (``notify``, durable outbox), a real Prometheus and Alertmanager rendered by
``mpp-monitor render``, a real ``gammu-smsd`` with gammu's dummy phone, and a sink standing
for the WhatsApp gateway beyond the uplinks (it is down while the uplinks are cut) and for
the external heartbeat receiver. ``for:`` windows are shortened (as in test_alerting.py).

1. Heartbeats (MppWatchdog) reach the external receiver.
2. Both uplinks cut: Kominfo gets the SMS "site offline" from gammu-smsd (detection-to-SMS
   time printed); the WhatsApp message waits in the outbox.
3. The notifier is killed with SIGKILL during the outage and started again.
4. Uplinks back: Kominfo's WhatsApp gets one "PULIH" message with the outage's span (the late
   "down" is collapsed into it), nothing lost, nothing twice.
5. The prober killed: MppMonitorDown reaches Kominfo through the notifier (not the prober).
6. Prometheus stopped: the heartbeats stop.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from ruamel.yaml import YAML

from monitor.render.smsd import dummy_smsd, sent_messages
from tests.e2e import harness as H
from tests.web.helpers import free_port, monitor_cmd

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.yaml"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
GAMMU_SMSD = shutil.which("gammu-smsd") or "/usr/bin/gammu-smsd"
KOMINFO_SMS = "+6281234567890"
HEARTBEAT_EVERY = 2.0


@dataclass
class Sink:
    """The WhatsApp gateway beyond the uplinks (webhook kind) and the heartbeat receiver."""

    port: int
    hooks: list[dict[str, Any]] = field(default_factory=list)
    beats: list[float] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{team}", self._hook)
        app.router.add_post("/heartbeat", self._beat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:  # the uplinks are cut: the gateway is unreachable
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.hooks.append({"team": request.match_info["team"], **await request.json()})
        return web.json_response({"ok": True})

    async def _beat(self, request: web.Request) -> web.Response:
        body = await request.json()
        names = {a["labels"].get("alertname") for a in body.get("alerts", [])}
        if names == {"MppWatchdog"}:
            self.beats.append(time.monotonic())
        return web.json_response({"ok": True})

    def about(self, alertname: str) -> list[dict[str, Any]]:
        return [
            m for m in self.hooks if any(a["labels"]["alertname"] == alertname for a in m["alerts"])
        ]


async def until(what: str, condition: Callable[[], Any], timeout: float) -> Any:
    """Await a condition the processes make true (polled, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def _short_rules(dst: Path) -> None:
    text = H.RULES.read_text(encoding="utf-8")
    windows = {"MppMonitorAbsent": "1m", "MppMonitorDown": "5s", "MppWatchdog": "1s"}
    out: list[str] = []
    name = ""
    for line in text.splitlines():
        m = re.match(r"\s+- alert:\s*(\S+)", line)
        if m:
            name = m.group(1)
        if re.match(r"\s+for:\s*\S+", line):
            line = re.sub(r"for:.*", f"for: {windows.get(name, '3s')}", line)
        line = re.sub(r"keep_firing_for:.*", "keep_firing_for: 3s", line)
        out.append(line)
    dst.write_text("\n".join(out) + "\n", encoding="utf-8")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    procs = H.Processes(tmp_path)
    sink = Sink(free_port())
    await sink.start()
    ports = {k: free_port() for k in ("prober", "notify", "prom", "am", "control")}
    smsdrc, spool = dummy_smsd(tmp_path)  # gammu-smsd with the dummy phone
    # the demo building, Kominfo reached by "WhatsApp" (beyond the uplinks) and by SMS
    yaml = YAML()
    inv = yaml.load(DEMO.read_text(encoding="utf-8"))
    for team in inv["sites"][0]["teams"]:
        if team["id"] == "kominfo":
            team["channels"] = [
                {"kind": "webhook", "url": f"http://127.0.0.1:{sink.port}/hook/kominfo"},
                {"kind": "sms", "to": "0812-3456-7890", "smsd_config": str(smsdrc)},
            ]
    config = H.write_yaml(tmp_path / "inventory.yaml", inv)
    _short_rules(tmp_path / "rules.yml")
    H.run_cli(
        "render", "prometheus", "--config", str(config), "--out", str(tmp_path / "prom.yml"),
        "--monitor", f"127.0.0.1:{ports['prober']}", "--notifier", f"127.0.0.1:{ports['notify']}",
        "--alertmanager", f"127.0.0.1:{ports['am']}", "--rules", str(tmp_path / "rules.yml"),
        "--scrape-interval", "1s",
    )  # fmt: skip
    H.run_cli(
        "render", "alertmanager", "--config", str(config), "--out", str(tmp_path / "am.yml"),
        "--notifier-url", f"http://127.0.0.1:{ports['notify']}",
        "--heartbeat-url", f"http://127.0.0.1:{sink.port}/heartbeat",
        "--heartbeat-interval", f"{HEARTBEAT_EVERY:.0f}s", "--group-wait", "1s",
        "--group-interval", "2s", "--repeat-interval", "1h", "--off-hours", "all",
    )  # fmt: skip
    notify_argv = monitor_cmd(
        "notify", "--config", str(config), "--outbox", str(tmp_path / "outbox.sqlite"),
        "--listen", f"127.0.0.1:{ports['notify']}",
    )  # fmt: skip
    try:
        procs.start("gammu-smsd", [GAMMU_SMSD, "-c", str(smsdrc)])
        procs.start(
            "simulate",
            monitor_cmd("simulate", str(config), "--faults", "none", "--control",
                        f"127.0.0.1:{ports['control']}"),
        )  # fmt: skip
        procs.start(
            "prober",
            monitor_cmd("run", "--config", str(config), "--no-notify", "--listen",
                        f"127.0.0.1:{ports['prober']}"),
        )  # fmt: skip
        procs.start("notify", notify_argv)
        procs.start(
            "prometheus",
            [PROMETHEUS, f"--config.file={tmp_path / 'prom.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{ports['prom']}", "--rules.alert.resend-delay=1s"],
        )  # fmt: skip
        procs.start(
            "alertmanager",
            [H.ALERTMANAGER_BIN, f"--config.file={tmp_path / 'am.yml'}",
             f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{ports['am']}",
             "--cluster.listen-address="],
        )  # fmt: skip
        yield {
            "procs": procs,
            "sink": sink,
            "ports": ports,
            "spool": spool,
            "notify_argv": notify_argv,
            "tmp": tmp_path,
        }
    finally:
        procs.close()
        await sink.stop()


def _proc(stack: dict[str, Any], name: str) -> H.Process:
    return next(p for p in reversed(stack["procs"].items) if p.name == name)


async def _fault(session: aiohttp.ClientSession, port: int, entity: str, on: bool) -> None:
    body = {"entity": entity, "fault": "down", "on": on}
    async with session.post(f"http://127.0.0.1:{port}/faults", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def _ok(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def test_offline_sms_durable_outbox_independent_path_and_heartbeat(
    stack: dict[str, Any],
) -> None:
    sink: Sink = stack["sink"]
    ports = stack["ports"]
    spool: Path = stack["spool"]
    timings: dict[str, float] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        prober = f"http://127.0.0.1:{ports['prober']}"
        for name, url in (
            ("simulate", f"http://127.0.0.1:{ports['control']}/faults"),
            ("prober", f"{prober}/-/ready"),
            ("notify", f"http://127.0.0.1:{ports['notify']}/-/ready"),
            ("prometheus", f"http://127.0.0.1:{ports['prom']}/-/ready"),
            ("alertmanager", f"http://127.0.0.1:{ports['am']}/-/ready"),
        ):
            deadline = time.monotonic() + 30
            while not await _ok(s, url):
                _proc(stack, name).check_alive()
                assert time.monotonic() < deadline, f"{name} not ready"
                await asyncio.sleep(0.2)
        # 1. heartbeats flow
        await until("two heartbeats", lambda: len(sink.beats) >= 2, 60)

        # the building is up: internet up in the prober's view
        async def internet() -> float | None:
            async with s.get(f"{prober}/api/v1/status") as resp:
                sites = (await resp.json())["sites"]
            up = sites[0].get("internet_up")
            return None if up is None else float(up)

        deadline = time.monotonic() + 60
        while await internet() != 1.0:
            assert time.monotonic() < deadline, "internet never up"
            await asyncio.sleep(0.5)
        # 2. cut both uplinks: the WhatsApp gateway beyond them is gone too
        await sink.stop()
        cut = time.monotonic()
        for link in ("isp-a", "isp-b"):
            await _fault(s, ports["control"], link, True)
        sms = await until("the site-offline SMS in sent/", lambda: sent_messages(spool), 120)
        timings["cut_to_sms_s"] = time.monotonic() - cut
        assert sms[0][0] == KOMINFO_SMS
        assert sms[0][1].startswith("KRITIS: ") and len(sms[0][1]) <= 160, sms
        # 3. the notifier killed while the WhatsApp message waits, and started again
        notify = _proc(stack, "notify")
        notify.popen.send_signal(signal.SIGKILL)
        notify.popen.wait(10)
        stack["procs"].start("notify", stack["notify_argv"])
        deadline = time.monotonic() + 30
        while not await _ok(s, f"http://127.0.0.1:{ports['notify']}/-/ready"):
            _proc(stack, "notify").check_alive()
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        await asyncio.sleep(5)  # a bounded outage after the restart: nothing may arrive
        assert sink.about("MppSiteOffline") == []
        # 4. heal: the uplinks and the gateway are back
        await sink.start()
        for link in ("isp-a", "isp-b"):
            await _fault(s, ports["control"], link, False)
        healed = time.monotonic()
        got = await until("the collapsed PULIH message", lambda: sink.about("MppSiteOffline"), 120)
        timings["heal_to_whatsapp_s"] = time.monotonic() - healed
        await asyncio.sleep(4)  # two group intervals: a duplicate would arrive by now
        got = sink.about("MppSiteOffline")
        seen = [
            a["status"]
            for m in got
            for a in m["alerts"]
            if a["labels"]["alertname"] == "MppSiteOffline"
        ]
        assert seen == ["resolved"], [m["text"] for m in got]  # no late "down", no repeat
        (msg,) = got
        assert re.search(r"PULIH: .*\n(.*\n)*Gangguan: .* \d\d:\d\d–\d\d:\d\d WITA", msg["text"]), (
            msg["text"]
        )
        # 5. the prober killed: MppMonitorDown reaches Kominfo through the notifier
        prober_proc = _proc(stack, "prober")
        prober_proc.popen.send_signal(signal.SIGKILL)
        prober_proc.popen.wait(10)
        killed = time.monotonic()
        beats_before = len(sink.beats)
        down = await until("MppMonitorDown to kominfo", lambda: sink.about("MppMonitorDown"), 60)
        timings["prober_kill_to_message_s"] = time.monotonic() - killed
        assert down[0]["team"] == "kominfo" and "KRITIS" in down[0]["text"]
        assert len(sink.beats) > beats_before  # heartbeats go on: Prometheus and AM are alive
        # 6. Prometheus stopped: the heartbeats stop
        prom = _proc(stack, "prometheus")
        prom.popen.send_signal(signal.SIGTERM)
        prom.popen.wait(20)
        stopped = time.monotonic()
        await until(
            "heartbeats to stop",
            lambda: time.monotonic() - max(sink.beats) > 4 * HEARTBEAT_EVERY,
            60,
        )
        timings["prometheus_stop_to_silence_s"] = max(sink.beats) - stopped
    print(f"offline path timings: {timings}")
