"""A fake message gateway on loopback: WAHA, Fonnte, Telegram Bot API and a webhook sink.

One aiohttp server on 127.0.0.1, port 0. Every request is recorded in ``attempts``; the ones
answered 2xx are also put on ``delivered`` for tests to await (no sleeping). ``answer(kind,
*responses)`` queues the next answers for a kind: a status code, (status, JSON body), or
(status, JSON body, headers).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

OK_BODIES: dict[str, Any] = {
    "waha": {"id": "true_628111@c.us_ABC", "ack": 0},
    "fonnte": {"status": True, "detail": "success! message in queue", "id": ["1"]},
    "telegram": {"ok": True, "result": {"message_id": 1}},
    "webhook": {"ok": True},
}


@dataclass
class Received:
    """One request the gateway got."""

    kind: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    status: int = 200
    at: float = field(default_factory=time.monotonic)  # when it arrived (monotonic clock)


class FakeGateway:
    """Speaks the four gateway formats; records and answers as told."""

    def __init__(self) -> None:
        self.attempts: list[Received] = []
        self.delivered: asyncio.Queue[Received] = asyncio.Queue()
        self.requests: asyncio.Queue[Received] = asyncio.Queue()  # every request, any answer
        self._answers: dict[str, deque[tuple[int, Any, dict[str, str]]]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    def answer(
        self, kind: str, *responses: int | tuple[int, Any] | tuple[int, Any, dict[str, str]]
    ) -> None:
        """Queue the next answers for a kind (then 200 with a normal body again)."""
        q = self._answers.setdefault(kind, deque())
        for r in responses:
            if isinstance(r, int):
                q.append((r, {"error": f"status {r}"}, {}))
            elif len(r) == 2:
                q.append((r[0], r[1], {}))
            else:
                q.append((r[0], r[1], r[2]))

    async def start(self) -> str:
        """Start on 127.0.0.1:0; return the base URL."""
        app = web.Application()
        app.add_routes(
            [
                web.post("/api/sendText", self._handler("waha")),
                web.post("/send", self._handler("fonnte")),
                web.post("/bot{token}/sendMessage", self._handler("telegram")),
                web.post("/hook/{name}", self._handler("webhook")),
            ]
        )
        # no access log: it would print Telegram paths, which carry the token
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        """Stop the server."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def next(self, timeout: float = 5.0) -> Received:
        """The next delivered (2xx-answered) request."""
        return await asyncio.wait_for(self.delivered.get(), timeout)

    def _handler(self, kind: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            rec = Received(kind, request.path, dict(request.headers))
            if request.content_type == "application/json":
                rec.json = await request.json()
            else:
                rec.form = {k: str(v) for k, v in (await request.post()).items()}
            q = self._answers.get(kind)
            status, body, headers = q.popleft() if q else (200, OK_BODIES[kind], {})
            rec.status = status
            self.attempts.append(rec)
            self.requests.put_nowait(rec)
            if 200 <= status < 300:
                self.delivered.put_nowait(rec)
            return web.json_response(body, status=status, headers=headers)

        return handle


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def alert(
    status: str = "firing",
    *,
    alertname: str = "MppCounterDeviceDown",
    severity: str = "warning",
    starts: str = "2025-11-29T01:15:00Z",
    ends: str = "0001-01-01T00:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager sends it (defaults: counter 07's printer at BPJS)."""
    base = {
        "alertname": alertname,
        "severity": severity,
        "site": "paser",
        "team": "bpjs",
        "kind": "device",
        "entity": "paser/device/gerai-07-printer",
        "agency": "bpjs-kesehatan",
        "counter": "07",
        "device": "printer",
    }
    base.update(labels)
    return {
        "status": status,
        "labels": {k: v for k, v in base.items() if v},
        "annotations": {
            "summary": "Perangkat printer di gerai 07 mati",
            "description": "Perangkat printer di gerai 07 tidak menjawab.",
            "summary_en": "Device printer at counter 07 is down",
            "description_en": "Device printer at counter 07 does not answer.",
            "runbook_url": "/runbook#mppcounterdevicedown",
        },
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "0123456789abcdef",
    }


def group(*alerts: dict[str, Any], team: str = "bpjs", truncated: int = 0) -> dict[str, Any]:
    """An Alertmanager webhook payload (version 4) around the alerts."""
    alerts = alerts or (alert(),)
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": '{}/{site="paser"}:{site="paser", team="' + team + '"}',
        "truncatedAlerts": truncated,
        "status": "firing" if firing else "resolved",
        "receiver": f"paser-{team}",
        "groupLabels": {"site": "paser", "team": team},
        "commonLabels": {"site": "paser", "team": team},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }
