"""The central page (`mpp-monitor sites`): states, order, escaping, a store that is down.

The real page over a real VictoriaMetrics with five sites is tests/central; here the store's
answers are written by hand (a fake store on a loopback socket) or the store is a closed port.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitor.web.sites import SitesPage, classify, make_sites_app, queries, render_page
from tests.render.amserver import free_port

NOW = 1_800_000_000.0


def vec(**values: float) -> list[dict[str, Any]]:
    """An instant vector answer: one sample per site."""
    return [{"metric": {"site": s}, "value": [NOW, str(v)]} for s, v in values.items()]


def seen(now: float = NOW, **ages: float) -> list[dict[str, Any]]:
    """The heartbeat answers: the last sample ``age`` seconds before now, per site."""
    return [
        {
            "metric": {"site": s, "region": "kaltim", "regency": f"kab-{s}"},
            "value": [now, str(now - age)],
        }
        for s, age in ages.items()
    ]


def answers(now: float = NOW) -> dict[str, list[dict[str, Any]]]:
    """Five sites, one in each state, at ``now``."""
    return {
        "seen": seen(now, a=10, b=900, c=10, d=10, e=10),
        "fresh": seen(now, a=5, c=5, d=5, e=5),
        "monitor_up": vec(a=1, c=0, d=1, e=1),
        "internet": vec(a=1, d=0, e=1),
        "open": vec(a=1, d=1, e=0),
        "counters": vec(a=4, d=4, e=4),
        "serving": vec(a=4, d=0, e=3),
        "failed": vec(e=1),
        "alerts": vec(),
    }


def test_each_state_and_worst_first() -> None:
    rows = classify(answers(), NOW, dark_after=300)
    assert [(r.site, r.state) for r in rows] == [
        ("b", "dark"), ("c", "monitor_down"), ("d", "offline"), ("e", "trouble"), ("a", "ok"),
    ]  # fmt: skip
    a = rows[-1]
    assert (a.last_seen, a.counters, a.serving, a.internet) == (NOW - 5, 4, 4, True)
    assert rows[0].last_seen == NOW - 900  # from the minute-resolution lookback
    assert rows[3].service_open is False and rows[3].failed == 1


def test_dark_is_measured_against_dark_after() -> None:
    rows = {r.site: r.state for r in classify(answers(), NOW, dark_after=1000)}
    assert rows["b"] != "dark"  # heard from 900 s ago, within 1000 s


def test_an_alert_alone_is_trouble_and_the_watchdog_is_not_counted() -> None:
    got = answers()
    got["alerts"] = vec(a=2)
    assert {r.site: r.state for r in classify(got, NOW, 300)}["a"] == "trouble"
    assert 'alertname!="MppWatchdog"' in queries("1d")["alerts"]


def test_hostile_labels_are_escaped_and_both_languages_render() -> None:
    got = answers()
    got["seen"] = [{"metric": {"site": "<script>x</script>", "region": "<b>r</b>"},
                    "value": [NOW, str(NOW)]}]  # fmt: skip
    got["fresh"] = []
    html = render_page(classify(got, NOW, 300), now=NOW)
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "&lt;b&gt;r&lt;/b&gt;" in html and "NORMAL" in html
    assert "GELAP" in render_page(classify(answers(), NOW, 300), now=NOW, lang="id")
    assert "DARK" in render_page(classify(answers(), NOW, 300), now=NOW, lang="en")
    assert "Penyimpanan pusat tidak menjawab" in render_page(None, now=NOW)


@pytest.fixture
async def fake_store() -> AsyncIterator[str]:
    """A loopback store answering each of the page's queries from answers()."""
    by_query = {q: name for name, q in queries("1d").items()}
    got = answers(time.time())

    async def query(request: web.Request) -> web.Response:
        form = await request.post()
        name = by_query[str(form["query"])]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": got[name]}}
        )

    app = web.Application()
    app.router.add_post("/api/v1/query", query)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _serve(page: SitesPage) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(make_sites_app(page))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def test_the_page_and_json_from_a_store(fake_store: str) -> None:
    runner, url = await _serve(SitesPage(fake_store, dark_after=300))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/sites.json") as resp:
                assert resp.status == 200
                body = await resp.json()
            async with http.get(url + "/") as resp:
                assert resp.status == 200
                assert "script-src" not in resp.headers["Content-Security-Policy"]
                assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
                html = await resp.text()
        assert [r["site"] for r in body["sites"]] == ["b", "c", "d", "e", "a"]
        assert html.index('data-site="b"') < html.index('data-site="a"')
    finally:
        await runner.cleanup()


async def test_a_store_that_does_not_answer_gives_503_not_a_crash() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    runner, url = await _serve(SitesPage(closed, timeout=2))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(2):  # and it keeps serving
                async with http.get(url + "/") as resp:
                    assert resp.status == 503
                    assert "Penyimpanan pusat tidak menjawab" in await resp.text()
            async with http.get(url + "/sites.json") as resp:
                assert resp.status == 503
                assert "does not answer" in (await resp.json())["error"]
    finally:
        await runner.cleanup()


def test_once_writes_the_page_and_fails_on_a_dead_store(tmp_path: Any) -> None:
    out = tmp_path / "page.html"
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "sites", "--store",
         f"http://u:secret@127.0.0.1:{free_port()}", "--once", "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "does not answer" in done.stderr and "secret" not in done.stderr
    assert "Penyimpanan pusat tidak menjawab" in out.read_text(encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "monitor", "sites", "--store", "http://127.0.0.1:1",
         "--dark-after", "5 minutes"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "invalid duration '5 minutes'" in bad.stderr


def test_times_are_shown_in_the_chosen_zone_with_its_name() -> None:
    import zoneinfo

    rows = classify(answers(), NOW, 300)
    wita = render_page(rows, now=NOW)  # 1,800,000,000 s = 2027-01-15 08:00:00 UTC
    assert "2027-01-15 16:00:00 WITA" in wita
    wib = render_page(rows, now=NOW, tz=zoneinfo.ZoneInfo("Asia/Jakarta"))
    assert "2027-01-15 15:00:00 WIB" in wib and "WITA" not in wib
    wit = render_page(rows, now=NOW, tz=zoneinfo.ZoneInfo("Asia/Jayapura"))
    assert "2027-01-15 17:00:00 WIT" in wit  # and each site's "last heard" in the same zone
    assert 'title="2027-01-15 16:45:00 WIT"' in wit  # site b, last heard 900 s before NOW


def test_an_unknown_time_zone_is_refused_by_name() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "monitor", "sites", "--store", "http://127.0.0.1:1",
         "--once", "--timezone", "Asia/Samarinda"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "unknown time zone 'Asia/Samarinda'" in bad.stderr and "Traceback" not in bad.stderr
