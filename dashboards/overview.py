"""Dashboard mpp-overview: is the MPP building serving?"""

from __future__ import annotations

from dashboards.panels import (
    ALERT_TRANSFORM,
    FAULT_TEXT_MAP,
    FAULT_TRANSFORM,
    INTERNET_MAP,
    LINK_MAP,
    LINK_STEPS,
    NO_ICMP_ANCHOR,
    SERVE_MAP,
    Board,
    Q,
    cm,
    instant,
    stat_panel,
    status_stat,
    steps,
    table_panel,
    yes_no_stat,
)
from dashboards.promql import (
    SITE,
    fault_table_expr,
    link_state_code,
    sel,
    status_code,
    with_name,
)


def board() -> Board:
    """MPP overview: is the building serving?"""
    b = Board(
        "mpp-overview",
        "MPP — Ringkasan Gedung",
        "Apakah gedung MPP sedang melayani? Status internet, 44 gerai, aplikasi instansi, "
        "gangguan yang sedang terjadi beserta tim yang harus bertindak, dan alert yang menyala.",
        ["region", "site"],
    )
    b.row("Apakah gedung melayani?")
    b.add(
        yes_no_stat(
            "Internet gedung",
            "Tersambung bila minimal satu uplink gedung naik atau menurun (degraded).",
            INTERNET_MAP,
        ),
        6,
        4,
        [instant(f"max by (site) ({sel('mpp_site_internet_up', SITE)})", "{{site}}")],
    )
    b.add(
        stat_panel(
            "Gerai yang bisa melayani",
            "Jumlah gerai yang perangkatnya naik dan aplikasi penting instansinya terjangkau, "
            "dibanding jumlah semua gerai.",
            "none",
            color_mode=cm.BigValueColorMode.VALUE,
        ),
        6,
        4,
        [
            instant(f"sum({sel('mpp_can_serve', SITE)})", "Bisa melayani"),
            instant(f"count({sel('mpp_can_serve', SITE)})", "Semua gerai"),
        ],
    )
    b.add(
        stat_panel(
            "Gangguan aktif",
            "Jumlah entitas (uplink, perangkat, aplikasi) yang sedang gangguan atau tak "
            "terjangkau.",
            "none",
            thresholds=steps((None, "green"), (1, "red")),
        ),
        6,
        4,
        [instant(f"count({sel('mpp_entity_fault_owner', SITE)} == 1) or vector(0)", "Gangguan")],
    )
    b.add(
        stat_panel(
            "Alert menyala",
            "Jumlah alert Prometheus yang sedang menyala untuk gedung ini.",
            "none",
            thresholds=steps((None, "green"), (1, "orange")),
        ),
        6,
        4,
        [instant('count(ALERTS{alertstate="firing", site=~"$site|"}) or vector(0)', "Alert")],
    )

    b.row("Uplink internet")
    b.add(
        stat_panel(
            "Status uplink",
            "Normal, menurun (kehilangan paket atau latensi di atas ambang) atau putus.",
            "none",
            mappings=LINK_MAP,
            thresholds=LINK_STEPS,
        ),
        8,
        5,
        [instant(link_state_code(SITE), "{{link}}")],
    )
    for title, desc, unit, metric, thresholds in (
        (
            "Kehilangan paket uplink",
            "Rasio paket ICMP yang hilang ke anchor uplink, pada probe terakhir.",
            "percentunit",
            "mpp_link_loss_ratio",
            steps((None, "green"), (0.05, "yellow"), (0.2, "red")),
        ),
        (
            "Latensi median uplink",
            "RTT median ke anchor uplink, pada probe terakhir.",
            "s",
            "mpp_link_rtt_median_seconds",
            steps((None, "green"), (0.1, "yellow"), (0.3, "red")),
        ),
    ):
        value = cm.BigValueColorMode.VALUE
        panel = stat_panel(
            title, desc + NO_ICMP_ANCHOR, unit, thresholds=thresholds, graph=True, color_mode=value
        )
        query = Q(f"max by (link) ({sel(metric, SITE)})", "{{link}}", may_be_empty=True)
        b.add(panel, 8, 5, [query])

    b.row("Gerai layanan")
    b.add(
        yes_no_stat(
            "Gerai: bisa melayani?",
            "Satu kotak per gerai. Hijau: perangkat gerai naik dan aplikasi penting instansinya "
            "terjangkau. Merah: gerai tidak bisa melayani; lihat tabel gangguan di bawah.",
            SERVE_MAP,
        ),
        24,
        10,
        [
            instant(
                f"max by (counter, agency) ({sel('mpp_can_serve', SITE)})",
                "Gerai {{counter}} · {{agency}}",
            )
        ],
    )

    b.row("Aplikasi instansi")
    b.add(
        status_stat(
            "Aplikasi per instansi",
            "Status setiap aplikasi instansi. Tak terjangkau berarti semua uplink menuju "
            "aplikasi itu gagal (bukan kesalahan instansi).",
        ),
        24,
        5,
        [
            instant(
                with_name(status_code("site, agency, entity", SITE, 'kind="application"')),
                "{{agency}} · {{name}}",
            )
        ],
    )

    b.row("Gangguan dan alert")
    b.add(
        table_panel(
            "Gangguan sekarang dan tim yang harus bertindak",
            "Entitas yang gangguan (kesalahan pemiliknya sendiri) atau tak terjangkau (induknya "
            "gagal: dibebankan ke tim pemilik induk).",
            "none",
            FAULT_TRANSFORM,
            mappings=FAULT_TEXT_MAP,
        ),
        14,
        9,
        [Q(fault_table_expr(SITE), table=True)],
    )
    b.add(
        table_panel(
            "Alert yang sedang menyala",
            "Alert Prometheus yang sedang menyala. Boleh kosong: kosong berarti tidak ada "
            "alert yang menyala.",
            "none",
            ALERT_TRANSFORM,
        ),
        10,
        9,
        [Q('ALERTS{alertstate="firing", site=~"$site|"}', table=True, may_be_empty=True)],
    )
    return b
