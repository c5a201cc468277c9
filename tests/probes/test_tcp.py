"""TCP probe against real loopback servers: connect, banners, TLS, deadlines."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trustme

from probes import tcp
from probes.base import ProbeContext, ProbeResult
from probes.settings import TcpSettings, TlsSettings
from tests.probes.conftest import Certs, RawServer, make_target

RawFactory = Callable[..., Awaitable[RawServer]]
DEADLINE = 1.5


async def run(
    address: str, ctx: ProbeContext, timeout: float = 3.0, **settings: Any
) -> ProbeResult:
    """Probe ``address`` with the given settings."""
    conf = TcpSettings(**settings)
    return await tcp.probe(make_target("tcp", address, conf, timeout), conf, ctx)


async def smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A banner, then one reply per line (like SMTP)."""
    writer.write(b"220 mail.paserkab.go.id ESMTP\r\n")
    await writer.drain()
    while line := await reader.readline():
        writer.write(b"250 hello " + line.strip() + b"\r\n")
        await writer.drain()


async def test_connect_only(raw_server: RawFactory, ctx: ProbeContext) -> None:
    srv = await raw_server(smtp)
    result = await run(f"127.0.0.1:{srv.port}", ctx)
    assert result.success, result
    assert set(result.phases) == {"resolve", "connect", "tls", "exchange"}
    assert result.phases["connect"] > 0
    assert result.phases["tls"] == result.phases["exchange"] == 0
    assert result.values["ip_protocol"] == 4


async def test_banner_send_expect(raw_server: RawFactory, ctx: ProbeContext) -> None:
    srv = await raw_server(smtp)
    banner = await run(f"127.0.0.1:{srv.port}", ctx, expect="^220 .*ESMTP")
    assert banner.success, banner
    assert banner.phases["exchange"] > 0
    reply = await run(
        f"127.0.0.1:{srv.port}", ctx, send="EHLO gerai07\\r\\n", expect="250 hello EHLO gerai07"
    )
    assert reply.success, reply
    # the server keeps the line open and never says it: the deadline ends the wait
    wrong = await run(f"127.0.0.1:{srv.port}", ctx, 0.5, send="EHLO x\\r\\n", expect="^SSH-")
    assert (wrong.success, wrong.reason) == (False, "timeout")
    assert "exchange" in wrong.info["detail"]


async def test_expect_read_is_bounded(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(10_000):  # 640 MB at most; the probe stops at max_read_bytes
            writer.write(b"y" * 65536)
            await writer.drain()

    srv = await raw_server(flood)
    result = await run(f"127.0.0.1:{srv.port}", ctx, expect="never", max_read_bytes=100_000)
    assert (result.success, result.reason) == (False, "expect_mismatch")
    assert "100000 bytes" in result.info["detail"]


async def test_expect_when_server_closes(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def bye(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye\n")
        await writer.drain()
        writer.close()

    srv = await raw_server(bye)
    result = await run(f"127.0.0.1:{srv.port}", ctx, expect="hello")
    assert (result.success, result.reason) == (False, "expect_mismatch")


async def test_connect_refused(ctx: ProbeContext) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = await run(f"127.0.0.1:{port}", ctx)
    assert (result.success, result.reason) == (False, "connect_refused")


async def test_expect_deadline(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    srv = await raw_server(mute)
    start = time.monotonic()
    result = await run(f"127.0.0.1:{srv.port}", ctx, DEADLINE, expect="^220")
    elapsed = time.monotonic() - start
    assert (result.success, result.reason) == (False, "timeout")
    assert DEADLINE * 0.9 <= elapsed <= DEADLINE * 1.1
    assert result.phases["exchange"] > DEADLINE * 0.8


async def test_stalled_tls_handshake(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    srv = await raw_server(stall)
    start = time.monotonic()
    result = await run(f"127.0.0.1:{srv.port}", ctx, DEADLINE, tls=TlsSettings(enabled=True))
    elapsed = time.monotonic() - start
    assert (result.success, result.reason) == (False, "timeout")
    assert DEADLINE * 0.9 <= elapsed <= DEADLINE * 1.1
    assert result.phases["tls"] > DEADLINE * 0.8


async def test_tls_with_expiry_and_banner(
    raw_server: RawFactory, ctx: ProbeContext, certs: Certs
) -> None:
    not_after = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20)).replace(microsecond=0)
    server_ctx, expiry = certs.server_context("imap.mpp.test", not_after=not_after)
    srv = await raw_server(smtp, ssl_context=server_ctx)
    conf = TlsSettings(enabled=True, ca_file=certs.ca_file, server_name="imap.mpp.test")
    result = await run(
        f"127.0.0.1:{srv.port}", ctx, tls=conf, send="HELO x\\n", expect="250 hello HELO x"
    )
    assert result.success, result
    assert result.values["ssl_earliest_cert_expiry"] == expiry == not_after.timestamp()
    assert result.info["tls_version"] in {"TLS 1.2", "TLS 1.3"}
    assert result.phases["tls"] > 0


async def test_tls_failures_keep_expiry(
    raw_server: RawFactory, ctx: ProbeContext, certs: Certs
) -> None:
    now = dt.datetime.now(dt.UTC)
    expired_ctx, expired_at = certs.server_context(
        "imap.mpp.test",
        not_before=now - dt.timedelta(days=60),
        not_after=now - dt.timedelta(days=1),
    )
    stranger_ctx, stranger_expiry = certs.server_context("imap.mpp.test", ca=trustme.CA())
    expired = await raw_server(smtp, ssl_context=expired_ctx)
    stranger = await raw_server(smtp, ssl_context=stranger_ctx)
    conf = TlsSettings(enabled=True, ca_file=certs.ca_file, server_name="imap.mpp.test")

    result = await run(f"127.0.0.1:{expired.port}", ctx, tls=conf)
    assert (result.success, result.reason) == (False, "tls_expired")
    assert result.values["ssl_earliest_cert_expiry"] == expired_at

    result = await run(f"127.0.0.1:{stranger.port}", ctx, tls=conf)
    assert (result.success, result.reason) == (False, "tls_untrusted")
    assert result.values["ssl_earliest_cert_expiry"] == stranger_expiry

    valid_ctx, valid_expiry = certs.server_context("imap.mpp.test")
    valid = await raw_server(smtp, ssl_context=valid_ctx)
    wrong_name = TlsSettings(enabled=True, ca_file=certs.ca_file, server_name="smtp.mpp.test")
    result = await run(f"127.0.0.1:{valid.port}", ctx, tls=wrong_name)
    assert (result.success, result.reason) == (False, "tls_hostname")
    assert result.values["ssl_earliest_cert_expiry"] == valid_expiry
    by_ip = TlsSettings(enabled=True, ca_file=certs.ca_file)  # checks 127.0.0.1 against the cert
    result = await run(f"127.0.0.1:{valid.port}", ctx, tls=by_ip)
    assert (result.success, result.reason) == (False, "tls_hostname")
    insecure = TlsSettings(enabled=True, insecure_skip_verify=True)
    result = await run(f"127.0.0.1:{stranger.port}", ctx, tls=insecure, expect="^220")
    assert result.success, result
    assert result.values["ssl_earliest_cert_expiry"] == stranger_expiry


async def test_name_and_ipv6(raw_server: RawFactory, ctx: ProbeContext, ipv6_loopback: str) -> None:
    srv6 = await raw_server(smtp, host=ipv6_loopback)
    literal = await run(f"[::1]:{srv6.port}", ctx, expect="^220")
    assert literal.success, literal
    assert literal.values["ip_protocol"] == 6
    by_name = await run(f"v6.mpp.test:{srv6.port}", ctx, family="ip6", expect="^220")
    assert by_name.success, by_name
    assert by_name.phases["resolve"] > 0
    no_v4 = await run(f"v6.mpp.test:{srv6.port}", ctx, family="ip4")
    assert (no_v4.success, no_v4.reason) == (False, "dns")
    mismatch = await run(f"[::1]:{srv6.port}", ctx, source="127.0.0.1")
    assert (mismatch.success, mismatch.reason) == (False, "connect_error")


async def test_source_address(raw_server: RawFactory, ctx: ProbeContext) -> None:
    peers: list[str] = []

    async def who(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])

    srv = await raw_server(who)
    result = await run(f"127.0.0.1:{srv.port}", ctx, source="127.0.0.3")
    assert result.success, result
    await srv.done.wait()
    assert peers == ["127.0.0.3"]


def test_unescape() -> None:
    assert tcp.unescape("EHLO x\\r\\n") == b"EHLO x\r\n"
    assert tcp.unescape("\\x00\\xff\\\\n é") == b"\x00\xff\\n \xc3\xa9"
