"""Message text: Bahasa Indonesia by default, WITA times, names, resolved "PULIH" (no sockets)."""

from __future__ import annotations

from typing import Any

from monitor.notify.messages import AlertGroup, Formatter, filter_alerts
from tests.notify.gateways import alert, group

NAMES = {
    ("site", "paser"): "MPP Kabupaten Paser",
    ("team", "bpjs"): "IT BPJS Kesehatan",
    ("team", "kominfo"): "Diskominfo Paser",
    ("agency", "bpjs-kesehatan"): "BPJS Kesehatan",
    ("link", "isp-telkom"): "Telkom Astinet",
    ("entity", "paser/device/gerai-07-printer"): "Printer antrean",
}
RUNBOOK = "/runbook"


def _render(payload: dict[str, Any], language: str = "id", **kw: Any) -> str:
    g = AlertGroup.model_validate(payload)
    fmt = Formatter(names=NAMES, **kw)
    return fmt.render(g.alerts, language, g.truncated_alerts)  # type: ignore[arg-type]


def test_firing_message_in_bahasa_indonesia() -> None:
    text = _render(group(alert()))
    assert text == (
        "🟠 PERINGATAN: Perangkat Printer antrean di gerai 07 mati\n"
        "Perangkat printer di gerai 07 tidak menjawab.\n"
        "Lokasi: MPP Kabupaten Paser · Gerai 07 · BPJS Kesehatan · Printer antrean\n"
        "Sejak: Sab 29 Nov 2025 09:15 WITA\n"
        "Penanggung jawab: tim IT BPJS Kesehatan"
    )


def test_runbook_link_is_the_inventorys_runbook_or_left_out() -> None:
    # the rules' own link is relative to the monitor's web server (/runbook#anchor): with
    # the inventory's runbook_url (or public_url + /runbook) it becomes a full link ...
    wiki = "https://wiki.example.id/mpp/runbook"
    text = _render(group(alert()), runbook_url=wiki)
    assert text.endswith(f"\nPanduan: {wiki}#mppcounterdevicedown"), text
    # ... without one there is nothing a phone could open: no line at all
    assert "Panduan" not in _render(group(alert()))
    # a rule of the site's own with an absolute link keeps it
    own = alert()
    own["annotations"]["runbook_url"] = "https://intranet.example.id/sop#printer"
    assert _render(group(own)).endswith("\nPanduan: https://intranet.example.id/sop#printer")


def test_resolved_message_says_pulih_with_the_outage_span() -> None:
    done = alert("resolved", ends="2025-11-29T01:42:10Z")
    text = _render(group(done))
    assert text == (
        "✅ PULIH: Perangkat Printer antrean di gerai 07 mati\n"
        "Lokasi: MPP Kabupaten Paser · Gerai 07 · BPJS Kesehatan · Printer antrean\n"
        "Gangguan: Sab 29 Nov 2025 09:15–09:42 WITA (27 menit)\n"
        "Penanggung jawab: tim IT BPJS Kesehatan"
    )


def test_english_message() -> None:
    text = _render(group(alert(severity="critical")), "en")
    assert text.startswith("🔴 CRITICAL: Device Printer antrean at counter 07 is down\n")
    assert "Device printer at counter 07 does not answer." in text
    assert "Where: MPP Kabupaten Paser · Counter 07 · BPJS Kesehatan" in text
    assert "Since: Sat 29 Nov 2025 09:15 WITA" in text
    assert "Owner: team IT BPJS Kesehatan" in text
    resolved = _render(group(alert("resolved", ends="2025-11-30T03:20:00Z")), "en")
    assert resolved.startswith("✅ RESOLVED: Device Printer antrean at counter 07 is down")
    assert "Outage: Sat 29 Nov 2025 09:15 WITA – Sun 30 Nov 2025 11:20 WITA (1 d 2 h)" in resolved


def test_link_alert_names_the_link_and_the_owner() -> None:
    a = alert(
        alertname="MppLinkDown",
        team="kominfo",
        kind="link",
        entity="paser/link/isp-telkom",
        link="isp-telkom",
        agency="",
        counter="",
        device="",
    )
    text = _render(group(a, team="kominfo"))
    assert "Lokasi: MPP Kabupaten Paser · Link Telkom Astinet\n" in text
    assert "Penanggung jawab: tim Diskominfo Paser" in text


def test_unknown_names_fall_back_to_ids_and_site_time_zone_applies() -> None:
    a = alert(site="jayapura", team="it-x", agency="dinas-x", counter="03")
    text = Formatter(timezones={"jayapura": "Asia/Jayapura"}).render(
        AlertGroup.model_validate(group(a)).alerts, "id"
    )
    assert "Lokasi: jayapura · Gerai 03 · dinas-x\n" in text
    assert "Sejak: Sab 29 Nov 2025 10:15 WIT\n" in text  # UTC+9
    assert "Penanggung jawab: tim it-x" in text


def test_a_group_gets_a_header_and_a_cap() -> None:
    alerts = [alert(counter=f"{n:02d}") for n in range(1, 5)]
    alerts.append(alert("resolved", counter="09", ends="2025-11-29T02:00:00Z"))
    text = _render(group(*alerts, truncated=2), max_alerts=3)
    head, *blocks = text.split("\n\n")
    assert head == "🔴 4 gangguan aktif, 1 pulih · MPP Kabupaten Paser · tim IT BPJS Kesehatan"
    assert len(blocks) == 4  # three alerts, then the rest counted
    assert blocks[-1] == "… dan 4 peringatan lain"  # 2 over the cap + 2 truncated upstream
    assert "Gerai 01" in blocks[0] and "Gerai 03" in blocks[2]


def test_text_is_plain_and_bounded() -> None:
    a = alert()
    a["annotations"]["description"] = "<b>x</b> " * 1000
    text = _render(group(a))
    assert len(text) <= 4000
    assert "<b>x</b>" in text  # shown as is: no parse mode, nothing interpreted


def test_filter_by_severity_and_resolved() -> None:
    g = AlertGroup.model_validate(
        group(alert(severity="warning"), alert("resolved", severity="critical"))
    )
    assert filter_alerts(g.alerts, ["critical"], True) == [g.alerts[1]]
    assert filter_alerts(g.alerts, ["critical", "warning"], False) == [g.alerts[0]]
    no_severity = g.alerts[0].model_copy(update={"labels": {"alertname": "X"}})
    assert filter_alerts([no_severity], ["critical"], True) == [no_severity]


def test_an_unknown_team_is_named_as_unknown() -> None:
    text = _render(group(alert(team="it-typo")))
    assert "Penanggung jawab: tim it-typo TIDAK DIKENAL di inventaris" in text
    english = _render(group(alert(team="it-typo")), "en")
    assert "Owner: team it-typo is UNKNOWN to the inventory" in english
    # a known team is not marked
    assert "TIDAK DIKENAL" not in _render(group(alert()))
