"""The web endpoints, one aiohttp app: /metrics, health, reload, JSON status, status page.

Routes::

    GET  /                 status page (Bahasa Indonesia; ?lang=en for English)
    GET  /api/v1/status    sites, links, counters, applications, entities, faults (JSON)
    GET  /metrics          Prometheus exposition (the exporter's handler)
    GET  /runbook          what each alert means and what to check first (docs/runbook.md)
    GET  /-/healthy        200 while the process runs (always open, even with basic auth)
    GET  /-/ready          200 once a plan is running, else 503
    POST /-/reload         re-read the inventory; a bad file keeps the old one (400 + errors)
    POST /api/v1/alerts/webhook/{team}   the notifier's Alertmanager webhook (with notifier=)

A slow client cannot hold the service: every connection is handled on its own, idle or
trickling connections are closed after ``keepalive_timeout`` (aiohttp arms it before the
first request too), and a single peer may hold only ``max_per_peer`` connections.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from monitor import __version__
from monitor.exporter import MetricsHandler, MetricsRenderer
from monitor.i18n import language_of
from monitor.inventory import ConfigError, load_plan
from monitor.notify.notifier import Notifier
from monitor.notify.webhook import mount as mount_webhook
from monitor.plan import Plan
from monitor.state import EntityView, Snapshot
from monitor.web.config import WebConfig, format_url
from monitor.web.statuspage import Names, counter_state, render_page

METRICS_HANDLER = web.AppKey("metrics_handler", MetricsHandler)

log = logging.getLogger("mpp_monitor.web")

OPEN_PATHS = frozenset({"/-/healthy"})
MAX_CONNECTIONS = 1024
MAX_PER_PEER = 64
KEEPALIVE_TIMEOUT = 10.0
MAX_REQUEST_BODY = 1024 * 1024  # the Alertmanager webhook is the largest body we take

Loader = Callable[[str | Path], Plan]


class ServiceLike(Protocol):
    """What the web app needs from monitor.service.Service."""

    plan: Plan | None
    last_reload_error: str | None

    @property
    def ready(self) -> bool: ...

    @property
    def reload_successful(self) -> bool: ...

    @property
    def renderer(self) -> MetricsRenderer: ...

    def snapshot(self, *, include_targets: bool = True) -> Snapshot: ...

    async def apply_plan(self, plan: Plan) -> None: ...

    def reload_failed(self, reason: str) -> None: ...


class Reloadable(Protocol):
    """What a reload needs: the prober's Service, or the standalone notifier's."""

    async def apply_plan(self, plan: Plan) -> None: ...

    def reload_failed(self, reason: str) -> None: ...


class Reloader:
    """Re-reads the inventory and applies it; one reload at a time (SIGHUP and HTTP)."""

    def __init__(
        self,
        service: Reloadable,
        path: str | Path,
        loader: Loader = load_plan,
    ) -> None:
        self.service = service
        self.path = path
        self.loader = loader
        self._lock = asyncio.Lock()

    async def reload(self) -> list[str]:
        """Validate the whole file, then apply it; return the error lines ([] on success)."""
        async with self._lock:
            try:
                # parsing a large inventory takes a while: keep the loop serving scrapes
                plan = await asyncio.to_thread(self.loader, self.path)
            except ConfigError as exc:
                lines = [str(e) for e in exc.errors]
                self.service.reload_failed("; ".join(lines))
                return lines
            try:
                await self.service.apply_plan(plan)
            except Exception as exc:
                # apply_plan has recorded the failure and kept the old plan running
                return [f"{self.path}: {exc.args[0] if isinstance(exc, KeyError) else exc}"]
            log.info("configuration reloaded from %s", self.path)
            return []


# ---- JSON ------------------------------------------------------------------------------


def _iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat(timespec="seconds")


def _entity_json(v: EntityView, names: Names) -> dict[str, Any]:
    owner = v.owner or (v.team if v.status in ("down", "unreachable") else "")
    return {
        "id": v.id,
        "kind": v.kind,
        "name": v.name,
        "site": v.site,
        "status": v.status,
        "team": v.team,
        "team_name": names.team(v.site, v.team),
        "owner": owner,
        "owner_name": names.team(v.site, owner) if owner else "",
        "since": _iso(v.since),
        "depends_on": list(v.depends_on),
        "targets": list(v.targets),
        "agency": v.labels.get("agency", ""),
        "counter": v.labels.get("counter", ""),
    }


def status_json(snapshot: Snapshot, plan: Plan | None, *, reload_ok: bool = True) -> dict[str, Any]:
    """The /api/v1/status document (names, statuses and owners; never addresses)."""
    names = Names.from_plan(plan)
    entities = snapshot.entities
    critical = {e.id: e.critical for e in plan.entities.values()} if plan else {}
    return {
        "generated_at": _iso(snapshot.taken_at),
        "version": __version__,
        "config_reload_successful": reload_ok,
        "sites": [
            {
                "id": s.site,
                "name": names.sites.get(s.site, s.site),
                "timezone": names.zones.get(s.site, ""),
                "internet_up": s.internet_up,
                "links": list(s.links),
            }
            for s in snapshot.sites
        ],
        "links": [
            {
                "id": x.id,
                "name": x.name,
                "site": x.site,
                "provider": names.providers.get(x.id, ""),
                "state": x.state,
                "status": x.status,
                "team": x.team,
                "owner": x.owner,
                "loss_ratio": x.loss_ratio,
                "rtt_median_seconds": x.rtt_median_seconds,
            }
            for x in snapshot.links
        ],
        "counters": [
            {
                "site": c.site,
                "number": c.number,
                "name": c.name,
                "agency": c.agency,
                "agency_name": names.agency(c.site, c.agency),
                "team": c.team,
                "can_serve": c.can_serve,
                "state": counter_state(c, entities),
                "blocking": list(c.blocking),
                "devices": list(c.devices),
                "applications": list(c.applications),
            }
            for c in snapshot.counters
        ],
        "applications": [
            {**_entity_json(v, names), "critical": critical.get(v.id, True)}
            for v in entities.values()
            if v.kind == "application"
        ],
        "entities": [_entity_json(v, names) for v in entities.values()],
        "faults": [_entity_json(v, names) for v in snapshot.faults],
    }


# ---- the app ---------------------------------------------------------------------------


def guard_middleware(cfg: WebConfig) -> Middleware:
    """Basic auth (when configured; ``/-/healthy`` stays open) and the security headers."""

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if (
            cfg.auth_enabled
            and request.path not in OPEN_PATHS
            and not await cfg.check_header(request.headers.get("Authorization"))
        ):
            return web.Response(
                status=401,
                text="401 Unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="mpp-monitor", charset="UTF-8"'},
            )
        response = await handler(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'",
        )
        return response

    return guard


def _base_app(
    web_config: WebConfig | None, ready_now: Callable[[], bool], reloader: Reloader
) -> web.Application:
    """An app with the guard and the lifecycle routes: health, ready and reload."""

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="OK\n")

    async def ready(request: web.Request) -> web.Response:
        if ready_now():
            return web.Response(text="Ready\n")
        return web.Response(status=503, text="Not ready\n")

    async def reload(request: web.Request) -> web.Response:
        errors = await reloader.reload()
        if errors:
            return web.Response(status=400, text="\n".join(errors) + "\n")
        return web.Response(text="OK\n")

    cfg = web_config or WebConfig()
    app = web.Application(middlewares=[guard_middleware(cfg)], client_max_size=MAX_REQUEST_BODY)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_post("/-/reload", reload)
    app.router.add_put("/-/reload", reload)
    return app


RUNBOOK_PAGE = Path(__file__).with_name("runbook.html")  # generated from docs/runbook.md


_runbook_body: bytes | None = None


async def runbook(request: web.Request) -> web.Response:
    """The runbook page: the "Panduan" links of the messages end here (``/runbook#mpp...``),
    on the site's own server, so they work while the building is offline. Read once (a
    file of the installed package), then served from memory."""
    global _runbook_body
    if _runbook_body is None:
        try:
            _runbook_body = await asyncio.to_thread(RUNBOOK_PAGE.read_bytes)
        except OSError:
            raise web.HTTPNotFound(text="runbook page not installed\n") from None
    return web.Response(body=_runbook_body, content_type="text/html", charset="utf-8")


def make_app(
    service: ServiceLike,
    reloader: Reloader,
    *,
    web_config: WebConfig | None = None,
    notifier: Notifier | None = None,
    refresh_seconds: int = 10,
) -> web.Application:
    """Build the aiohttp application over a running service."""

    async def status(request: web.Request) -> web.Response:
        snap = service.snapshot()
        return web.json_response(
            status_json(snap, service.plan, reload_ok=service.reload_successful)
        )

    async def page(request: web.Request) -> web.Response:
        snap = service.snapshot()
        body = render_page(
            snap,
            service.plan,
            lang=language_of(request.query.get("lang")),
            refresh_seconds=refresh_seconds,
            reload_ok=service.reload_successful,
        )
        return web.Response(
            text=body, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    app = _base_app(web_config, lambda: service.ready, reloader)
    app.router.add_get("/", page)
    app.router.add_get("/runbook", runbook)
    app.router.add_get("/api/v1/status", status)
    app[METRICS_HANDLER] = MetricsHandler(service)
    app.router.add_get("/metrics", app[METRICS_HANDLER].handle)
    if notifier is not None:
        mount_webhook(app, notifier)
    return app


class NotifierProcess(Reloadable, Protocol):
    """What the standalone notifier's app needs (``mpp-monitor notify``)."""

    @property
    def ready(self) -> bool: ...

    def metrics(self) -> bytes: ...


def make_notify_app(
    process: NotifierProcess,
    notifier: Notifier,
    reloader: Reloader,
    *,
    web_config: WebConfig | None = None,
) -> web.Application:
    """The standalone notifier's app: the webhook, /metrics, health, ready and reload."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=process.metrics(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    app = _base_app(web_config, lambda: process.ready, reloader)
    app.router.add_get("/metrics", metrics)
    mount_webhook(app, notifier)
    return app


class _Rejected(asyncio.Protocol):
    """A connection over the limits: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


class _PerPeer(asyncio.Protocol):
    """Wraps aiohttp's protocol to count connections per peer address."""

    def __init__(self, inner: asyncio.Protocol, limits: _Limits) -> None:
        self.inner = inner
        self.limits = limits
        self.peer: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if self.limits.per_peer.get(host, 0) >= self.limits.max_per_peer:
            assert isinstance(transport, asyncio.Transport)
            transport.abort()
            return
        self.peer = host
        self.limits.per_peer[host] = self.limits.per_peer.get(host, 0) + 1
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is None:
            return
        n = self.limits.per_peer.get(self.peer, 1) - 1
        if n <= 0:
            self.limits.per_peer.pop(self.peer, None)
        else:
            self.limits.per_peer[self.peer] = n
        self.peer = None
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _Limits:
    def __init__(self, max_total: int, max_per_peer: int) -> None:
        self.max_total = max_total
        self.max_per_peer = max_per_peer
        self.per_peer: dict[str, int] = {}


class WebServer:
    """Serves the app on one address, with optional TLS and connection limits."""

    def __init__(
        self,
        app: web.Application,
        *,
        web_config: WebConfig | None = None,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        max_per_peer: int = MAX_PER_PEER,
    ) -> None:
        self.app = app
        self.web_config = web_config or WebConfig()
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            keepalive_timeout=keepalive_timeout,
            shutdown_timeout=2.0,
            max_line_size=8190,
            max_field_size=8190,
        )
        self._limits = _Limits(max_connections, max_per_peer)
        self._server: asyncio.Server | None = None
        self.url = ""

    def _protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None
        if len(server.connections) >= self._limits.max_total:
            return _Rejected()
        return _PerPeer(server(), self._limits)

    async def start(self, host: str, port: int) -> str:
        """Listen; return the base URL (raises OSError when the address cannot be used)."""
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._protocol,
                host,
                port,
                ssl=self.web_config.ssl_context,
                reuse_address=True,
                backlog=128,
            )
        except BaseException:
            await self._runner.cleanup()
            raise
        bound = self._server.sockets[0].getsockname()[1] if self._server.sockets else port
        self.url = format_url(host, int(bound), tls=self.web_config.ssl_context is not None)
        return self.url

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and close every connection (bounded by shutdown_timeout)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._runner.cleanup()
