"""What a manager reads: names instead of ids, one row per counter, incidents in plain words,
each uplink against its contracted SLA with the outages as evidence, agency targets, the
month before, and an executive summary first (hand-made histories, no Prometheus)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from monitor.inventory import load_plan
from monitor.plan import Plan
from monitor.report import render_csv, render_html
from monitor.report.compute import DEFAULT_TARGET, Report, build_report, previous_month
from tests.report.synthetic import SITE_YAML, at
from tests.report.test_compute import MON, PC1, VCLAIM, history

TELKOM = "paser/link/telkom"
ICONPLUS = "paser/link/iconplus"
H = 3600.0


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(SITE_YAML)


def telkom_down_one_hour(plan: Plan) -> Report:
    """Monday 2 February: Telkom down 10:00-11:00, ICON+ up, VClaim unreachable then."""
    up = [(MON[0], at(2, 10)), (at(2, 11), MON[1])]
    h = history(
        status={
            TELKOM: {"up": up, "down": [(at(2, 10), at(2, 11))]},
            ICONPLUS: {"up": [MON]},
            VCLAIM: {"up": up, "unreachable": [(at(2, 10), at(2, 11))]},
        },
        can_serve={"01": {"1": up, "0": [(at(2, 10), at(2, 11))]}},
    )
    return build_report(plan, plan.site("paser"), "2026-02", h)


def cells(html: str, heading: str) -> str:
    """The HTML of one section: from its heading to the next h2."""
    start = html.index(f"<h2>{heading}</h2>")
    end = html.find("<h2>", start + 1)
    return html[start : end if end > 0 else len(html)]


def test_each_uplink_against_its_sla_with_the_outages_as_evidence(plan: Plan) -> None:
    report = telkom_down_one_hour(plan)
    telkom, iconplus = report.providers()
    assert (telkom.link.id, telkom.link.sla, iconplus.link.sla) == ("telkom", 0.995, 0.99)
    assert telkom.row.availability == pytest.approx(7 / 8)
    assert telkom.met is False and iconplus.met is True
    assert telkom.outage_service == H
    assert [(o.start, o.end) for o in telkom.outages] == [(at(2, 10), at(2, 11))]
    assert iconplus.outages == []
    rows = list(csv.DictReader(io.StringIO(render_csv(report)["providers.csv"])))
    assert [(r["link"], r["sla_pct"], r["sla_met"], r["outages"]) for r in rows] == [
        ("telkom", "99.5000", "no", "1"),
        ("iconplus", "99.0000", "yes", "0"),
    ]
    assert rows[0]["down_service_minutes"] == "60.00"
    assert rows[0]["availability_pct"] == "87.5000"
    section = cells(render_html(report), "Internet per penyedia (SLA)")
    assert "Bukti gangguan untuk klaim restitusi" in section
    assert "Telkom Astinet (Telkom): 1 kali putus" in section
    assert "Sen 02/02 10:00" in section and "Sen 02/02 11:00" in section
    assert '<td class="bad">TIDAK</td>' in section
    assert "ICON+ (PLN) (ICON+)" not in section  # no evidence block without an outage


def test_a_link_without_an_sla_is_shown_without_a_verdict() -> None:
    text = Path(SITE_YAML).read_text(encoding="utf-8").replace(" sla: 99%,", "")
    plan = load_plan("site.yaml", text)
    h = history(status={ICONPLUS: {"up": [MON]}})
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    iconplus = report.providers()[1]
    assert iconplus.link.sla is None and iconplus.met is None
    row = list(csv.DictReader(io.StringIO(render_csv(report)["providers.csv"])))[1]
    assert (row["sla_pct"], row["sla_met"]) == ("", "")
    assert "ICON+ (PLN): 100,00 % (tanpa SLA di inventaris)." in render_html(report)


def test_names_not_ids_and_incidents_in_plain_words(plan: Plan) -> None:
    report = telkom_down_one_hour(plan)
    html = render_html(report)
    incidents = cells(html, "Daftar gangguan")
    assert "Gangguan pada Telkom Astinet sendiri. Ditangani: Diskominfo Kabupaten Paser." in (
        incidents
    )
    assert (
        "Tak terjangkau karena Telkom Astinet mati. Ditangani: Diskominfo Kabupaten Paser."
        in incidents
    )
    assert "Tidak dapat melayani karena bermasalah: BPJS VClaim." in incidents
    # the owner column and the team columns carry names; ids stay in the CSV for scripts
    for section in ("Daftar gangguan", "Instansi", "Jalur internet"):
        body = cells(html, section)
        assert not re.search(r"<td>(kominfo|it-bpjs|it-dukcapil)</td>", body), section
    assert "<td>Tim TI BPJS Kesehatan</td>" in cells(html, "Instansi")
    rows = list(csv.DictReader(io.StringIO(render_csv(report)["incidents.csv"])))
    assert {(r["owner_team"], r["owner_name"]) for r in rows} == {
        ("kominfo", "Diskominfo Kabupaten Paser")
    }


def test_one_row_per_counter_with_its_devices_folded_in(plan: Plan) -> None:
    h = history(status={PC1: {"up": [(MON[0], at(2, 12))], "down": [(at(2, 12), MON[1])]}})
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    html = render_html(report)
    counters = cells(html, "Gerai")
    assert counters.count("<tr><td>Gerai ") == 4  # one row per counter
    assert 'pc <span class="bad">50,00 %</span>; printer <span class="good">100,00 %</span>' in (
        counters
    )
    assert "<h2>Perangkat</h2>" not in html  # no table per device any more
    assert "<td>Switch lantai 1</td>" in cells(html, "Jaringan gedung")


def test_agency_targets_from_the_inventory_or_the_default(plan: Plan) -> None:
    h = history(status={VCLAIM: {"up": [(MON[0], at(2, 12))], "down": [(at(2, 12), MON[1])]}})
    report = build_report(plan, plan.site("paser"), "2026-02", h)
    assert report.target_of("bpjs") == 0.995  # target: 99.5% in site.yaml
    assert report.target_of("dukcapil") == DEFAULT_TARGET
    html = render_html(report)
    agencies = cells(html, "Instansi")
    assert '99,50 %<br><span class="bad">tidak tercapai</span>' in agencies
    assert '99,00 %<br><span class="good">tercapai</span>' in agencies
    summary = cells(html, "Ringkasan eksekutif")
    bpjs_own = report.row("agency", "bpjs")
    assert bpjs_own is not None and bpjs_own.own is not None
    assert f"BPJS {bpjs_own.own * 100:.2f} % (Target 99,50 %)".replace(".", ",") in summary


def test_the_month_before_is_compared(plan: Plan) -> None:
    assert [previous_month(m) for m in ("2026-03", "2026-01", "2026-12")] == [
        "2026-02",
        "2025-12",
        "2026-11",
    ]
    site = plan.site("paser")
    report = telkom_down_one_hour(plan)
    assert report.previous is None
    assert "Tidak ada data bulan sebelumnya" in render_html(report)
    links_up = history(status={TELKOM: {"up": [MON]}, ICONPLUS: {"up": [MON]}})
    report.previous = build_report(plan, site, "2026-01", links_up)  # all up
    html = render_html(report)
    summary = cells(html, "Ringkasan eksekutif")
    # counters 87,50 % now against 100,00 % then
    assert "Gerai dapat melayani 87,50 % dari jam layanan terukur" in summary
    assert "(bulan lalu 100,00 %, −12,50 poin)" in summary
    assert "Bulan lalu: −12,50 poin" in summary  # the counters card
    providers = cells(html, "Internet per penyedia (SLA)")
    assert "100,00 %<br><span class=small>−12,50 poin</span>" in providers  # Telkom


def test_the_executive_summary_comes_first_and_names_a_missed_sla(plan: Plan) -> None:
    html = render_html(telkom_down_one_hour(plan))
    assert html.index("<h2>Ringkasan eksekutif</h2>") < html.index("<h2>") + 1
    summary = cells(html, "Ringkasan eksekutif")
    assert "Telkom Astinet: 87,50 %, DI BAWAH SLA 99,50 % (1 j 00 m putus" in summary
    assert "ICON+ (PLN): 100,00 %, memenuhi SLA 99,00 %." in summary
    assert "Gangguan terbesar pada jaringan, internet dan aplikasi" in summary
    assert "Gerai dengan ketersediaan terendah: Gerai 1 87,50 %." in summary
    english = render_html(telkom_down_one_hour(plan), "en")
    assert "Telkom Astinet: 87.50 %, BELOW its SLA of 99.50 %" in english


def test_hostile_names_are_escaped_in_the_new_sections(plan: Plan) -> None:
    text = Path(SITE_YAML).read_text(encoding="utf-8")
    text = text.replace("name: Telkom Astinet", 'name: "<script>alert(1)</script>"')
    text = text.replace("provider: Telkom,", 'provider: "<img src=x onerror=alert(1)>",')
    text = text.replace("short_name: BPJS", 'short_name: "<b>B</b>"')
    evil = load_plan("site.yaml", text)
    up = [(MON[0], at(2, 10)), (at(2, 11), MON[1])]
    h = history(status={TELKOM: {"up": up, "down": [(at(2, 10), at(2, 11))]}})
    html = render_html(build_report(evil, evil.site("paser"), "2026-02", h))
    for markup in ("<script", "<img", "<b>B</b>"):
        assert markup not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;: 87,50 %, DI BAWAH SLA" in html


def test_a_vpn_to_one_agency_is_not_the_internet(plan: Plan) -> None:
    assert telkom_down_one_hour(plan).internet.availability() == 1.0  # ICON+ stayed up
    text = Path(SITE_YAML).read_text(encoding="utf-8").replace("sla: 99%,", "sla: 99%, kind: vpn,")
    vpn = load_plan("site.yaml", text)
    report = telkom_down_one_hour(vpn)
    assert report.internet.availability() == pytest.approx(7 / 8)  # Telkom alone
    assert [p.link.kind for p in report.providers()] == ["isp", "vpn"]
