"""The Prometheus client of the report: chunking under the 11,000-point limit, folding
samples into spans, and one-line errors. A small fake of the query API on loopback stands in
for Prometheus here (the real one is in test_known_truth.py and test_errors.py)."""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from monitor.report.prom import (
    MAX_POINTS,
    Folder,
    Prometheus,
    PrometheusError,
    chunks,
    label_value,
    redact,
)

DAY = 86400.0


def test_chunks_cover_every_step_once_and_stay_under_the_limit() -> None:
    start, step = 1_769_875_200.0, 15.0
    end = start + 28 * DAY
    got = chunks(start, end, step, MAX_POINTS)
    points = [int((last - first) / step) + 1 for first, last in got]
    assert all(p <= MAX_POINTS < 11_000 for p in points)
    assert sum(points) == 28 * DAY / step  # 161,280 evaluations
    assert got[0][0] == start and got[-1][1] == end - step
    for (_, last), (first, _) in itertools.pairwise(got):
        assert first == last + step
    assert chunks(start, start + 10, 15, 100) == [(start, start)]
    assert chunks(start, start, 15, 100) == []


def test_folder_joins_consecutive_steps_across_chunks() -> None:
    folder = Folder(15.0)
    labels = {"entity": "e"}
    folder.add([{"metric": labels, "values": [[0, "1"], [15, "1"], [30, "0"]]}])
    folder.add([{"metric": labels, "values": [[45, "0"], [60, "1"], [90, "1"]]}])
    series = folder.finish(end=100.0)
    (only,) = series.values()
    assert only.labels == labels
    # 75 is missing: a gap; the last run ends one step after 90 but never after end
    assert only.by_value == {"1": [(0, 30), (60, 75), (90, 100)], "0": [(30, 60)]}


def test_redact_and_label_value() -> None:
    assert redact("http://user:secret@prom:9090/x") == "http://prom:9090/x"
    assert redact("http://127.0.0.1:9090") == "http://127.0.0.1:9090"
    assert label_value('a"b\\c') == '"a\\"b\\\\c"'


@dataclass
class FakeApi:
    """/api/v1/query_range and /api/v1/query with Prometheus' resolution limit."""

    value: Callable[[float], str | None]
    calls: list[dict[str, str]] = field(default_factory=list)

    async def query_range(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.calls.append({k: str(v) for k, v in form.items()})
        start, end, step = (float(str(form[k])) for k in ("start", "end", "step"))
        if (end - start) / step > 11_000:
            return web.json_response(
                {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": "exceeded maximum resolution of 11,000 points per timeseries",
                },
                status=400,
            )
        values = []
        t = start
        while t <= end:
            v = self.value(t)
            if v is not None:
                values.append([t, v])
            t += step
        result = [{"metric": {"entity": "e", "status": "up"}, "values": values}] if values else []
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    async def query(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": []}}
        )


async def serve(api: FakeApi) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/api/v1/query_range", api.query_range)
    app.router.add_post("/api/v1/query", api.query)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


START = 1_769_875_200.0  # 2026-02-01 00:00 WITA
OUTAGE = (START + 3 * DAY + 3600, START + 3 * DAY + 7200)


def up_except_outage(t: float) -> str | None:
    return None if OUTAGE[0] <= t < OUTAGE[1] else "1"


async def test_a_month_at_15s_is_queried_in_chunks() -> None:
    api = FakeApi(up_except_outage)
    async for url in serve(api):
        async with aiohttp.ClientSession() as session:
            prom = Prometheus(url, session)
            series = await prom.fold("q", START, START + 28 * DAY, 15.0)
    assert len(api.calls) == 17  # 161,280 steps in chunks of 10,000
    (only,) = series.values()
    assert only.by_value == {"1": [(START, OUTAGE[0]), (OUTAGE[1], START + 28 * DAY)]}


async def test_refused_query_is_one_clear_line() -> None:
    api = FakeApi(up_except_outage)
    async for url in serve(api):
        async with aiohttp.ClientSession() as session:
            prom = Prometheus(url, session, max_points=20_000)  # over the limit on purpose
            with pytest.raises(PrometheusError, match="exceeded maximum resolution") as err:
                await prom.fold("q", START, START + 28 * DAY, 15.0)
    assert "\n" not in str(err.value)
    assert "refused a query (HTTP 400)" in str(err.value)


async def test_not_a_prometheus_is_named() -> None:
    app = web.Application()

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    app.router.add_post("/api/v1/query", html)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(PrometheusError, match="is not a Prometheus API"):
                await Prometheus(url, session).check()
    finally:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_prometheus_without_credentials_in_the_message() -> None:
    url = f"http://admin:hunter2@127.0.0.1:{closed_port()}"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(PrometheusError) as err:
            await Prometheus(url, session).check()
    message = str(err.value)
    assert message.startswith("cannot reach Prometheus at http://127.0.0.1:")
    assert "hunter2" not in message and "admin" not in message
    assert "\n" not in message
