"""Dashboard mpp-monitor-health: the monitor itself (scrape, scheduler lateness, probes in
flight, reloads, notifier)."""

from __future__ import annotations

from dashboards.panels import (
    RELOAD_MAP,
    UP_MAP,
    Board,
    Q,
    cm,
    instant,
    organize,
    plain_stat,
    series_panel,
    stat_panel,
    steps,
    table_panel,
    yes_no_stat,
)
from dashboards.promql import (
    JOB,
    NOTIFY_FAILED,
    SITE,
    sel,
)


def board() -> Board:
    """The monitor itself: scrape, scheduler lateness, probes in flight, reloads, notifier."""
    b = Board(
        "mpp-monitor-health",
        "MPP — Kesehatan Monitor",
        "Kesehatan mpp-monitor sendiri: scrape /metrics, keterlambatan penjadwal, probe yang "
        "sedang berjalan, reload konfigurasi, dan kegagalan pengiriman notifikasi.",
        ["job", "region", "site"],
        alert_annotations=False,
    )
    b.row("Layanan")
    b.add(
        yes_no_stat(
            "Scrape /metrics",
            "Apakah Prometheus berhasil mengambil /metrics mpp-monitor.",
            UP_MAP,
        ),
        6,
        4,
        [instant(sel("up", JOB), "{{instance}}")],
    )
    b.add(
        plain_stat(
            "Versi", "Versi mpp-monitor dan Python yang berjalan.", "none", cm.BigValueTextMode.NAME
        ),
        6,
        4,
        [
            instant(
                f"max by (version, python) ({sel('mpp_build_info', JOB)})",
                "{{version}} · Python {{python}}",
            )
        ],
    )
    b.add(
        yes_no_stat(
            "Reload konfigurasi terakhir",
            "Gagal berarti konfigurasi baru ditolak dan konfigurasi lama tetap berjalan; "
            "alasannya ada di log.",
            RELOAD_MAP,
        ),
        6,
        4,
        [instant(f"min({sel('mpp_config_last_reload_successful', JOB)})", "Reload")],
    )
    b.add(
        plain_stat(
            "Reload berhasil terakhir",
            "Kapan konfigurasi terakhir berhasil dimuat.",
            "dateTimeFromNow",
            cm.BigValueTextMode.VALUE,
        ),
        6,
        4,
        [
            instant(
                f"max({sel('mpp_config_last_reload_success_timestamp_seconds', JOB)}) * 1000",
                "Reload",
            )
        ],
    )

    b.row("Scrape dan penjadwal")
    b.add(
        series_panel(
            "Durasi scrape /metrics", "Lama Prometheus mengambil /metrics.", "s", min_val=0
        ),
        8,
        7,
        [Q(sel("scrape_duration_seconds", JOB), "{{instance}}")],
    )
    b.add(
        series_panel("Sampel per scrape", "Jumlah deret waktu di /metrics.", "none", min_val=0),
        8,
        7,
        [Q(sel("scrape_samples_scraped", JOB), "{{instance}}")],
    )
    b.add(
        stat_panel(
            "Target terkonfigurasi",
            "Jumlah target probe per gedung dan jenis probe.",
            "none",
            color_mode=cm.BigValueColorMode.VALUE,
        ),
        8,
        7,
        [
            instant(
                f"sum by (site, probe) ({sel('mpp_targets', JOB, SITE)})", "{{site}} · {{probe}}"
            )
        ],
    )
    lateness = sel("mpp_scheduler_start_lateness_seconds_bucket", JOB)
    b.add(
        series_panel(
            "Keterlambatan mulai probe",
            "Selisih waktu mulai sebenarnya dengan jadwal (p50 dan p99). Naik terus berarti "
            "monitor kewalahan.",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(f"histogram_quantile(0.5, sum by (le) (rate({lateness}[$__rate_interval])))", "p50"),
            Q(f"histogram_quantile(0.99, sum by (le) (rate({lateness}[$__rate_interval])))", "p99"),
        ],
    )
    b.add(
        series_panel(
            "Probe sedang berjalan", "Jumlah run probe yang sedang berjalan.", "none", min_val=0
        ),
        12,
        8,
        [Q(f"sum({sel('mpp_probes_in_flight', JOB)})", "Sedang berjalan")],
    )
    b.add(
        series_panel(
            "Laju probe per jenis", "Run probe per detik, per jenis probe.", "ops", min_val=0
        ),
        12,
        8,
        [
            Q(
                "sum by (probe) (rate("
                f"{sel('mpp_probe_runs_total', JOB, SITE)}[$__rate_interval]))",
                "{{probe}}",
            )
        ],
    )
    b.add(
        series_panel(
            "Run yang dilewati",
            "Run probe yang dilewati karena run sebelumnya belum selesai.",
            "none",
            bars=True,
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                f"sum(increase({sel('mpp_scheduler_runs_skipped_total', JOB)}[$__rate_interval]))",
                "Dilewati",
            )
        ],
    )
    b.add(
        table_panel(
            "Hasil probe paling usang",
            "Sepuluh target yang hasil terakhirnya paling lama. Umur jauh di atas interval "
            "probe berarti target itu tidak lagi diprobe.",
            "s",
            [organize(["Time"], {"target": "Target", "probe": "Probe", "Value": "Umur hasil"})],
        ),
        24,
        7,
        [
            Q(
                "topk(10, max by (target, probe) (time() - "
                f"{sel('mpp_probe_last_run_timestamp_seconds', JOB, SITE)}))",
                table=True,
            )
        ],
    )

    b.row("Notifikasi")
    b.add(
        series_panel(
            "Pesan notifikasi per hasil",
            "Pesan ke Telegram/WhatsApp per tim, kanal dan hasil (sent, failed, dropped). Boleh "
            "kosong: kosong berarti belum ada alert yang dikirim.",
            "none",
            bars=True,
            stack=True,
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                "sum by (team, channel, result) (increase("
                f"{sel('mpp_notifier_messages_total', JOB)}[$__rate_interval]))",
                "{{team}} · {{channel}} · {{result}}",
                may_be_empty=True,
            )
        ],
    )
    b.add(
        series_panel("Antrean notifikasi", "Pesan yang menunggu dikirim.", "none", min_val=0),
        6,
        8,
        [Q(f"sum({sel('mpp_notifier_queue_length', JOB)})", "Antrean")],
    )
    b.add(
        stat_panel(
            "Notifikasi gagal atau dibuang (rentang terpilih)",
            "Pesan yang gagal dikirim atau dibuang karena antrean penuh.",
            "none",
            thresholds=steps((None, "green"), (1, "red")),
            decimals=0,
        ),
        6,
        8,
        [
            instant(
                "sum(increase("
                f"{sel('mpp_notifier_messages_total', JOB, NOTIFY_FAILED)}"
                "[$__range])) or vector(0)",
                "Gagal",
            )
        ],
    )
    return b
