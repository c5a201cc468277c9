"""The central page: every site the central store hears from, with its current state.

The centre (VictoriaMetrics, or a Prometheus receiving remote_write; docs/central.md) holds
the series of many sites, each with the external labels site/region/regency. This page asks
it a handful of instant queries and lists the sites worst first: dark (no heartbeat for
``dark_after``), monitor down, internet cut, trouble (failed things, counters not serving,
alerts), normal. Server-rendered HTML (templates/sites.html.j2, autoescape on, no script,
meta refresh) and the same rows as JSON. A store that does not answer gives a page that
says so (HTTP 503), never a crash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
import zoneinfo
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import aiohttp
from aiohttp import web

from monitor import __version__
from monitor.i18n import Catalogue, Language
from monitor.report.prom import Prometheus, PrometheusError, redact
from monitor.web.config import WebConfig
from monitor.web.statuspage import page_template

State = Literal["dark", "monitor_down", "offline", "trouble", "ok"]
SEVERITY: dict[str, int] = {"dark": 0, "monitor_down": 1, "offline": 2, "trouble": 3, "ok": 4}
HEARTBEAT = 'up{job="mpp-monitor"}'
# site alerts that say nothing is wrong (the always-firing watchdog) or are the centre's own
QUIET_ALERTS = 'alertname!="MppWatchdog", scope!="central"'

TEXT = Catalogue(
    "central-page",
    {
        "title": ("Keadaan MPP", "MPP status"),
        "updated": ("Diperbarui", "Updated"),
        "sites": ("gedung", "sites"),
        "region": ("Wilayah", "Region"),
        "regency": ("Kabupaten/kota", "Regency"),
        "site": ("MPP", "MPP"),
        "state": ("Keadaan", "State"),
        "last_seen": ("Terakhir terdengar", "Last heard"),
        "internet": ("Internet", "Internet"),
        "counters": ("Gerai melayani", "Counters serving"),
        "failed": ("Perangkat/aplikasi gagal", "Failed things"),
        "alerts": ("Alert aktif", "Active alerts"),
        "s_dark": ("GELAP", "DARK"),
        "s_monitor_down": ("MONITOR MATI", "MONITOR DOWN"),
        "s_offline": ("INTERNET PUTUS", "INTERNET CUT"),
        "s_trouble": ("GANGGUAN", "TROUBLE"),
        "s_ok": ("NORMAL", "NORMAL"),
        "up": ("TERHUBUNG", "UP"),
        "down": ("TERPUTUS", "DOWN"),
        "unknown": ("?", "?"),
        "closed": ("di luar jam layanan", "outside service hours"),
        "ago": ("lalu", "ago"),
        "store_down": (
            "Penyimpanan pusat tidak menjawab: keadaan gedung tidak dapat ditampilkan.",
            "The central store does not answer: the sites' state cannot be shown.",
        ),
        "none": ("Belum ada gedung yang mengirim data.", "No site has sent data yet."),
        "other_lang": ("English", "Bahasa Indonesia"),
    },
)


@dataclass(frozen=True)
class SiteRow:
    """One site as the page shows it."""

    site: str
    region: str
    regency: str
    state: State
    last_seen: float  # unix seconds of the last heartbeat sample the centre holds
    internet: bool | None
    service_open: bool | None
    counters: int
    serving: int
    failed: int
    alerts: int


def queries(remember: str) -> dict[str, str]:
    """The instant queries, by name: each answers one value per site."""
    return {
        # last heartbeat within `remember` (minute resolution), and the exact one when fresh
        "seen": f"max by (site, region, regency) "
        f"(last_over_time(timestamp({HEARTBEAT})[{remember}:1m]))",
        "fresh": f"max by (site, region, regency) (timestamp({HEARTBEAT}))",
        "monitor_up": f"max by (site) ({HEARTBEAT})",
        "internet": "max by (site) (mpp_site_internet_up)",
        "open": "max by (site) (mpp_site_service_open)",
        "counters": "count by (site) (mpp_can_serve)",
        "serving": "sum by (site) (mpp_can_serve)",
        "failed": "count by (site) (max by (site, entity) "
        '(mpp_entity_status{status=~"down|unreachable"}) == 1)',
        "alerts": f'count by (site) (ALERTS{{alertstate="firing", {QUIET_ALERTS}}})',
    }


QUERY_NAMES = tuple(queries("1d"))


def _by_site(result: list[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in result:
        site = r.get("metric", {}).get("site", "")
        try:
            value = float(r["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if site and math.isfinite(value):
            out[site] = value
    return out


def _labels(result: list[Any]) -> dict[str, dict[str, str]]:
    return {
        r["metric"]["site"]: r["metric"]
        for r in result
        if isinstance(r.get("metric"), dict) and r["metric"].get("site")
    }


def _flag(values: Mapping[str, float], site: str) -> bool | None:
    return None if site not in values else values[site] >= 0.5


def classify(results: Mapping[str, list[Any]], now: float, dark_after: float) -> list[SiteRow]:
    """Rows for every site seen, worst state first (then region, regency, site)."""
    v = {name: _by_site(results.get(name, [])) for name in QUERY_NAMES}
    labels = {**_labels(results.get("seen", [])), **_labels(results.get("fresh", []))}
    rows = []
    for site, lab in labels.items():
        last = max(v["seen"].get(site, 0.0), v["fresh"].get(site, 0.0))
        internet = _flag(v["internet"], site)
        counters, serving = int(v["counters"].get(site, 0)), int(v["serving"].get(site, 0))
        failed, alerts = int(v["failed"].get(site, 0)), int(v["alerts"].get(site, 0))
        state: State
        if now - last > dark_after:
            state = "dark"
        elif v["monitor_up"].get(site, 1.0) < 0.5:
            state = "monitor_down"
        elif internet is False:
            state = "offline"
        elif failed or alerts or serving < counters:
            state = "trouble"
        else:
            state = "ok"
        rows.append(SiteRow(
            site, lab.get("region", ""), lab.get("regency", ""), state, last, internet,
            _flag(v["open"], site), counters, serving, failed, alerts,
        ))  # fmt: skip
    rows.sort(key=lambda r: (SEVERITY[r.state], r.region, r.regency, r.site))
    return rows


async def gather(
    prom: Prometheus, *, remember: str, dark_after: float, now: float | None = None
) -> list[SiteRow]:
    """Ask the store; PrometheusError when it does not answer."""
    named = queries(remember)
    now = time.time() if now is None else now
    answers = await asyncio.gather(*(prom.query(q, now) for q in named.values()))
    return classify(dict(zip(named, answers, strict=True)), now, dark_after)


def _age(seconds: float, lang: Language) -> str:
    """``12 mnt lalu`` / ``12 min ago``: the largest whole unit of the age."""
    seconds = max(0.0, seconds)
    units = (("hari", "d", 86400), ("jam", "h", 3600), ("mnt", "min", 60))
    word_id, word_en, size = next((u for u in units if seconds >= u[2]), ("dtk", "s", 1))
    word = word_id if lang == "id" else word_en
    return f"{int(seconds // size)} {word} {TEXT.text('ago', lang)}"


DEFAULT_TZ: Final = zoneinfo.ZoneInfo("Asia/Makassar")  # WITA; `sites --timezone` for others
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S %Z"  # the zone's abbreviation: WIB, WITA, WIT


def render_page(
    rows: list[SiteRow] | None,
    *,
    now: float,
    lang: Language = "id",
    refresh: int = 30,
    tz: dt.tzinfo = DEFAULT_TZ,
) -> str:
    """The HTML page; rows None means the store did not answer."""
    t = TEXT.words(lang)
    shown = []
    for r in rows or []:
        internet = "unknown" if r.internet is None else ("up" if r.internet else "down")
        shown.append({
            **asdict(r),
            "state_word": t[f"s_{r.state}"],
            "seen_word": _age(now - r.last_seen, lang),
            "seen_at": dt.datetime.fromtimestamp(r.last_seen, tz).strftime(TIME_FORMAT),
            "internet_state": internet,
            "internet_word": t[internet],
            "closed": r.service_open is False,
        })  # fmt: skip
    totals = [(s, sum(1 for r in rows or [] if r.state == s)) for s in SEVERITY]
    return page_template("sites.html.j2").render(
        t=t,
        lang=lang,
        other="en" if lang == "id" else "id",
        refresh=refresh,
        rows=shown,
        totals=[(s, n) for s, n in totals if n],
        store_down=rows is None,
        updated=dt.datetime.fromtimestamp(now, tz).strftime(TIME_FORMAT),
        version=__version__,
    )


def rows_json(rows: list[SiteRow], now: float) -> dict[str, Any]:
    """The JSON document of /sites.json."""
    return {"generated": now, "sites": [asdict(r) for r in rows]}


class SitesPage:
    """Serves the page and /sites.json from one store."""

    def __init__(
        self,
        store_url: str,
        *,
        remember: str = "1d",
        dark_after: float = 300.0,
        timeout: float = 10.0,
        refresh: int = 30,
        tz: dt.tzinfo = DEFAULT_TZ,
    ) -> None:
        self.store_url = store_url
        self.tz = tz  # the page's times (one zone for every site)
        self.shown = redact(store_url)
        self.remember = remember
        self.dark_after = dark_after
        self.timeout = timeout
        self.refresh = refresh
        self.session: aiohttp.ClientSession | None = None

    def _prom(self) -> Prometheus:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        return Prometheus(self.store_url, self.session, timeout=self.timeout)

    async def rows(self, now: float) -> list[SiteRow] | None:
        """The rows, or None when the store does not answer."""
        try:
            return await gather(
                self._prom(), remember=self.remember, dark_after=self.dark_after, now=now
            )
        except PrometheusError:
            return None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def make_sites_app(page: SitesPage, web_config: WebConfig | None = None) -> web.Application:
    """/ (HTML, ?lang=en), /sites.json, /runbook and /-/healthy, with the monitor's guard."""
    from monitor.web.app import guard_middleware, runbook

    async def html(request: web.Request) -> web.Response:
        lang: Language = "en" if request.query.get("lang") == "en" else "id"
        now = time.time()
        rows = await page.rows(now)
        body = render_page(rows, now=now, lang=lang, refresh=page.refresh, tz=page.tz)
        status = 503 if rows is None else 200
        return web.Response(text=body, content_type="text/html", charset="utf-8", status=status)

    async def as_json(_: web.Request) -> web.Response:
        now = time.time()
        rows = await page.rows(now)
        if rows is None:
            return web.json_response({"error": f"the store at {page.shown} does not answer"},
                                     status=503)  # fmt: skip
        return web.json_response(rows_json(rows, now))

    async def healthy(_: web.Request) -> web.Response:
        return web.Response(text="OK\n")

    async def closing(_: web.Application) -> None:
        await page.close()

    app = web.Application(middlewares=[guard_middleware(web_config or WebConfig())])
    app.router.add_get("/", html)
    app.router.add_get("/sites.json", as_json)
    app.router.add_get("/runbook", runbook)
    app.router.add_get("/-/healthy", healthy)
    app.on_cleanup.append(closing)
    return app
