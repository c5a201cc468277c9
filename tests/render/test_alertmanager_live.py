"""The rendered alertmanager.yml in a real Alertmanager 0.25 on loopback: what the site-offline
inhibition holds back, and what still reaches its team's webhook."""

from __future__ import annotations

import time
from pathlib import Path

import bcrypt
import pytest

from monitor.inventory import load_config, load_plan
from monitor.render.alertmanager import RenderOptions, render_alertmanager
from tests.render.amserver import (
    ALERTMANAGER,
    eventually,
    start_alertmanager,
    start_notifier,
    webhook_sink,
)

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


NOTIFY_INVENTORY = """\
sites:
  - id: paser
    name: MPP Paser
    closed_days: {holidays: null}
    teams:
      - {id: kominfo, name: Diskominfo, channels: [{kind: webhook, url: "SINK/hook/kominfo"}]}
      - {id: it-bpjs, name: IT BPJS, channels: [{kind: webhook, url: "SINK/hook/it-bpjs"}]}
"""
PASSWORD = "rahasia-am-2026"


def _notify_setup(tmp_path: Path, sink_url: str) -> tuple[Path, Path, Path]:
    inv = tmp_path / "inv.yaml"
    inv.write_text(NOTIFY_INVENTORY.replace("SINK", sink_url))
    web = tmp_path / "web.yml"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web.write_text(f"basic_auth_users:\n  alertmanager: '{hashed}'\n")
    secret = tmp_path / "notifier.pass"
    secret.write_text(PASSWORD + "\n")
    return inv, web, secret


def _am_options(notifier_url: str, **kw: str) -> RenderOptions:
    return RenderOptions(
        notifier_url=notifier_url, off_hours="all", group_wait="1s", group_interval="1s", **kw
    )


@needs_am
def test_alertmanager_delivers_to_the_notifier_behind_basic_auth(tmp_path: Path) -> None:
    with webhook_sink() as (sink, sink_url):
        inv, web, secret = _notify_setup(tmp_path, sink_url)
        with start_notifier(inv, tmp_path, "--web.config", str(web)) as notifier:
            opts = _am_options(
                notifier.url, notifier_user="alertmanager", notifier_password_file=str(secret)
            )
            text = render_alertmanager(load_config(inv).inventory, opts)
            assert PASSWORD not in text and "password_file:" in text
            with start_alertmanager(text, tmp_path) as am:
                am.post_alerts(
                    _alert("MppApplicationDown", "it-bpjs", "internet", "bpjs-vclaim"),
                    # a team the inventory does not know: Kominfo is told, and told so
                    _alert("MppApplicationDown", "it-typo", "internet", "x-app"),
                )
                eventually(
                    "both messages delivered through the notifier",
                    lambda: {"/hook/it-bpjs", "/hook/kominfo"} <= set(sink.paths()),
                )
        by_path = {d.path: d.body for d in sink.received}
        assert "tim it-typo TIDAK DIKENAL" in by_path["/hook/kominfo"]["text"]
        assert "TIDAK DIKENAL" not in by_path["/hook/it-bpjs"]["text"]


@needs_am
def test_without_credentials_the_notifier_refuses_alertmanager(tmp_path: Path) -> None:
    with webhook_sink() as (sink, sink_url):
        inv, web, _ = _notify_setup(tmp_path, sink_url)
        with start_notifier(inv, tmp_path, "--web.config", str(web)) as notifier:
            text = render_alertmanager(load_config(inv).inventory, _am_options(notifier.url))
            assert "basic_auth" not in text
            with start_alertmanager(text, tmp_path) as am:
                am.post_alerts(_alert("MppApplicationDown", "it-bpjs", "internet", "bpjs-vclaim"))
                log = tmp_path / "alertmanager.log"
                eventually("Alertmanager told 401", lambda: "401" in log.read_text())
        assert sink.paths() == []


def test_render_refuses_half_the_credentials(tmp_path: Path) -> None:
    import subprocess
    import sys

    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "render",
            "alertmanager",
            "--config",
            str(inv),
            "--notifier-user",
            "alertmanager",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "give both --notifier-user and --notifier-password-file" in proc.stderr


@pytest.mark.parametrize(
    ("host", "auth", "warned"),
    [
        ("0.0.0.0", False, True),
        ("10.20.0.5", False, True),
        ("::", False, True),
        ("10.20.0.5", True, False),
        ("127.0.0.1", False, False),
        ("::1", False, False),
    ],
)
def test_start_up_warns_of_an_open_webhook_beyond_loopback(
    host: str, auth: bool, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    from monitor.commands.run import warn_open_webhook
    from monitor.web.config import WebConfig

    cfg = WebConfig(users={"alertmanager": b"$2b$04$" + b"x" * 53} if auth else {})
    with caplog.at_level("WARNING"):
        assert warn_open_webhook(host, cfg) is warned
    assert ("without basic auth" in caplog.text) is warned
    assert PASSWORD not in caplog.text


@needs_am
def test_the_notifier_on_loopback_does_not_warn(tmp_path: Path) -> None:
    with webhook_sink() as (_, sink_url):
        inv, _, _ = _notify_setup(tmp_path, sink_url)
        with start_notifier(inv, tmp_path) as notifier:
            assert "without basic auth" not in notifier.output()
