"""The rendered alertmanager.yml in a real Alertmanager 0.25 on loopback: what the site-offline
inhibition holds back, and what still reaches its team's webhook."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from monitor.inventory import load_config, load_plan
from monitor.render.alertmanager import RenderOptions, render_alertmanager
from tests.render.amserver import ALERTMANAGER, eventually, start_alertmanager, webhook_sink

ROOT = Path(__file__).resolve().parents[2]
PASER = ROOT / "examples" / "mpp-paser.yaml"

needs_am = pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager missing")

INVENTORY = """\
sites:
  - id: paser
    name: MPP Paser
    closed_days: {holidays: null}
    teams:
      - {id: kominfo, name: Diskominfo, channels: [{kind: webhook, url: "http://127.0.0.1:9/k"}]}
      - {id: dpmptsp, name: DPMPTSP, channels: [{kind: webhook, url: "http://127.0.0.1:9/d"}]}
      - id: it-dukcapil
        name: IT Dukcapil
        channels: [{kind: webhook, url: "http://127.0.0.1:9/c"}]
      - {id: it-bpjs, name: IT BPJS, channels: [{kind: webhook, url: "http://127.0.0.1:9/b"}]}
"""


def test_via_label_says_how_each_application_is_reached() -> None:
    plan = load_plan(PASER)
    via = {e.id: e.labels["via"] for e in plan.entities.values()}
    assert via["paser/application/mpp-antrian"] == "local"
    assert via["paser/application/dukcapil-siak"] == "dukcapil-siak"  # its own VPN
    assert via["paser/application/bpjs-kes-vclaim"] == "internet"
    assert via["paser/link/telkom"] == "internet"
    assert via["paser/link/dukcapil-siak"] == "dukcapil-siak"


def _alert(name: str, team: str, via: str, entity: str) -> dict[str, str]:
    return {
        "alertname": name,
        "severity": "critical",
        "site": "paser",
        "team": team,
        "kind": "application",
        "entity": f"paser/application/{entity}",
        "via": via,
    }


@needs_am
def test_site_offline_holds_back_only_what_it_explains(tmp_path: Path) -> None:
    inv_file = tmp_path / "inv.yaml"
    inv_file.write_text(INVENTORY)
    inv = load_config(inv_file).inventory
    with webhook_sink() as (sink, url):
        text = render_alertmanager(
            inv,
            RenderOptions(notifier_url=url, off_hours="all", group_wait="1s", group_interval="1s"),
        )
        with start_alertmanager(text, tmp_path) as am:
            offline = {
                "alertname": "MppSiteOffline",
                "severity": "critical",
                "site": "paser",
                "team": "kominfo",
            }
            am.post_alerts(offline)
            eventually("MppSiteOffline held", lambda: len(am.alerts()) == 1)
            am.post_alerts(
                _alert("MppApplicationDown", "dpmptsp", "local", "mpp-antrian"),
                _alert("MppApplicationDown", "it-dukcapil", "dukcapil-siak", "dukcapil-siak"),
                _alert("MppApplicationDown", "it-bpjs", "internet", "bpjs-vclaim"),
            )

            def teams_told() -> set[str]:
                return {p.split("?")[0].rsplit("/", 1)[-1] for p in sink.paths()}

            # local app down during site offline -> notified; VPN app -> notified
            eventually(
                "kominfo, dpmptsp and it-dukcapil notified",
                lambda: {"kominfo", "dpmptsp", "it-dukcapil"} <= teams_told(),
            )
            # ISP-reached app -> held back (the outage explains it)
            time.sleep(3)
            assert "it-bpjs" not in teams_told()
            status = {
                a["labels"]["team"]: (a["status"]["state"], bool(a["status"]["inhibitedBy"]))
                for a in am.alerts()
            }
            assert status["it-bpjs"] == ("suppressed", True)
            assert status["dpmptsp"] == ("active", False)
            assert status["it-dukcapil"] == ("active", False)
