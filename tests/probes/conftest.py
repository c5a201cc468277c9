"""Fixtures for the HTTP, TCP and DNS probe tests: loopback servers, certificates, a DNS server.

Everything listens on 127.0.0.1 or ::1, port 0, inside the test process, and is closed in
``finally``. Name lookups in these tests go only to the local DNS server below.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from dnslib import AAAA, QTYPE, RCODE, RR, TXT, A, DNSRecord

from monitor.plan import TARGET_LABELS, Target
from probes.base import ProbeContext
from probes.net import RESOLVER_RESOURCE, SystemResolver


def make_target(probe: str, address: str, settings: Any, timeout: float = 2.0) -> Target:
    """A target as the inventory would expand it (labels empty)."""
    return Target(
        id=f"test/application/x/{probe}",
        probe=probe,  # type: ignore[arg-type]
        address=address,
        entity="test/application/x",
        interval=max(10.0, timeout * 2),
        timeout=timeout,
        settings=settings,
        labels=dict.fromkeys(TARGET_LABELS, ""),
    )


def make_ctx(dns_port: int) -> ProbeContext:
    """A probe context whose resolver asks only the local test DNS server."""
    resolver = SystemResolver(nameservers=["127.0.0.1"], port=dns_port)
    return ProbeContext(
        monotonic=time.monotonic, wall=time.time, resources={RESOLVER_RESOURCE: resolver}
    )


# --- DNS ------------------------------------------------------------------------------

ZONE_A = {"app.mpp.test.": "127.0.0.1", "both.mpp.test.": "127.0.0.1"}
ZONE_AAAA = {"v6.mpp.test.": "::1", "both.mpp.test.": "::1"}


@dataclass
class DnsServer:
    """A small authoritative test server (UDP and TCP) built on dnslib."""

    port: int
    queries: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    dropped: set[tuple[int, str]] = field(default_factory=set)

    def answer(self, data: bytes, udp: bool) -> bytes | None:
        """Build the reply for one query (None: drop it)."""
        request = DNSRecord.parse(data)
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append(f"{qname} {qtype}")
        reply = request.reply()
        if qname.startswith("drop-once.") and (request.header.id, qname) not in self.dropped:
            self.dropped.add((request.header.id, qname))
            return None
        if qname.startswith("nx."):
            reply.header.rcode = RCODE.NXDOMAIN
        elif qname.startswith("fail."):
            reply.header.rcode = RCODE.SERVFAIL
        elif qname.startswith("refused."):
            reply.header.rcode = RCODE.REFUSED
        elif qname.startswith("big.") and qtype == "TXT":
            for i in range(40):
                reply.add_answer(RR(qname, QTYPE.TXT, rdata=TXT(f"record-{i:02d}-" + "x" * 40)))
            packed = reply.pack()
            if udp and len(packed) > 512:
                reply = request.reply()
                reply.header.tc = 1
        elif qname.startswith("drop-once.") and qtype == "A":
            reply.add_answer(RR(qname, QTYPE.A, rdata=A("127.0.0.1"), ttl=60))
        elif qtype == "A" and qname in ZONE_A:
            reply.add_answer(RR(qname, QTYPE.A, rdata=A(ZONE_A[qname]), ttl=60))
        elif qtype == "AAAA" and qname in ZONE_AAAA:
            reply.add_answer(RR(qname, QTYPE.AAAA, rdata=AAAA(ZONE_AAAA[qname]), ttl=60))
        elif qname not in ZONE_A and qname not in ZONE_AAAA and not qname.startswith("empty."):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply.pack()


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.peers.append(addr[0])
        out = self.server.answer(data, udp=True)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    """The test DNS server on 127.0.0.1, same port for UDP and TCP."""
    loop = asyncio.get_running_loop()
    for _ in range(20):  # find a port free for both UDP and TCP
        udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp_sock.bind(("127.0.0.1", 0))
        port = udp_sock.getsockname()[1]
        tcp_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp_sock.bind(("127.0.0.1", port))
            break
        except OSError:
            udp_sock.close()
            tcp_sock.close()
    else:
        pytest.fail("no port free for both UDP and TCP")
    server = DnsServer(port)

    async def handle_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = int.from_bytes(await reader.readexactly(2), "big")
            out = server.answer(await reader.readexactly(size), udp=False)
            if out is not None:
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    transport, _ = await loop.create_datagram_endpoint(lambda: _DnsUdp(server), sock=udp_sock)
    tcp_server = await asyncio.start_server(handle_tcp, sock=tcp_sock)
    try:
        yield server
    finally:
        transport.close()
        tcp_server.close()
        await tcp_server.wait_closed()


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that receives and never answers (a dead resolver)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def ctx(dns_server: DnsServer) -> ProbeContext:
    """Probe context resolving names through the test DNS server."""
    return make_ctx(dns_server.port)


# --- raw TCP servers ------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """A raw asyncio TCP server on loopback; ``connections`` counts accepted connections."""

    host: str
    port: int
    connections: int = 0
    bytes_sent: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    """Factory: start a raw TCP server running ``handler`` for each connection."""
    servers: list[asyncio.Server] = []
    tasks: set[asyncio.Task[None]] = set()

    async def start(
        handler: Handler, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> RawServer:
        info = RawServer(host, 0)

        async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            info.connections += 1
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)  # type: ignore[arg-type]
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            except asyncio.CancelledError:
                # Teardown cancels handlers; end normally or asyncio 3.11's stream callback
                # logs the cancelled task as an error.
                pass
            finally:
                tasks.discard(task)  # type: ignore[arg-type]
                info.done.set()
                writer.transport.abort()

        server = await asyncio.start_server(wrapped, host, 0, ssl=ssl_context)
        servers.append(server)
        info.port = server.sockets[0].getsockname()[1]
        return info

    try:
        yield start
    finally:
        for server in servers:
            server.close()
        for task in list(tasks):
            task.cancel()
        for server in servers:
            await server.wait_closed()


@pytest.fixture
async def web_server() -> AsyncIterator[Callable[..., Awaitable[int]]]:
    """Factory: serve an aiohttp ``web.Application`` on loopback port 0; returns the port."""
    runners: list[web.AppRunner] = []

    async def start(
        app: web.Application, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> int:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        runners.append(runner)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        site = web.SockSite(runner, sock, ssl_context=ssl_context)
        await site.start()
        port: int = sock.getsockname()[1]
        return port

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
def ipv6_loopback() -> str:
    """'::1' when IPv6 loopback works here, else skip."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support in this Python")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"IPv6 loopback not available: {exc}")
    return "::1"


# --- certificates -----------------------------------------------------------------------


@dataclass
class Certs:
    """A private CA, its PEM file, and server contexts for several certificates."""

    ca: trustme.CA
    ca_file: Path
    tmp: Path

    def server_context(
        self,
        *names: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        ca: trustme.CA | None = None,
    ) -> tuple[ssl.SSLContext, float]:
        """Server context for a leaf with ``names``, and the leaf's expiry (unix seconds)."""
        issuer = ca or self.ca
        leaf = issuer.issue_cert(*names, not_before=not_before, not_after=not_after)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
        return ctx, cert.not_valid_after_utc.timestamp()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """One private CA for the session, written to a PEM file probes can trust."""
    tmp = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Certs(ca, ca_file, tmp)
