"""End to end in namespaces: the building loses both uplinks, and on-call still hears it.

The namespace network of ``topology.py``; the WhatsApp gateway (a sink run with
``python -m tests.e2e.sink``) sits in the **internet** namespace, so it is reachable only
through the uplinks, as WAHA, Fonnte and Telegram are. In the monitor's namespace: the monitor
with its notifier and a durable outbox, a real Prometheus (committed rules, ``for:``
shortened), a real Alertmanager, and a real ``gammu-smsd`` on gammu's dummy phone.

Both uplinks cut (carrier lost) -> Kominfo's SMS "offline" is in ``sent/``; the WhatsApp
message waits in the outbox; the monitor (and its notifier) is killed with SIGKILL and started
again mid-outage (no second SMS); uplinks back -> Kominfo's WhatsApp gets the outage once, as
"PULIH" with its span, and the SMS "PULIH" follows. Nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.render.smsd import dummy_smsd, sent_messages
from tests.e2e import harness as H
from tests.e2e import topology as T
from tests.e2e.sink import Sink, read_log
from tests.netns import why_no_netns

pytestmark = [
    pytest.mark.slow,
    pytest.mark.netns,
    pytest.mark.skipif(why_no_netns() is not None, reason=str(why_no_netns())),
]

GATEWAY = f"{T.APP_ADDRESS}:9998"  # in the internet namespace, beyond the uplinks
GAMMU_SMSD = "/usr/bin/gammu-smsd"
OUTAGE_S = min(900.0, float(os.environ.get("MPP_E2E_OUTAGE_S", "3")))


async def _until(what: str, check: Any, timeout: float, alive: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def _site_offline(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (a["status"], a.get("startsAt", ""))
        for m in messages
        for a in m.get("alerts", [])
        if a.get("labels", {}).get("alertname") == "MppSiteOffline"
    ]


async def _main(net: T.MppNet, tmp: Path, report: dict[str, Any]) -> None:
    procs = H.Processes(tmp)
    http = H.Http()
    smsdrc, spool = dummy_smsd(tmp)
    gateway_log = tmp / "gateway.jsonl"
    inv = H.inventory(H.SINK_PORT)
    kominfo = next(t for t in inv["sites"][0]["teams"] if t["id"] == "kominfo")
    kominfo["channels"] = [
        {"kind": "webhook", "url": f"http://{GATEWAY}/hook/kominfo"},
        {"kind": "sms", "to": "0812-3456-7890", "smsd_config": str(smsdrc)},
    ]
    outbox = tmp / "outbox.sqlite"
    try:
        with contextlib.ExitStack() as stack_cm:
            async with Sink(port=H.SINK_PORT):  # the other teams' chats (not used here)
                procs.start("gammu-smsd", [GAMMU_SMSD, "-c", str(smsdrc)])
                procs.start(
                    "gateway",
                    ["ip", "netns", "exec", net.inet.name, sys.executable, "-m",
                     "tests.e2e.sink", "--listen", GATEWAY, "--log", str(gateway_log)],
                )  # fmt: skip
                stack = await H.start_stack(
                    net,
                    tmp,
                    procs,
                    http,
                    stack_cm,
                    inventory_data=inv,
                    monitor_args=("--outbox", str(outbox)),
                )
                try:
                    await _scenario(net, stack, procs, spool, gateway_log, report)
                except BaseException:
                    print(await stack.diagnostics(str(read_log(gateway_log))), flush=True)
                    raise
    finally:
        await http.close()
        procs.close()


async def _scenario(
    net: T.MppNet,
    stack: H.Stack,
    procs: H.Processes,
    spool: Path,
    gateway_log: Path,
    report: dict[str, Any],
) -> None:
    async def internet() -> bool:
        st = await stack.status()
        return bool(st["sites"][0].get("internet_up"))

    await _until("the internet up", internet, 60, stack.alive)
    # both uplinks cut: the WhatsApp gateway beyond them is unreachable too
    cut = time.monotonic()
    for n in T.UPLINKS:
        net.cut_uplink(n)
    sms = await _until("the 'offline' SMS", lambda: sent_messages(spool), 60, stack.alive)
    report["cut_to_sms_s"] = round(time.monotonic() - cut, 1)
    assert sms[0][0] == "+6281234567890" and sms[0][1].startswith("KRITIS: "), sms

    async def queued() -> bool:  # Alertmanager's MppSiteOffline is in the outbox
        text = await stack.http.text(stack.monitor_url + "/metrics")
        for line in text.splitlines():
            if (
                line.startswith("mpp_notifier_outbox_messages{")
                and 'team="kominfo"' in line
                and 'channel="webhook"' in line
                and float(line.rsplit(" ", 1)[1]) >= 1
            ):
                return True
        return False

    await _until("the WhatsApp message waiting in the outbox", queued, 60, stack.alive)
    # the monitor, notifier inside, killed mid-outage and started again on the same outbox
    monitor = next(p for p in reversed(procs.items) if p.name == "monitor")
    argv = [str(a) for a in monitor.popen.args]  # type: ignore[union-attr]
    monitor.popen.send_signal(signal.SIGKILL)
    monitor.popen.wait(10)
    procs.items.remove(monitor)  # killed on purpose: not a failure to report
    procs.start("monitor", argv, env=H.SECRET_ENV)
    await _until("the monitor back", lambda: stack.http.ok(stack.monitor_url + "/-/ready"), 30)
    await _until("the outage seen again", lambda: _not(internet), 60, stack.alive)
    # the outage goes on (a bounded wait; MPP_E2E_OUTAGE_S=600 for the 10-minute figure)
    await asyncio.sleep(OUTAGE_S)
    assert len(sent_messages(spool)) == 1, sent_messages(spool)
    assert read_log(gateway_log) == []  # nothing got through the cut uplinks
    # heal
    healed = time.monotonic()
    for n in T.UPLINKS:
        net.restore_uplink(n)
    await _until(
        "the PULIH on WhatsApp", lambda: _site_offline(read_log(gateway_log)), 120, stack.alive
    )
    report["heal_to_whatsapp_s"] = round(time.monotonic() - healed, 1)
    await _until("the PULIH SMS", lambda: len(sent_messages(spool)) >= 2, 60, stack.alive)
    await asyncio.sleep(2 * H.GROUP_INTERVAL_S + 1)  # a duplicate would have come by now
    got = read_log(gateway_log)
    assert [s for s, _ in _site_offline(got)] == ["resolved"], [m["text"] for m in got]
    (pulih,) = [m for m in got if _site_offline([m])]
    assert "PULIH" in pulih["text"] and "Gangguan:" in pulih["text"], pulih["text"]
    seen = [
        (a["labels"]["alertname"], a.get("fingerprint"), a.get("startsAt"), a["status"])
        for m in got
        for a in m["alerts"]
    ]
    assert len(seen) == len(set(seen)), f"a message twice: {seen}"
    text = await stack.http.text(stack.monitor_url + "/metrics")
    waiting = [
        ln
        for ln in text.splitlines()
        if ln.startswith("mpp_notifier_outbox_messages{") and float(ln.rsplit(" ", 1)[1]) != 0
    ]
    assert waiting == [], f"left undelivered: {waiting}"  # nothing lost
    report["whatsapp_messages"] = len(got)
    report["whatsapp_alerts"] = len(seen)
    texts = [t for _, t in sent_messages(spool)]
    assert len(texts) == 2 and texts[1].startswith("PULIH: "), texts
    report["sms"] = texts


async def _not(check: Any) -> bool:
    return not await check()


def test_uplinks_cut_sms_outbox_restart_and_one_pulih(tmp_path: Path) -> None:
    H.run_in_network("e2e offline (netns)", _main, tmp_path, 300 + OUTAGE_S)
