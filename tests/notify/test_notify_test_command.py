"""`mpp-monitor notify-test`: a marked test message through a real Alertmanager and notifier.

Real processes on loopback: ``mpp-monitor notify`` (the notifier), Debian's Alertmanager with
the rendered config, and the recording sink of tests/e2e standing in for the gateways.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from ruamel.yaml import YAML

from tests.e2e.harness import ALERTMANAGER_BIN, Processes, eventually
from tests.e2e.sink import Sink
from tests.web.helpers import free_port

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.yaml"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(ALERTMANAGER_BIN) is None, reason="no Alertmanager"),
]


@dataclass
class Stack:
    inventory: Path
    notifier: str
    alertmanager: str
    sink: Sink


def inventory(path: Path, sink: Sink) -> Path:
    """The demo inventory, with two webhook channels for kominfo and a broken one for dpmptsp."""
    yaml = YAML()
    data = yaml.load(DEMO.read_text())
    for team in data["sites"][0]["teams"]:
        if team["id"] == "kominfo":
            team["channels"] = [
                {"kind": "webhook", "name": "grup", "url": sink.url("/hook/kominfo")},
                {"kind": "webhook", "name": "cadangan", "url": sink.url("/hook/kominfo-2")},
            ]
        if team["id"] == "dpmptsp":  # the sink has no such path: 404, not retried
            team["channels"] = [{"kind": "webhook", "url": sink.url("/nowhere/dpmptsp")}]
    with path.open("w") as f:
        yaml.dump(data, f)
    return path


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
    )  # fmt: skip


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    procs = Processes(tmp_path)
    async with Sink() as sink:
        inv = inventory(tmp_path / "inv.yaml", sink)
        notify_port, am_port = free_port(), free_port()
        notifier = f"http://127.0.0.1:{notify_port}"
        am = f"http://127.0.0.1:{am_port}"
        rendered = cli(
            "render", "alertmanager", "--config", str(inv), "--notifier-url", notifier,
            "--group-wait", "1s", "--out", str(tmp_path / "am.yml"),
        )  # fmt: skip
        assert rendered.returncode == 0, rendered.stderr
        try:
            n = procs.start(
                "notify",
                [sys.executable, "-m", "monitor", "notify", "--config", str(inv),
                 "--listen", f"127.0.0.1:{notify_port}", "--outbox", ":memory:"],
            )  # fmt: skip
            a = procs.start(
                "alertmanager",
                [ALERTMANAGER_BIN, f"--config.file={tmp_path / 'am.yml'}",
                 f"--storage.path={tmp_path / 'am-data'}",
                 f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            )  # fmt: skip

            def alive() -> None:
                n.check_alive()
                a.check_alive()

            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:

                async def ready(url: str) -> tuple[bool, str]:
                    async with http.get(url) as r:
                        return r.status == 200, str(r.status)

                await eventually(
                    "notifier", lambda: ready(notifier + "/-/healthy"), 30, alive=alive
                )
                await eventually("alertmanager", lambda: ready(am + "/-/ready"), 30, alive=alive)
            yield Stack(inv, notifier, am, sink)
        finally:
            procs.close()


def notify_test(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(
        "notify-test", "--config", str(stack.inventory), "--alertmanager", stack.alertmanager,
        "--notifier", stack.notifier, "--wait", "60", *args,
    )  # fmt: skip


async def test_through_alertmanager_every_channel_gets_a_marked_message(stack: Stack) -> None:
    done = await asyncio.to_thread(notify_test, stack, "--team", "kominfo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "grup: terkirim" in done.stdout and "cadangan: terkirim" in done.stdout
    got = {(r.team, r.status) for r in stack.sink.received}
    assert ("kominfo", "firing") in got and ("kominfo-2", "firing") in got
    bodies = [r for r in stack.sink.received if r.team.startswith("kominfo")]
    # The sink keeps Alertmanager's payload as the notifier forwarded it: the test alert.
    assert all("MppNotifyTest" in r.alertnames() for r in bodies), [r.summary() for r in bodies]
    assert all("[UJI] Pesan uji" in r.text for r in bodies), [r.text for r in bodies]


async def test_one_channel_direct_to_the_notifier(stack: Stack) -> None:
    done = await asyncio.to_thread(notify_test, stack, "--team", "kominfo", "--channel", "cadangan")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cadangan: terkirim" in done.stdout and "grup" not in done.stdout
    assert {r.team for r in stack.sink.received} == {"kominfo-2"}


async def test_a_broken_channel_is_reported_and_fails_the_command(stack: Stack) -> None:
    done = await asyncio.to_thread(notify_test, stack, "--team", "dpmptsp", "--direct")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "webhook: failed" in done.stdout
    assert stack.sink.received == []


def test_an_unknown_channel_or_team_is_refused_before_sending(tmp_path: Path) -> None:
    done = cli("notify-test", "--config", str(DEMO), "--team", "kominfo", "--channel", "x")
    assert done.returncode == 2 and "has no channel 'x'" in done.stderr
    done = cli("notify-test", "--config", str(DEMO), "--team", "nobody")
    assert done.returncode == 2 and "team 'nobody': 0 sites" in done.stderr
