"""End to end in namespaces: while the site is offline, only what the outage explains is quiet.

The namespace network of ``topology.py`` with two more applications: the MPP's own queue
system served inside the building (``local: true``, a server on the LAN behind the switch)
and SIAK over Dukcapil's own VPN (the ``vpn`` namespace, a line that does not go through the
uplinks). The
monitor's web server has basic auth (``--web.config``): Alertmanager calls the webhook, and
Prometheus scrapes ``/metrics``, with the credentials ``render`` put in their configuration.

Both uplinks cut -> ``MppSiteOffline`` reaches Kominfo; the two ISP-reached applications are
``unreachable`` and nobody hears about them. Then the local queue system and the VPN
application fail: each owner is notified (DPMPTSP, Dukcapil's IT team) although the site is
offline, because the outage does not explain them. An alert for a team the inventory does not
know (a typo in a rule) reaches the network team, saying so. A webhook call without the
credentials gets 401 and sends nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest

from tests.e2e import harness as H
from tests.e2e import topology as T
from tests.e2e.sink import Received, Sink
from tests.e2e.test_alerting import _why_skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.netns,
    pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip())),
]

USER = "alertmanager"
LOCAL_ADDRESS = "10.64.0.50"  # the queue system's server, on the LAN behind the switch
VPN_LINK = "vpn-dukcapil"
LOCAL_APP = f"{H.SITE}/application/mpp-antrian"
VPN_APP = f"{H.SITE}/application/dukcapil-siak-vpn"
ISP_APPS = (f"{H.SITE}/application/dukcapil-siak", f"{H.SITE}/application/samsat-esamsat")
TYPO_TEAM = "it-disnakr"  # not in the inventory
FIRE_TIMEOUT = 60.0


def scope_inventory() -> dict[str, Any]:
    """The e2e inventory with a local application and an application on an agency's VPN."""
    inv = H.inventory(H.SINK_PORT)
    site = inv["sites"][0]
    site["links"].append(
        {
            "id": VPN_LINK,
            "name": "VPN SIAK (jalur khusus Dukcapil)",
            "provider": "VPN IP Ditjen Dukcapil",
            "kind": "vpn",
            "team": "it-dukcapil",
            "source": T.VPN_SOURCE,
            "anchors": [{"name": "vpn-gw", "address": T.VPN_GATEWAY}],
        }
    )
    dukcapil = next(a for a in site["agencies"] if a["id"] == "dukcapil")
    dukcapil["applications"].append(
        {
            "id": "siak-vpn",
            "name": "SIAK Terpusat (VPN)",
            "url": f"http://{T.VPN_APP_ADDRESS}:{T.APP_PORT}/siak-vpn/health",
            "links": [VPN_LINK],
        }
    )
    site["agencies"].append(
        {
            "id": "mpp",
            "name": "Pengelola MPP",
            "team": "dpmptsp",
            "applications": [
                {
                    "id": "antrian",
                    "name": "Sistem antrian MPP",
                    "url": f"http://{LOCAL_ADDRESS}:{T.APP_PORT}/antrian/health",
                    "local": True,
                    "switch": H.SWITCH_ID,
                }
            ],
        }
    )
    return inv


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _alerts_of(msg: Received, name: str, status: str = "firing") -> list[dict[str, Any]]:
    return [
        a
        for a in msg.alerts
        if a.get("status") == status and a.get("labels", {}).get("alertname") == name
    ]


def _message(sink: Sink, mark: int, to: str, name: str, **labels: str) -> Received | None:
    """The first webhook message to team ``to`` with a firing ``name`` carrying ``labels``."""
    for msg in sink.since(mark, team=to):
        for a in _alerts_of(msg, name):
            if all(a["labels"].get(k) == v for k, v in labels.items()):
                return msg
    return None


async def _main(net: T.MppNet, tmp: Path, report: dict[str, Any]) -> None:
    password = secrets.token_urlsafe(16)
    (tmp / "notifier.pass").write_text(password + "\n", encoding="utf-8")
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    web_yml = tmp / "web.yml"
    web_yml.write_text(f"basic_auth_users:\n  {USER}: '{hashed}'\n", encoding="utf-8")
    auth = ("--notifier-user", USER, "--notifier-password-file", str(tmp / "notifier.pass"))
    procs = H.Processes(tmp)
    http = H.Http(headers={"Authorization": _basic(USER, password)})
    try:
        with contextlib.ExitStack() as stack_cm:
            async with Sink(port=H.SINK_PORT) as sink:
                stack = await H.start_stack(
                    net,
                    tmp,
                    procs,
                    http,
                    stack_cm,
                    inventory_data=scope_inventory(),
                    monitor_args=("--web.config", str(web_yml)),
                    render_args=auth,
                    prometheus_args=auth,
                )
                app_args = ["-m", "tests.e2e.appserver", "--state-dir", str(tmp / "apps")]
                procs.start(
                    "appserver-vpn",
                    ["ip", "netns", "exec", net.vpn.name, sys.executable, *app_args,
                     "--listen", f"{T.VPN_APP_ADDRESS}:{T.APP_PORT}"],
                )  # fmt: skip
                net.gerai.add_address("to-sw", f"{LOCAL_ADDRESS}/24")
                procs.start(
                    "appserver-local",
                    ["ip", "netns", "exec", net.gerai.name, sys.executable, *app_args,
                     "--listen", f"{LOCAL_ADDRESS}:{T.APP_PORT}"],
                )  # fmt: skip
                try:
                    await _scenario(net, stack, sink, tmp, password, report)
                except BaseException:
                    print(await stack.diagnostics(sink.dump()), flush=True)
                    raise
    finally:
        await http.close()
        procs.close()


async def _scenario(
    net: T.MppNet, stack: H.Stack, sink: Sink, tmp: Path, password: str, report: dict[str, Any]
) -> None:
    apps = (LOCAL_APP, VPN_APP, *ISP_APPS)

    async def all_up() -> tuple[bool, Any]:
        st = await stack.entity_statuses()
        links = {x["id"]: x["state"] for x in (await stack.status())["links"]}
        seen = {a: st.get(a) for a in apps} | links
        return all(v == "up" for v in seen.values()), seen

    await H.eventually("every application and link up", all_up, 60, alive=stack.alive)

    # Prometheus scrapes the monitor with the credentials (it would read 401 otherwise)
    async def scraped_with_auth() -> tuple[bool, Any]:
        rows = await stack.prom_query('up{job="mpp-monitor"}')
        return bool(rows) and all(r["value"][1] == "1" for r in rows), rows

    await H.eventually("Prometheus scraping through basic auth", scraped_with_auth, 20)

    # the webhook without credentials: 401, and nothing is sent anywhere
    body = {"receiver": "e2e-kominfo", "status": "firing", "alerts": []}
    async with aiohttp.ClientSession() as anonymous:
        hook = f"{stack.monitor_url}/api/v1/alerts/webhook/e2e-kominfo"
        async with anonymous.post(hook, json=body) as resp:
            assert resp.status == 401, await resp.text()
        wrong = {"Authorization": _basic(USER, password + "x")}
        async with anonymous.post(hook, json=body, headers=wrong) as resp:
            assert resp.status == 401, await resp.text()
    report["webhook_without_auth"] = 401

    # both uplinks cut: the site is offline, Kominfo hears it
    mark = sink.mark()
    cut = time.monotonic()
    for n in T.UPLINKS:
        net.cut_uplink(n)
    offline = await sink.wait_for(
        "MppSiteOffline to kominfo",
        lambda: _message(sink, mark, "kominfo", "MppSiteOffline"),
        FIRE_TIMEOUT,
    )
    report["cut_to_site_offline_s"] = round(offline.at - cut, 1)

    async def isp_apps_unreachable() -> tuple[bool, Any]:
        st = await stack.entity_statuses()
        seen = {a: st.get(a) for a in ISP_APPS}
        return all(v == "unreachable" for v in seen.values()), seen

    await H.eventually("ISP-reached applications unreachable", isp_apps_unreachable, 30)

    # now the queue system (local) and SIAK over the VPN fail, the site still offline
    faults = sink.mark()
    for app in ("antrian", "siak-vpn"):
        (tmp / "apps" / f"{app}.status").write_text("503\n", encoding="utf-8")
    local = await sink.wait_for(
        "MppApplicationDown (local queue system) to dpmptsp",
        lambda: _message(sink, faults, "dpmptsp", "MppApplicationDown", entity=LOCAL_APP),
        FIRE_TIMEOUT,
    )
    vpn = await sink.wait_for(
        "MppApplicationDown (SIAK over the VPN) to it-dukcapil",
        lambda: _message(sink, faults, "it-dukcapil", "MppApplicationDown", entity=VPN_APP),
        FIRE_TIMEOUT,
    )
    assert _alerts_of(local, "MppApplicationDown")[0]["labels"]["via"] == "local"
    assert _alerts_of(vpn, "MppApplicationDown")[0]["labels"]["via"] == VPN_LINK
    assert "Sistem antrian MPP" in local.text and "SIAK Terpusat (VPN)" in vpn.text, (
        local.text,
        vpn.text,
    )

    # an alert for a team the inventory does not know reaches the network team, saying so
    typo = sink.mark()
    amtool = subprocess.run(
        [H.AMTOOL_BIN, "alert", "add", f"--alertmanager.url={stack.am_url}",
         "alertname=MppApplicationDown", f"site={H.SITE}", f"team={TYPO_TEAM}",
         "severity=critical", "kind=application", f"entity={H.SITE}/application/disnaker-siap",
         "--annotation=summary=Aplikasi SIAPkerja (disnaker) tidak dapat diakses"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert amtool.returncode == 0, amtool.stdout + amtool.stderr
    unknown = await sink.wait_for(
        "the unknown team's alert at kominfo",
        lambda: _message(sink, typo, "kominfo", "MppApplicationDown", team=TYPO_TEAM),
        FIRE_TIMEOUT,
    )
    assert "TIDAK DIKENAL" in unknown.text and TYPO_TEAM in unknown.text, unknown.text

    # one group interval more: whatever would leak has come by now
    await asyncio.sleep(2 * H.GROUP_INTERVAL_S + 2 * H.INTERVAL)
    everything = sink.since(mark, channel=None)
    isp_down = [
        m.summary()
        for m in everything
        for a in m.alerts
        if a.get("labels", {}).get("entity") in ISP_APPS
    ]
    assert isp_down == [], f"ISP-reached applications notified while offline: {isp_down}"
    # nothing about the uplinks themselves beyond the site-offline message: it explains them
    uplinks = [
        m.summary()
        for m in everything
        for a in _alerts_of(m, "MppLinkDown")
        if a["labels"].get("link") in {f"isp{n}" for n in T.UPLINKS}
    ]
    assert uplinks == [], f"uplink alerts not held back by MppSiteOffline: {uplinks}"
    # the VPN link itself is up: no alert on it
    assert not [m for m in everything for a in _alerts_of(m, "MppLinkDown")
                if a["labels"].get("link") == VPN_LINK]  # fmt: skip
    am = {
        (a["labels"].get("alertname"), a["labels"].get("entity", a["labels"].get("link", ""))):
            a["status"]
        for a in await stack.am_alerts()
    }  # fmt: skip
    report["alertmanager"] = sorted(f"{k[0]} {k[1]}: {v['state']}" for k, v in am.items())
    report["messages"] = [m.summary() for m in everything]
    report["teams_notified"] = sorted({m.team for m in everything})
    assert {m.team for m in everything if m.channel == "webhook"} == {
        "kominfo",
        "dpmptsp",
        "it-dukcapil",
    }, report["messages"]

    for app in ("antrian", "siak-vpn"):
        (tmp / "apps" / f"{app}.status").unlink()
    for n in T.UPLINKS:
        net.restore_uplink(n)


def test_site_offline_holds_back_only_what_it_explains(tmp_path: Path) -> None:
    H.run_in_network("e2e offline scope (netns)", _main, tmp_path, 360)
