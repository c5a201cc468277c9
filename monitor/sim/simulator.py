"""A simulated MPP on loopback: servers for every target of a loopback-only inventory.

Each HTTP/HTTPS, TCP and DNS target gets a listener on its own 127.x address and port
(Linux routes all of 127.0.0.0/8 to the loopback interface), answering with a realistic
latency. Faults are set per entity and follow the inventory's dependencies, as the
monitor's own dependency rule does:

* ``down``: the entity stops answering (its listeners close: connection refused; DNS
  queries go unanswered). An entity whose every parent is down is down too: a switch down
  silences every device behind it, a link down silences its anchors and the applications
  reached only through it.
* ``slow``: answers come late (an application or device: over the latency budgets, under
  the probes' timeouts; a link's anchors: a quarter of a second more).
* ``loss``: about a third of the requests never get an answer (HTTP and DNS; a TCP connect
  check cannot see loss on loopback).
* ``http_503``: an HTTP endpoint answers 503 Service Unavailable.

A small HTTP control endpoint lists and switches faults while it runs::

    GET    /faults          {"faults": [...], ...}
    POST   /faults          {"entity": "sw-lantai1", "fault": "down", "on": true}
    DELETE /faults          clear every fault
    GET    /entities        the entities faults can be set on

ICMP targets need nothing: loopback always answers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import math
import random
import ssl
import tempfile
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from aiohttp import web

from monitor.plan import Entity, Plan, Target
from monitor.web.config import format_url, is_loopback, os_error_text

log = logging.getLogger("mpp_monitor.simulate")

FAULTS: tuple[str, ...] = ("down", "slow", "http_503", "loss")
Fault = Literal["down", "slow", "http_503", "loss"]
EndpointKind = Literal["http", "https", "tcp", "tls", "dns-udp", "dns-tcp"]

LOSS_RATIO = 0.3  # share of requests dropped under a "loss" fault
RANDOM_503_RATIO = 0.01  # applications' occasional 503 with --faults random
MAX_CONNECTIONS = 2000  # open simulated connections at once; more are closed at once
TCP_IDLE_SECONDS = 10.0  # a simulated TCP peer hangs up after this much silence
MAX_HANG_SECONDS = 15.0  # a "lost" request is held at most this long
MAX_RANDOM_FAULTS = 3  # random faults active at once
CONTROL_MAX_BODY = 16 * 1024


class SimulationError(Exception):
    """The inventory cannot be simulated (non-loopback address, port in use...)."""


# --------------------------------------------------------------------------------------
# what to serve


def _host_of(target: Target) -> tuple[str, int | None]:
    """(host, port) a target connects to; port None for icmp."""
    if target.probe == "http":
        parts = urlsplit(target.address)
        host = parts.hostname or ""
        return host, parts.port or (443 if parts.scheme == "https" else 80)
    if target.probe == "tcp":
        host, _, port = target.address.rpartition(":")
        return host.strip("[]"), int(port)
    if target.probe == "dns":
        return target.address.strip("[]"), int(getattr(target.settings, "port", 53))
    return target.address.strip("[]"), None


def non_loopback(plan: Plan) -> list[str]:
    """Every target address (and probe source address) that is not a loopback IP."""
    bad: list[str] = []
    for t in plan.targets:
        host, _ = _host_of(t)
        if not is_loopback(host):
            bad.append(f"{t.id}: {host or t.address}")
        source = getattr(t.settings, "source", None)
        if source and not is_loopback(str(source)):
            bad.append(f"{t.id}: source {source}")
    return bad


def check_loopback(plan: Plan) -> None:
    """Refuse an inventory that would reach beyond this machine."""
    bad = non_loopback(plan)
    if bad:
        shown = "\n  ".join(bad[:10])
        more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise SimulationError(
            "refusing to simulate: this inventory has addresses outside the loopback range "
            f"(127.0.0.0/8, ::1), so it describes a real network:\n  {shown}{more}\n"
            "Use a loopback-only inventory such as examples/demo.yaml."
        )


@dataclass
class Endpoint:
    """One listening address and the targets that probe it."""

    host: str
    port: int
    kind: EndpointKind
    targets: list[Target] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None
    dns_transport: asyncio.DatagramTransport | None = None

    @property
    def name(self) -> str:
        """host:port with IPv6 bracketed."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def plan_endpoints(plan: Plan) -> list[Endpoint]:
    """Group the plan's targets by the address and port they probe."""
    found: dict[tuple[str, int, str], Endpoint] = {}
    for t in plan.targets:
        host, port = _host_of(t)
        if port is None:
            continue  # icmp: the kernel answers
        kind: EndpointKind
        if t.probe == "http":
            kind = "https" if t.address.lower().startswith("https:") else "http"
        elif t.probe == "tcp":
            kind = "tls" if t.settings.tls.enabled else "tcp"
        else:
            kind = "dns-tcp" if t.settings.transport == "tcp" else "dns-udp"
        proto = "udp" if kind == "dns-udp" else "tcp"
        key = (ipaddress.ip_address(host).compressed, port, proto)
        ep = found.get(key)
        if ep is None:
            ep = found[key] = Endpoint(host=key[0], port=port, kind=kind)
        elif ep.kind != kind:
            raise SimulationError(
                f"{ep.name} is probed both as {ep.kind} ({ep.targets[0].id}) and as "
                f"{kind} ({t.id}): one port serves one protocol"
            )
        ep.targets.append(t)
    return list(found.values())


# --------------------------------------------------------------------------------------
# faults


@dataclass
class ActiveFault:
    """A fault switched on for an entity."""

    entity: str
    fault: Fault
    source: Literal["manual", "random"]
    since: float  # wall time
    until: float | None = None  # monotonic deadline (random faults, timed manual ones)


class Faults:
    """Faults per entity and their effect through the dependencies."""

    def __init__(self, entities: Mapping[str, Entity]) -> None:
        self.entities = entities
        self.active: dict[tuple[str, str], ActiveFault] = {}
        self._memo: dict[str, frozenset[str]] = {}

    def resolve(self, name: str) -> str:
        """An entity id from its full id or last part ("sw-lantai1"); KeyError if unknown."""
        if name in self.entities:
            return name
        matches = [e for e in self.entities if e.rsplit("/", 1)[-1] == name]
        if not matches:  # an application by its own id: "vclaim" for "bpjs-kes-vclaim"
            matches = [
                e
                for e in self.entities
                if "/application/" in e and e.rsplit("/", 1)[-1].endswith(f"-{name}")
            ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f"{name!r} is ambiguous: {', '.join(sorted(matches))}")
        raise KeyError(f"unknown entity {name!r}: GET /entities lists them")

    def set(
        self,
        entity: str,
        fault: Fault,
        on: bool,
        *,
        source: Literal["manual", "random"] = "manual",
        seconds: float | None = None,
    ) -> bool:
        """Switch a fault on or off; return True if anything changed."""
        key = (entity, fault)
        if on:
            until = time.monotonic() + seconds if seconds else None
            prev = self.active.get(key)
            self.active[key] = ActiveFault(entity, fault, source, time.time(), until)
            self._memo.clear()
            return prev is None
        if key in self.active:
            del self.active[key]
            self._memo.clear()
            return True
        return False

    def clear(self) -> bool:
        """Switch every fault off; True if any was on."""
        changed = bool(self.active)
        self.active.clear()
        self._memo.clear()
        return changed

    def expire(self, now: float) -> list[ActiveFault]:
        """Remove the faults whose time is up and return them."""
        gone = [f for f in self.active.values() if f.until is not None and f.until <= now]
        for f in gone:
            del self.active[(f.entity, f.fault)]
        if gone:
            self._memo.clear()
        return gone

    def effective(self, entity: str) -> frozenset[str]:
        """The faults an entity shows: its own, plus "down" when every parent is down.

        Only "down" is inherited: a slow or lossy uplink next to a healthy one must not
        look like a fault of the applications behind it.
        """
        cached = self._memo.get(entity)
        if cached is not None:
            return cached
        self._memo[entity] = frozenset()  # cycle guard (the loader rejects cycles anyway)
        own = {k[1] for k in self.active if k[0] == entity}
        ent = self.entities.get(entity)
        parents = [p for p in (ent.depends_on if ent else ()) if p in self.entities]
        effects = {p: self.effective(p) for p in parents}
        out = set(own)
        if parents and all("down" in effects[p] for p in parents):
            out.add("down")
        result = frozenset(out)
        self._memo[entity] = result
        return result

    def listing(self) -> list[dict[str, Any]]:
        """The active faults as JSON-ready dicts."""
        now = time.monotonic()
        out = []
        for f in sorted(self.active.values(), key=lambda x: (x.entity, x.fault)):
            item: dict[str, Any] = {
                "entity": f.entity,
                "fault": f.fault,
                "source": f.source,
                "since": dt.datetime.fromtimestamp(f.since, dt.UTC).isoformat(),
            }
            if f.until is not None:
                item["remaining_seconds"] = round(max(0.0, f.until - now), 1)
            out.append(item)
        return out


# --------------------------------------------------------------------------------------
# the servers


def _self_signed(hosts: Sequence[str]) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for these IP addresses."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mpp-monitor simulator")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(h)) for h in hosts]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=60))
        .add_extension(x509.SubjectAlternativeName(sans or [x509.DNSName("localhost")]), False)
        .sign(key, hashes.SHA256())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="mpp-sim-") as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


class _TcpPeer(asyncio.Protocol):
    """A simulated TCP service: accepts, reads and discards, hangs up when idle."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.sim.connections >= MAX_CONNECTIONS:
            transport.abort()
            return
        self.sim.connections += 1
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(TCP_IDLE_SECONDS, self._idle)

    def _idle(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.sim.connections -= 1
            self.timer = None


class _DnsUdp(asyncio.DatagramProtocol):
    """A simulated DNS resolver over UDP: answers A/AAAA with loopback addresses."""

    def __init__(self, sim: Simulator, ep: Endpoint) -> None:
        self.sim = sim
        self.ep = ep
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # 3.11's selector datagram transport is not a DatagramTransport subclass
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.sim.pending >= MAX_CONNECTIONS:
            return
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        self.sim.tasks.add(task)
        task.add_done_callback(self.sim.tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        wire = await self.sim.dns_answer(self.ep, data)
        if wire is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(wire, addr)


class Simulator:
    """Serves every target of a loopback-only plan, with switchable faults."""

    def __init__(
        self,
        plan: Plan,
        *,
        seed: int | None = None,
        random_faults: bool = False,
    ) -> None:
        check_loopback(plan)
        self.plan = plan
        self.rng = random.Random(seed)
        self.random_faults = random_faults
        self.faults = Faults(plan.entities)
        self.endpoints = plan_endpoints(plan)
        self._by_addr: dict[tuple[str, int], Endpoint] = {
            (e.host, e.port): e for e in self.endpoints if e.kind != "dns-udp"
        }
        self._base_latency: dict[str, float] = {}
        self.connections = 0
        self.pending = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self._http: web.ServerRunner | None = None
        self._ssl: ssl.SSLContext | None = None
        self._control: web.AppRunner | None = None
        self.control_url: str | None = None
        self._changed = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    # ---- life cycle ------------------------------------------------------------------
    async def start(self, control: tuple[str, int] | None = None) -> None:
        """Bind every endpoint (and the control endpoint); raise SimulationError."""
        tls_hosts = sorted({e.host for e in self.endpoints if e.kind in ("https", "tls")})
        if tls_hosts:
            self._ssl = _self_signed(tls_hosts)
        server = web.Server(self._handle_http, handler_cancellation=True, access_log=None)
        self._http = web.ServerRunner(server, shutdown_timeout=1.0, handle_signals=False)
        await self._http.setup()
        try:
            if control is not None:
                await self._start_control(*control)
            await self._sync_listeners()
        except BaseException:
            await self.stop()
            raise
        self._loops.append(asyncio.create_task(self._expiry_loop()))
        if self.random_faults:
            self._loops.append(asyncio.create_task(self._random_loop()))

    async def stop(self) -> None:
        """Close every listener and connection."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops.clear()
        for ep in self.endpoints:
            self._close(ep)
        for task in list(self.tasks):
            task.cancel()
        if self._control is not None:
            await self._control.cleanup()
            self._control = None
        if self._http is not None:
            await self._http.cleanup()
            self._http = None

    # ---- listeners -------------------------------------------------------------------
    def is_down(self, ep: Endpoint) -> bool:
        """True when every target of the endpoint belongs to a down entity."""
        return all("down" in self.faults.effective(t.entity) for t in ep.targets)

    async def _sync_listeners(self) -> None:
        """Open the listeners of live endpoints, close those of down ones."""
        for ep in self.endpoints:
            down = self.is_down(ep) and not ep.kind.startswith("dns")
            if down:
                self._close(ep)
            elif ep.server is None and ep.dns_transport is None:
                await self._open(ep)

    async def _open(self, ep: Endpoint) -> None:
        loop = asyncio.get_running_loop()
        try:
            if ep.kind in ("http", "https"):
                assert self._http is not None and self._http.server is not None
                ep.server = await loop.create_server(
                    self._http.server,
                    ep.host,
                    ep.port,
                    ssl=self._ssl if ep.kind == "https" else None,
                    reuse_address=True,
                )
            elif ep.kind in ("tcp", "tls", "dns-tcp"):
                factory: Any = (
                    (lambda: _TcpPeer(self))
                    if ep.kind != "dns-tcp"
                    else (lambda: _DnsTcp(self, ep))
                )
                ep.server = await loop.create_server(
                    factory,
                    ep.host,
                    ep.port,
                    ssl=self._ssl if ep.kind == "tls" else None,
                    reuse_address=True,
                )
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _DnsUdp(self, ep), local_addr=(ep.host, ep.port)
                )
                ep.dns_transport = transport
        except OSError as exc:
            raise SimulationError(
                f"cannot listen on {ep.name} for {ep.targets[0].id}: "
                f"{os_error_text(exc)} (is another simulator or demo running?)"
            ) from None

    def _close(self, ep: Endpoint) -> None:
        if ep.server is not None:
            ep.server.close()
            ep.server = None
        if ep.dns_transport is not None:
            ep.dns_transport.close()
            ep.dns_transport = None

    # ---- behaviour -------------------------------------------------------------------
    def _latency(self, target: Target, effects: frozenset[str]) -> float:
        """Seconds to wait before answering: a per-target base with log-normal jitter."""
        entity = self.plan.entities.get(target.entity)
        kind = entity.kind if entity is not None else ""
        base = self._base_latency.get(target.id)
        if base is None:
            # deterministic per target (crc32), so a restart looks the same
            u = (zlib.crc32(target.id.encode()) % 1000) / 1000.0
            if kind == "application":
                base = 0.04 + 0.26 * u  # 40-300 ms: a remote agency server
            elif kind == "link":
                base = 0.015 + 0.02 * u  # 15-35 ms: an internet round trip
            else:
                base = 0.001 + 0.004 * u  # a LAN device
            self._base_latency[target.id] = base
        delay = base * math.exp(self.rng.gauss(0.0, 0.3))
        if self.random_faults and self.rng.random() < 0.02:
            delay *= 4  # an occasional spike
        if "slow" in effects:
            delay += 0.25 if kind == "link" else min(1.5, 0.4 * target.timeout)
        return min(delay, 0.9 * target.timeout)

    def _target_for(self, ep: Endpoint, path: str) -> Target:
        for t in ep.targets:
            if t.probe == "http" and (urlsplit(t.address).path or "/") == path:
                return t
        return ep.targets[0]

    async def _hold(self, target: Target) -> None:
        """Never answer (until the prober gives up, bounded)."""
        await asyncio.sleep(min(MAX_HANG_SECONDS, target.timeout + 1.0))

    async def _handle_http(self, request: web.BaseRequest) -> web.StreamResponse:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        ep = (
            self._by_addr.get((ipaddress.ip_address(sock[0]).compressed, sock[1])) if sock else None
        )
        if ep is None:
            raise web.HTTPNotFound()
        if self.pending >= MAX_CONNECTIONS:
            raise web.HTTPServiceUnavailable()  # bounded: never an unlimited pile of sleepers
        target = self._target_for(ep, request.path)
        effects = self.faults.effective(target.entity)
        self.pending += 1
        try:
            if "down" in effects or ("loss" in effects and self.rng.random() < LOSS_RATIO):
                await self._hold(target)
                if request.transport is not None:
                    request.transport.abort()
                raise web.HTTPServiceUnavailable()
            await asyncio.sleep(self._latency(target, effects))
        finally:
            self.pending -= 1
        app = self.plan.entities.get(target.entity)
        is_app = app is not None and app.kind == "application"
        if "http_503" in effects or (
            is_app and self.random_faults and self.rng.random() < RANDOM_503_RATIO
        ):
            return web.Response(status=503, text="Service Unavailable (simulated)\n")
        codes = list(getattr(target.settings, "valid_status_codes", []) or [])
        if request.path.endswith("generate_204") and not codes:
            return web.Response(status=204)
        status = codes[0] if codes else 200
        body = {"status": "ok", "target": target.id, "simulated": True}
        return web.Response(
            status=status, text=json.dumps(body) + "\n", content_type="application/json"
        )

    async def dns_answer(self, ep: Endpoint, data: bytes) -> bytes | None:
        """Answer one DNS query in wire format (None: stay silent)."""
        import dns.message
        import dns.rcode
        import dns.rrset

        target = ep.targets[0]
        effects = self.faults.effective(target.entity)
        if "down" in effects or ("loss" in effects and self.rng.random() < LOSS_RATIO):
            return None
        try:
            query = dns.message.from_wire(data)
        except Exception:  # any malformed packet: a real resolver drops it too
            return None
        self.pending += 1
        try:
            await asyncio.sleep(self._latency(target, effects))
        finally:
            self.pending -= 1
        response = dns.message.make_response(query)
        if "http_503" in effects:
            response.set_rcode(dns.rcode.SERVFAIL)
        for q in query.question:
            if q.rdtype == 1:  # A
                response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", "127.0.0.1"))
            elif q.rdtype == 28:  # AAAA
                response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "AAAA", "::1"))
        wire: bytes = response.to_wire()
        return wire

    # ---- faults ----------------------------------------------------------------------
    async def set_fault(
        self,
        entity: str,
        fault: Fault,
        on: bool,
        *,
        source: Literal["manual", "random"] = "manual",
        seconds: float | None = None,
    ) -> None:
        """Switch a fault and apply it to the listeners at once."""
        if self.faults.set(entity, fault, on, source=source, seconds=seconds):
            log.info("fault %s: %s %s (%s)", "on" if on else "off", entity, fault, source)
        await self._sync_listeners()

    async def clear_faults(self) -> None:
        """Switch every fault off."""
        self.faults.clear()
        await self._sync_listeners()

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            gone = self.faults.expire(time.monotonic())
            for f in gone:
                log.info("fault off: %s %s (%s, time up)", f.entity, f.fault, f.source)
            if gone:
                await self._sync_listeners()

    def _pick_random(self) -> tuple[str, Fault, float] | None:
        """A plausible random fault: mostly devices and applications, rarely links."""
        by_kind: dict[str, list[str]] = {}
        for e in self.plan.entities.values():
            if any(t.entity == e.id and t.probe != "icmp" for t in self.plan.targets):
                by_kind.setdefault(e.kind, []).append(e.id)
        choices: list[tuple[str, Fault, float, float]] = [
            # kind, fault, weight, typical seconds
            ("device", "down", 40, 40),
            ("application", "http_503", 15, 30),
            ("application", "slow", 15, 40),
            ("application", "down", 5, 30),
            ("link", "loss", 5, 45),
            ("link", "down", 5, 30),
            ("infra", "down", 4, 25),
        ]
        usable = [c for c in choices if by_kind.get(c[0])]
        if not usable:
            return None
        kind, fault, _, seconds = self.rng.choices(usable, weights=[c[2] for c in usable])[0]
        if kind == "infra":
            # a leaf switch, not the router: a whole-building outage is too much for a demo
            leaves = [
                e
                for e in by_kind["infra"]
                if self.plan.entities[e].depends_on
                and not any(
                    e in x.depends_on for x in self.plan.entities.values() if x.kind == "infra"
                )
            ]
            pool = leaves or by_kind["infra"]
        else:
            pool = by_kind[kind]
        entity = self.rng.choice(pool)
        return entity, fault, seconds * self.rng.uniform(0.6, 1.5)

    async def _random_loop(self) -> None:
        await asyncio.sleep(2.0)
        while True:
            current = [f for f in self.faults.active.values() if f.source == "random"]
            if len(current) < MAX_RANDOM_FAULTS:
                pick = self._pick_random()
                if pick is not None:
                    entity, fault, seconds = pick
                    if (entity, fault) not in self.faults.active:
                        await self.set_fault(entity, fault, True, source="random", seconds=seconds)
            await asyncio.sleep(self.rng.uniform(8.0, 20.0))

    # ---- control endpoint ------------------------------------------------------------
    async def _start_control(self, host: str, port: int) -> None:
        if not is_loopback(host):
            raise SimulationError(f"the control endpoint listens on loopback only, not {host}")
        app = web.Application(client_max_size=CONTROL_MAX_BODY)
        app.router.add_get("/", self._control_index)
        app.router.add_get("/faults", self._get_faults)
        app.router.add_post("/faults", self._post_faults)
        app.router.add_delete("/faults", self._delete_faults)
        app.router.add_get("/entities", self._get_entities)
        self._control = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._control.setup()
        site = web.TCPSite(self._control, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise SimulationError(
                f"cannot listen on {host}:{port} for the control endpoint: {os_error_text(exc)}"
            ) from None
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.control_url = format_url(host, int(bound))

    def status(self) -> dict[str, Any]:
        """What GET /faults returns."""
        return {
            "ready": True,
            "random_faults": self.random_faults,
            "endpoints": len(self.endpoints),
            "targets": len(self.plan.targets),
            "listening": sum(1 for e in self.endpoints if e.server or e.dns_transport),
            "faults": self.faults.listing(),
        }

    async def _control_index(self, request: web.Request) -> web.Response:
        return web.Response(
            text=(
                "mpp-monitor simulator\n\n"
                "GET    /faults     active faults\n"
                'POST   /faults     {"entity": "sw-lantai1", "fault": "down", "on": true}\n'
                f'                   faults: {", ".join(FAULTS)}; optional "seconds"\n'
                "DELETE /faults     clear all faults\n"
                "GET    /entities   entities faults can be set on\n"
            )
        )

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.status())

    async def _get_entities(self, request: web.Request) -> web.Response:
        items = [
            {"id": e.id, "kind": e.kind, "name": e.name, "depends_on": list(e.depends_on)}
            for e in self.plan.entities.values()
        ]
        return web.json_response({"entities": items})

    async def _delete_faults(self, request: web.Request) -> web.Response:
        await self.clear_faults()
        return web.json_response(self.status())

    async def _post_faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _bad("the body must be JSON")
        if not isinstance(body, dict):
            return _bad('expected an object: {"entity": ..., "fault": ..., "on": true}')
        name, fault, on, seconds = (
            body.get("entity"),
            body.get("fault"),
            body.get("on", True),
            body.get("seconds"),
        )
        if not isinstance(name, str):
            return _bad("'entity' (an entity id or its last part) is required")
        if fault not in FAULTS:
            return _bad(f"'fault' must be one of {', '.join(FAULTS)}")
        if not isinstance(on, bool):
            return _bad("'on' must be true or false")
        if seconds is not None and (
            not isinstance(seconds, int | float) or not 0 < seconds <= 86400
        ):
            return _bad("'seconds' must be a number of seconds (0 < s <= 86400)")
        try:
            entity = self.faults.resolve(name)
        except KeyError as exc:
            return web.json_response({"error": exc.args[0]}, status=404)
        await self.set_fault(entity, fault, on, seconds=float(seconds) if seconds else None)
        return web.json_response(self.status())


class _DnsTcp(asyncio.Protocol):
    """A simulated DNS resolver over TCP (two-byte length prefix per message)."""

    def __init__(self, sim: Simulator, ep: Endpoint) -> None:
        self.sim = sim
        self.ep = ep
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        asyncio.get_running_loop().call_later(TCP_IDLE_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        self.buf = (self.buf + data)[-65540:]
        while len(self.buf) >= 2:
            size = int.from_bytes(self.buf[:2], "big")
            if len(self.buf) < 2 + size:
                return
            msg, self.buf = self.buf[2 : 2 + size], self.buf[2 + size :]
            task = asyncio.get_running_loop().create_task(self._answer(msg))
            self.sim.tasks.add(task)
            task.add_done_callback(self.sim.tasks.discard)

    async def _answer(self, msg: bytes) -> None:
        wire = await self.sim.dns_answer(self.ep, msg)
        if wire is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.write(len(wire).to_bytes(2, "big") + wire)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)
