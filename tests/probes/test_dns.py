"""DNS probe against a local dnslib server on 127.0.0.1: rcodes, answers, loss, dead resolver."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from typing import Any

from probes import dns as dns_probe
from probes.base import ProbeContext, ProbeResult
from probes.settings import DnsSettings
from tests.probes.conftest import DnsServer, make_target

DEADLINE = 1.5


async def run(
    server: str, port: int, ctx: ProbeContext, timeout: float = 2.0, **settings: Any
) -> ProbeResult:
    """Ask ``server``:``port`` with the given settings."""
    conf = DnsSettings(port=port, **settings)
    return await dns_probe.probe(make_target("dns", server, conf, timeout), conf, ctx)


async def test_noerror_with_answers(dns_server: DnsServer, ctx: ProbeContext) -> None:
    result = await run("127.0.0.1", dns_server.port, ctx, query_name="app.mpp.test")
    assert result.success, result
    assert result.info["rcode"] == "NOERROR"
    assert result.values["dns_rcode"] == 0
    assert result.values["dns_answer_rrs"] == 1
    assert result.values["lookup_seconds"] > 0
    assert result.phases["lookup"] > 0
    assert result.values["ip_protocol"] == 4
    assert "retransmissions" not in result.info
    assert dns_server.queries == ["app.mpp.test. A"]


async def test_aaaa_over_tcp(dns_server: DnsServer, ctx: ProbeContext) -> None:
    result = await run(
        "127.0.0.1",
        dns_server.port,
        ctx,
        query_name="v6.mpp.test",
        query_type="AAAA",
        transport="tcp",
    )
    assert result.success, result
    assert result.values["dns_answer_rrs"] == 1


async def test_rcodes_told_apart(dns_server: DnsServer, ctx: ProbeContext) -> None:
    port = dns_server.port
    nx = await run("127.0.0.1", port, ctx, query_name="nx.mpp.test")
    assert (nx.success, nx.reason, nx.info["rcode"]) == (False, "dns_nxdomain", "NXDOMAIN")
    fail = await run("127.0.0.1", port, ctx, query_name="fail.mpp.test")
    assert (fail.success, fail.reason, fail.info["rcode"]) == (False, "dns_servfail", "SERVFAIL")
    refused = await run("127.0.0.1", port, ctx, query_name="refused.mpp.test")
    assert (refused.reason, refused.values["dns_rcode"]) == ("dns_refused", 5)
    expected_nx = await run(
        "127.0.0.1", port, ctx, query_name="nx.mpp.test", valid_rcodes=["NXDOMAIN"], min_answers=0
    )
    assert expected_nx.success, expected_nx


async def test_no_answer(dns_server: DnsServer, ctx: ProbeContext) -> None:
    empty = await run("127.0.0.1", dns_server.port, ctx, query_name="empty.mpp.test")
    assert (empty.success, empty.reason) == (False, "dns_no_answer")
    assert empty.values["dns_answer_rrs"] == 0
    allowed = await run(
        "127.0.0.1", dns_server.port, ctx, query_name="empty.mpp.test", min_answers=0
    )
    assert allowed.success, allowed


async def test_truncated_answer_is_asked_over_tcp(dns_server: DnsServer, ctx: ProbeContext) -> None:
    result = await run(
        "127.0.0.1", dns_server.port, ctx, query_name="big.mpp.test", query_type="TXT"
    )
    assert result.success, result
    assert result.values["dns_answer_rrs"] == 40
    assert result.info["truncated"] == "retried over TCP"


async def test_one_dropped_packet_is_not_a_failure(
    dns_server: DnsServer, ctx: ProbeContext
) -> None:
    result = await run("127.0.0.1", dns_server.port, ctx, 1.5, query_name="drop-once.mpp.test")
    assert result.success, result
    assert result.info["retransmissions"] == "1"
    assert dns_server.queries == ["drop-once.mpp.test. A"] * 2
    # the retransmission came after a third of the deadline
    assert result.values["lookup_seconds"] >= 0.5 * 0.9


async def test_resolver_down_times_out_at_deadline(silent_udp_port: int, ctx: ProbeContext) -> None:
    start = time.monotonic()
    result = await run("127.0.0.1", silent_udp_port, ctx, DEADLINE, query_name="app.mpp.test")
    elapsed = time.monotonic() - start
    assert (result.success, result.reason) == (False, "dns_timeout")
    assert DEADLINE * 0.9 <= elapsed <= DEADLINE * 1.1
    assert DEADLINE * 0.9 <= result.duration_seconds <= DEADLINE * 1.1


async def test_closed_port_is_refused(ctx: ProbeContext) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # ICMP port unreachable from now on
    result = await run("127.0.0.1", port, ctx, query_name="app.mpp.test")
    assert (result.success, result.reason) == (False, "connect_refused")


async def test_dead_resolver_never_delays_other_probes(
    dns_server: DnsServer, silent_udp_port: int, ctx: ProbeContext
) -> None:
    """With the default thread pool blocked and many probes waiting on a dead resolver, a
    probe of a live resolver still answers at once."""
    loop = asyncio.get_running_loop()
    release = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(pool)
    blocker = loop.run_in_executor(None, release.wait, 30)
    try:
        stuck = [
            asyncio.create_task(
                run("127.0.0.1", silent_udp_port, ctx, DEADLINE, query_name=f"q{i}.mpp.test")
            )
            for i in range(50)
        ]
        live = await run("127.0.0.1", dns_server.port, ctx, DEADLINE, query_name="app.mpp.test")
        assert live.success, live
        assert not any(t.done() for t in stuck)
        for result in await asyncio.gather(*stuck):
            assert result.reason == "dns_timeout"
    finally:
        release.set()
        await blocker
        pool.shutdown()


async def test_source_and_ipv6_server(dns_server: DnsServer, ctx: ProbeContext) -> None:
    result = await run(
        "127.0.0.1", dns_server.port, ctx, query_name="app.mpp.test", source="127.0.0.4"
    )
    assert result.success, result
    assert dns_server.peers == ["127.0.0.4"]
    wrong_family = await run(
        "::1", dns_server.port, ctx, query_name="app.mpp.test", source="127.0.0.4"
    )
    assert (wrong_family.success, wrong_family.reason) == (False, "connect_error")
