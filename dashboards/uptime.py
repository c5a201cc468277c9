"""Dashboard mpp-uptime: availability per agency, link, team and counter; service hours;
owner attribution."""

from __future__ import annotations

from dashboards.panels import (
    Board,
    Q,
    availability_stat,
    availability_table,
    dm,
    instant,
    organize,
    prop,
    series_panel,
    table_panel,
    text_panel,
)
from dashboards.promql import (
    AGENCY,
    DOWN,
    LINK_DOWN,
    OWNER_TEAM,
    SITE,
    TEAM,
    UNREACHABLE,
    in_service_hours,
    sel,
    sh_ratio,
    with_name,
)

SLA_NOTE = """\
**Cara membaca.** Angka di baris *jam layanan* hanya menghitung waktu ketika gedung buka
(`mpp_site_service_open` = 1: hari kerja, bukan hari libur nasional atau cuti bersama).
Baris *jam dinding* menghitung 24 jam sehari.

**Atribusi pemilik.** Waktu *gangguan* (down) dibebankan ke tim pemilik entitas itu sendiri.
Waktu *tak terjangkau* (unreachable: induknya gagal, mis. switch atau semua uplink) dibebankan ke
tim pemilik induk yang gagal — bukan ke instansi yang perangkatnya terdampak.

Angka di sini adalah perkiraan dengan resolusi `$__interval`. Angka resmi untuk rapat evaluasi
bulanan ada di laporan bulanan (`mpp-monitor report`).
"""


def serve_share() -> tuple[str, str]:
    """Counters able to serve, over all counters (the ratio's numerator and denominator)."""
    serve = sel("mpp_can_serve", SITE, AGENCY)
    return serve, f"{serve} * 0 + 1"


def board() -> Board:
    """Availability per agency, link, team and counter; service hours; owner attribution."""
    b = Board(
        "mpp-uptime",
        "MPP — Ketersediaan dan SLA",
        "Ketersediaan per instansi, uplink, tim dan gerai selama jam layanan, dengan atribusi "
        "pemilik: waktu tak terjangkau dibebankan ke tim pemilik induk yang gagal. Angka resmi "
        "bulanan: laporan `mpp-monitor report`.",
        ["region", "site", "team", "agency"],
        time_from="now-30d",
        refresh="5m",
    )
    ent = (SITE, TEAM, AGENCY)
    b.row("Cara membaca")
    b.add(text_panel("Cara membaca angka ketersediaan", SLA_NOTE), 24, 5)

    b.row("Selama jam layanan")
    up = sel("mpp_entity_status", *ent, 'status="up"')
    own = sel("mpp_entity_status", *ent, 'status=~"up|down"')  # unreachable: not their fault
    apps = (*ent, 'kind="application"')
    for title, desc, by, num, den in (
        (
            "Gerai bisa melayani, per instansi (jam layanan)",
            "Bagian jam layanan ketika gerai instansi bisa melayani: sudut pandang warga.",
            "agency",
            *serve_share(),
        ),
        (
            "Uplink tersedia (jam layanan)",
            "Bagian jam layanan ketika uplink tidak putus (normal atau menurun).",
            "link",
            sel("mpp_link_state", SITE, 'state=~"up|degraded"'),
            sel("mpp_link_state", SITE),
        ),
        (
            "Ketersediaan per tim, kesalahan sendiri (jam layanan)",
            "Naik / (naik + gangguan) untuk entitas milik tim: waktu tak terjangkau tidak "
            "dihitung karena bukan kesalahan tim itu.",
            "team",
            up,
            own,
        ),
        (
            "Aplikasi tersedia per instansi (jam layanan)",
            "Naik / (naik + gangguan + tak terjangkau) untuk aplikasi instansi: sudut pandang "
            "petugas gerai.",
            "agency",
            sel("mpp_entity_status", *apps, 'status="up"'),
            sel("mpp_entity_status", *apps, 'status=~"up|down|unreachable"'),
        ),
    ):
        legend = "{{" + by + "}}"
        b.add(availability_stat(title, desc), 12, 6, [instant(sh_ratio(by, num, den), legend)])
    seconds = "* $__interval_ms / 1000"
    b.add(
        table_panel(
            "Atribusi pemilik: waktu gangguan per tim (jam layanan)",
            "Per tim: waktu gangguan entitas sendiri, waktu entitasnya tak terjangkau karena "
            "induk milik tim lain gagal, dan total waktu gangguan yang dibebankan ke tim ini "
            "(termasuk entitas tim lain yang tak terjangkau karena induk milik tim ini). "
            "Satuan: detik-entitas.",
            "s",
            [
                dm.DataTransformerConfig(id_val="merge", options={}),
                organize(
                    ["Time"],
                    {
                        "team": "Tim",
                        "Value #A": "Gangguan sendiri",
                        "Value #B": "Tak terjangkau (induk gagal)",
                        "Value #C": "Dibebankan ke tim ini",
                        "Value #D": "Ketersediaan (kesalahan sendiri)",
                    },
                ),
            ],
        ).override_by_name(
            "Ketersediaan (kesalahan sendiri)",
            [prop("unit", "percentunit"), prop("decimals", 2)],
        ),
        24,
        8,
        [
            Q(
                f"sum by (team) ({in_service_hours(sel('mpp_entity_status', *ent, DOWN))})"
                f" {seconds}",
                table=True,
            ),
            Q(
                "sum by (team) ("
                f"{in_service_hours(sel('mpp_entity_status', *ent, UNREACHABLE))})"
                f" {seconds}",
                table=True,
            ),
            Q(
                "sum by (team) (label_replace(sum by (owner_team) ("
                f"{in_service_hours(sel('mpp_entity_fault_owner', SITE, OWNER_TEAM))}"
                f'), "team", "$1", "owner_team", "(.*)")) {seconds}',
                table=True,
            ),
            Q(sh_ratio("team", up, own), table=True),
        ],
    )
    b.add(
        availability_table(
            "Ketersediaan per gerai (jam layanan)",
            "Bagian jam layanan ketika gerai bisa melayani, urut dari yang terendah.",
            "percentunit",
            [
                organize(
                    ["Time"], {"counter": "Gerai", "agency": "Instansi", "Value": "Bisa melayani"}
                )
            ],
            "Bisa melayani",
        ),
        12,
        10,
        [Q(sh_ratio("counter, agency", *serve_share()), table=True)],
    )
    b.add(
        availability_table(
            "Ketersediaan per entitas (jam layanan)",
            "Naik / (naik + gangguan + tak terjangkau) per uplink, perangkat dan aplikasi, urut "
            "dari yang terendah.",
            "percentunit",
            [
                organize(
                    ["Time", "entity"],
                    {"kind": "Jenis", "team": "Tim", "name": "Entitas", "Value": "Tersedia"},
                )
            ],
            "Tersedia",
        ),
        12,
        10,
        [
            Q(
                with_name(
                    sh_ratio(
                        "kind, team, entity",
                        up,
                        sel("mpp_entity_status", *ent, 'status=~"up|down|unreachable"'),
                    )
                ),
                table=True,
            )
        ],
    )

    b.row("Sepanjang waktu (jam dinding, 24 jam)")
    b.add(
        availability_stat(
            "Uplink tersedia (jam dinding)", "Bagian waktu uplink tidak putus, 24 jam sehari."
        ),
        12,
        5,
        [
            instant(
                "1 - avg by (link) (avg_over_time("
                f"{sel('mpp_link_state', SITE, LINK_DOWN)}[$__range]))",
                "{{link}}",
            )
        ],
    )
    b.add(
        availability_stat(
            "Gerai bisa melayani, per instansi (jam dinding)",
            "Bagian waktu gerai instansi bisa melayani, 24 jam sehari.",
        ),
        12,
        5,
        [
            instant(
                f"avg by (agency) (avg_over_time({sel('mpp_can_serve', SITE, AGENCY)}[$__range]))",
                "{{agency}}",
            )
        ],
    )
    b.add(
        series_panel(
            "Entitas bermasalah per tim yang harus bertindak",
            "Jumlah entitas gangguan atau tak terjangkau, menurut tim yang harus bertindak.",
            "none",
            bars=True,
            stack=True,
            min_val=0,
        ),
        24,
        8,
        [
            Q(
                f"sum by (owner_team) ({sel('mpp_entity_fault_owner', SITE, OWNER_TEAM)})",
                "{{owner_team}}",
            )
        ],
    )
    return b
