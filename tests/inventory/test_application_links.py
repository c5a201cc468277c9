"""An internet application with no `links` depends on the site's ISP uplinks."""

from __future__ import annotations

import pytest

from monitor.inventory import ConfigError, load_plan

BASE = """\
sites:
  - id: s
    name: S
    teams: [{id: kominfo, name: K}, {id: it-a, name: A}]
    links:
      - {id: isp-1, name: One, anchors: [192.0.2.1]}
      - {id: isp-2, name: Two, anchors: [192.0.2.2]}
      - {id: vpn, name: VPN, kind: vpn, team: it-a, anchors: [198.51.100.1]}
    infrastructure:
      - {id: sw, name: SW, kind: switch, address: 10.0.0.2}
    agencies:
      - id: a
        name: A
        team: it-a
        applications:
APPS
"""


def plan_for(apps: str):  # type: ignore[no-untyped-def]
    return load_plan("inv.yaml", BASE.replace("APPS", apps))


def test_no_links_means_the_isp_uplinks() -> None:
    plan = plan_for("          - {id: web, name: W, url: 'https://a.example.id/'}")
    assert plan.entities["s/application/a-web"].depends_on == ("s/link/isp-1", "s/link/isp-2")


def test_explicit_links_are_kept() -> None:
    plan = plan_for("          - {id: web, name: W, url: 'https://a.example.id/', links: [vpn]}")
    assert plan.entities["s/application/a-web"].depends_on == ("s/link/vpn",)


def test_local_application_depends_on_its_switch() -> None:
    plan = plan_for(
        "          - {id: q, name: Q, url: 'http://10.0.0.9/', local: true, switch: sw}"
    )
    assert plan.entities["s/application/a-q"].depends_on == ("s/infra/sw",)


def test_waha_channel_needs_its_server() -> None:
    text = BASE.replace("APPS", "          []").replace(
        "{id: it-a, name: A}",
        "{id: it-a, name: A, channels: [{kind: waha, chat_id: '0811111111', "
        "api_key: {env: WAHA}}]}",
    )
    with pytest.raises(ConfigError) as exc:
        load_plan("inv.yaml", text)
    assert "channels[0].base_url: missing required field" in str(exc.value)
