"""ICMP probe against real network namespaces (root only; CI runs as root).

Every test builds its own ``tests.netns.Topology`` (namespaces ``mppt-*``, removed on exit
also when the test fails) and runs the probes inside the prober namespace, in a thread
switched into it (``Namespace.run``), so the sockets are real ICMP sockets there.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord

from monitor.plan import TARGET_LABELS, Target
from probes import icmp
from probes.base import ProbeContext, ProbeResult
from probes.net import RESOLVER_RESOURCE, SystemResolver
from probes.settings import IcmpSettings
from tests.netns import Topology, list_namespaces, requires_netns

pytestmark = [requires_netns, pytest.mark.netns]

Job = tuple[str, IcmpSettings, float]  # address, settings, timeout


def make_target(address: str, timeout: float) -> Target:
    return Target(
        id=f"test/device/{address}/icmp",
        probe="icmp",
        address=address,
        entity=f"test/device/{address}",
        interval=10,
        timeout=timeout,
        settings=None,
        labels=dict.fromkeys(TARGET_LABELS, ""),
    )


class _DnsServer(asyncio.DatagramProtocol):
    """A tiny authoritative DNS server: A/AAAA from a table, NXDOMAIN for other names."""

    def __init__(self, table: dict[str, dict[str, list[str]]]) -> None:
        self.table = table
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        query = DNSRecord.parse(data)
        reply = query.reply()
        name, qtype = str(query.q.qname).rstrip("."), QTYPE[query.q.qtype]
        records = self.table.get(name)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
        else:  # a known name without records of this type: NOERROR, no answer (NODATA)
            for ip in records.get(qtype, []):
                rdata = A(ip) if qtype == "A" else AAAA(ip)
                reply.add_answer(RR(query.q.qname, query.q.qtype, rdata=rdata, ttl=60))
        assert self.transport is not None
        self.transport.sendto(reply.pack(), addr)


async def probe_all(
    jobs: list[Job], mode: str = "auto", dns: dict[str, dict[str, list[str]]] | None = None
) -> list[ProbeResult]:
    """Run every job concurrently with one set of shared sockets; return results in order.

    With ``dns``, names resolve only through a DNS server on this namespace's loopback.
    """
    ctx = ProbeContext(monotonic=time.monotonic, wall=time.time)
    transport = None
    if dns is not None:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _DnsServer(dns), local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        ctx.resources[RESOLVER_RESOURCE] = SystemResolver(
            nameservers=["127.0.0.1"], port=port, hosts_file=None
        )
    await icmp.setup(ctx, mode=mode)  # type: ignore[arg-type]
    try:
        return list(
            await asyncio.gather(*(icmp.probe(make_target(a, t), s, ctx) for a, s, t in jobs))
        )
    finally:
        icmp.close(ctx)
        if transport is not None:
            transport.close()


@pytest.fixture
def topo() -> Iterator[Topology]:
    """A fresh topology, removed after the test whatever happens; checks nothing is left."""
    with Topology() as t:
        yield t
        names = [ns.name for ns in t.namespaces]
    assert not set(names) & set(list_namespaces()), "namespaces left behind"


# -- 200 hosts, half silent: no cross-talk ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["raw", "dgram"])
def test_200_hosts_half_silent_every_result_matches_the_truth(topo: Topology, mode: str) -> None:
    prober, hub = topo.namespace("prober"), topo.namespace("hub")
    topo.link(prober, hub, "10.200.0.1/24", "10.200.0.2/24")
    prober.route("10.201.0.0/16", "via", "10.200.0.2")
    prober.ping_group_range()
    answering = [f"10.201.0.{i}" for i in range(1, 101)]
    silent = [f"10.201.1.{i}" for i in range(1, 101)]
    liar = "10.201.2.7"  # answers, but its replies carry the source address 10.201.0.7
    hub.add_addresses("lo", [f"{a}/32" for a in [*answering, *silent, liar]])
    hub.nft(
        "table inet t {\n"
        "  chain in { type filter hook input priority 0;\n"
        "    ip daddr 10.201.1.0/24 icmp type echo-request drop; }\n"
        "  chain out { type filter hook output priority 0;\n"
        f"    ip saddr {liar} icmp type echo-reply ip saddr set 10.201.0.7; }}\n"
        "}\n"
    )
    # Half the probes use a socket bound to the prober's address: a second raw socket that
    # receives the same replies as the unbound one, so each must pick out its own.
    plain = IcmpSettings(count=3, spacing=0.02)
    bound = IcmpSettings(count=3, spacing=0.02, source="10.200.0.1")
    addresses = [a for pair in zip(answering, silent, strict=True) for a in pair] + [liar]
    jobs: list[Job] = [(a, bound if i % 4 < 2 else plain, 1.5) for i, a in enumerate(addresses)]

    prober.nft(
        "table inet t {\n"
        "  counter from7 { }\n"
        "  chain in { type filter hook input priority 0;\n"
        '    ip saddr 10.201.0.7 icmp type echo-reply counter name "from7"; }\n'
        "}\n"
    )

    results = prober.run(probe_all, jobs, mode)

    # the liar's replies did arrive (valid packets), 3 of them beside 10.201.0.7's own 3
    assert prober.nft_counter("t", "from7") == 6

    wrong = []
    for (address, _, _), r in zip(jobs, results, strict=True):
        truth = address in answering
        got = (r.success, r.reason, r.values.get("packets_sent"), r.values.get("packets_received"))
        want = (True, "", 3, 3) if truth else (False, "timeout", 3, 0)
        if got != want or r.info.get("mode") != mode:
            wrong.append((address, got, r.info))
    assert not wrong, f"{len(wrong)} of {len(jobs)} results differ from the truth: {wrong[:5]}"


# -- "destination unreachable" from a router ---------------------------------------------------


def _router_topology(topo: Topology) -> Any:
    prober = topo.namespace("prober")
    router = topo.namespace("router", forwarding=True)
    far = topo.namespace("far")
    topo.link(
        prober, router, ["10.250.0.1/24", "fd00:250::1/64"], ["10.250.0.2/24", "fd00:250::2/64"]
    )
    topo.link(router, far, ["10.251.0.1/24", "fd00:251::1/64"], ["10.251.0.2/24", "fd00:251::2/64"])
    prober.route("default", "via", "10.250.0.2")
    prober.route("default", "via", "fd00:250::2")
    far.route("default", "via", "10.251.0.1")
    far.route("default", "via", "fd00:251::1")
    far.add_addresses(
        "lo",
        ["10.203.0.1/32", "10.203.0.9/32", "10.203.0.10/32", "fd00:203::1/128", "fd00:203::9/128"],
    )
    router.route("10.203.0.0/24", "via", "10.251.0.2")
    router.route("fd00:203::/64", "via", "fd00:251::2")
    # The targets exist behind the router, but the router refuses to forward to them and
    # says so (nft reject is not rate-limited like "ip route add unreachable" errors).
    router.nft(
        "table inet t {\n"
        "  chain fw { type filter hook forward priority 0;\n"
        "    ip daddr 10.203.0.9 reject with icmp type host-unreachable;\n"
        "    ip daddr 10.203.0.10 reject with icmp type admin-prohibited;\n"
        "    ip6 daddr fd00:203::9 reject with icmpv6 type addr-unreachable; }\n"
        "}\n"
    )
    prober.ping_group_range()
    return prober


@pytest.mark.parametrize("mode", ["raw", "dgram"])
def test_unreachable_from_a_router_is_down_and_ipv6_works(topo: Topology, mode: str) -> None:
    prober = _router_topology(topo)
    s4 = IcmpSettings(count=3, spacing=0.02)
    s6 = IcmpSettings(count=3, spacing=0.02, family="ip6")
    jobs: list[Job] = [
        ("10.203.0.1", s4, 2.0),
        ("10.203.0.9", s4, 2.0),
        ("10.203.0.10", s4, 2.0),
        ("fd00:203::1", s6, 2.0),
        ("fd00:203::9", s6, 2.0),
        ("::1", s6, 2.0),
        ("fd00:203::1", s4, 2.0),  # an IPv6 target with family ip4: no silent fallback
    ]
    ok4, host_unreach, admin, ok6, unreach6, loop6, wrong_family = prober.run(probe_all, jobs, mode)

    assert (ok4.success, ok4.values["packets_received"], ok4.values["ip_protocol"]) == (True, 3, 4)
    for r, kind in ((host_unreach, "host unreachable"), (admin, "administratively prohibited")):
        assert (r.success, r.reason) == (False, "unreachable"), r
        assert r.values["packets_received"] == 0 and r.values["packets_sent"] == 3
        assert r.info["detail"] == f"destination unreachable ({kind}) from 10.250.0.2"
        assert r.duration_seconds < 1.0  # the errors end the run; no waiting for the deadline
    assert (ok6.success, ok6.values["ip_protocol"], ok6.values["packets_received"]) == (True, 6, 3)
    assert (unreach6.success, unreach6.reason, unreach6.values["ip_protocol"]) == (
        False,
        "unreachable",
        6,
    )
    assert (
        unreach6.info["detail"] == "destination unreachable (address unreachable) from fd00:250::2"
    )
    assert (loop6.success, loop6.values["ip_protocol"]) == (True, 6)
    assert (wrong_family.success, wrong_family.reason) == (False, "family")


def test_host_with_only_an_ipv6_address_and_family_ip4(topo: Topology) -> None:
    prober = _router_topology(topo)
    dns = {"v6only.test": {"AAAA": ["fd00:203::1"]}, "v4only.test": {"A": ["10.203.0.1"]}}
    jobs: list[Job] = [
        ("v6only.test", IcmpSettings(count=1, family="ip4"), 2.0),
        ("v6only.test", IcmpSettings(count=1, family="auto"), 2.0),
        ("v4only.test", IcmpSettings(count=1, family="ip6"), 2.0),
        ("nowhere.test", IcmpSettings(count=1, family="ip4"), 2.0),
    ]
    no_v4, auto, no_v6, unknown = prober.run(probe_all, jobs, "raw", dns)
    assert (no_v4.success, no_v4.reason) == (False, "family")
    assert "only ip6" in no_v4.info["detail"]
    assert (auto.success, auto.values["ip_protocol"], auto.info["address"]) == (
        True,
        6,
        "fd00:203::1",
    )
    assert (no_v6.success, no_v6.reason) == (False, "family")
    assert (unknown.success, unknown.reason) == (False, "dns")


# -- 30% random loss -------------------------------------------------------------------------


@pytest.mark.slow
def test_random_loss_is_measured_within_statistical_tolerance(topo: Topology) -> None:
    prober, hub = topo.namespace("prober"), topo.namespace("hub")
    topo.link(prober, hub, "10.200.0.1/24", "10.200.0.2/24")
    prober.route("10.201.0.0/16", "via", "10.200.0.2")
    targets = [f"10.201.0.{i}" for i in range(1, 11)]
    hub.add_addresses("lo", [f"{a}/32" for a in targets])
    # One direction only: echo requests into the hub; replies are never dropped.
    hub.drop_random(30, "ip daddr 10.201.0.0/24 icmp type echo-request")
    settings = IcmpSettings(count=100, spacing=0.01)  # 10 runs x 100 echoes = 1,000 echoes
    results = prober.run(probe_all, [(a, settings, 2.5) for a in targets], "raw")

    sent = sum(r.values["packets_sent"] for r in results)
    received = sum(r.values["packets_received"] for r in results)
    assert sent == 1000
    # Exact truth: every echo the hub's nft rule did not drop was answered and counted.
    assert received == sent - hub.dropped()
    # Statistical: n = 1000 Bernoulli(0.3) drops; sigma = sqrt(0.3 * 0.7 / 1000) = 0.0145.
    # 5 sigma (0.072) makes a false failure about 1 in 1.7 million runs.
    loss = 1 - received / sent
    sigma = math.sqrt(0.3 * 0.7 / sent)
    assert abs(loss - 0.3) <= 5 * sigma, f"measured loss {loss:.3f}, expected 0.3 ± {5 * sigma:.3f}"
    for r in results:
        # per run n = 100: sigma 0.046, so 0.3 ± 5 sigma = [0.07, 0.53]
        assert 0.07 <= r.values["loss_ratio"] <= 0.53, r.values
        # sporadic loss is not "down" (max_loss defaults to 1.0: only total loss fails)
        assert (r.success, r.reason) == (True, "")
        assert (
            r.values["rtt_min_seconds"]
            <= r.values["rtt_median_seconds"]
            <= r.values["rtt_max_seconds"]
        )


# -- source address: per-uplink probing ------------------------------------------------------


@pytest.mark.slow
def test_probe_bound_to_a_source_goes_out_through_that_uplink(topo: Topology) -> None:
    prober = topo.namespace("prober")
    uplinks = {"a": topo.namespace("uplink-a"), "b": topo.namespace("uplink-b")}
    anchor = "10.230.0.1"  # the same "internet" anchor address is reachable via both
    for n, (name, up) in enumerate(uplinks.items(), start=1):
        topo.link(prober, up, f"10.220.{n}.1/24", f"10.220.{n}.2/24")
        up.add_address("lo", f"{anchor}/32")
        up.nft(
            "table inet t {\n"
            "  counter echo { }\n"
            "  chain in { type filter hook input priority 0;\n"
            f'    ip daddr {anchor} icmp type echo-request counter name "echo"; }}\n'
            "}\n"
        )
        # policy routing: packets from this uplink's address use this uplink's table
        prober.ip("rule", "add", "from", f"10.220.{n}.1", "table", str(100 + n))
        prober.ip("route", "add", "default", "via", f"10.220.{n}.2", "table", str(100 + n))
    prober.route("default", "via", "10.220.1.2")  # main table: uplink a
    via_a = IcmpSettings(count=4, spacing=0.01, source="10.220.1.1")
    via_b = IcmpSettings(count=5, spacing=0.01, source="10.220.2.1")
    nowhere = IcmpSettings(count=1, source="10.99.0.1")  # not an address of this host

    r_b, r_a, r_bad = prober.run(
        probe_all, [(anchor, via_b, 1.0), (anchor, via_a, 1.0), (anchor, nowhere, 1.0)], "raw"
    )
    assert (r_a.success, r_b.success) == (True, True)
    assert (uplinks["a"].nft_counter("t", "echo"), uplinks["b"].nft_counter("t", "echo")) == (4, 5)
    assert r_b.info["source"] == "10.220.2.1"
    assert (r_bad.success, r_bad.reason) == (False, "source")

    # uplink b fails: only the probe bound to it says so
    uplinks["b"].nft("add rule inet t in ip daddr 10.230.0.1 icmp type echo-request drop\n")
    r_b, r_a = prober.run(probe_all, [(anchor, via_b, 0.6), (anchor, via_a, 0.6)], "raw")
    assert (r_a.success, r_b.success, r_b.reason) == (True, False, "timeout")


# -- privileges: datagram sockets and the start-up error -------------------------------------

_DETECT_AND_PING = """
import asyncio, json, time
from probes import icmp
from probes.base import ProbeContext
from probes.settings import IcmpSettings
from tests.probes.test_icmp import make_target

async def main():
    ctx = ProbeContext(monotonic=time.monotonic, wall=time.time)
    try:
        res = await icmp.setup(ctx)
    except icmp.IcmpUnavailable as exc:
        return {"error": str(exc)}
    r = await icmp.probe(make_target("127.0.0.1", 1.0), IcmpSettings(count=2, spacing=0.01), ctx)
    icmp.close(ctx)
    return {"mode": res.mode, "success": r.success, "received": r.values["packets_received"]}

print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.skipif(shutil.which("capsh") is None, reason="needs capsh (Debian libcap2-bin)")
def test_without_cap_net_raw_datagram_sockets_or_a_clear_error(topo: Topology) -> None:
    ns = topo.namespace("noraw")
    no_raw = ("capsh", "--drop=cap_net_raw", "--")  # still uid 0, but no raw sockets
    assert ns.sysctl_get("net.ipv4.ping_group_range").split() == ["1", "0"]  # closed
    closed = json.loads(ns.python(_DETECT_AND_PING, wrapper=no_raw))
    assert "net.ipv4.ping_group_range" in closed["error"]
    assert "CAP_NET_RAW" in closed["error"]
    assert "'1 0'" in closed["error"]

    ns.ping_group_range(0, 0)  # what the error tells the operator to do, for gid 0
    opened = json.loads(ns.python(_DETECT_AND_PING, wrapper=no_raw))
    assert opened == {"mode": "dgram", "success": True, "received": 2}


def test_forcing_datagram_mode_needs_ping_group_range(topo: Topology) -> None:
    ns = topo.namespace("closed")
    with pytest.raises(icmp.IcmpUnavailable, match="ping_group_range"):
        ns.run(icmp.detect_mode, "dgram")
    ns.ping_group_range()
    assert ns.run(icmp.detect_mode, "dgram") == "dgram"


# -- the namespace helper itself ---------------------------------------------------------------


def test_topology_removes_everything_even_when_the_test_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), Topology() as t:
        a, b = t.namespace("a"), t.namespace("b", forwarding=True)
        t.link(a, b, "10.240.0.1/30", "10.240.0.2/30")
        a.hosts({"peer.test": ["10.240.0.2"]})
        names = [a.name, b.name]
        assert b.sysctl_get("net.ipv4.ip_forward") == "1"
        assert "peer.test" in a.exec(["cat", "/etc/hosts"]).stdout  # bind-mounted by ip netns
        assert a.run(lambda: Path("/proc/thread-self/net/dev").read_text()).count("to-b") == 1
        raise RuntimeError("boom")
    assert not set(names) & set(list_namespaces())
    assert not any((Path("/etc/netns") / n).exists() for n in names)
    assert not any((Path("/run/mppt-netns") / n).exists() for n in names)
