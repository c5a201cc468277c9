"""Unit tests of the ICMP probe with fake sockets and a fake resolver (no network I/O)."""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from monitor.plan import TARGET_LABELS, Target
from probes import icmp
from probes.base import ProbeContext
from probes.icmp_socket import (
    IP_RECVERR,
    IPV6_RECVERR,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    SOL_IPV6,
    Echo,
    IcmpUnavailable,
    Pinger,
    SocketSetupError,
    checksum,
    detect_mode,
    echo_request,
    parse_errqueue,
    parse_ipv4,
    parse_ipv6,
)
from probes.net import RESOLVER_RESOURCE, Address, ResolveError
from probes.settings import IcmpSettings

A4 = socket.AF_INET
A6 = socket.AF_INET6


def aton(ip: str) -> bytes:
    return socket.inet_pton(A6 if ":" in ip else A4, ip)


def icmp_msg(icmp_type: int, code: int, rest: bytes) -> bytes:
    """An ICMP message with a valid checksum (rest = the 4 header bytes after it + data)."""
    body = struct.pack("!BBH", icmp_type, code, 0) + rest
    return struct.pack("!BBH", icmp_type, code, checksum(body)) + rest


def ipv4(src: str, dst: str, payload: bytes, proto: int = 1) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, aton(src), aton(dst)
    )
    return header + payload


def echo_reply(ident: int, seq: int, payload: bytes = b"", v6: bool = False) -> bytes:
    return icmp_msg(129 if v6 else 0, 0, struct.pack("!HH", ident, seq) + payload)


def unreach4(router: str, original: bytes, code: int = 1) -> bytes:
    """A raw IPv4 destination-unreachable packet from router quoting original (IP packet)."""
    quoted = original[:28]
    return ipv4(router, "10.0.0.100", icmp_msg(3, code, b"\0\0\0\0" + quoted))


def ipv6_header(src: str, dst: str, payload: bytes, nh: int = 58) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64, aton(src), aton(dst)) + payload


# -- packets ---------------------------------------------------------------------------------


def test_checksum_of_a_packet_with_its_checksum_is_zero() -> None:
    pkt = echo_request(A4, 0x1234, 7, b"abcdefg")  # odd length on purpose
    assert checksum(pkt) == 0
    assert pkt[0] == 8 and struct.unpack("!HH", pkt[4:8]) == (0x1234, 7)
    # RFC 1071 example words 0001 f203 f4f5 f6f7 sum to 0xddf2 (checksum 0x220d)
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_parse_ipv4_reply_takes_the_sender_from_the_ip_header() -> None:
    parsed = parse_ipv4(
        ipv4("10.1.1.1", "10.0.0.100", echo_reply(5, 6, b"xy")), with_ip_header=True
    )
    assert parsed is not None
    assert (parsed.kind, parsed.ident, parsed.seq) == ("reply", 5, 6)
    assert parsed.dest == parsed.sender == aton("10.1.1.1")


def test_parse_ipv4_error_names_the_original_destination_and_the_router() -> None:
    original = ipv4("10.0.0.100", "10.9.9.9", echo_request(A4, 77, 88, b"payload!"))
    parsed = parse_ipv4(unreach4("10.0.0.254", original), with_ip_header=True)
    assert parsed is not None
    assert (parsed.kind, parsed.ident, parsed.seq) == ("error", 77, 88)
    assert parsed.dest == aton("10.9.9.9")
    assert parsed.sender == aton("10.0.0.254")
    assert (parsed.icmp_type, parsed.icmp_code) == (3, 1)


@pytest.mark.parametrize(
    "quoted",
    [
        ipv4("10.0.0.100", "10.9.9.9", b"\x00\x35\x00\x35\x00\x08\x00\x00", proto=17),  # UDP
        ipv4("10.0.0.100", "10.9.9.9", echo_reply(77, 88)),  # not an echo request
    ],
)
def test_parse_ipv4_error_quoting_something_else_is_ignored(quoted: bytes) -> None:
    assert parse_ipv4(unreach4("10.0.0.254", quoted), with_ip_header=True) is None


def test_parse_ipv4_ignores_requests_redirects_and_runts() -> None:
    assert (
        parse_ipv4(ipv4("10.1.1.1", "10.0.0.100", echo_request(A4, 1, 2, b"")), with_ip_header=True)
        is None
    )
    redirect = icmp_msg(
        5, 1, aton("10.0.0.1") + ipv4("10.0.0.100", "10.9.9.9", echo_request(A4, 1, 2, b""))[:28]
    )
    assert parse_ipv4(ipv4("10.0.0.254", "10.0.0.100", redirect), with_ip_header=True) is None
    assert parse_ipv4(b"\x45\x00", with_ip_header=True) is None
    assert parse_ipv4(b"\x00\x00\x00", with_ip_header=False, sender=aton("10.1.1.1")) is None


def test_parse_ipv4_without_ip_header_uses_the_given_sender() -> None:
    parsed = parse_ipv4(echo_reply(9, 10), with_ip_header=False, sender=aton("10.1.1.2"))
    assert parsed is not None and parsed.dest == aton("10.1.1.2") and parsed.seq == 10


def test_parse_ipv6_reply_and_error() -> None:
    reply = parse_ipv6(echo_reply(3, 4, v6=True), aton("fd00::2"))
    assert reply is not None and (reply.kind, reply.ident, reply.seq) == ("reply", 3, 4)
    original = ipv6_header("fd00::1", "fd00:9::9", echo_request(A6, 3, 5, b"data"))
    error = parse_ipv6(icmp_msg(1, 0, b"\0\0\0\0" + original), aton("fd00::fe"))
    assert error is not None and error.kind == "error" and error.seq == 5
    assert error.dest == aton("fd00:9::9") and error.sender == aton("fd00::fe")
    udp = ipv6_header("fd00::1", "fd00:9::9", b"\0" * 8, nh=17)
    assert parse_ipv6(icmp_msg(1, 0, b"\0\0\0\0" + udp), aton("fd00::fe")) is None
    assert parse_ipv6(icmp_msg(135, 0, b"\0" * 20), aton("fd00::fe")) is None  # neighbour sol.


def _ee(origin: int, icmp_type: int, code: int, offender: bytes) -> bytes:
    return struct.pack("=IBBBBII", errno.EHOSTUNREACH, origin, icmp_type, code, 0, 0, 0) + offender


def test_parse_errqueue_ipv4_and_ipv6() -> None:
    request = echo_request(A4, 4242, 17, b"x" * 8)
    offender4 = struct.pack("=HH4s8x", A4, 0, aton("10.0.0.254"))
    parsed = parse_errqueue(
        A4,
        request,
        [(socket.SOL_IP, IP_RECVERR, _ee(SO_EE_ORIGIN_ICMP, 3, 1, offender4))],
        ("10.9.9.9", 0),
    )
    assert parsed is not None
    assert (parsed.ident, parsed.seq, parsed.dest, parsed.sender) == (
        4242,
        17,
        aton("10.9.9.9"),
        aton("10.0.0.254"),
    )
    offender6 = struct.pack("=HHI16sI", A6, 0, 0, aton("fd00::fe"), 0)
    request6 = echo_request(A6, 4242, 18, b"")
    parsed6 = parse_errqueue(
        A6,
        request6,
        [(SOL_IPV6, IPV6_RECVERR, _ee(SO_EE_ORIGIN_ICMP6, 1, 0, offender6))],
        ("fd00:9::9", 0, 0, 0),
    )
    assert parsed6 is not None and parsed6.sender == aton("fd00::fe") and parsed6.seq == 18
    local = _ee(1, 0, 0, b"")  # SO_EE_ORIGIN_LOCAL, e.g. EMSGSIZE: not an ICMP error
    assert (
        parse_errqueue(A4, request, [(socket.SOL_IP, IP_RECVERR, local)], ("10.9.9.9", 0)) is None
    )
    redirect = _ee(SO_EE_ORIGIN_ICMP, 5, 1, offender4)
    assert (
        parse_errqueue(A4, request, [(socket.SOL_IP, IP_RECVERR, redirect)], ("10.9.9.9", 0))
        is None
    )


# -- detect_mode -----------------------------------------------------------------------------


class FakeOpener:
    """socket.socket stand-in: kinds in ``allowed`` open, the others raise ``error``."""

    def __init__(self, allowed: set[int], error: OSError) -> None:
        self.allowed = allowed
        self.error = error
        self.tried: list[int] = []

    def __call__(self, family: int, kind: int, proto: int) -> socket.socket:
        self.tried.append(kind)
        if kind not in self.allowed:
            raise self.error
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # any closable socket


def test_detect_mode_prefers_raw_then_datagram() -> None:
    eperm = PermissionError(errno.EPERM, "Operation not permitted")
    assert detect_mode(opener=FakeOpener({socket.SOCK_RAW, socket.SOCK_DGRAM}, eperm)) == "raw"
    assert detect_mode(opener=FakeOpener({socket.SOCK_DGRAM}, eperm)) == "dgram"
    forced = FakeOpener({socket.SOCK_RAW, socket.SOCK_DGRAM}, eperm)
    assert detect_mode("dgram", opener=forced) == "dgram"
    assert forced.tried == [socket.SOCK_DGRAM]


def test_no_privilege_error_names_the_sysctl_and_the_capability() -> None:
    opener = FakeOpener(set(), PermissionError(errno.EACCES, "Permission denied"))
    with pytest.raises(IcmpUnavailable) as err:
        detect_mode(opener=opener, group_range=lambda: "1 0")
    text = str(err.value)
    assert "net.ipv4.ping_group_range" in text
    assert "CAP_NET_RAW" in text
    assert "'1 0'" in text  # the current, closed range
    assert "setcap cap_net_raw+ep" in text
    assert "EACCES" in text
    assert opener.tried == [socket.SOCK_RAW, socket.SOCK_DGRAM]


# -- the shared socket with a fake socket -----------------------------------------------------

Responder = Callable[["FakeSocket", bytes, tuple[Any, ...]], None]


class FakeSocket:
    """An ICMP socket stand-in: records sends, lets a responder deliver packets.

    It is readable through a real socketpair so ``loop.add_reader`` works unchanged.
    """

    def __init__(
        self, respond: Responder | None = None, send_errors: list[OSError | None] | None = None
    ) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self.inbox: deque[tuple[bytes, tuple[Any, ...]]] = deque()
        self.sent: list[tuple[bytes, tuple[Any, ...]]] = []
        self.respond = respond
        self.send_errors = send_errors or []
        self.closed = False

    def fileno(self) -> int:
        return self._r.fileno()

    def getsockname(self) -> tuple[str, int]:
        return ("0.0.0.0", 4321)

    def sendto(self, packet: bytes, address: tuple[Any, ...]) -> int:
        if self.send_errors:
            error = self.send_errors.pop(0)
            if error is not None:
                raise error
        self.sent.append((packet, address))
        if self.respond is not None:
            self.respond(self, packet, address)
        return len(packet)

    def deliver(self, data: bytes, address: tuple[Any, ...]) -> None:
        self.inbox.append((data, address))
        self._w.send(b"x")

    def recvfrom(self, size: int) -> tuple[bytes, tuple[Any, ...]]:
        if not self.inbox:
            raise BlockingIOError
        self._r.recv(1)
        return self.inbox.popleft()

    def recvmsg(self, *args: Any) -> Any:
        raise BlockingIOError

    def close(self) -> None:
        self.closed = True
        self._r.close()
        self._w.close()


def later(delay: float, fn: Callable[[], None]) -> None:
    asyncio.get_running_loop().call_later(delay, fn)


def reply_from(src: str, delay: float = 0.001) -> Responder:
    """Answer every echo with a raw IPv4 reply whose source is src."""

    def respond(sock: FakeSocket, packet: bytes, address: tuple[Any, ...]) -> None:
        ident, seq = struct.unpack("!HH", packet[4:8])
        data = ipv4(src, "10.0.0.100", echo_reply(ident, seq, packet[8:]))
        later(delay, lambda: sock.deliver(data, (src, 0)))

    return respond


@pytest.fixture
def sockets() -> Iterator[list[FakeSocket]]:
    made: list[FakeSocket] = []
    yield made
    for s in made:
        if not s.closed:
            s.close()


def make_pinger(
    sockets: list[FakeSocket], respond: Responder | None = None, **kw: Any
) -> tuple[Pinger, FakeSocket]:
    fake = FakeSocket(respond, kw.pop("send_errors", None))
    sockets.append(fake)
    mode = kw.pop("mode", "raw")
    return Pinger(A4, mode, time.monotonic, sock=fake, **kw), fake  # type: ignore[arg-type]


async def test_reply_from_the_target_resolves_the_echo(sockets: list[FakeSocket]) -> None:
    pinger, _ = make_pinger(sockets, reply_from("10.1.1.1", delay=0.01))
    echo = await asyncio.wait_for(await pinger.send("10.1.1.1", b"abc"), 1)
    assert echo.kind == "reply" and echo.responder == "10.1.1.1"
    assert 0.009 <= echo.rtt < 0.5
    assert pinger.in_flight == 0
    pinger.close()


async def test_reply_from_another_host_never_counts(sockets: list[FakeSocket]) -> None:
    pinger, _ = make_pinger(sockets, reply_from("10.1.1.2"))  # right id/seq, wrong source
    fut = await pinger.send("10.1.1.1", b"")
    await asyncio.sleep(0.05)
    assert not fut.done()
    assert pinger.stray == 1
    fut.cancel()
    pinger.close()


async def test_icmp_error_quoting_our_echo_is_unreachable(sockets: list[FakeSocket]) -> None:
    def respond(sock: FakeSocket, packet: bytes, address: tuple[Any, ...]) -> None:
        original = ipv4("10.0.0.100", address[0], packet)
        later(0.001, lambda: sock.deliver(unreach4("10.0.0.254", original), ("10.0.0.254", 0)))

    pinger, _ = make_pinger(sockets, respond)
    echo = await asyncio.wait_for(await pinger.send("10.9.9.9", b"p"), 1)
    assert echo.kind == "unreachable"
    assert echo.responder == "10.0.0.254"
    assert echo.detail == "destination unreachable (host unreachable) from 10.0.0.254"
    pinger.close()


async def test_icmp_error_about_another_destination_or_identifier_is_ignored(
    sockets: list[FakeSocket],
) -> None:
    def respond(sock: FakeSocket, packet: bytes, address: tuple[Any, ...]) -> None:
        other_dest = ipv4("10.0.0.100", "10.8.8.8", packet)  # same id/seq, other destination
        ident, seq = struct.unpack("!HH", packet[4:8])
        other_id = ipv4("10.0.0.100", address[0], echo_request(A4, ident ^ 1, seq, b""))
        later(0.001, lambda: sock.deliver(unreach4("10.0.0.254", other_dest), ("10.0.0.254", 0)))
        later(0.001, lambda: sock.deliver(unreach4("10.0.0.254", other_id), ("10.0.0.254", 0)))

    pinger, _ = make_pinger(sockets, respond)
    fut = await pinger.send("10.9.9.9", b"")
    await asyncio.sleep(0.05)
    assert not fut.done() and pinger.stray == 2
    fut.cancel()
    pinger.close()


async def test_late_reply_after_giving_up_is_ignored(sockets: list[FakeSocket]) -> None:
    pinger, _ = make_pinger(sockets, reply_from("10.1.1.1", delay=0.05))
    fut = await pinger.send("10.1.1.1", b"")
    fut.cancel()
    await asyncio.sleep(0.1)
    assert pinger.in_flight == 0 and pinger.stray == 1 and pinger.replies == 0
    pinger.close()


async def test_in_flight_entries_are_bounded(sockets: list[FakeSocket]) -> None:
    pinger, _ = make_pinger(sockets, None, max_in_flight=2)
    first = await pinger.send("10.1.1.1", b"")
    await pinger.send("10.1.1.2", b"")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pinger.send("10.1.1.3", b""), 0.05)
    first.cancel()
    third = await asyncio.wait_for(pinger.send("10.1.1.3", b""), 1)
    assert pinger.in_flight == 2
    third.cancel()
    pinger.close()


async def test_a_woken_sender_that_gives_up_passes_the_slot_on(sockets: list[FakeSocket]) -> None:
    pinger, _ = make_pinger(sockets, None, max_in_flight=1)
    first = await pinger.send("10.1.1.1", b"")
    a = asyncio.create_task(pinger.send("10.1.1.2", b""))
    b = asyncio.create_task(pinger.send("10.1.1.3", b""))
    await asyncio.sleep(0)  # both wait for the one slot
    first.cancel()
    await asyncio.sleep(0)  # the slot is freed and a is woken...
    a.cancel()  # ...but a gives up (its deadline) before it runs
    got = await asyncio.wait_for(b, 1)
    assert a.cancelled() and pinger.in_flight == 1
    got.cancel()
    pinger.close()


async def test_send_errors_end_the_echo(sockets: list[FakeSocket]) -> None:
    pinger, _ = make_pinger(
        sockets,
        None,
        send_errors=[
            OSError(errno.EHOSTUNREACH, "No route to host"),
            OSError(errno.ENOBUFS, "No buffer"),
        ],
    )
    unreachable = await pinger.send("10.1.1.1", b"")
    assert unreachable.result().kind == "unreachable"
    assert "EHOSTUNREACH" in unreachable.result().detail
    assert (await pinger.send("10.1.1.1", b"")).result().kind == "error"
    pinger.close()


async def test_datagram_socket_retries_a_send_once_for_an_earlier_icmp_error(
    sockets: list[FakeSocket],
) -> None:
    # A ping socket reports a pending ICMP error (of another echo) on the next send.
    stale = OSError(errno.EHOSTUNREACH, "No route to host")
    pinger, fake = make_pinger(sockets, None, mode="dgram", send_errors=[stale, None])
    assert pinger.ident == 4321  # the kernel's identifier is the bound port
    fut = await pinger.send("10.1.1.1", b"")
    assert not fut.done() and len(fake.sent) == 1
    fut.cancel()
    fake.send_errors = [OSError(errno.EHOSTUNREACH, "x"), OSError(errno.EHOSTUNREACH, "x")]
    assert (await pinger.send("10.1.1.1", b"")).result().kind == "unreachable"
    pinger.close()


async def test_raw_identifiers_differ_and_close_cancels_pending(sockets: list[FakeSocket]) -> None:
    a, fake_a = make_pinger(sockets)
    b, _ = make_pinger(sockets)
    assert a.ident != b.ident
    fut = await a.send("10.1.1.1", b"")
    a.close()
    assert fut.cancelled() and fake_a.closed
    with pytest.raises(RuntimeError):
        await a.send("10.1.1.1", b"")
    b.close()


# -- summarize -------------------------------------------------------------------------------


def test_summarize_statistics_are_exact() -> None:
    outcomes: list[Echo | None] = [Echo("reply", r) for r in (0.010, 0.030, 0.020, 0.040)] + [None]
    ok, reason, _, values = icmp.summarize(outcomes, 5, True, 1.0)
    assert (ok, reason) == (True, "")
    assert values["packets_sent"] == 5 and values["packets_received"] == 4
    assert values["loss_ratio"] == pytest.approx(0.2)
    assert values["rtt_min_seconds"] == pytest.approx(0.010)
    assert values["rtt_median_seconds"] == pytest.approx(0.025)
    assert values["rtt_mean_seconds"] == pytest.approx(0.025)
    assert values["rtt_max_seconds"] == pytest.approx(0.040)
    assert values["rtt_stddev_seconds"] == pytest.approx(0.0111803, rel=1e-4)


def test_summarize_reasons() -> None:
    reply, unreach = Echo("reply", 0.01), Echo("unreachable", detail="destination unreachable")
    assert icmp.summarize([None, None], 2, True, 1.0)[:2] == (False, "timeout")
    assert icmp.summarize([unreach, None], 2, True, 1.0)[:3] == (
        False,
        "unreachable",
        "destination unreachable",
    )
    # an ICMP error is never a reply: one reply and two errors is 2/3 loss
    ok, reason, _, values = icmp.summarize([reply, unreach, unreach], 3, True, 0.5)
    assert (ok, reason, values["packets_received"]) == (False, "loss", 1)
    assert icmp.summarize([reply, None, None], 3, True, 1.0)[:2] == (True, "")
    cut = icmp.summarize([reply], 3, False, 1.0)
    assert cut[:2] == (False, "timeout") and cut[3]["rtt_mean_seconds"] == 0.01
    assert "rtt_mean_seconds" not in icmp.summarize([None], 1, True, 1.0)[3]


# -- probe() with fakes ----------------------------------------------------------------------


class FakeResolver:
    def __init__(self, table: dict[str, dict[str, str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, str]] = []

    async def resolve(self, host: str, family: str) -> Address:
        self.asked.append((host, family))
        entry = self.table.get(host)
        if entry is None:
            raise ResolveError(f"name {host} does not exist (NXDOMAIN)")
        for fam in ("ip4", "ip6") if family == "auto" else (family,):
            if fam in entry:
                return Address(entry[fam], int(fam[-1]))
        raise ResolveError(f"no record of {family} for {host}")


def target(address: str, timeout: float = 0.5) -> Target:
    return Target(
        id="test/device/pc/icmp",
        probe="icmp",
        address=address,
        entity="test/device/pc",
        interval=10,
        timeout=timeout,
        settings=None,
        labels=dict.fromkeys(TARGET_LABELS, ""),
    )


def no_wall_clock() -> float:
    raise AssertionError("durations must use the monotonic clock")


NETWORK = {
    "10.0.0.1": "answers",
    "10.0.0.2": "silent",
    "10.0.0.3": "unreachable",
    "10.0.0.4": "liar",  # replies come from 10.0.0.1
    "10.0.0.5": "lossy",  # every second echo lost
}


def fake_network() -> Responder:
    counts: dict[str, int] = {}

    def respond(sock: FakeSocket, packet: bytes, address: tuple[Any, ...]) -> None:
        dest = address[0]
        behaviour = NETWORK.get(dest, "silent")
        counts[dest] = counts.get(dest, 0) + 1
        ident, seq = struct.unpack("!HH", packet[4:8])
        if behaviour == "unreachable":
            data = unreach4("10.0.0.254", ipv4("10.0.0.100", dest, packet))
            later(0.001, lambda: sock.deliver(data, ("10.0.0.254", 0)))
        elif behaviour in ("answers", "liar") or (behaviour == "lossy" and counts[dest] % 2):
            src = "10.0.0.1" if behaviour == "liar" else dest
            data = ipv4(src, "10.0.0.100", echo_reply(ident, seq, packet[8:]))
            later(0.002, lambda: sock.deliver(data, (src, 0)))

    return respond


@pytest.fixture
async def ctx(sockets: list[FakeSocket]) -> Any:
    context = ProbeContext(monotonic=time.monotonic, wall=no_wall_clock)
    context.resources[RESOLVER_RESOURCE] = FakeResolver(
        {
            "pc.test": {"ip4": "10.0.0.1"},
            "v6only.test": {"ip6": "fd00::1"},
            "both.test": {"ip4": "10.0.0.1", "ip6": "fd00::1"},
        }
    )
    res = icmp.IcmpResources("raw", time.monotonic)
    fake = FakeSocket(fake_network())
    sockets.append(fake)
    res.pingers[(A4, None)] = Pinger(A4, "raw", time.monotonic, sock=fake)  # type: ignore[arg-type]
    context.resources["icmp"] = res
    yield context
    icmp.close(context)


SETTINGS = IcmpSettings(count=3, spacing=0.01)


async def test_probe_answering_host(ctx: ProbeContext) -> None:
    r = await icmp.probe(target("10.0.0.1"), SETTINGS, ctx)
    assert (r.success, r.reason) == (True, "")
    assert r.values["packets_sent"] == 3 and r.values["packets_received"] == 3
    assert r.values["loss_ratio"] == 0 and r.values["ip_protocol"] == 4
    assert set(r.phases) == {"resolve", "setup", "rtt"}
    assert r.phases["rtt"] == r.values["rtt_mean_seconds"]
    assert (
        r.values["rtt_min_seconds"] <= r.values["rtt_median_seconds"] <= r.values["rtt_max_seconds"]
    )
    assert r.info["mode"] == "raw" and r.info["address"] == "10.0.0.1"
    assert r.duration_seconds < 0.4  # ended with the last reply, not at the deadline


async def test_probe_silent_host_times_out_at_its_deadline(ctx: ProbeContext) -> None:
    r = await icmp.probe(target("10.0.0.2", timeout=0.5), SETTINGS, ctx)
    assert (r.success, r.reason) == (False, "timeout")
    assert r.values["packets_sent"] == 3 and r.values["packets_received"] == 0
    assert r.values["loss_ratio"] == 1.0 and "rtt_mean_seconds" not in r.values
    # the deadline is 0.45 s (0.5 s less its 10% headroom); +10% tolerance for a busy loop
    assert 0.4 <= r.duration_seconds <= 0.5 * 1.1
    await asyncio.sleep(0)  # cancelled echoes are forgotten by their done-callbacks
    assert ctx.resources["icmp"].pingers[(A4, None)].in_flight == 0


async def test_probe_unreachable_from_a_router_is_down(ctx: ProbeContext) -> None:
    r = await icmp.probe(target("10.0.0.3"), SETTINGS, ctx)
    assert (r.success, r.reason, r.values["packets_received"]) == (False, "unreachable", 0)
    assert "from 10.0.0.254" in r.info["detail"]


async def test_probe_reply_from_another_host_is_not_success(ctx: ProbeContext) -> None:
    r = await icmp.probe(target("10.0.0.4", timeout=0.3), SETTINGS, ctx)
    assert (r.success, r.reason, r.values["packets_received"]) == (False, "timeout", 0)


async def test_probe_loss_against_max_loss(ctx: ProbeContext) -> None:
    lossy = IcmpSettings(count=4, spacing=0.01, max_loss=0.25)
    r = await icmp.probe(target("10.0.0.5", timeout=0.3), lossy, ctx)
    assert (r.success, r.reason) == (False, "loss")
    assert r.values["packets_received"] == 2 and r.values["loss_ratio"] == 0.5
    tolerant = IcmpSettings(count=4, spacing=0.01, max_loss=0.5)
    assert (await icmp.probe(target("10.0.0.5", timeout=0.3), tolerant, ctx)).success


async def test_probe_cut_by_its_deadline_keeps_partial_figures(ctx: ProbeContext) -> None:
    slow = IcmpSettings(count=10, spacing=0.1)
    r = await icmp.probe(target("10.0.0.1", timeout=0.35), slow, ctx)
    assert (r.success, r.reason) == (False, "timeout")
    assert 2 <= r.values["packets_sent"] <= 4
    assert r.values["packets_received"] == r.values["packets_sent"]
    assert "rtt_mean_seconds" in r.values
    assert r.duration_seconds <= 0.35 * 1.1


async def test_probe_resolves_names_in_the_configured_family_only(ctx: ProbeContext) -> None:
    r = await icmp.probe(target("pc.test"), SETTINGS, ctx)
    assert r.success and r.info["address"] == "10.0.0.1"
    r = await icmp.probe(target("v6only.test"), SETTINGS, ctx)  # family ip4 by default
    assert (r.success, r.reason) == (False, "family")
    assert "only ip6" in r.info["detail"]
    r = await icmp.probe(target("nowhere.test"), SETTINGS, ctx)
    assert (r.success, r.reason) == (False, "dns")
    assert "NXDOMAIN" in r.info["detail"]
    r = await icmp.probe(target("fd00::1"), SETTINGS, ctx)
    assert (r.success, r.reason) == (False, "family")
    r = await icmp.probe(target("10.0.0.1"), IcmpSettings(family="ip6"), ctx)
    assert (r.success, r.reason) == (False, "family")


async def test_probe_source_checks(ctx: ProbeContext) -> None:
    r = await icmp.probe(target("10.0.0.1"), IcmpSettings(source="fd00::9", family="ip4"), ctx)
    assert (r.success, r.reason) == (False, "source")
    # the inventory refuses a name as source now; the probe still says so if one gets through
    r = await icmp.probe(target("10.0.0.1"), IcmpSettings.model_construct(source="uplink-a"), ctx)
    assert (r.success, r.reason) == (False, "source")
    resolver = ctx.resources[RESOLVER_RESOURCE]
    resolver.asked.clear()
    # family auto with an IPv6 source resolves IPv6 only
    await icmp.probe(
        target("both.test"), IcmpSettings(source="fd00::9", family="auto", count=1), ctx
    )
    assert resolver.asked == [("both.test", "ip6")]


async def test_probe_reports_socket_setup_failures(
    ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(reason: str) -> Callable[..., Any]:
        def opener(*args: Any, **kw: Any) -> Any:
            raise SocketSetupError(reason, f"{reason} problem")

        return opener

    for reason in ("source", "permission", "family"):
        monkeypatch.setattr("probes.icmp_socket.open_socket", fail(reason))
        r = await icmp.probe(target("10.0.0.1"), IcmpSettings(source="10.0.0.100"), ctx)
        assert (r.success, r.reason, r.info["detail"]) == (False, reason, f"{reason} problem")


async def test_probe_without_privilege_reports_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*args: Any, **kw: Any) -> str:
        raise IcmpUnavailable("ICMP probes cannot run: ...\n  - details")

    monkeypatch.setattr(icmp, "detect_mode", unavailable)
    context = ProbeContext(monotonic=time.monotonic, wall=no_wall_clock)
    r = await icmp.probe(target("10.0.0.1"), SETTINGS, context)
    assert (r.success, r.reason) == (False, "permission")
    assert r.info["detail"] == "ICMP probes cannot run: ..."
    with pytest.raises(IcmpUnavailable):
        await icmp.setup(context)


async def test_probe_uses_only_the_context_clock(sockets: list[FakeSocket]) -> None:
    ticks = iter(range(1000))

    def clock() -> float:  # 1 s per call: durations must come from this clock
        return float(next(ticks))

    context = ProbeContext(monotonic=clock, wall=no_wall_clock)
    context.resources["icmp"] = icmp.IcmpResources("raw", clock)
    r = await icmp.probe(target("fd00::1"), SETTINGS, context)  # fails fast: family
    assert r.reason == "family"
    assert r.duration_seconds >= 1.0 and r.duration_seconds.is_integer()
