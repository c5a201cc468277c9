"""The Alertmanager webhook endpoint: POST /api/v1/alerts/webhook/{team} on a loopback app."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.notify.channels import parse_channel
from monitor.notify.notifier import Notifier, NotifierSettings
from monitor.notify.routing import Routing
from monitor.notify.webhook import WEBHOOK_PATH, make_webhook_routes
from tests.notify.gateways import FakeGateway, alert, group

SETTINGS = NotifierSettings(backoff_base=0.001, backoff_max=0.01, max_attempts=2, queue_size=4)


def _hook(base: str, name: str) -> Any:
    return parse_channel({"kind": "webhook", "url": f"{base}/hook/{name}", "name": name})


def _notifier(gw: FakeGateway) -> Notifier:
    routing = Routing(
        channels={
            ("paser", "bpjs"): [_hook(gw.url, "bpjs-a"), _hook(gw.url, "bpjs-b")],
            ("paser", "kominfo"): [_hook(gw.url, "kominfo-paser")],
            ("tanagrogot", "kominfo"): [_hook(gw.url, "kominfo-tg")],
        }
    )
    return Notifier(routing, SETTINGS)


async def _client(
    notifier: Notifier, start: bool = True
) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    app.add_routes(make_webhook_routes(notifier))
    if start:
        app.cleanup_ctx.append(notifier.cleanup_ctx)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    return client


def test_the_documented_path() -> None:
    assert WEBHOOK_PATH == "/api/v1/alerts/webhook/{team}"


async def test_post_queues_and_delivers_to_the_team(gw: FakeGateway) -> None:
    n = _notifier(gw)
    client = await _client(n)
    try:
        resp = await client.post("/api/v1/alerts/webhook/bpjs?site=paser", json=group(alert()))
        assert resp.status == 202
        assert await resp.json() == {"outcome": "queued", "messages": 2}
        got = sorted([(await gw.next()).path, (await gw.next()).path])
        assert got == ["/hook/bpjs-a", "/hook/bpjs-b"]
        resp = await client.post(
            "/api/v1/alerts/webhook/bpjs?site=paser&channel=bpjs-b", json=group(alert())
        )
        assert (resp.status, (await resp.json())["messages"]) == (202, 1)
        assert (await gw.next()).path == "/hook/bpjs-b"
    finally:
        await client.close()
    assert [r.path for r in gw.attempts].count("/hook/bpjs-a") == 1


async def test_site_comes_from_the_labels_or_must_be_given(gw: FakeGateway) -> None:
    n = _notifier(gw)
    client = await _client(n)
    try:
        # kominfo exists at two sites: the group's site label decides
        resp = await client.post("/api/v1/alerts/webhook/kominfo", json=group(team="kominfo"))
        assert resp.status == 202
        assert (await gw.next()).path == "/hook/kominfo-paser"
        bare = group(team="kominfo")
        bare["commonLabels"] = bare["groupLabels"] = {}
        resp = await client.post("/api/v1/alerts/webhook/kominfo", json=bare)
        assert resp.status == 400
        assert "site" in (await resp.json())["detail"]
        resp = await client.post("/api/v1/alerts/webhook/kominfo?site=tanagrogot", json=bare)
        assert resp.status == 202
        assert (await gw.next()).path == "/hook/kominfo-tg"
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        ("/api/v1/alerts/webhook/bpjs?site=paser", b"{not json", 400),
        ("/api/v1/alerts/webhook/bpjs?site=paser", b'{"alerts": []}', 400),
        ("/api/v1/alerts/webhook/dukcapil?site=paser", None, 404),
        ("/api/v1/alerts/webhook/bpjs?site=paser&channel=sms", None, 404),
    ],
)
async def test_bad_requests(gw: FakeGateway, url: str, body: bytes | None, status: int) -> None:
    client = await _client(_notifier(gw))
    try:
        if body is None:
            resp = await client.post(url, json=group(alert()))
        else:
            resp = await client.post(url, data=body, headers={"Content-Type": "application/json"})
        assert resp.status == status
        assert "error" in await resp.json() or status == 404
    finally:
        await client.close()
    assert gw.attempts == []


async def test_nothing_to_send_is_200(gw: FakeGateway) -> None:
    client = await _client(_notifier(gw))
    try:
        resp = await client.post(
            "/api/v1/alerts/webhook/bpjs?site=paser", json=group(alert(severity="info"))
        )
        assert resp.status == 200
        assert await resp.json() == {"outcome": "nothing", "messages": 0}
    finally:
        await client.close()


async def test_queue_full_answers_503_and_counts_dropped(gw: FakeGateway) -> None:
    n = _notifier(gw)
    client = await _client(n, start=False)  # no workers: the queue (4) fills up
    try:
        url = "/api/v1/alerts/webhook/bpjs?site=paser"
        # three different alerts (a repeat of one still waiting would not be queued again)
        for minute in (11, 12):
            one = group(alert(starts=f"2025-11-29T01:{minute}:00Z"))
            assert (await client.post(url, json=one)).status == 202
        resp = await client.post(url, json=group(alert(starts="2025-11-29T01:13:00Z")))
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "30"
    finally:
        await client.close()
    assert n.queue_length == 4
    assert n.stats[("bpjs", "bpjs-a", "dropped")] == 1
    assert n.stats[("bpjs", "bpjs-b", "dropped")] == 1
    await n.stop(drain_timeout=0)
    assert n.stats[("bpjs", "bpjs-a", "dropped")] == 3
