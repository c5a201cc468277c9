"""`mpp-monitor notify`: the notifier as its own process, with the outbox on disk.

Real processes on loopback: the webhook answers only after the message is on disk, a
``kill -9`` while the gateway is unreachable loses nothing and duplicates nothing, one
notifier per outbox, a bad reload keeps the channels, and ``run --no-notify`` serves no
webhook."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.notify.gateways import FakeGateway, alert, closed_port_url, group
from tests.support.exposition import metric_samples
from tests.web.helpers import DEMO, Proc, free_port, monitor_cmd, start_monitor

INVENTORY = """\
sites:
  - id: paser
    name: MPP Kabupaten Paser
    timezone: Asia/Makassar
    teams:
      - id: kominfo
        name: Diskominfo
        channels: [{kind: webhook, url: "GW/hook/kominfo"}]
"""


class Notify:
    """One `mpp-monitor notify` process on a free port."""

    def __init__(self, inventory: Path, outbox: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = Proc(
            monitor_cmd(
                "notify",
                "--config",
                str(inventory),
                "--outbox",
                str(outbox),
                "--listen",
                f"127.0.0.1:{self.port}",
            )
        )

    async def started(self) -> Notify:
        await asyncio.to_thread(self.proc.wait_output, "mpp-monitor notify: webhook", 20)
        return self

    async def post(self, body: object, team: str = "kominfo") -> int:
        async with aiohttp.ClientSession() as s:
            url = f"{self.url}/api/v1/alerts/webhook/{team}"
            async with s.post(url, json=body) as resp:
                return resp.status

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as s, s.get(f"{self.url}/metrics") as resp:
            assert resp.status == 200
            return await resp.text()

    async def settled(self) -> str:
        """/metrics once nothing waits in the outbox (the process records each outcome after
        the gateway answered, so a scrape right after the delivery may be a moment early)."""
        async with asyncio.timeout(20):
            while True:
                text = await self.metrics()
                if sum(metric_samples(text, "mpp_notifier_outbox_messages").values()) == 0:
                    return text
                await asyncio.sleep(0.05)


def _inventory(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(INVENTORY.replace("GW", base))
    return path


def _down(minute: int) -> dict[str, object]:
    return group(
        alert(team="kominfo", starts=f"2025-11-29T02:{minute:02d}:00Z", severity="critical"),
        team="kominfo",
    )


async def test_delivers_and_exports_its_own_metrics(tmp_path: Path, gw: FakeGateway) -> None:
    n = await Notify(_inventory(tmp_path, gw.url), tmp_path / "outbox.sqlite").started()
    try:
        assert await n.post(_down(3)) == 202
        got = await gw.next(timeout=20)
        assert got.path == "/hook/kominfo" and "KRITIS" in got.json["text"]
        text = await n.settled()
        sent = metric_samples(text, "mpp_notifier_messages_total")
        key = '{"channel": "webhook", "result": "sent", "team": "kominfo"}'
        assert sent[key] == 1
        depth = metric_samples(text, "mpp_notifier_outbox_messages")
        assert depth == {'{"channel": "webhook", "team": "kominfo"}': 0.0}
        assert metric_samples(text, "mpp_config_last_reload_successful") == {"{}": 1.0}
        assert "mpp_target_status" not in text  # the prober's families are not here
    finally:
        n.proc.close()


async def test_kill_9_while_offline_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, gw: FakeGateway
) -> None:
    outbox = tmp_path / "outbox.sqlite"
    offline = _inventory(tmp_path, closed_port_url())  # the gateway is beyond a cut uplink
    first = await Notify(offline, outbox).started()
    try:
        for minute in (3, 4, 5):
            assert await first.post(_down(minute)) == 202  # 2xx: on disk
        waiting = metric_samples(await first.metrics(), "mpp_notifier_outbox_messages")
        assert sum(waiting.values()) == 3
        first.proc.stop(signal.SIGKILL)
    finally:
        first.proc.close()
    online = tmp_path / "online.yaml"
    online.write_text(INVENTORY.replace("GW", gw.url))
    second = await Notify(online, outbox).started()
    try:
        got = [await gw.next(timeout=20) for _ in range(3)]
        assert [g.json["alerts"][0]["startsAt"][14:16] for g in got] == ["03", "04", "05"]
        text = await second.settled()
        sent = metric_samples(text, "mpp_notifier_messages_total")
        assert sent['{"channel": "webhook", "result": "sent", "team": "kominfo"}'] == 3
        assert len(gw.attempts) == 3  # no duplicate
    finally:
        second.proc.close()


async def test_one_notifier_per_outbox(tmp_path: Path, gw: FakeGateway) -> None:
    inv = _inventory(tmp_path, gw.url)
    first = await Notify(inv, tmp_path / "outbox.sqlite").started()
    second = Notify(inv, tmp_path / "outbox.sqlite")
    try:
        rc = await asyncio.to_thread(second.proc.p.wait, 20)
        assert rc == 1
        assert "in use by another notifier (pid" in second.proc.stderr
        assert first.proc.alive()
    finally:
        second.proc.close()
        first.proc.close()


async def test_a_bad_reload_keeps_the_channels(tmp_path: Path, gw: FakeGateway) -> None:
    inv = _inventory(tmp_path, gw.url)
    n = await Notify(inv, tmp_path / "outbox.sqlite").started()
    try:
        inv.write_text(INVENTORY.replace('"GW/hook/kominfo"', '"ftp://x/y"'))
        async with aiohttp.ClientSession() as s, s.post(f"{n.url}/-/reload") as resp:
            assert resp.status == 400
            assert "invalid URL" in await resp.text()
        text = await n.metrics()
        assert metric_samples(text, "mpp_config_last_reload_successful") == {"{}": 0.0}
        assert await n.post(_down(7)) == 202
        assert (await gw.next(timeout=20)).path == "/hook/kominfo"
    finally:
        n.proc.close()


def test_run_no_notify_serves_no_webhook() -> None:
    proc, http, _ = start_monitor(DEMO, "--no-notify")
    try:
        status, _, _ = http.request("/api/v1/alerts/webhook/kominfo", method="POST", body={})
        assert status == 404
        status, _, body = http.get("/metrics")
        assert status == 200 and "mpp_notifier_messages_total" not in body
    finally:
        proc.close()


@pytest.mark.parametrize(
    ("ttl", "message"),
    [("5s", "'5s': between 1m and 30d"), ("soon", "invalid duration 'soon'")],
)
def test_a_bad_message_ttl_is_refused(tmp_path: Path, ttl: str, message: str) -> None:
    import subprocess

    inv = _inventory(tmp_path, "http://127.0.0.1:9")
    proc = subprocess.run(
        monitor_cmd("notify", "--config", str(inv), "--message-ttl", ttl),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
