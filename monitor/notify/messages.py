"""Alertmanager webhook payloads, and the short messages made from them.

A message says what (the alert's summary), where (site, counter, agency, link, device), since
when (site local time, WITA for ``Asia/Makassar``), who owns it (the ``team`` label) and the
runbook link; a resolved alert becomes a "PULIH" message with the outage's span. Bahasa
Indonesia by default, English on request. Plain text: no markup, so inventory names and
label values cannot inject formatting.

``render_short`` makes the SMS text: one 160-character GSM-7 segment (what, where, since when;
or the span of a resolved outage), folded to the GSM-7 alphabet so no phone falls back to
70-character UCS-2 segments.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.i18n import WEEKDAYS, Catalogue, Language, month_short

Status = Literal["firing", "resolved"]
DEFAULT_TIMEZONE = "Asia/Makassar"
MAX_TEXT = 4000  # Telegram's limit is 4096 characters; WhatsApp's is larger
SMS_SEGMENT = 160  # GSM-7 characters in one SMS


class WebhookAlert(BaseModel):
    """One alert of an Alertmanager webhook notification (payload version 4)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Status
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    starts_at: dt.datetime | None = Field(default=None, alias="startsAt")
    ends_at: dt.datetime | None = Field(default=None, alias="endsAt")
    fingerprint: str = ""


class AlertGroup(BaseModel):
    """An Alertmanager webhook notification: one group of alerts (payload version 4)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str = "4"
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: Status
    receiver: str = ""
    group_labels: dict[str, str] = Field(default={}, alias="groupLabels")
    common_labels: dict[str, str] = Field(default={}, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default={}, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[WebhookAlert] = Field(min_length=1)


# (kind, id) -> human name, kinds: site, team, agency, link, entity
Names = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class Formatter:
    """Turns alert groups into message text; names and time zones come from the inventory."""

    names: Names = field(default_factory=dict)
    timezones: Mapping[str, str] = field(default_factory=dict)  # site -> IANA zone
    default_timezone: str = DEFAULT_TIMEZONE
    max_alerts: int = 10
    runbook_url: str = ""  # the inventory's runbook_url (links point there, with the anchor)

    def zone(self, site: str) -> zoneinfo.ZoneInfo:
        """The site's time zone (the default zone for unknown sites)."""
        return zoneinfo.ZoneInfo(self.timezones.get(site, self.default_timezone))

    def render(self, alerts: Sequence[WebhookAlert], language: Language, truncated: int = 0) -> str:
        """The message for these alerts (one group, already filtered for the channel)."""
        words = _WORDS.words(language)
        firing = [a for a in alerts if a.status == "firing"]
        resolved = [a for a in alerts if a.status == "resolved"]
        parts: list[str] = []
        if len(alerts) > 1:
            first = alerts[0].labels
            where = self._name("site", first.get("site", ""))
            owner = self._name("team", first.get("team", ""))
            counts = [
                words["n_firing"].format(n=len(firing)) if firing else "",
                words["n_resolved"].format(n=len(resolved)) if resolved else "",
            ]
            head = "🔴" if firing else "✅"
            line = f"{head} {', '.join(c for c in counts if c)}"
            if where:
                line += f" · {where}"
            if owner:
                line += f" · {_team_phrase(words['team'], owner)}"
            parts.append(line)
        ordered = firing + resolved
        for alert in ordered[: self.max_alerts]:
            parts.append(self._alert(alert, language))
        hidden = len(ordered) - self.max_alerts + truncated
        if hidden > 0:
            parts.append(words["more"].format(n=hidden))
        text = "\n\n".join(parts)
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

    def render_short(self, alerts: Sequence[WebhookAlert], language: Language) -> str:
        """One SMS: at most 160 GSM-7 characters (see ``gsm7``)."""
        words = _WORDS.words(language)
        firing = [a for a in alerts if a.status == "firing"]
        resolved = [a for a in alerts if a.status == "resolved"]
        if len(alerts) == 1:
            text = self._short_alert(alerts[0], language)
        else:
            counts = [
                words["n_firing"].format(n=len(firing)) if firing else "",
                words["n_resolved"].format(n=len(resolved)) if resolved else "",
            ]
            site = self._name("site", alerts[0].labels.get("site", ""))
            head = ", ".join(c for c in counts if c) + (f" - {site}" if site else "")
            text = (
                head + ": " + "; ".join(self._short_alert(a, language) for a in firing + resolved)
            )
        return gsm7(text, SMS_SEGMENT)

    def _short_alert(self, alert: WebhookAlert, language: Language) -> str:
        words = _WORDS.words(language)
        labels = alert.labels
        summary = self.headline(alert, language)
        zone = self.zone(labels.get("site", ""))
        start, end = _real_time(alert.starts_at), _real_time(alert.ends_at)
        if alert.status == "firing":
            text = f"{_tag(labels.get('severity', ''), language)}: {summary}"
            if start:
                local = start.astimezone(zone)
                text += f", {words['since'].lower()} {local:%H:%M} {local.tzname()}"
            return text
        text = f"{words['resolved']}: {summary}"
        if start and end:
            a, b = start.astimezone(zone), end.astimezone(zone)
            day = "" if a.date() == b.date() else f"{_date(a, language)} "
            text += f" {day}{a:%H:%M}-{b:%H:%M} {b.tzname()}, {_duration(end - start, language)}"
        return text

    def headline(self, alert: WebhookAlert, language: Language) -> str:
        """The alert's first line, naming things by their inventory names ("Aplikasi SIAK
        Terpusat (Dukcapil) tidak dapat diakses"); the rule's summary when a name is missing
        or the alert has no headline of its own."""
        template = _HEADLINES.words(language).get(alert.labels.get("alertname", ""))
        if template:
            fields = self._headline_fields(alert.labels)
            try:
                return template.format_map(fields)
            except KeyError:
                pass
        return _summary(alert, language)

    def _headline_fields(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The names a headline may use; only those the inventory knows (a KeyError else)."""
        out: dict[str, str] = {}
        for key, kind in (("site", "site"), ("agency", "agency"), ("link", "link")):
            name = self.names.get((kind, labels.get(key, "")))
            if name:
                out[key] = name
        entity = self.names.get(("entity", labels.get("entity", "")))
        if entity and labels.get("kind") == "application":
            out["app"] = entity
        if labels.get("kind") in ("device", "infra"):
            device = entity or labels.get("device", "")
            if device:
                out["device"] = device
        if labels.get("counter"):
            out["counter"] = labels["counter"]
        return out

    def runbook(self, alert: WebhookAlert) -> str:
        """The runbook link: the inventory's runbook (its ``runbook_url``, else the monitor's
        own ``/runbook`` page under ``public_url``) with the rule's anchor. A rule's absolute
        link stands when the inventory gives no base; a relative one (``/runbook#...``, as
        the committed rules have) is left out then: a phone cannot open it."""
        url = alert.annotations.get("runbook_url", "")
        if not url:
            return ""
        if not self.runbook_url:
            return url if url.startswith(("https://", "http://")) else ""
        anchor = url.partition("#")[2]
        return self.runbook_url.split("#")[0] + (f"#{anchor}" if anchor else "")

    def _unknown_team(self, team: str) -> bool:
        """True for a ``team`` label naming no inventory team (when the teams are known)."""
        known = any(kind == "team" for kind, _ in self.names)
        return known and bool(team) and ("team", team) not in self.names

    def _name(self, kind: str, ident: str) -> str:
        return self.names.get((kind, ident), ident) if ident else ""

    def named(self, text: str, labels: Mapping[str, str]) -> str:
        """``text`` (a rule's description, written with label values) with the alert's ids
        replaced by their inventory names: "aplikasi paser/application/dukcapil-siak milik
        instansi dukcapil" -> "aplikasi SIAK Terpusat milik instansi Dukcapil". One pass, so
        a name is never rewritten again; ids shorter than 3 characters (counter "07") stay."""
        names: dict[str, str] = {}
        for kind in _NAMED_LABELS:
            ident = labels.get(kind, "")
            name = self._name(kind, ident)
            if len(ident) >= 3 and name and name != ident:
                names.setdefault(ident, name)
        if not text or not names:
            return text
        pattern = "|".join(re.escape(i) for i in sorted(names, key=len, reverse=True))
        text = re.sub(rf"(?<![\w/.-])(?:{pattern})(?![\w/-])", lambda m: names[m[0]], text)
        # "MPP MPP Kabupaten Paser", "tim Tim TI Disdukcapil": the rule's word and the name's
        return re.sub(r"\b(\w+) (?=\1\b)", "", text, flags=re.IGNORECASE)

    def _alert(self, alert: WebhookAlert, language: Language) -> str:
        words = _WORDS.words(language)
        labels = alert.labels
        summary = self.headline(alert, language)
        severity = labels.get("severity", "")
        zone = self.zone(labels.get("site", ""))
        lines: list[str] = []
        if alert.status == "firing":
            icon = _ICONS.get(severity, "🔴")
            lines.append(f"{icon} {_tag(severity, language)}: {summary}")
            description = self.named(_note(alert, "description", language), labels)
            if description:
                lines.append(description)
        else:
            lines.append(f"✅ {words['resolved']}: {summary}")
        where = self._where(labels, language)
        if where:
            lines.append(f"{words['where']}: {where}")
        start = _real_time(alert.starts_at)
        end = _real_time(alert.ends_at)
        if alert.status == "firing" and start:
            lines.append(f"{words['since']}: {_when(start, zone, language)}")
        elif start and end:
            span = _span(start, end, zone, language)
            lines.append(f"{words['outage']}: {span} ({_duration(end - start, language)})")
        owner = self._name("team", labels.get("team", ""))
        if owner and self._unknown_team(labels.get("team", "")):
            lines.append(f"{words['owner']}: {words['unknown_team'].format(team=owner)}")
        elif owner:
            lines.append(f"{words['owner']}: {_team_phrase(words['team'], owner)}")
        runbook = self.runbook(alert)
        if runbook and alert.status == "firing":
            lines.append(f"{words['runbook']}: {runbook}")
        return "\n".join(lines)

    def _where(self, labels: Mapping[str, str], language: Language) -> str:
        words = _WORDS.words(language)
        parts: list[str] = []
        if labels.get("site"):
            parts.append(self._name("site", labels["site"]))
        if labels.get("counter"):
            parts.append(f"{words['counter']} {labels['counter']}")
        if labels.get("agency"):
            parts.append(self._name("agency", labels["agency"]))
        if labels.get("link"):
            parts.append(f"{words['link']} {self._name('link', labels['link'])}")
        entity = labels.get("entity", "")
        if entity and labels.get("kind") != "link" and ("entity", entity) in self.names:
            parts.append(self.names[("entity", entity)])
        return " · ".join(parts)


_ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}

# Headlines by alert name, filled with inventory names ({site}, {link}, {app}, {agency},
# {device}) and the counter number; an alert missing one of them keeps the rule's summary.
_HEADLINES = Catalogue(
    "notify-headlines",
    {
        "MppSiteOffline": (
            "{site} tanpa internet: semua link putus",
            "{site} offline: every internet link is down",
        ),
        "MppLinkDown": ("Link {link} di {site} putus", "Link {link} at {site} is down"),
        "MppLinkDegraded": (
            "Link {link} di {site} menurun kualitasnya",
            "Link {link} at {site} is degraded",
        ),
        "MppApplicationDown": (
            "Aplikasi {app} ({agency}) tidak dapat diakses",
            "Application {app} ({agency}) is down",
        ),
        "MppApplicationSlow": (
            "Aplikasi {app} ({agency}) lambat",
            "Application {app} ({agency}) is slow",
        ),
        "MppCertificateExpiringSoon": (
            "Sertifikat TLS {app} segera kedaluwarsa",
            "TLS certificate of {app} expires soon",
        ),
        "MppCounterCannotServe": (
            "Gerai {counter} ({agency}) tidak dapat melayani",
            "Counter {counter} ({agency}) cannot serve",
        ),
        "MppCounterDeviceDown": (
            "Perangkat {device} di gerai {counter} mati",
            "Device {device} at counter {counter} is down",
        ),
        "MppInfraDeviceDown": (
            "Perangkat jaringan {device} mati",
            "Network device {device} is down",
        ),
    },
)


def _team_phrase(word: str, name: str) -> str:
    """ "tim NAME", without doubling the word when the name starts with it ("Tim TI ...")."""
    first = name.split(maxsplit=1)[0].lower() if name.strip() else ""
    return name if first in (word.lower(), "tim", "team") else f"{word} {name}"


_WORDS = Catalogue(
    "notify-messages",
    {
        "critical": ("KRITIS", "CRITICAL"),
        "warning": ("PERINGATAN", "WARNING"),
        "info": ("INFO", "INFO"),
        "alert": ("GANGGUAN", "ALERT"),
        "resolved": ("PULIH", "RESOLVED"),
        "where": ("Lokasi", "Where"),
        "since": ("Sejak", "Since"),
        "outage": ("Gangguan", "Outage"),
        "owner": ("Penanggung jawab", "Owner"),
        "team": ("tim", "team"),
        "runbook": ("Panduan", "Runbook"),
        "unknown_team": (
            "tim {team} TIDAK DIKENAL di inventaris: peringatan diteruskan ke tim cadangan; "
            "perbaiki label team pada aturan atau tambahkan timnya",
            "team {team} is UNKNOWN to the inventory: the alert is forwarded to the fallback "
            "team; fix the rule's team label or add the team",
        ),
        "counter": ("Gerai", "Counter"),
        "link": ("Link", "Link"),
        "n_firing": ("{n} gangguan aktif", "{n} firing"),
        "n_resolved": ("{n} pulih", "{n} resolved"),
        "more": ("… dan {n} peringatan lain", "… and {n} more alert(s)"),
    },
)


# labels whose values are ids with an inventory name (longest first when they overlap)
_NAMED_LABELS = ("entity", "link", "agency", "site", "team")


def _note(alert: WebhookAlert, key: str, language: Language) -> str:
    """An annotation in the language (``summary_en``), else the default one, else ""."""
    notes = alert.annotations
    return notes.get(f"{key}_en" if language == "en" else key) or notes.get(key) or ""


def _summary(alert: WebhookAlert, language: Language) -> str:
    return _note(alert, "summary", language) or alert.labels.get("alertname", "?")


def _tag(severity: str, language: Language) -> str:
    words = _WORDS.words(language)
    return words.get(severity, severity.upper() or words["alert"])


def _real_time(value: dt.datetime | None) -> dt.datetime | None:
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end yet"
    if value is None or value.year < 2000:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _date(t: dt.datetime, language: Language) -> str:
    return f"{WEEKDAYS[language][t.weekday()]} {t.day} {month_short(t.month, language)} {t.year}"


def _when(t: dt.datetime, zone: zoneinfo.ZoneInfo, language: Language) -> str:
    local = t.astimezone(zone)
    return f"{_date(local, language)} {local:%H:%M} {local.tzname()}"


def _span(start: dt.datetime, end: dt.datetime, zone: zoneinfo.ZoneInfo, language: Language) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.date() == b.date():
        return f"{_date(a, language)} {a:%H:%M}–{b:%H:%M} {b.tzname()}"
    return f"{_when(a, zone, language)} – {_when(b, zone, language)}"


def _duration(delta: dt.timedelta, language: Language) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    units = ("hari", "jam", "menit") if language == "id" else ("d", "h", "min")
    parts = [f"{v} {u}" for v, u in zip((days, hours, mins), units, strict=True) if v]
    return " ".join(parts[:2]) or f"0 {units[2]}"


# GSM 03.38: the basic alphabet (one septet each) and the extension table (two septets each).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€")
_GSM_FOLD = str.maketrans(
    {"–": "-", "—": "-", "·": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "\t": " "}
)


def gsm7(text: str, limit: int = SMS_SEGMENT) -> str:
    """``text`` folded to the GSM-7 alphabet and cut to ``limit`` septets.

    Dashes and quotes become their ASCII forms, accents are dropped where GSM-7 lacks the
    letter (``ō`` -> ``o``), anything else (emoji) is left out; a cut ends in ``...``."""
    folded: list[str] = []
    for ch in text.replace("…", "...").translate(_GSM_FOLD):
        if ch in _GSM_BASIC or ch in _GSM_EXTENDED:
            folded.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)
        folded.extend(c for c in base if c in _GSM_BASIC)
    out = " ".join("".join(folded).split())
    size = 0
    for i, ch in enumerate(out):
        size += 2 if ch in _GSM_EXTENDED else 1
        if size > limit:
            return out[: max(0, i - 3)].rstrip() + "..."
    return out


def filter_alerts(
    alerts: Sequence[WebhookAlert],
    severities: Sequence[str],
    send_resolved: bool,
) -> list[WebhookAlert]:
    """The alerts a channel wants: its severities (alerts without one pass), resolved or not."""
    keep: list[WebhookAlert] = []
    for a in alerts:
        severity = a.labels.get("severity")
        if severity is not None and severity not in severities:
            continue
        if a.status == "resolved" and not send_resolved:
            continue
        keep.append(a)
    return keep
