"""FAULTS.md, Configuration: a broken file at start and on reload, an interval changed on reload."""

from __future__ import annotations

import itertools
import logging
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.inventory import load_plan
from monitor.service import Service
from monitor.web.app import Reloader
from tests.runtime.helpers import FakeProbes, ResultWatcher

from .conftest import Serve, fetch, free_port, samples

ROOT = Path(__file__).resolve().parents[2]

FAST = """\
defaults: {interval: 300ms, timeout: 100ms}
sites:
  - id: t
    name: Test
    teams: [{id: kominfo, name: Kominfo}]
    infrastructure:
      - {id: sw-a, name: Switch A, kind: switch, address: 127.0.0.1, checks: ["tcp:9"]}
      - {id: sw-b, name: Switch B, kind: switch, address: 127.0.0.1, checks: ["tcp:9"]}
"""
A = "t/infra/sw-a/tcp-9"
B = "t/infra/sw-b/tcp-9"


def test_run_with_a_yaml_syntax_error_exits_1_before_probing(tmp_path: Path) -> None:
    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen()
    canary.setblocking(False)
    port = canary.getsockname()[1]
    bad = tmp_path / "inventory.yaml"
    # a target on the canary first, the syntax error on the last line
    bad.write_text(
        FAST.replace('checks: ["tcp:9"]', f'checks: ["tcp:{port}"]') + '      - {id: "sw-c\n'
    )
    listen = free_port()
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--config",
                str(bad),
                "--listen",
                f"127.0.0.1:{listen}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert out.returncode == 1, out.stderr
        assert "Traceback" not in out.stderr
        first = out.stderr.splitlines()[0]
        assert re.match(rf"{re.escape(str(bad))}:\d+:\d+: YAML syntax error: ", first), first
        with pytest.raises(BlockingIOError):
            canary.accept()  # nothing was probed
    finally:
        canary.close()


async def test_a_bad_reload_logs_why_and_the_old_plan_keeps_probing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(FAST)
    fake = FakeProbes()
    svc = Service(probes=fake.table())
    watcher = ResultWatcher()
    svc.listeners.append(watcher)
    try:
        plan = load_plan(path)
        await svc.apply_plan(plan)
        reloader = Reloader(svc, path)
        path.write_text(FAST.replace("kind: switch, address: 127.0.0.1", "kind: switch, adress: x"))
        with caplog.at_level(logging.INFO):
            errors = await reloader.reload()
        assert errors and all(e.startswith(f"{path}:") for e in errors)
        assert any("unknown field 'adress'" in e for e in errors), errors
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(logged) == 1
        message = logged[0].getMessage()
        assert "keeping the previous one" in message
        assert re.search(rf"{re.escape(str(path))}:\d+:\d+: .*adress", message), message
        assert svc.registry.get_sample_value("mpp_config_last_reload_successful") == 0
        assert svc.plan is plan
        n = {t: len(watcher.of(t)) for t in (A, B)}
        await watcher.wait_for(lambda: all(len(watcher.of(t)) >= n[t] + 2 for t in (A, B)))
    finally:
        await svc.stop()


async def test_reload_changing_an_interval_replans_one_job_and_keeps_other_counters(
    serve: Serve,
) -> None:
    fake = FakeProbes()
    served = await serve(FAST, probes=fake.table())
    svc, watcher = served.service, served.watcher
    await watcher.wait_for(lambda: all(len(watcher.of(t)) >= 3 for t in (A, B)))
    assert served.inventory is not None
    served.inventory.write_text(
        FAST.replace(
            'id: sw-a, name: Switch A, kind: switch, address: 127.0.0.1, checks: ["tcp:9"]',
            "id: sw-a, name: Switch A, kind: switch, address: 127.0.0.1,"
            " checks: [{probe: tcp, port: 9, interval: 1s, timeout: 100ms}]",
        )
    )
    b_runs = svc.state.target_state(B).runs
    a_runs = svc.state.target_state(A).runs
    status, _, body = await fetch(served.url + "-/reload", method="POST")
    assert status == 200, body
    reloaded = len(watcher.results)
    assert sorted(svc.scheduler.job_ids()) == [A, B]  # one job each
    assert svc.scheduler.job_interval(A) == pytest.approx(1.0)
    assert svc.scheduler.job_interval(B) == pytest.approx(0.3)
    # unchanged B and interval-only-changed A keep their counters
    assert svc.state.target_state(B).runs >= b_runs
    assert svc.state.target_state(A).runs >= a_runs
    await watcher.wait_for(lambda: len(watcher.of(A)) >= a_runs + 3, timeout=10)
    after = [wall for t, _, wall in watcher.results[reloaded:] if t.id == A]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    # the new 1 s timetable, and no second job still running at 0.3 s
    assert gaps and all(g >= 0.7 for g in gaps), gaps
    b_after = [wall for t, _, wall in watcher.results[reloaded:] if t.id == B]
    assert len(b_after) >= 2 * len(after)  # B went on at 0.3 s meanwhile
    _, _, text = await fetch(served.url + "metrics")
    runs = samples(text, "mpp_probe_runs_total")
    assert runs[B] >= b_runs + len(b_after)  # counted on from before the reload
    assert runs[A] >= a_runs + len(after)


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("{kind: email, to: siak-at-disdukcapil}", "invalid e-mail address 'siak-at-disdukcapil'"),
        ('{kind: telegram, chat_id: "", token: {env: TG}}', "chat_id: must not be empty"),
        ('{kind: waha, chat_id: "6281100001111"}', "base_url: missing required field"),
    ],
)
async def test_a_bad_channel_on_reload_keeps_the_old_routing_and_says_so(
    serve: Serve, channel: str, message: str
) -> None:
    """A channel the notifier could not deliver is a config error on reload, not a silent 404."""
    hooked = FAST.replace(
        "teams: [{id: kominfo, name: Kominfo}]",
        "teams: [{id: kominfo, name: Kominfo,"
        ' channels: [{kind: webhook, url: "http://127.0.0.1:9/k"}]}]',
    )
    served = await serve(hooked, probes=FakeProbes().table(), with_notifier=True)
    assert served.inventory is not None and served.notifier is not None
    before = served.service.plan
    assert served.notifier.teams() == [("t", "kominfo")]
    served.inventory.write_text(
        hooked.replace('[{kind: webhook, url: "http://127.0.0.1:9/k"}]', f"[{channel}]")
    )
    status, _, body = await fetch(served.url + "-/reload", method="POST")
    assert status == 400
    where = re.escape(str(served.inventory))
    assert re.search(rf"^{where}:\d+:\d+: .*{re.escape(message)}", body, re.M), body
    assert served.service.plan is before
    assert served.service.registry.get_sample_value("mpp_config_last_reload_successful") == 0
    # the notifier still routes the old channel: kominfo's webhook is known, not a 404
    assert served.notifier.teams() == [("t", "kominfo")]
    assert [c.kind for c in served.notifier.channels("t", "kominfo")] == ["webhook"]
