"""Words and number formats of the report in Bahasa Indonesia (default) and English."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from monitor.i18n import LANGUAGES, MONTHS, WEEKDAYS, Catalogue, Language, language_of, month_short

__all__ = ["DEFINITIONS", "LANGUAGES", "RANKING_DEFINITIONS", "Lang", "T"]

_T = {
    # key: (Bahasa Indonesia, English)
    "title": ("Laporan Ketersediaan Layanan", "Service Availability Report"),
    "period": ("Periode", "Period"),
    "generated": ("Dibuat", "Generated"),
    "source": ("Sumber data", "Data source"),
    "step": ("Resolusi", "Resolution"),
    "partial": (
        "Bulan ini belum selesai: angka mencakup sampai waktu pembuatan laporan.",
        "The month has not ended: figures cover up to the time the report was made.",
    ),
    "summary": ("Ringkasan", "Summary"),
    "kpi_counters": ("Gerai dapat melayani", "Counters able to serve"),
    "kpi_apps": ("Aplikasi instansi (milik sendiri)", "Agency applications (own)"),
    "kpi_internet": ("Internet (minimal satu jalur)", "Internet (at least one uplink)"),
    "kpi_incidents": ("Gangguan", "Incidents"),
    "kpi_mttr": ("Rata-rata waktu pemulihan (MTTR)", "Mean time to repair (MTTR)"),
    "kpi_service": ("Jam layanan", "Service hours"),
    "kpi_unknown": ("Tanpa data", "No data"),
    "kpi_maint": ("Pemeliharaan terjadwal", "Planned maintenance"),
    "chart_days": (
        "Gerai dapat melayani, per hari layanan",
        "Counters able to serve, per service day",
    ),
    "chart_agencies": ("Ketersediaan per instansi", "Availability per agency"),
    "chart_links": ("Ketersediaan jalur internet", "Internet uplink availability"),
    "legend_apps": ("aplikasi (milik sendiri)", "applications (own)"),
    "legend_counters": ("gerai dapat melayani", "counters able to serve"),
    "closed": ("tutup", "closed"),
    "agencies": ("Instansi", "Agencies"),
    "applications": ("Aplikasi", "Applications"),
    "counters": ("Gerai", "Counters"),
    "links": ("Jalur internet", "Internet uplinks"),
    "devices": ("Perangkat", "Devices"),
    "teams": ("Tim dan tanggung jawab", "Teams and accountability"),
    "worst": ("Paling bermasalah bulan ini", "Worst of the month"),
    "worst_counters": ("Gerai", "Counters"),
    "worst_apps": ("Aplikasi", "Applications"),
    "incidents": ("Daftar gangguan", "Incidents"),
    "no_incidents": ("Tidak ada gangguan pada jam layanan.", "No incident during service hours."),
    "maintenance": ("Pemeliharaan terjadwal (inventaris)", "Planned maintenance (inventory)"),
    "no_maintenance": ("Tidak ada.", "None."),
    "gaps": (
        "Waktu tanpa data (monitor atau Prometheus mati)",
        "Time with no data (monitor or Prometheus down)",
    ),
    "no_gaps": ("Tidak ada.", "None."),
    "closed_days": ("Hari libur dan tutup", "Holidays and closed days"),
    "definitions": ("Cara menghitung", "How the figures are computed"),
    # columns
    "c_id": ("id", "id"),
    "c_name": ("Nama", "Name"),
    "c_team": ("Tim", "Team"),
    "c_agency": ("Instansi", "Agency"),
    "c_counter": ("Gerai", "Counter"),
    "c_kind": ("Jenis", "Kind"),
    "c_avail": ("Ketersediaan", "Availability"),
    "c_own": ("Milik sendiri", "Own"),
    "c_service": ("Jam layanan", "Service h"),
    "c_maint": ("Pemeliharaan", "Maintenance"),
    "c_unknown": ("Tanpa data", "No data"),
    "c_known": ("Terukur", "Measured"),
    "c_down": ("Mati", "Down"),
    "c_unreach": ("Tak terjangkau", "Unreachable"),
    "c_counters_serve": ("Gerai dapat melayani", "Counters able to serve"),
    "c_cannot": ("Tak dapat melayani", "Cannot serve"),
    "c_degraded": ("Menurun", "Degraded"),
    "c_charged": ("Dibebankan ke tim lain", "Charged to other teams"),
    "c_start": ("Mulai", "Start"),
    "c_end": ("Selesai", "End"),
    "c_duration": ("Durasi", "Duration"),
    "c_in_service": ("Dalam jam layanan", "In service hours"),
    "c_what": ("Apa", "What"),
    "c_where": ("Di mana", "Where"),
    "c_status": ("Status", "Status"),
    "c_owner": ("Tim penanggung jawab", "Owning team"),
    "c_cause": ("Penyebab", "Cause"),
    "c_own_down": ("Gangguan sendiri", "Own downtime"),
    "c_caused": ("Menyebabkan tak terjangkau", "Caused unreachable"),
    "c_counter_h": ("Gerai tak melayani", "Counters not serving"),
    "c_incidents": ("Gangguan", "Incidents"),
    "c_mttr": ("MTTR", "MTTR"),
    "c_scope": ("Cakupan", "Scope"),
    "c_when": ("Waktu", "When"),
    "c_desc": ("Keterangan", "Description"),
    "c_date": ("Tanggal", "Date"),
    "c_holiday": ("Hari libur", "Holiday"),
    "c_things": ("Jumlah", "Things"),
    # statuses and levels
    "s_down": ("mati", "down"),
    "s_unreachable": ("tak terjangkau", "unreachable"),
    "s_cannot_serve": ("tak dapat melayani", "cannot serve"),
    "l_application": ("aplikasi", "application"),
    "l_device": ("perangkat", "device"),
    "l_infra": ("infrastruktur", "infrastructure"),
    "l_link": ("jalur internet", "uplink"),
    "l_counter": ("gerai", "counter"),
    "charged_to": ("dibebankan ke", "charged to"),
    "own_word": ("milik sendiri", "own"),
    "unexplained": ("penyebab tidak diketahui", "cause unknown"),
    "ongoing": ("masih berlangsung", "ongoing"),
    "before": ("sebelum periode", "before the period"),
    "hours": ("jam", "h"),
    "none": ("—", "—"),
    "every": ("setiap", "every"),
    "extra_closed": (
        "Tutup (tanggal tambahan di inventaris)",
        "Closed (extra date in the inventory)",
    ),
    "scope_team": ("tim", "team"),
    "scope_agency": ("instansi", "agency"),
    "scope_counter": ("gerai", "counter"),
    "scope_link": ("jalur", "uplink"),
    "scope_entity": ("entitas", "entity"),
    "scope_target": ("target", "target"),
    "scope_site": ("seluruh gedung", "whole site"),
    "incidents_things": (
        "Perangkat, aplikasi dan jaringan",
        "Devices, applications and network",
    ),
    "incidents_counters": ("Gerai tidak dapat melayani", "Counters unable to serve"),
    "incidents_note": (
        "Waktu setempat. Durasi: dari mulai sampai selesai; dalam jam layanan: bagian yang "
        "dihitung (jam layanan terukur).",
        "Site local time. Duration: start to end; in service hours: the part that counts "
        "(measured service time).",
    ),
    # the manager's pages: summary, providers, targets, comparison
    "exec_summary": ("Ringkasan eksekutif", "Executive summary"),
    "es_counters": (
        "Gerai dapat melayani {pct} dari jam layanan terukur ({n} gerai, {hours} jam layanan).",
        "Counters were able to serve {pct} of the measured service time ({n} counters, "
        "{hours} service hours).",
    ),
    "es_internet": (
        "Internet (minimal satu jalur) tersedia {pct}.",
        "Internet (at least one uplink) was available {pct}.",
    ),
    "es_link_met": ("{name}: {pct}, memenuhi SLA {sla}.", "{name}: {pct}, SLA {sla} met."),
    "es_link_missed": (
        "{name}: {pct}, DI BAWAH SLA {sla} ({down} putus dalam jam layanan): bukti untuk "
        "klaim restitusi ada di bagian Internet per penyedia.",
        "{name}: {pct}, BELOW its SLA of {sla} ({down} down in service hours): the evidence "
        "for a restitution claim is in Internet per provider.",
    ),
    "es_link_nosla": (
        "{name}: {pct} (tanpa SLA di inventaris).",
        "{name}: {pct} (no SLA in the inventory).",
    ),
    "es_below": (
        "Instansi di bawah target (milik sendiri): {items}.",
        "Agencies below target (own): {items}.",
    ),
    "es_all_met": (
        "Semua instansi mencapai target ketersediaan (milik sendiri).",
        "Every agency met its availability target (own).",
    ),
    "es_worst": (
        "Gangguan terbesar pada jaringan, internet dan aplikasi (dalam jam layanan):",
        "Largest incidents of network, internet and applications (in service hours):",
    ),
    "es_lowest": (
        "Gerai dengan ketersediaan terendah: {items}.",
        "Counters with the lowest availability: {items}.",
    ),
    "es_prev": ("bulan lalu {pct}, {delta}", "last month {pct}, {delta}"),
    "points": ("poin", "points"),
    "no_previous": (
        "Tidak ada data bulan sebelumnya untuk perbandingan.",
        "No data for the month before to compare with.",
    ),
    "providers": ("Internet per penyedia (SLA)", "Internet per provider (SLA)"),
    "providers_note": (
        "Ketersediaan dihitung atas jam layanan terukur (bukan 24 jam). Putus: jalur mati "
        "menurut monitor; menurun (rugi paket atau latensi tinggi) tidak dihitung putus.",
        "Availability over measured service time (not 24 hours). Down: the uplink was down "
        "per the monitor; degraded (loss or high latency) is not counted as down.",
    ),
    "evidence": ("Bukti gangguan untuk klaim restitusi", "Outage evidence for a restitution claim"),
    "evidence_of": ("{name} ({provider}): {n} kali putus", "{name} ({provider}): {n} outages"),
    "evidence_total": ("Jumlah dalam jam layanan", "Total in service hours"),
    "c_provider": ("Penyedia", "Provider"),
    "c_sla": ("SLA kontrak", "Contracted SLA"),
    "c_sla_met": ("Memenuhi SLA", "SLA met"),
    "c_down_service": ("Putus dalam jam layanan", "Down in service hours"),
    "c_outages": ("Kali putus", "Outages"),
    "c_no": ("No.", "No."),
    "c_target": ("Target", "Target"),
    "c_prev": ("Bulan lalu", "Last month"),
    "c_devices": ("Perangkat (ketersediaan)", "Devices (availability)"),
    "met": ("tercapai", "met"),
    "missed": ("tidak tercapai", "missed"),
    "yes": ("ya", "yes"),
    "no": ("TIDAK", "NO"),
    "infra": ("Jaringan gedung", "Building network"),
    # letterhead, page numbers and signatures (templates/report.html.j2)
    "page": ("Halaman", "Page"),
    "letterhead_note": (
        "Laporan bulanan ketersediaan layanan untuk rapat evaluasi",
        "Monthly service availability report for the evaluation meeting",
    ),
    "prepared_by": ("Disusun oleh,", "Prepared by,"),
    "approved_by": ("Mengetahui,", "Acknowledged by,"),
    "name_nip": ("Nama dan NIP", "Name and staff number"),
    # plain-language causes of incidents
    "why_down": ("Gangguan pada {name} sendiri.", "A fault of {name} itself."),
    "why_unreachable": (
        "Tak terjangkau karena {parts} mati.",
        "Unreachable because {parts} failed.",
    ),
    "why_unreachable_unknown": (
        "Tak terjangkau; jalur atau perangkat induk tidak tercatat gagal.",
        "Unreachable; no uplink or parent device was recorded as failing.",
    ),
    "why_counter": (
        "Tidak dapat melayani karena bermasalah: {parts}.",
        "Could not serve because these failed: {parts}.",
    ),
    "why_counter_unknown": (
        "Tidak dapat melayani; tidak ada perangkat atau aplikasi yang tercatat gagal.",
        "Could not serve; no device or application was recorded as failing.",
    ),
    "why_owner": ("Ditangani: {team}.", "To fix: {team}."),
    # the cross-site ranking (ranking.py, templates/ranking.html.j2)
    "rk_title": ("Peringkat MPP", "MPP Ranking"),
    "rk_subtitle": (
        "Ketersediaan layanan {n} MPP, {month}",
        "Service availability of {n} MPPs, {month}",
    ),
    "rk_order": (
        "Peringkat 1 = terbaik: diurutkan menurut gerai dapat melayani (jam layanan terukur), "
        "lalu internet, lalu id situs. MPP tanpa data tidak diberi peringkat.",
        "Rank 1 = best: sorted by counters able to serve (measured service time), then "
        "internet, then site id. MPPs without data are not ranked.",
    ),
    "rk_sites": ("Peringkat MPP", "MPPs ranked"),
    "rk_rank": ("Peringkat", "Rank"),
    "rk_site": ("MPP", "MPP"),
    "rk_place": ("Wilayah", "Region"),
    "rk_counters": ("Gerai", "Counters"),
    "rk_network": ("Dibebankan ke tim jaringan ({team})", "Charged to the network team ({team})"),
    "rk_network_any": ("Dibebankan ke tim jaringan", "Charged to the network team"),
    "rk_agencies_charged": ("Dibebankan ke tim instansi", "Charged to agencies' teams"),
    "rk_worst_of_site": ("Instansi terendah", "Lowest agency"),
    "rk_no_data": ("tidak ada data", "no data"),
    "rk_unmeasured": ("tidak ada jam layanan terukur", "no measured service time"),
    "rk_worst": (
        "Instansi dengan ketersediaan terendah (milik sendiri), semua MPP",
        "Agencies with the lowest availability (own), all MPPs",
    ),
    "rk_worst_note": (
        "{n} terendah dari {total} instansi; daftar lengkap di ranking-agencies.csv.",
        "The {n} lowest of {total} agencies; the full list is in ranking-agencies.csv.",
    ),
    "rk_hours_note": (
        "Jam gerai tak dapat melayani (jam × gerai) dalam jam layanan terukur, menurut tim "
        "yang dibebankan.",
        "Counter-hours unable to serve in measured service time, by the team charged.",
    ),
}

T = Catalogue("report", _T)

DEFINITIONS: dict[Language, list[str]] = {
    "id": [
        "<b>Jam layanan</b>: jam buka gedung menurut inventaris (zona waktu situs), hanya hari "
        "layanan, dikurangi hari libur nasional (kalender <code>holidays</code>) dan tanggal tutup "
        "tambahan (cuti bersama). Di luar jam layanan tidak dihitung.",
        "<b>Pemeliharaan</b>: jam layanan yang tercakup jendela pemeliharaan di inventaris, atau "
        "yang oleh monitor dilaporkan <i>maintenance</i>. Dikeluarkan dari penyebut dan "
        "ditampilkan terpisah.",
        "<b>Tanpa data</b>: jam layanan tanpa nilai di Prometheus (monitor atau Prometheus mati) "
        "atau berstatus <i>unknown</i>. Tidak pernah dihitung sebagai hidup; ditampilkan terpisah.",
        "<b>Terukur</b> = jam layanan − pemeliharaan − tanpa data. "
        "<b>Ketersediaan</b> = waktu hidup ÷ terukur (untuk gerai: waktu dapat melayani ÷ "
        "terukur).",
        "<b>Milik sendiri</b> = 1 − (waktu yang dibebankan ke tim pemilik) ÷ terukur. Waktu "
        "<i>tak terjangkau</i> karena induk milik tim lain gagal (mis. internet mati) "
        "dibebankan ke tim pemilik induk itu, tidak ke instansi.",
        "<b>Gangguan</b>: rentang berurutan mati / tak terjangkau / tak dapat melayani "
        "(digabung bila terputus tanpa data paling lama satu langkah), yang mengenai jam "
        "layanan terukur. <b>MTTR</b> tim = rata-rata durasi gangguan <i>mati</i> pada "
        "perangkat/aplikasi miliknya (mulai sampai selesai).",
        "Angka tim dan instansi menjumlahkan waktu semua aplikasi dan perangkatnya.",
    ],
    "en": [
        "<b>Service time</b>: the building's opening hours from the inventory (site time "
        "zone), service days only, minus public holidays (the <code>holidays</code> calendar) "
        "and extra closed dates (collective leave). Time outside it is not counted.",
        "<b>Maintenance</b>: service time covered by a maintenance window of the inventory, or "
        "reported as <i>maintenance</i> by the monitor. Excluded from the denominator and "
        "shown separately.",
        "<b>No data</b>: service time without a value in Prometheus (monitor or Prometheus "
        "down) or with status <i>unknown</i>. Never counted as up; shown separately.",
        "<b>Measured</b> = service time − maintenance − no data. <b>Availability</b> = up ÷ "
        "measured (for a counter: time able to serve ÷ measured).",
        "<b>Own</b> = 1 − (time charged to the owning team) ÷ measured. Time "
        "<i>unreachable</i> because another team's parent failed (e.g. the internet) is "
        "charged to that parent's team, not to the agency.",
        "<b>Incident</b>: a contiguous span of down / unreachable / cannot serve (joined across "
        "gaps of no data of at most one step) that touches measured service time. A team's "
        "<b>MTTR</b> = the mean duration (start to end) of the <i>down</i> incidents of its "
        "own devices and applications.",
        "Team and agency figures add up the time of all their applications and devices.",
    ],
}


RANKING_DEFINITIONS: dict[Language, list[str]] = {
    "id": [
        "Setiap angka sama dengan angka laporan bulanan MPP itu sendiri (laporan per situs): "
        "peringkat tidak menghitung ulang apa pun. Bulan dihitung dalam zona waktu tiap situs.",
        "<b>Gerai dapat melayani</b> = waktu semua gerai dapat melayani ÷ jam layanan terukur "
        "gerai (tanpa pemeliharaan dan tanpa data). <b>Internet</b> = waktu minimal satu "
        "jalur internet hidup ÷ terukur. <b>Bulan lalu</b>: angka yang sama untuk bulan "
        "sebelumnya, bila Prometheus masih menyimpannya.",
        "<b>Dibebankan</b>: jam gerai tak dapat melayani yang dibebankan ke tim jaringan "
        "situs (biasanya Kominfo) dan ke tim TI instansi, sendiri atau bersama tim lain "
        "(kolom <i>Gerai tak melayani</i> tabel tim di laporan situs).",
        "<b>Instansi terendah</b>: ketersediaan milik sendiri aplikasi dan perangkat instansi "
        "(waktu tak terjangkau karena jaringan milik tim lain tidak dihitung).",
        "<b>Tidak ada data</b>: Prometheus tidak menyimpan deret mpp-monitor situs itu untuk "
        "bulan ini (situs gelap, retensi habis, atau id situs salah).",
    ],
    "en": [
        "Every figure equals the MPP's own monthly report (the per-site report): the ranking "
        "recomputes nothing. The month is taken in each site's time zone.",
        "<b>Counters able to serve</b> = time every counter could serve ÷ the counters' "
        "measured service time (no maintenance, no missing data). <b>Internet</b> = time at "
        "least one internet uplink was up ÷ measured. <b>Last month</b>: the same figure for "
        "the month before, where Prometheus still holds it.",
        "<b>Charged</b>: counter-hours unable to serve charged to the site's network team "
        "(usually Kominfo) and to the agencies' IT teams, alone or together with another team "
        "(the <i>Counters not serving</i> column of the teams table in the site report).",
        "<b>Lowest agency</b>: the own availability of the agency's applications and devices "
        "(time unreachable because another team's network failed is not counted).",
        "<b>No data</b>: Prometheus holds no mpp-monitor series of that site for the month "
        "(a dark site, retention ended, or a wrong site id).",
    ],
}


@dataclass(frozen=True)
class Lang:
    """Words and formats of one language."""

    code: Language

    @classmethod
    def of(cls, value: str | None) -> Lang:
        """The language for a code ("en", "id"; Indonesian for anything else)."""
        return cls(language_of(value))

    def t(self, key: str) -> str:
        """The word for key."""
        return T.text(key, self.code)

    def pct(self, ratio: float | None, digits: int = 2) -> str:
        """99.1234 % (English) or 99,1234 % (Indonesian); a dash for None."""
        if ratio is None:
            return "—"
        text = f"{ratio * 100:.{digits}f}"
        return (text.replace(".", ",") if self.code == "id" else text) + " %"

    def num(self, value: float, digits: int = 1) -> str:
        """A decimal number in the language's format."""
        text = f"{value:,.{digits}f}"
        if self.code == "id":
            text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        return text

    def delta(self, then: float | None, now: float | None) -> str:
        """The change between two ratios in points: "+0,62 poin" / "−1,20 poin"; empty
        without both figures."""
        if then is None or now is None:
            return ""
        d = (now - then) * 100
        sign = "+" if d >= 0.005 else "−" if d <= -0.005 else "±"
        return f"{sign}{self.num(abs(d), 2)} {self.t('points')}"

    def hours(self, seconds: float) -> str:
        """Seconds as hours, e.g. "12,5 jam"."""
        return f"{self.num(seconds / 3600, 2)} {self.t('hours')}"

    def duration(self, seconds: float) -> str:
        """Seconds as "1 j 05 m" / "1 h 05 min" (days when long)."""
        minutes = round(seconds / 60)
        d, rest = divmod(minutes, 1440)
        h, m = divmod(rest, 60)
        hw, mw, dw = ("j", "m", "hr") if self.code == "id" else ("h", "min", "d")
        if d:
            return f"{d} {dw} {h} {hw} {m:02d} {mw}"
        if h:
            return f"{h} {hw} {m:02d} {mw}"
        return f"{m} {mw}"

    def month(self, year: int, month: int) -> str:
        """ "Februari 2026"."""
        return f"{MONTHS[self.code][month - 1]} {year}"

    def month_named(self, month: str) -> str:
        """ "2026-02" -> "Februari 2026"."""
        year, number = (int(x) for x in month.split("-"))
        return self.month(year, number)

    def date(self, day: dt.date) -> str:
        """ "Sen 02 Feb"."""
        month = month_short(day.month, self.code)
        return f"{WEEKDAYS[self.code][day.weekday()]} {day.day:02d} {month}"

    def weekday(self, name: str) -> str:
        """ "wed" -> "Rab" / "Wed"."""
        index = ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(name)
        return WEEKDAYS[self.code][index]

    def when(self, moment: dt.datetime) -> str:
        """ "Sen 02/02 10:00"."""
        return f"{WEEKDAYS[self.code][moment.weekday()]} {moment:%d/%m %H:%M}"
