"""Dashboard mpp-applications: agency applications (availability, latency by phase, status
codes, certificates)."""

from __future__ import annotations

from dashboards.panels import (
    AVAILABILITY,
    Board,
    Q,
    cm,
    instant,
    organize,
    prop,
    series_panel,
    stat_panel,
    status_stat,
    status_timeline,
    steps,
    table_panel,
    timeline_panel,
)
from dashboards.promql import (
    AGENCY,
    SITE,
    probe_ratio,
    sel,
    status_code,
    with_name,
)


def board() -> Board:
    """Agency applications: availability, latency by phase, status codes, certificates."""
    b = Board(
        "mpp-applications",
        "MPP — Aplikasi Instansi",
        "Per instansi: ketersediaan aplikasi, latensi per fase (resolve/connect/tls/processing/"
        "transfer), kode status HTTP, masa berlaku sertifikat, dan alasan kegagalan.",
        ["region", "site", "app_agency"],
    )
    app = (SITE, 'kind="application"', AGENCY)
    b.row("Status")
    b.add(
        status_stat(
            "Status aplikasi",
            "Status setiap aplikasi sekarang. Tak terjangkau berarti semua uplink menuju "
            "aplikasi gagal (dibebankan ke Kominfo, bukan ke instansi).",
        ),
        12,
        5,
        [instant(with_name(status_code("site, agency, entity", *app)), "{{agency}} · {{name}}")],
    )
    b.add(
        stat_panel(
            "Keberhasilan probe (rentang terpilih)",
            "Bagian run probe yang berhasil dalam rentang waktu terpilih.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        5,
        [instant(with_name(probe_ratio("agency, entity", *app)), "{{agency}} · {{name}}")],
    )
    b.add(
        status_timeline(
            "Riwayat status aplikasi",
            "Kapan setiap aplikasi normal, gangguan, tak terjangkau atau dalam pemeliharaan.",
        ),
        24,
        6,
        [Q(with_name(status_code("agency, entity", *app)), "{{agency}} · {{name}}")],
    )

    b.row("Latensi")
    b.add(
        series_panel(
            "Latensi per fase — $agency",
            "Lama tiap fase permintaan HTTP ke aplikasi instansi, bertumpuk: resolve, connect, "
            "tls, processing (menunggu server), transfer.",
            "s",
            stack=True,
            min_val=0,
        )
        .repeat("agency")
        .repeat_direction("h")
        .max_per_row(2),
        24,
        8,
        [
            Q(
                with_name(f"sum by (entity, phase) ({sel('probe_http_duration_seconds', *app)})"),
                "{{name}} · {{phase}}",
            )
        ],
    )
    b.add(
        series_panel(
            "Durasi probe total",
            "Lama seluruh probe per aplikasi (termasuk yang gagal sampai batas waktu).",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                with_name(f"max by (agency, entity) ({sel('probe_duration_seconds', *app)})"),
                "{{agency}} · {{name}}",
            )
        ],
    )
    b.add(
        timeline_panel(
            "Kode status HTTP",
            "Kode status HTTP jawaban terakhir. 0 berarti tidak ada jawaban (batas waktu, "
            "koneksi ditolak, TLS gagal).",
            thresholds=steps(
                (None, "red"), (200, "green"), (300, "yellow"), (400, "orange"), (500, "red")
            ),
        ).show_value(cm.VisibilityMode.AUTO),
        12,
        8,
        [
            Q(
                with_name(f"max by (agency, entity) ({sel('probe_http_status_code', *app)})"),
                "{{agency}} · {{name}}",
            )
        ],
    )

    b.row("Sertifikat dan kegagalan")
    b.add(
        table_panel(
            "Sertifikat TLS kedaluwarsa dalam",
            "Sisa waktu sampai sertifikat TLS aplikasi kedaluwarsa. Merah: kurang dari 7 hari; "
            "oranye: kurang dari 30 hari. Negatif berarti sudah kedaluwarsa.",
            "s",
            [
                organize(
                    ["Time", "entity", "site"],
                    {"agency": "Instansi", "name": "Aplikasi", "Value": "Sisa waktu"},
                )
            ],
            thresholds=steps((None, "red"), (7 * 86400, "orange"), (30 * 86400, "green")),
        ).override_by_name(
            "Sisa waktu",
            [prop("custom.cellOptions", {"type": "color-text"})],
        ),
        12,
        8,
        [
            Q(
                with_name(
                    "min by (site, agency, entity) ("
                    f"{sel('probe_ssl_earliest_cert_expiry', *app)}) - time()"
                ),
                table=True,
            )
        ],
    )
    b.add(
        table_panel(
            "Kegagalan per alasan (rentang terpilih)",
            "Jumlah run probe yang gagal per aplikasi dan alasan (timeout, dns, status, "
            "tls_expired, ...).",
            "none",
            [
                organize(
                    ["Time", "entity", "site"],
                    {
                        "agency": "Instansi",
                        "name": "Aplikasi",
                        "reason": "Alasan",
                        "Value": "Gagal",
                    },
                )
            ],
            decimals=0,
        ),
        12,
        8,
        [
            Q(
                with_name(
                    "sum by (site, agency, entity, reason) (increase("
                    f"{sel('mpp_probe_failures_total', *app)}[$__range]))"
                ),
                table=True,
            )
        ],
    )
    b.add(
        series_panel(
            "Kegagalan per alasan dari waktu ke waktu",
            "Run probe yang gagal per interval, per aplikasi dan alasan.",
            "none",
            bars=True,
            stack=True,
            min_val=0,
        ),
        24,
        8,
        [
            Q(
                with_name(
                    "sum by (entity, reason) (increase("
                    f"{sel('mpp_probe_failures_total', *app)}[$__rate_interval]))"
                ),
                "{{name}} · {{reason}}",
            )
        ],
    )
    return b
