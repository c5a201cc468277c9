"""A loopback sink standing in for every team's chat: records each message per team.

It answers like the gateways the notifier talks to:

* ``POST /hook/{team}``: the notifier's ``webhook`` channel (JSON with status, text, alerts);
* ``POST /waha/{team}/api/sendText``: a WAHA WhatsApp gateway (JSON ``chatId, text, session``);
* ``POST /fonnte/{team}/send``: a Fonnte gateway (form ``target, message``), answering
  ``{"status": true}`` as Fonnte does.

Runs on the caller's event loop (``async with Sink() as sink``); ``await sink.wait_for(...)``
wakes on every new message, so tests never sleep to see one arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    """One message as the sink got it."""

    seq: int
    at: float  # time.monotonic()
    team: str
    channel: str  # webhook, waha, fonnte
    status: str  # firing / resolved (webhook), "" when the gateway format does not say
    text: str
    alerts: tuple[dict[str, Any], ...] = ()  # webhook only: the alerts with their labels

    def alertnames(self, status: str | None = None) -> set[str]:
        """Alert names in this message (only those with this status, if given)."""
        return {
            str(a.get("labels", {}).get("alertname", ""))
            for a in self.alerts
            if status is None or a.get("status") == status
        }

    def summary(self) -> str:
        """One line for diagnostics."""
        alerts = ", ".join(
            f"{a.get('labels', {}).get('alertname')}[{a.get('status')}]"
            + "".join(
                f" {k}={v}"
                for k, v in sorted(a.get("labels", {}).items())
                if k in ("link", "counter", "device", "agency")
            )
            for a in self.alerts
        )
        first = self.text.splitlines()[0] if self.text else ""
        return f"#{self.seq} {self.team}/{self.channel} {self.status or '-'}: {alerts} | {first}"


@dataclass
class Sink:
    """The recording server (see the module docstring)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    log: Path | None = None
    errors: list[str] = field(default_factory=list)
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> Sink:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/hook/{team}", self._webhook)
        app.router.add_post("/waha/{team}/api/sendText", self._waha)
        app.router.add_post("/fonnte/{team}/send", self._fonnte)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        """The sink's URL for a path such as ``/hook/kominfo``."""
        return f"http://{self.host}:{self.port}{path}"

    async def _add(self, **kw: Any) -> None:
        assert self._changed is not None
        async with self._changed:
            rec = Received(seq=len(self.received), at=time.monotonic(), **kw)
            self.received.append(rec)
            if self.log is not None:  # run apart (in another namespace): one JSON line each
                with self.log.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(dataclasses.asdict(rec) | {"wall": time.time()}) + "\n")
            self._changed.notify_all()

    async def _webhook(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            await self._add(
                team=request.match_info["team"],
                channel="webhook",
                status=str(body.get("status", "")),
                text=str(body.get("text", "")),
                alerts=tuple(body.get("alerts") or ()),
            )
        except (ValueError, AttributeError) as exc:
            self.errors.append(f"bad webhook body: {exc!r}")
            return web.json_response({"error": "bad body"}, status=400)
        return web.json_response({"ok": True})

    async def _waha(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            text = str(body["text"])
        except (ValueError, KeyError, TypeError) as exc:
            self.errors.append(f"bad WAHA body: {exc!r}")
            return web.json_response({"error": "bad body"}, status=400)
        await self._add(team=request.match_info["team"], channel="waha", status="", text=text)
        return web.json_response({"id": f"true_{body.get('chatId', '')}_E2E"}, status=201)

    async def _fonnte(self, request: web.Request) -> web.Response:
        form = await request.post()
        text = form.get("message")
        if not isinstance(text, str) or not form.get("target"):
            self.errors.append(f"bad Fonnte form: {sorted(form)}")
            return web.json_response({"status": False, "reason": "bad form"})
        await self._add(team=request.match_info["team"], channel="fonnte", status="", text=text)
        return web.json_response({"status": True, "detail": "success! message in queue"})

    # -- reading --------------------------------------------------------------------------

    def mark(self) -> int:
        """A position: ``since(mark)`` then gives what arrived after it."""
        return len(self.received)

    def since(
        self, mark: int, *, team: str | None = None, channel: str | None = "webhook"
    ) -> list[Received]:
        """Messages after ``mark``, for one team and channel (None: any)."""
        return [
            r
            for r in self.received[mark:]
            if (team is None or r.team == team) and (channel is None or r.channel == channel)
        ]

    async def wait_for(
        self, what: str, predicate: Callable[[], Received | None], timeout: float
    ) -> Received:
        """Wait until ``predicate()`` returns a message; AssertionError naming ``what``."""
        assert self._changed is not None
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    found = predicate()
                    if found is not None:
                        return found
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"no message {what} within {timeout:.0f}s; the sink has:\n" + self.dump()
            ) from None

    def dump(self, mark: int = 0) -> str:
        """Everything received after mark, one line each."""
        lines = [r.summary() for r in self.received[mark:]] or ["(nothing)"]
        if self.errors:
            lines.append("sink errors: " + json.dumps(self.errors[-5:]))
        return "\n".join(lines)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The messages a sink run apart has written, oldest first."""
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln]


async def _serve(host: str, port: int, log: Path) -> None:
    async with Sink(host=host, port=port, log=log):
        await asyncio.Event().wait()  # until the process is stopped


if __name__ == "__main__":
    # The gateways beyond the uplinks: `ip netns exec inet python -m tests.e2e.sink ...`
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--log", required=True, type=Path)
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    asyncio.run(_serve(host, int(port), args.log))
