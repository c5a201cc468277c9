"""Dashboard mpp-counters: the counters and their devices (status, ICMP/TCP health, history)."""

from __future__ import annotations

from dashboards.panels import (
    AVAILABILITY,
    FAULT_TEXT_MAP,
    FAULT_TRANSFORM,
    GOOD_IS_1,
    SERVE_MAP,
    Board,
    Q,
    instant,
    organize,
    prop,
    series_panel,
    status_stat,
    status_timeline,
    table_panel,
    timeline_panel,
    yes_no_stat,
)
from dashboards.promql import (
    AGENCY,
    CONNECT,
    COUNTER,
    RTT,
    SITE,
    fault_table_expr,
    probe_ratio,
    sel,
    status_code,
    with_name,
)


def board() -> Board:
    """Counters and their devices: status, ICMP/TCP health, history."""
    b = Board(
        "mpp-counters",
        "MPP — Gerai dan Perangkat",
        "Per gerai dan perangkat (PC, printer, layar antrean, pembaca): status, kesehatan "
        "ICMP/TCP dan riwayat. Perangkat tak terjangkau bila switch induknya gagal.",
        ["region", "site", "counter_agency", "counter"],
    )
    csel = (SITE, AGENCY, COUNTER)
    dev = (SITE, 'kind="device"', AGENCY, COUNTER)
    b.row("Gerai")
    b.add(
        yes_no_stat(
            "Gerai terpilih: bisa melayani?",
            "Hijau: perangkat gerai naik dan aplikasi penting instansinya terjangkau.",
            SERVE_MAP,
        ),
        24,
        6,
        [
            instant(
                f"max by (counter, agency) ({sel('mpp_can_serve', *csel)})",
                "Gerai {{counter}} · {{agency}}",
            )
        ],
    )
    b.add(
        timeline_panel(
            "Riwayat gerai",
            "Kapan setiap gerai bisa atau tidak bisa melayani.",
            mappings=SERVE_MAP,
            thresholds=GOOD_IS_1,
        ),
        24,
        8,
        [
            Q(
                f"max by (counter, agency) ({sel('mpp_can_serve', *csel)})",
                "Gerai {{counter}} · {{agency}}",
            )
        ],
    )

    b.row("Perangkat")
    b.add(
        status_stat(
            "Status perangkat",
            "Status setiap perangkat gerai sekarang.",
        ),
        24,
        6,
        [instant(status_code("counter, device", *dev), "Gerai {{counter}} · {{device}}")],
    )
    b.add(
        status_timeline(
            "Riwayat status perangkat",
            "Kapan setiap perangkat normal, gangguan, tak terjangkau atau dalam pemeliharaan.",
        ),
        24,
        8,
        [Q(status_code("counter, device", *dev), "Gerai {{counter}} · {{device}}")],
    )

    b.row("Kesehatan ICMP dan TCP")
    b.add(
        series_panel(
            "RTT ICMP perangkat", "Waktu pulang-pergi ping rata-rata ke perangkat.", "s", min_val=0
        ),
        12,
        8,
        [
            Q(
                f"max by (counter, device) ({sel('probe_icmp_duration_seconds', *dev, RTT)})",
                "Gerai {{counter}} · {{device}}",
            )
        ],
    )
    b.add(
        series_panel(
            "Kehilangan paket perangkat",
            "Rasio ping yang hilang ke perangkat.",
            "percentunit",
            min_val=0,
            max_val=1,
        ),
        12,
        8,
        [
            Q(
                f"max by (counter, device) ({sel('probe_icmp_packet_loss_ratio', *dev)})",
                "Gerai {{counter}} · {{device}}",
            )
        ],
    )
    b.add(
        series_panel(
            "Waktu sambung TCP perangkat",
            "Lama membuka koneksi TCP ke layanan perangkat (mis. RDP, printer).",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                "max by (counter, device, target) ("
                f"{sel('probe_tcp_duration_seconds', *dev, CONNECT)})",
                "{{target}}",
            )
        ],
    )
    b.add(
        table_panel(
            "Keberhasilan probe per perangkat (rentang terpilih)",
            "Bagian run probe yang berhasil per perangkat dan jenis probe.",
            "percentunit",
            [
                organize(
                    ["Time"],
                    {
                        "counter": "Gerai",
                        "device": "Perangkat",
                        "probe": "Probe",
                        "Value": "Berhasil",
                    },
                )
            ],
            thresholds=AVAILABILITY,
            decimals=2,
        ).override_by_name("Berhasil", [prop("custom.cellOptions", {"type": "color-text"})]),
        12,
        8,
        [Q(probe_ratio("counter, device, probe", *dev), table=True)],
    )

    b.row("Jaringan lokal dan gangguan")
    b.add(
        status_stat(
            "Switch dan perangkat jaringan",
            "Status perangkat infrastruktur LAN (milik Kominfo). Bila gagal, perangkat gerai di "
            "belakangnya menjadi tak terjangkau.",
        ),
        8,
        6,
        [instant(with_name(status_code("entity", SITE, 'kind="infra"')), "{{name}}")],
    )
    b.add(
        table_panel(
            "Gangguan perangkat sekarang",
            "Perangkat gerai dan LAN yang gangguan atau tak terjangkau, dengan tim yang harus "
            "bertindak.",
            "none",
            FAULT_TRANSFORM,
            mappings=FAULT_TEXT_MAP,
        ),
        16,
        6,
        [
            Q(
                fault_table_expr(
                    SITE, 'kind=~"device|infra"', 'agency=~"$agency|"', 'counter=~"$counter|"'
                ),
                table=True,
            )
        ],
    )
    return b
