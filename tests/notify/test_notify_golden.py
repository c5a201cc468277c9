"""One message per alert kind, in Bahasa Indonesia and English, pinned as golden files.

Names come from the inventory (not ids), no word is doubled ("tim Tim TI ..."), and the
runbook link is the inventory's ``runbook_url`` with the alert's anchor. Regenerate after an
intended change with ``MPP_UPDATE_GOLDEN=1 python -m pytest tests/notify/test_notify_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from alerts.build import alerts
from monitor.i18n import LANGUAGES
from monitor.notify.messages import AlertGroup, Formatter

GOLDEN = Path(__file__).parent / "golden"
RUNBOOK = "https://wiki.diskominfo.paserkab.example.id/mpp-monitor/runbook"
NAMES = {
    ("site", "paser"): "MPP Kabupaten Paser",
    ("team", "kominfo"): "Diskominfo Kabupaten Paser",
    ("team", "it-dukcapil"): "Tim TI Disdukcapil Paser",
    ("team", "it-bpjs-kes"): "Tim TI BPJS Kesehatan",
    ("agency", "dukcapil"): "Dukcapil",
    ("agency", "bpjs-kes"): "BPJS Kes",
    ("link", "telkom"): "Telkom Astinet 100 Mbps (utama)",
    ("entity", "paser/link/telkom"): "Telkom Astinet 100 Mbps (utama)",
    ("entity", "paser/application/dukcapil-siak"): "SIAK Terpusat",
    ("entity", "paser/device/gerai-07-printer"): "Printer antrean",
    ("entity", "paser/infra/sw-core"): "Switch inti (core)",
}
SIAK = {"kind": "application", "entity": "paser/application/dukcapil-siak", "agency": "dukcapil"}
SIAK |= {"team": "it-dukcapil", "via": "dukcapil-siak"}
LINK = {"kind": "link", "entity": "paser/link/telkom", "link": "telkom", "team": "kominfo"}
PRINTER = {
    "kind": "device",
    "entity": "paser/device/gerai-07-printer",
    "agency": "bpjs-kes",
    "counter": "07",
    "device": "printer",
    "team": "it-bpjs-kes",
}
LABELS: dict[str, dict[str, str]] = {
    "MppSiteOffline": {"team": "kominfo"},
    "MppLinkDown": LINK,
    "MppLinkDegraded": LINK,
    "MppApplicationDown": SIAK,
    "MppApplicationSlow": SIAK,
    "MppCertificateExpiringSoon": SIAK,
    "MppCounterCannotServe": {"agency": "bpjs-kes", "counter": "07", "team": "it-bpjs-kes"},
    "MppCounterDeviceDown": PRINTER,
    "MppInfraDeviceDown": {
        "kind": "infra",
        "entity": "paser/infra/sw-core",
        "device": "sw-core",
        "team": "kominfo",
    },
}
KINDS = sorted(LABELS)


def _annotation(text: str, labels: dict[str, str]) -> str:
    """The rule's annotation as Prometheus would fill it, for the labels used here."""
    text = re.sub(r'\{\{ reReplaceAll "\^\.\*/" "" \$labels\.entity \}\}', "siak", text)
    text = re.sub(r"\{\{ with .*?\{\{ end \}\}", "5%", text)
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)
    return re.sub(r"\{\{[^}]*\}\}", "3", text)


def _payload(name: str, status: str) -> dict[str, Any]:
    rule = next(a for a in alerts() if a.name == name)
    labels = {"alertname": name, "severity": rule.severity, "site": "paser"} | LABELS[name]
    notes = rule.rule()["annotations"]
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {k: _annotation(v, labels) for k, v in notes.items()},
        "startsAt": "2026-12-07T01:15:00Z",
        "endsAt": "2026-12-07T02:02:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
    }
    return {"status": status, "receiver": "paser-x", "alerts": [alert]}


def _render(name: str, language: str, status: str = "firing") -> str:
    group = AlertGroup.model_validate(_payload(name, status))
    fmt = Formatter(names=NAMES, runbook_url=RUNBOOK)
    long = fmt.render(group.alerts, language)  # type: ignore[arg-type]
    short = fmt.render_short(group.alerts, language)  # type: ignore[arg-type]
    return f"{long}\n\n--- SMS ---\n{short}\n"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", KINDS)
def test_one_message_per_alert_kind(name: str, language: str) -> None:
    text = _render(name, language)
    path = GOLDEN / f"{name}.{language}.txt"
    if os.environ.get("MPP_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", KINDS)
def test_messages_name_things_and_do_not_double_words(name: str, language: str) -> None:
    text = _render(name, language) + _render(name, language, "resolved")
    headline = text.splitlines()[0]
    for ident in ("paser/", "dukcapil-siak", "gerai-07", "sw-core", " telkom "):
        assert ident not in headline, headline
    # nor the description under it: the rule's ids become the inventory's names
    assert "paser/" not in text and " kominfo " not in text, text
    assert not re.search(r"\b(\w+) \1\b", text, flags=re.IGNORECASE), text
    assert "github.com/mpp-monitor" not in text
    if "Panduan" in text or "Runbook" in text:
        assert f"{RUNBOOK}#{name.lower()}" in text


def test_every_fault_alert_has_a_golden_kind() -> None:
    from alerts.build import APPLICATION_ALERTS, COUNTER_ALERTS, LINK_ALERTS

    assert {a.name for a in LINK_ALERTS + APPLICATION_ALERTS + COUNTER_ALERTS} == set(KINDS)


def test_the_inventory_runbook_url_reaches_the_messages() -> None:
    from monitor.inventory import load_plan
    from monitor.notify.routing import routing_from_plan

    root = Path(__file__).resolve().parents[2]
    routing = routing_from_plan(load_plan(root / "examples" / "mpp-paser.yaml"))
    assert routing.runbook_url == RUNBOOK
