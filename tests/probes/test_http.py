"""HTTP(S) probe against real loopback servers: expectations, hostile servers, certificates."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import socket
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme
from aiohttp import web

from probes import http
from probes.base import ProbeContext, ProbeResult
from probes.settings import BasicAuth, HttpSettings, SecretRef
from tests.probes.conftest import Certs, DnsServer, RawServer, make_ctx, make_target

WebServer = Callable[..., Awaitable[int]]
RawFactory = Callable[..., Awaitable[RawServer]]

DEADLINE = 1.5


@pytest.fixture(autouse=True, params=["lean", "client"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both paths: the lean one and aiohttp's client."""
    monkeypatch.setattr(http, "LEAN", request.param == "lean")
    return str(request.param)


async def run(url: str, ctx: ProbeContext, timeout: float = 3.0, **settings: Any) -> ProbeResult:
    """Probe ``url`` with the given settings."""
    return await http.probe(
        make_target("http", url, HttpSettings(**settings), timeout), HttpSettings(**settings), ctx
    )


async def run_timed(
    url: str, ctx: ProbeContext, timeout: float, **settings: Any
) -> tuple[ProbeResult, float]:
    """Probe and also measure the elapsed time from outside."""
    start = time.monotonic()
    result = await run(url, ctx, timeout, **settings)
    return result, time.monotonic() - start


def assert_at_deadline(result: ProbeResult, elapsed: float, timeout: float) -> None:
    """The run ended at its deadline (±10%), and says so."""
    assert result.success is False
    assert result.reason == "timeout", result
    assert timeout * 0.9 <= elapsed <= timeout * 1.1, elapsed
    assert timeout * 0.9 <= result.duration_seconds <= timeout * 1.1, result.duration_seconds


def hello_app() -> web.Application:
    """/ says hello; a few endpoints for expectations."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello mpp paser", headers={"X-Service": "antrian-v2"})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status page")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)  # the server is slow on purpose: that is what we measure
        return web.Response(text="late")

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        return web.Response(text=f"{request.method} {request.headers.get('X-Gerai', '-')} {body}")

    app = web.Application()
    app.router.add_route("*", "/", hello)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_route("*", "/echo", echo)
    return app


# --- success and expectations ----------------------------------------------------------


async def test_success_reports_phases_and_values(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(hello_app())
    result = await run(f"http://127.0.0.1:{port}/?token=abc#x", ctx)
    assert result.success, result
    assert result.reason == ""
    assert set(result.phases) == {"resolve", "connect", "tls", "processing", "transfer"}
    assert all(v >= 0 for v in result.phases.values())
    assert result.phases["resolve"] == 0  # a literal address needs no lookup
    assert result.phases["connect"] > 0
    assert result.phases["processing"] > 0
    assert sum(result.phases.values()) <= result.duration_seconds + 1e-6
    assert result.values["status_code"] == 200
    assert result.values["http_version"] == 1.1
    assert result.values["content_length"] == len("hello mpp paser")
    assert result.values["redirects"] == 0
    assert result.values["ip_protocol"] == 4
    assert "ssl_earliest_cert_expiry" not in result.values
    # no query or fragment: they may carry tokens
    assert result.info["final_url"] == f"http://127.0.0.1:{port}/"


async def test_name_is_resolved_by_the_probe_resolver(
    web_server: WebServer, ctx: ProbeContext, dns_server: DnsServer
) -> None:
    port = await web_server(hello_app())
    result = await run(f"http://app.mpp.test:{port}/", ctx)
    assert result.success, result
    assert result.phases["resolve"] > 0
    assert "app.mpp.test. A" in dns_server.queries


async def test_unknown_name_is_dns_failure(ctx: ProbeContext) -> None:
    result = await run("http://nx.mpp.test:1/", ctx)
    assert (result.success, result.reason) == (False, "dns")
    assert "NXDOMAIN" in result.info["detail"]


async def test_status_codes(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(hello_app())
    failed = await run(f"http://127.0.0.1:{port}/status/503", ctx)
    assert (failed.success, failed.reason) == (False, "status")
    assert failed.values["status_code"] == 503
    accepted = await run(f"http://127.0.0.1:{port}/status/503", ctx, valid_status_codes=[503])
    assert accepted.success, accepted
    not_listed = await run(f"http://127.0.0.1:{port}/", ctx, valid_status_codes=[204])
    assert not_listed.reason == "status"


async def test_body_expectations(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(hello_app())
    url = f"http://127.0.0.1:{port}/"
    assert (await run(url, ctx, body_must_match=["mpp\\s+paser"])).success
    missing = await run(url, ctx, body_must_match=["hello", "gerai tutup"])
    assert missing.reason == "body_mismatch"
    assert "gerai tutup" in missing.info["detail"]
    forbidden = await run(url, ctx, body_must_not_match=["hello"])
    assert forbidden.reason == "body_mismatch"


async def test_header_expectations(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(hello_app())
    url = f"http://127.0.0.1:{port}/"
    assert (await run(url, ctx, required_headers={"x-service": "^antrian-"})).success
    wrong = await run(url, ctx, required_headers={"X-Service": "^kasir"})
    assert wrong.reason == "header_mismatch"
    absent = await run(url, ctx, required_headers={"X-Missing": "."})
    assert absent.reason == "header_mismatch"
    assert "missing" in absent.info["detail"]


async def test_latency_budget(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(hello_app())
    slow = await run(f"http://127.0.0.1:{port}/slow", ctx, latency_budget=0.1)
    assert (slow.success, slow.reason) == (False, "slow")
    assert slow.values["status_code"] == 200
    fine = await run(f"http://127.0.0.1:{port}/slow", ctx, latency_budget=2.0)
    assert fine.success, fine


async def test_method_headers_and_body_are_sent(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(hello_app())
    result = await run(
        f"http://127.0.0.1:{port}/echo",
        ctx,
        method="POST",
        headers={"X-Gerai": "07"},
        body="ping",
        body_must_match=["^POST 07 ping$"],
    )
    assert result.success, result
    head = await run(f"http://127.0.0.1:{port}/", ctx, method="HEAD")
    assert head.success, head


async def test_connect_refused(ctx: ProbeContext) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    result = await run(f"http://127.0.0.1:{port}/", ctx)
    assert (result.success, result.reason) == (False, "connect_refused")


# --- secrets ------------------------------------------------------------------------------

PASSWORD = "s3cr3t-Pa55-gerai07"
TOKEN = "tok-9f8e7d6c5b4a"


def auth_app(seen: list[str | None]) -> web.Application:
    """/ needs basic auth (petugas / PASSWORD) or the bearer TOKEN; /away redirects off-host."""
    import base64

    good = {
        "Basic " + base64.b64encode(f"petugas:{PASSWORD}".encode()).decode(),
        f"Bearer {TOKEN}",
    }

    async def index(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        seen.append(header)
        if header not in good:
            return web.Response(status=401, text=f"denied {header}")
        return web.Response(text=f"welcome {header}")

    app = web.Application()
    app.router.add_get("/", index)
    return app


async def test_basic_auth_secret_from_env_never_in_result(
    web_server: WebServer, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str | None] = []
    port = await web_server(auth_app(seen))
    monkeypatch.setenv("MPP_TEST_HTTP_PASSWORD", PASSWORD)
    auth = BasicAuth(username="petugas", password=SecretRef(env="MPP_TEST_HTTP_PASSWORD"))
    ok = await run(f"http://127.0.0.1:{port}/", ctx, basic_auth=auth, body_must_match=["welcome"])
    assert ok.success, ok
    assert seen[-1] is not None and seen[-1].startswith("Basic ")
    # the body echoes the header, and a failing expectation puts text in the result
    failing = await run(f"http://127.0.0.1:{port}/", ctx, basic_auth=auth, body_must_match=["x{3}"])
    assert failing.reason == "body_mismatch"
    monkeypatch.setenv("MPP_TEST_HTTP_PASSWORD", "wrong-" + PASSWORD)
    denied = await run(f"http://127.0.0.1:{port}/", ctx, basic_auth=auth)
    assert denied.reason == "status"
    for result in (ok, failing, denied):
        text = repr(result)
        assert PASSWORD not in text
        assert "cGV0dWdhc" not in text  # base64 of "petugas:..." either


async def test_missing_secret_is_reported_without_value(
    web_server: WebServer, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = await web_server(auth_app([]))
    monkeypatch.delenv("MPP_TEST_HTTP_PASSWORD", raising=False)
    auth = BasicAuth(username="petugas", password=SecretRef(env="MPP_TEST_HTTP_PASSWORD"))
    result = await run(f"http://127.0.0.1:{port}/", ctx, basic_auth=auth)
    assert (result.success, result.reason) == (False, "secret_unavailable")
    assert "MPP_TEST_HTTP_PASSWORD" in result.info["detail"]


async def test_bearer_token_from_file(
    web_server: WebServer, ctx: ProbeContext, tmp_path: Any
) -> None:
    seen: list[str | None] = []
    port = await web_server(auth_app(seen))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    result = await run(f"http://127.0.0.1:{port}/", ctx, bearer_token=SecretRef(file=token_file))
    assert result.success, result
    assert seen == [f"Bearer {TOKEN}"]
    assert TOKEN not in repr(result)


# --- redirects ------------------------------------------------------------------------------


def redirect_app(hops: dict[str, str]) -> web.Application:
    """Each path in ``hops`` redirects (302) to its value; anything else answers 200."""

    async def handler(request: web.Request) -> web.Response:
        target = hops.get(request.path)
        if target is not None:
            raise web.HTTPFound(target)
        return web.Response(text=f"landed {request.path}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def test_redirects_followed_and_counted(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(redirect_app({"/a": "/b", "/b": "/c?next=1"}))
    result = await run(f"http://127.0.0.1:{port}/a", ctx, body_must_match=["landed /c"])
    assert result.success, result
    assert result.values["redirects"] == 2
    assert result.info["final_url"] == f"http://127.0.0.1:{port}/c"


async def test_redirect_loop(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(redirect_app({"/a": "/b", "/b": "/a", "/self": "/self"}))
    loop = await run(f"http://127.0.0.1:{port}/a", ctx, max_redirects=10)
    assert (loop.success, loop.reason) == (False, "redirect_loop")
    assert loop.values["redirects"] == 1
    self_loop = await run(f"http://127.0.0.1:{port}/self", ctx)
    assert self_loop.reason == "redirect_loop"


async def test_redirect_limit(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(redirect_app({"/1": "/2", "/2": "/3", "/3": "/4"}))
    over = await run(f"http://127.0.0.1:{port}/1", ctx, max_redirects=2)
    assert (over.success, over.reason) == (False, "too_many_redirects")
    assert over.values["redirects"] == 2
    assert (await run(f"http://127.0.0.1:{port}/1", ctx, max_redirects=3)).success
    unfollowed = await run(f"http://127.0.0.1:{port}/1", ctx, follow_redirects=False)
    assert unfollowed.reason == "status"
    assert unfollowed.values["status_code"] == 302
    assert (
        await run(
            f"http://127.0.0.1:{port}/1", ctx, follow_redirects=False, valid_status_codes=[302]
        )
    ).success


async def test_redirect_to_another_host_checks_each_hop(
    web_server: WebServer, ctx: ProbeContext, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_b: list[str | None] = []
    port_b = await web_server(auth_app(seen_b))
    bad_ctx, _ = certs.server_context("localhost", ca=trustme.CA())  # CA nobody trusts
    port_c = await web_server(hello_app(), ssl_context=bad_ctx)
    port_a = await web_server(
        redirect_app(
            {"/to-b": f"http://app.mpp.test:{port_b}/", "/to-c": f"https://localhost:{port_c}/"}
        )
    )
    monkeypatch.setenv("MPP_TEST_HTTP_PASSWORD", PASSWORD)
    auth = BasicAuth(username="petugas", password=SecretRef(env="MPP_TEST_HTTP_PASSWORD"))
    to_b = await run(
        f"http://127.0.0.1:{port_a}/to-b", ctx, basic_auth=auth, valid_status_codes=[401]
    )
    assert to_b.success, to_b
    assert to_b.values["redirects"] == 1
    assert to_b.info["final_url"] == f"http://app.mpp.test:{port_b}/"
    assert to_b.phases["resolve"] > 0  # the second hop was looked up
    assert seen_b == [None]  # credentials are not sent to another host
    to_c = await run(f"http://127.0.0.1:{port_a}/to-c", ctx, ca_file=certs.ca_file)
    assert (to_c.success, to_c.reason) == (False, "tls_untrusted")
    assert to_c.values["redirects"] == 1


# --- hostile servers: the deadline holds --------------------------------------------------


async def test_accepts_and_never_answers(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)  # read the request, then say nothing
        await asyncio.Event().wait()

    srv = await raw_server(silent)
    result, elapsed = await run_timed(f"http://127.0.0.1:{srv.port}/", ctx, DEADLINE)
    assert_at_deadline(result, elapsed, DEADLINE)
    assert result.phases["processing"] > DEADLINE * 0.8
    assert "processing" in result.info["detail"]


async def test_drip_body(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):  # one byte a second, bounded
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(1)

    srv = await raw_server(drip)
    result, elapsed = await run_timed(f"http://127.0.0.1:{srv.port}/", ctx, DEADLINE)
    assert_at_deadline(result, elapsed, DEADLINE)
    assert result.values["status_code"] == 200
    assert result.phases["transfer"] > DEADLINE * 0.8


async def test_slowloris_headers(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def slowloris(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(100):  # a header byte a second, never ending the header block
            writer.write(b"X-a: b\r\n"[i % 8 : i % 8 + 1])
            await writer.drain()
            await asyncio.sleep(1)

    srv = await raw_server(slowloris)
    result, elapsed = await run_timed(f"http://127.0.0.1:{srv.port}/", ctx, DEADLINE)
    assert_at_deadline(result, elapsed, DEADLINE)
    assert "status_code" not in result.values


async def test_stalled_tls_handshake(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)  # the ClientHello, then nothing
        await asyncio.Event().wait()

    srv = await raw_server(stall)
    result, elapsed = await run_timed(f"https://127.0.0.1:{srv.port}/", ctx, DEADLINE)
    assert_at_deadline(result, elapsed, DEADLINE)
    assert result.phases["tls"] > DEADLINE * 0.8  # the handshake is where it hung
    assert result.phases["connect"] < DEADLINE * 0.2


async def test_infinite_chunked_body_is_cut(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"z" * 64 * 1024)
        for _ in range(100_000):  # ~6 GiB at most; the probe must stop long before
            writer.write(chunk)
            srv.bytes_sent += len(chunk)
            await writer.drain()

    srv = await raw_server(endless)
    cap = 1024 * 1024
    tracemalloc.start()
    try:
        result = await run(f"http://127.0.0.1:{srv.port}/", ctx, 10.0, max_body_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.success, result.reason) == (False, "body_too_large")
    assert result.duration_seconds < 5
    assert srv.bytes_sent < 16 * cap  # flow control: the server was not read without bound
    assert peak < 8 * cap, peak


async def test_64k_header_line(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        writer.write(
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 65536 + b"\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        await asyncio.Event().wait()

    srv = await raw_server(huge)
    result = await run(f"http://127.0.0.1:{srv.port}/", ctx)
    assert (result.success, result.reason) == (False, "header_too_large")


async def test_too_many_headers(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def many(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        lines = b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
        writer.write(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.Event().wait()

    srv = await raw_server(many)
    result = await run(f"http://127.0.0.1:{srv.port}/", ctx)
    assert (result.success, result.reason) == (False, "header_too_large")


async def test_non_http_service(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        await writer.drain()
        await reader.read(1 << 20)
        await asyncio.Event().wait()

    srv = await raw_server(ssh)
    result = await run(f"http://127.0.0.1:{srv.port}/", ctx)
    assert (result.success, result.reason) == (False, "protocol_error")


async def test_server_closes_without_response(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def hangup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        writer.close()

    srv = await raw_server(hangup)
    result = await run(f"http://127.0.0.1:{srv.port}/", ctx)
    assert (result.success, result.reason) == (False, "protocol_error")


# --- certificates --------------------------------------------------------------------------

NOW = dt.datetime.now(dt.UTC)


async def test_valid_certificate_with_custom_ca(
    web_server: WebServer, ctx: ProbeContext, certs: Certs
) -> None:
    not_after = (NOW + dt.timedelta(days=40)).replace(microsecond=0)
    server_ctx, expiry = certs.server_context("localhost", "127.0.0.1", not_after=not_after)
    port = await web_server(hello_app(), ssl_context=server_ctx)
    result = await run(f"https://localhost:{port}/", ctx, ca_file=certs.ca_file)
    assert result.success, result
    assert result.values["ssl_earliest_cert_expiry"] == expiry == not_after.timestamp()
    assert result.info["tls_version"] in {"TLS 1.2", "TLS 1.3"}
    assert result.phases["tls"] > 0
    by_ip = await run(f"https://127.0.0.1:{port}/", ctx, ca_file=certs.ca_file)
    assert by_ip.success, by_ip
    # a trailing dot is not part of the name verified (nor of the SNI), as in aiohttp
    dotted = await run(f"https://localhost.:{port}/", ctx, ca_file=certs.ca_file)
    assert dotted.success, dotted
    untrusted_by_default = await run(f"https://localhost:{port}/", ctx)
    assert untrusted_by_default.reason == "tls_untrusted"


async def test_expired_certificate(web_server: WebServer, ctx: ProbeContext, certs: Certs) -> None:
    not_after = (NOW - dt.timedelta(days=3)).replace(microsecond=0)
    server_ctx, expiry = certs.server_context(
        "localhost", not_before=NOW - dt.timedelta(days=90), not_after=not_after
    )
    port = await web_server(hello_app(), ssl_context=server_ctx)
    result = await run(f"https://localhost:{port}/", ctx, ca_file=certs.ca_file)
    assert (result.success, result.reason) == (False, "tls_expired")
    assert result.values["ssl_earliest_cert_expiry"] == expiry == not_after.timestamp()


async def test_self_signed_certificate(
    web_server: WebServer, ctx: ProbeContext, certs: Certs
) -> None:
    server_ctx, expiry = certs.server_context("localhost", ca=trustme.CA())
    port = await web_server(hello_app(), ssl_context=server_ctx)
    result = await run(f"https://localhost:{port}/", ctx, ca_file=certs.ca_file)
    assert (result.success, result.reason) == (False, "tls_untrusted")
    assert result.values["ssl_earliest_cert_expiry"] == expiry
    skipped = await run(f"https://localhost:{port}/", ctx, insecure_skip_verify=True)
    assert skipped.success, skipped
    assert skipped.values["ssl_earliest_cert_expiry"] == expiry


async def test_wrong_hostname_certificate(
    web_server: WebServer, ctx: ProbeContext, certs: Certs
) -> None:
    server_ctx, expiry = certs.server_context("other.mpp.test")
    port = await web_server(hello_app(), ssl_context=server_ctx)
    by_name = await run(f"https://app.mpp.test:{port}/", ctx, ca_file=certs.ca_file)
    assert (by_name.success, by_name.reason) == (False, "tls_hostname")
    assert by_name.values["ssl_earliest_cert_expiry"] == expiry
    by_ip = await run(f"https://127.0.0.1:{port}/", ctx, ca_file=certs.ca_file)
    assert (by_ip.success, by_ip.reason) == (False, "tls_hostname")
    assert by_ip.values["ssl_earliest_cert_expiry"] == expiry


async def test_https_to_plain_http_port(web_server: WebServer, ctx: ProbeContext) -> None:
    port = await web_server(hello_app())
    result = await run(f"https://127.0.0.1:{port}/", ctx)
    assert (result.success, result.reason) == (False, "tls_error")


# --- families and resolution ----------------------------------------------------------------


async def test_ipv6_literal(web_server: WebServer, ctx: ProbeContext, ipv6_loopback: str) -> None:
    port = await web_server(hello_app(), host=ipv6_loopback)
    result = await run(f"http://[::1]:{port}/", ctx)
    assert result.success, result
    assert result.values["ip_protocol"] == 6


async def test_family_is_followed_without_fallback(
    web_server: WebServer, ctx: ProbeContext, ipv6_loopback: str
) -> None:
    port = await web_server(hello_app(), host=ipv6_loopback)
    v6 = await run(f"http://v6.mpp.test:{port}/", ctx, family="ip6")
    assert v6.success, v6
    assert v6.values["ip_protocol"] == 6
    auto = await run(f"http://v6.mpp.test:{port}/", ctx, family="auto")  # no A record
    assert auto.values["ip_protocol"] == 6
    v4_only = await run(f"http://v6.mpp.test:{port}/", ctx, family="ip4")
    assert (v4_only.success, v4_only.reason) == (False, "dns")
    # "both" has A and AAAA; the server listens on ::1 only: ip4 must not fall back
    both_v4 = await run(f"http://both.mpp.test:{port}/", ctx, family="ip4")
    assert (both_v4.success, both_v4.reason) == (False, "connect_refused")
    assert both_v4.values["ip_protocol"] == 4
    # and the other way round: IPv6 wanted, the service only on IPv4
    port4 = await web_server(hello_app())
    both_v6 = await run(f"http://both.mpp.test:{port4}/", ctx, family="ip6")
    assert (both_v6.success, both_v6.reason) == (False, "connect_refused")
    assert both_v6.values["ip_protocol"] == 6
    assert (await run(f"http://both.mpp.test:{port4}/", ctx, family="auto")).success


async def test_source_address(web_server: WebServer, ctx: ProbeContext) -> None:
    seen: list[str] = []

    async def peer(request: web.Request) -> web.Response:
        seen.append(str(request.remote))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", peer)
    port = await web_server(app)
    result = await run(f"http://127.0.0.1:{port}/", ctx, source="127.0.0.2")
    assert result.success, result
    assert seen == ["127.0.0.2"]


async def test_dead_resolver_does_not_delay_other_probes(
    web_server: WebServer, silent_udp_port: int, ctx: ProbeContext
) -> None:
    """Many probes stuck on a dead resolver, and the default thread pool fully blocked:
    probes of a literal address, of a hosts-file name and of a name served by a live
    resolver still complete while those wait (no getaddrinfo in the thread pool)."""
    port = await web_server(hello_app())
    loop = asyncio.get_running_loop()
    release = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(pool)
    blocker = loop.run_in_executor(None, release.wait, 30)  # occupies the only worker
    try:
        dead_ctx = make_ctx(silent_udp_port)
        stuck = [
            asyncio.create_task(run(f"http://app{i}.mpp.test:{port}/", dead_ctx, DEADLINE))
            for i in range(40)
        ]
        live = await asyncio.gather(
            run(f"http://127.0.0.1:{port}/", dead_ctx, DEADLINE),
            run(f"http://localhost:{port}/", dead_ctx, DEADLINE),  # /etc/hosts
            run(f"http://app.mpp.test:{port}/", ctx, DEADLINE),  # a live resolver
        )
        for result in live:
            assert result.success, result
        assert not any(t.done() for t in stuck)  # they were still waiting meanwhile
        results = await asyncio.gather(*stuck)
        for result in results:
            assert (result.success, result.reason) == (False, "dns")
            assert DEADLINE * 0.9 <= result.duration_seconds <= DEADLINE * 1.1
            assert result.phases["resolve"] > DEADLINE * 0.8
    finally:
        release.set()
        await blocker
        pool.shutdown()


async def test_missing_ca_file_is_a_tls_error(
    web_server: WebServer, ctx: ProbeContext, certs: Certs, tmp_path: Any
) -> None:
    server_ctx, _ = certs.server_context("localhost")
    port = await web_server(hello_app(), ssl_context=server_ctx)
    result = await run(f"https://localhost:{port}/", ctx, ca_file=tmp_path / "missing.pem")
    assert (result.success, result.reason) == (False, "tls_error")
    assert "missing.pem" in result.info["detail"]


# --- the two paths ---------------------------------------------------------------------------


async def test_lean_path_serves_get_and_head_client_the_rest(
    web_server: WebServer, ctx: ProbeContext, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions: list[str] = []
    real_session = http.aiohttp.ClientSession

    def counting_session(*args: Any, **kwargs: Any) -> Any:
        sessions.append("client")
        return real_session(*args, **kwargs)

    monkeypatch.setattr(http.aiohttp, "ClientSession", counting_session)
    port = await web_server(hello_app())
    for method in ("GET", "HEAD"):
        assert (await run(f"http://127.0.0.1:{port}/", ctx, method=method)).success
    assert sessions == ([] if path == "lean" else ["client", "client"])
    posted = await run(f"http://127.0.0.1:{port}/echo", ctx, method="POST", body="x")
    assert posted.success, posted
    assert sessions[-1:] == ["client"]  # a body: always aiohttp's client


async def test_cookie_set_by_a_redirect_is_sent_on(
    web_server: WebServer, ctx: ProbeContext
) -> None:
    async def login(request: web.Request) -> web.Response:
        response = web.HTTPFound("/home")
        response.set_cookie("sesi", "gerai-07")
        raise response

    async def home(request: web.Request) -> web.Response:
        if request.cookies.get("sesi") != "gerai-07":
            return web.Response(status=403, text="no session")
        return web.Response(text="welcome back")

    app = web.Application()
    app.router.add_get("/login", login)
    app.router.add_get("/home", home)
    port = await web_server(app)
    result = await run(f"http://127.0.0.1:{port}/login", ctx, body_must_match=["welcome"])
    assert result.success, result
    assert result.values["redirects"] == 1


async def test_gzip_body_is_decoded_for_expectations(
    web_server: WebServer, ctx: ProbeContext
) -> None:
    async def packed(request: web.Request) -> web.Response:
        response = web.Response(text="antrian buka " * 200)
        response.enable_compression(web.ContentCoding.gzip)
        return response

    app = web.Application()
    app.router.add_get("/", packed)
    port = await web_server(app)
    result = await run(f"http://127.0.0.1:{port}/", ctx, body_must_match=["^antrian buka"])
    assert result.success, result
    capped = await run(f"http://127.0.0.1:{port}/", ctx, max_body_bytes=1000)
    assert capped.reason == "body_too_large"  # the cap counts decoded bytes


async def test_interim_100_response_is_skipped(raw_server: RawFactory, ctx: ProbeContext) -> None:
    async def interim(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsiap!")
        await writer.drain()
        await asyncio.Event().wait()

    srv = await raw_server(interim)
    result = await run(f"http://127.0.0.1:{srv.port}/", ctx, body_must_match=["siap"])
    assert result.success, result
    assert result.values["status_code"] == 200
