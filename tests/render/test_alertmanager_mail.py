"""The monitor's own alerts mailed by the real Alertmanager (the path that does not need our
process) to a real SMTP server on loopback: Indonesian subject and text, and a "Panduan" link
that is the inventory's runbook with the alert's anchor (Alertmanager's template expands it)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path

import pytest

from monitor.inventory import load_config
from monitor.render.alertmanager import RenderOptions, render_alertmanager
from tests.render.amserver import ALERTMANAGER, eventually, start_alertmanager
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager missing")

WIKI = "https://wiki.diskominfo.paserkab.example.id/mpp-monitor/runbook"
INVENTORY = """\
{runbook}
sites:
  - id: paser
    name: MPP Paser
    network_team: kominfo
    teams:
      - id: kominfo
        name: Diskominfo
        channels: [{{kind: email, to: noc@kominfo.example.id}}]
    links:
      - {{id: telkom, name: Telkom, provider: Telkom, anchors: [{{address: 127.0.0.1}}]}}
"""


def _render(tmp: Path, runbook: str, port: int) -> str:
    inv = tmp / "inv.yaml"
    inv.write_text(INVENTORY.format(runbook=runbook), encoding="utf-8")
    opts = RenderOptions(
        notifier_url="http://127.0.0.1:9",  # nothing listens: the mail must not need it
        smtp_smarthost=f"127.0.0.1:{port}",
        smtp_from="mpp-monitor@paserkab.example.id",
        group_wait="0s",
        holiday_years=(2026,),
    )
    return render_alertmanager(load_config(inv).inventory, opts)


def _post_monitor_down(url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    alert = {
        "labels": {"alertname": "MppMonitorDown", "site": "paser", "team": "kominfo",
                   "severity": "critical"},
        "annotations": {
            "summary": "mpp-monitor tidak dapat di-scrape",
            "description": "Prometheus tidak dapat membaca /metrics dari mpp-monitor.",
            "summary_en": "mpp-monitor cannot be scraped",
            "runbook_url": "/runbook#mppmonitordown",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    req = urllib.request.Request(
        url + "/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    ("runbook", "link"),
    [
        (f"runbook_url: {WIKI}", f"Panduan: {WIKI}#mppmonitordown"),
        ("public_url: https://status.mpp.example.id/", "Panduan: https://status.mpp.example.id/runbook#mppmonitordown"),
        ("", None),
    ],
    ids=["runbook_url", "public_url", "none"],
)  # fmt: skip
def test_monitor_down_is_mailed_in_indonesian_with_the_runbook_link(
    tmp_path: Path, runbook: str, link: str | None
) -> None:
    with smtp_server() as (box, port):
        config = _render(tmp_path, runbook, port)
        with start_alertmanager(config, tmp_path) as am:
            _post_monitor_down(am.url)
            eventually("the mail", lambda: bool(box.messages), timeout=30)
    envelope, mail = box.messages[0]
    assert envelope.rcpt_tos == ["noc@kominfo.example.id"]
    assert mail["Subject"] == "[mpp-monitor] KRITIS: mpp-monitor tidak dapat di-scrape"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "GANGGUAN: mpp-monitor tidak dapat di-scrape" in text, text
    assert "/runbook#mppmonitordown" not in text.replace(str(link), ""), text
    if link is None:
        assert "Panduan" not in text, text
    else:
        assert link in text.splitlines(), text
    assert "github.com" not in text
