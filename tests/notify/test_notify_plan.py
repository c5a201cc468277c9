"""The notifier built from a real inventory plan, following reloads, mounted with install()."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.inventory import load_plan
from monitor.notify.messages import AlertGroup
from monitor.notify.notifier import Notifier, NotifierSettings
from monitor.notify.webhook import mount
from monitor.plan import Plan
from tests.notify.gateways import FakeGateway, alert, group

INVENTORY = """\
sites:
  - id: paser
    name: MPP Kabupaten Paser
    teams:
      - id: kominfo
        name: Diskominfo
        channels: [{kind: webhook, url: "GW/hook/kominfo"}]
      - id: it-bpjs
        name: IT BPJS
        channels: [{kind: webhook, url: "GW/hook/bpjs-1"}]
    links:
      - {id: isp-a, name: Telkom Astinet, anchors: [192.0.2.1]}
    agencies:
      - {id: bpjs-kesehatan, name: BPJS Kesehatan, team: it-bpjs}
"""


def _plan(tmp_path: Path, gw: FakeGateway, text: str = INVENTORY) -> Plan:
    path = tmp_path / "inv.yaml"
    path.write_text(text.replace("GW", gw.url))
    return load_plan(path)


async def test_install_mounts_the_webhook_and_runs_the_workers(
    tmp_path: Path, gw: FakeGateway
) -> None:
    plan = _plan(tmp_path, gw)
    n = Notifier(plan_source=lambda: plan, settings=NotifierSettings(backoff_base=0.001))
    assert n.stats[("it-bpjs", "webhook", "sent")] == 0
    app = web.Application()
    mount(app, n)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        resp = await client.post(
            "/api/v1/alerts/webhook/it-bpjs?site=paser",
            json=group(alert(team="it-bpjs"), team="it-bpjs"),
        )
        assert resp.status == 202
        got = await gw.next()
    finally:
        await client.close()  # stops the workers too
    assert got.path == "/hook/bpjs-1"
    text = got.json["text"]
    assert "Lokasi: MPP Kabupaten Paser · Gerai 07 · BPJS Kesehatan" in text
    assert "Penanggung jawab: tim IT BPJS" in text
    assert n.stats[("it-bpjs", "webhook", "sent")] == 1


async def test_a_reload_changes_the_routing(
    tmp_path: Path, gw: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    current = {"plan": _plan(tmp_path, gw)}
    n = Notifier(plan_source=lambda: current["plan"], settings=NotifierSettings())
    await n.start()
    try:
        g = AlertGroup.model_validate(group(alert(team="it-bpjs"), team="it-bpjs"))
        n.submit(g, team="it-bpjs")
        assert (await gw.next()).path == "/hook/bpjs-1"
        # reload: BPJS gets a second, named channel
        current["plan"] = _plan(
            tmp_path,
            gw,
            INVENTORY.replace(
                'channels: [{kind: webhook, url: "GW/hook/bpjs-1"}]',
                'channels: [{kind: webhook, url: "GW/hook/bpjs-1"},'
                ' {kind: webhook, url: "GW/hook/bpjs-2"}]',
            ),
        )
        assert n.stats[("it-bpjs", "webhook-2", "sent")] == 0
        assert n.submit(g, team="it-bpjs").messages == 2
        await n.join()
        assert sorted(r.path for r in gw.attempts[1:]) == ["/hook/bpjs-1", "/hook/bpjs-2"]
        await n.join()
    finally:
        await n.stop()
