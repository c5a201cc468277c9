"""Dashboard mpp-links: internet uplinks (availability, SmokePing-style latency, loss, jitter,
DNS and HTTP through each uplink)."""

from __future__ import annotations

from dashboards.panels import (
    AVAILABILITY,
    LINK_MAP,
    LINK_STEPS,
    NO_ICMP_ANCHOR,
    Board,
    Q,
    instant,
    prop,
    series_panel,
    stat_panel,
    steps,
    timeline_panel,
)
from dashboards.promql import (
    LINK,
    LINK_DOWN,
    SITE,
    link_state_code,
    probe_ratio,
    sel,
)


def board() -> Board:
    """Internet uplinks: availability, SmokePing-style latency, loss, jitter, DNS and HTTP."""
    b = Board(
        "mpp-links",
        "MPP — Uplink Internet",
        "Per uplink: ketersediaan, latensi gaya SmokePing (median dengan sebaran min–maks), "
        "kehilangan paket, jitter, DNS dan HTTP melalui uplink, serta kapan uplink putus.",
        ["region", "site", "link"],
    )
    link_sel = (SITE, LINK)
    target_sel = (SITE, 'kind="link"', LINK)
    b.row("Status dan ketersediaan")
    b.add(
        timeline_panel(
            "Status uplink dari waktu ke waktu",
            "Kapan setiap uplink normal, menurun atau putus.",
            mappings=LINK_MAP,
            thresholds=LINK_STEPS,
        ),
        24,
        6,
        [Q(link_state_code(*link_sel), "{{link}}")],
    )
    b.add(
        stat_panel(
            "Ketersediaan uplink (rentang terpilih)",
            "Bagian waktu uplink tidak putus (normal atau menurun) dalam rentang waktu terpilih, "
            "jam dinding 24 jam.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        8,
        5,
        [
            instant(
                "1 - avg by (link) (avg_over_time("
                f"{sel('mpp_link_state', *link_sel, LINK_DOWN)}[$__range]))",
                "{{link}}",
            )
        ],
    )
    b.add(
        stat_panel(
            "Lama putus (rentang terpilih)",
            "Perkiraan total waktu uplink putus dalam rentang waktu terpilih.",
            "s",
            thresholds=steps((None, "green"), (300, "orange"), (3600, "red")),
        ),
        8,
        5,
        [
            instant(
                "sum by (link) (avg_over_time("
                f"{sel('mpp_link_state', *link_sel, LINK_DOWN)}[$__range])) * $__range_s",
                "{{link}}",
            )
        ],
    )
    b.add(
        stat_panel(
            "Internet gedung tersedia (rentang terpilih)",
            "Bagian waktu minimal satu uplink gedung naik.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        8,
        5,
        [
            instant(
                f"max by (site) (avg_over_time({sel('mpp_site_internet_up', SITE)}[$__range]))",
                "{{site}}",
            )
        ],
    )

    b.row("Latensi (gaya SmokePing)")
    smoke = series_panel(
        "Latensi $link: median dengan sebaran min–maks",
        "Garis: RTT median ke anchor uplink. Pita: RTT terendah sampai tertinggi dalam tiap "
        "interval. Pita yang melebar berarti latensi tidak stabil." + NO_ICMP_ANCHOR,
        "s",
        min_val=0,
    )
    smoke = (
        smoke.repeat("link")
        .repeat_direction("h")
        .max_per_row(2)
        .override_by_name(
            "maks",
            [
                prop("custom.fillBelowTo", "min"),
                prop("custom.lineWidth", 0),
                prop("custom.fillOpacity", 30),
                prop("color", {"mode": "fixed", "fixedColor": "super-light-blue"}),
            ],
        )
        .override_by_name(
            "min",
            [
                prop("custom.lineWidth", 0),
                prop("custom.fillOpacity", 0),
                prop("color", {"mode": "fixed", "fixedColor": "super-light-blue"}),
            ],
        )
        .override_by_name(
            "median",
            [
                prop("custom.lineWidth", 2),
                prop("color", {"mode": "fixed", "fixedColor": "dark-green"}),
            ],
        )
    )
    b.add(
        smoke,
        24,
        8,
        [
            Q(
                "min by (link) (min_over_time("
                f"{sel('probe_icmp_duration_rtt_min_seconds', *target_sel)}[$__rate_interval]))",
                "min",
                may_be_empty=True,
            ),
            Q(
                "max by (link) (max_over_time("
                f"{sel('probe_icmp_duration_rtt_max_seconds', *target_sel)}[$__rate_interval]))",
                "maks",
                may_be_empty=True,
            ),
            Q(
                f"max by (link) ({sel('mpp_link_rtt_median_seconds', *link_sel)})",
                "median",
                may_be_empty=True,
            ),
        ],
    )

    b.row("Kehilangan paket dan jitter")
    b.add(
        series_panel(
            "Kehilangan paket per uplink",
            "Rasio paket ICMP yang hilang, gabungan semua anchor uplink." + NO_ICMP_ANCHOR,
            "percentunit",
            min_val=0,
            max_val=1,
        ),
        12,
        8,
        [
            Q(
                f"max by (link) ({sel('mpp_link_loss_ratio', *link_sel)})",
                "{{link}}",
                may_be_empty=True,
            )
        ],
    )
    b.add(
        series_panel(
            "Jitter per anchor",
            "Simpangan baku RTT ICMP per anchor uplink." + NO_ICMP_ANCHOR,
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                "max by (link, target) ("
                f"{sel('probe_icmp_duration_rtt_stddev_seconds', *target_sel)})",
                "{{target}}",
                may_be_empty=True,
            )
        ],
    )

    b.row("DNS dan HTTP melalui uplink")
    b.add(
        series_panel(
            "Waktu lookup DNS melalui uplink",
            "Lama resolusi DNS yang dikirim lewat uplink.",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                f"max by (link, target) ({sel('probe_dns_lookup_time_seconds', *target_sel)})",
                "{{target}}",
            )
        ],
    )
    b.add(
        series_panel(
            "Durasi HTTP per fase melalui uplink",
            "Fase permintaan HTTP lewat uplink: resolve, connect, tls, processing, transfer.",
            "s",
            stack=True,
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                f"sum by (link, phase) ({sel('probe_http_duration_seconds', *target_sel)})",
                "{{link}} · {{phase}}",
            )
        ],
    )
    b.add(
        stat_panel(
            "Keberhasilan probe per jenis (rentang terpilih)",
            "Bagian run probe yang berhasil, per uplink dan jenis probe (icmp, dns, http).",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        24,
        5,
        [instant(probe_ratio("link, probe", *target_sel), "{{link}} · {{probe}}")],
    )
    return b
