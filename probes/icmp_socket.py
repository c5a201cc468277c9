"""A shared ICMP echo socket per (family, source address) that demultiplexes replies.

Why not one socket per ping (icmplib): every raw ICMP socket receives a copy of every ICMP
packet, so N concurrent pings cost N² wake-ups and icmplib matches replies on (id, sequence)
only, which has counted other hosts' replies (icmplib PR #13). Here one non-blocking socket
per (family, source) is read by ``loop.add_reader``; an echo is matched on
(identifier, sequence) *and* the address it was sent to, and an ICMP error (destination
unreachable, time exceeded) counts only when the original packet it quotes is ours.

Two socket kinds, chosen once per process by ``detect_mode``:

* ``raw`` (``SOCK_RAW``): needs root or ``CAP_NET_RAW``. We pick the identifier; IPv4
  packets arrive with their IP header; ICMP errors arrive as ordinary packets.
* ``dgram`` (``SOCK_DGRAM`` + ``IPPROTO_ICMP``, "ping sockets"): allowed when the process's
  group is inside ``net.ipv4.ping_group_range``. The kernel replaces the identifier with the
  socket's port and delivers only replies carrying it; ICMP errors come through the socket's
  error queue (``IP_RECVERR``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import icmplib
import icmplib.sockets

Mode = Literal["raw", "dgram"]
EchoKind = Literal["reply", "unreachable", "error"]

# Linux constants that Python 3.11's socket module does not export.
IP_RECVERR = 11
IPV6_RECVERR = 25
SOL_IPV6 = 41
SOL_RAW = 255
ICMP_FILTER = 1
ICMP6_FILTER = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3

ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8
ICMP_ERRORS = {3: "destination unreachable", 11: "time exceeded", 12: "parameter problem"}
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
ICMP6_ERRORS = {1: "destination unreachable", 3: "time exceeded", 4: "parameter problem"}
_ICMP_UNREACH_CODES = {
    0: "net unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    6: "net unknown",
    7: "host unknown",
    9: "net prohibited",
    10: "host prohibited",
    13: "administratively prohibited",
}
_ICMP6_UNREACH_CODES = {
    0: "no route",
    1: "administratively prohibited",
    3: "address unreachable",
    4: "port unreachable",
    5: "source address failed policy",
    6: "reject route",
}
# send() errors meaning the packet cannot leave this host towards that destination
_UNREACHABLE_ERRNOS = {
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.EHOSTDOWN,
    errno.ENETDOWN,
    errno.EADDRNOTAVAIL,
    errno.EACCES,  # e.g. a broadcast address on a datagram socket
    errno.EPERM,  # a local firewall rule dropped it
}

DEFAULT_MAX_IN_FLIGHT = 8192  # echoes awaiting a reply per socket (sequence space is 65,536)
_READ_BATCH = 256  # packets read per wake-up before yielding to other callbacks
# Bytes read per packet: the parsers look at most at 60 (IPv4 header with options) + 8 (ICMP)
# + 60 + 8 (the quoted packet of an error); the rest of a longer packet is dropped by the
# kernel. Reading 65,535 allocated that much per packet: 1.5 us more per reply (bench/
# icmplib_pieces.py, docs/icmp.md).
_READ_SIZE = 512

_idents_in_use: set[int] = set()  # raw identifiers of this process's open sockets


class IcmpUnavailable(Exception):
    """Neither raw nor datagram ICMP sockets are allowed for this process."""


class SocketSetupError(Exception):
    """The shared socket could not be opened or bound; ``reason`` is the probe reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


SocketOpener = Callable[[int, int, int], socket.socket]


def _ping_group_range() -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range", encoding="ascii") as f:
            return " ".join(f.read().split())
    except OSError:
        return "unknown"


def unavailable_message(raw_error: str, dgram_error: str, group_range: str) -> str:
    """Return the start-up error text that tells an operator what to change."""
    gid = os.getegid()
    return (
        "ICMP probes cannot run: this process may open neither a raw ICMP socket "
        f"({raw_error}) nor a datagram ICMP socket ({dgram_error}). Either\n"
        f"  - allow datagram ping sockets for its group (gid {gid}; current "
        f"net.ipv4.ping_group_range is '{group_range}'):\n"
        f"      sysctl -w net.ipv4.ping_group_range='{gid} {gid}'\n"
        "    (persist it in /etc/sysctl.d/), or\n"
        "  - grant the raw-socket capability CAP_NET_RAW, e.g. AmbientCapabilities=CAP_NET_RAW "
        "in the systemd unit, or setcap cap_net_raw+ep on the Python binary, or run as root.\n"
        "See docs/icmp.md, section 'ICMP without root'."
    )


def _try_open(opener: SocketOpener, kind: int) -> str | None:
    try:
        s = opener(socket.AF_INET, kind, socket.IPPROTO_ICMP)
    except OSError as exc:
        return f"{errno.errorcode.get(exc.errno or 0, 'error')}: {exc.strerror}"
    s.close()
    return None


def detect_mode(
    prefer: Literal["auto", "raw", "dgram"] = "auto",
    *,
    opener: SocketOpener = socket.socket,
    group_range: Callable[[], str] = _ping_group_range,
) -> Mode:
    """Return the ICMP socket kind this process may use ("raw" first), or raise IcmpUnavailable."""
    raw_error = dgram_error = "not tried"
    if prefer in ("auto", "raw"):
        raw_error = _try_open(opener, socket.SOCK_RAW) or ""
        if not raw_error:
            return "raw"
    if prefer in ("auto", "dgram"):
        dgram_error = _try_open(opener, socket.SOCK_DGRAM) or ""
        if not dgram_error:
            return "dgram"
    raise IcmpUnavailable(unavailable_message(raw_error, dgram_error, group_range()))


# -- packets ------------------------------------------------------------------------------


def checksum(data: bytes) -> int:
    """Return the Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """Build an ICMP (IPv4) or ICMPv6 echo request; the kernel fills the ICMPv6 checksum."""
    if family == socket.AF_INET6:
        return struct.pack("!BBHHH", ICMP6_ECHO_REQUEST, 0, 0, ident, seq) + payload
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    csum = checksum(header + payload)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, csum, ident, seq) + payload


class Parsed(NamedTuple):
    """One received ICMP message that concerns an echo request.

    For a reply, ``dest`` is the address it came from; for an error, ``dest`` is the
    destination of the original packet it quotes and ``sender`` the router that sent it.
    (A tuple: built once per packet received, 4x cheaper than a frozen dataclass.)
    """

    kind: Literal["reply", "error"]
    ident: int
    seq: int
    dest: bytes  # packed address the echo went to
    sender: bytes  # packed address the message came from
    icmp_type: int
    icmp_code: int


def parse_ipv4(packet: bytes, *, with_ip_header: bool, sender: bytes = b"") -> Parsed | None:
    """Parse an ICMP echo reply or an error quoting an echo request (None for anything else).

    Raw sockets deliver the IP header (``with_ip_header``); datagram sockets do not, and
    then ``sender`` must be the packed source address from recvfrom.
    """
    if with_ip_header:
        if len(packet) < 20:
            return None
        ihl = (packet[0] & 0x0F) * 4
        sender = packet[12:16]
        icmp = packet[ihl:]
    else:
        icmp = packet
    if len(icmp) < 8:
        return None
    icmp_type, icmp_code = icmp[0], icmp[1]
    if icmp_type == ICMP_ECHO_REPLY:
        ident, seq = struct.unpack_from("!HH", icmp, 4)
        return Parsed("reply", ident, seq, sender, sender, icmp_type, icmp_code)
    if icmp_type in ICMP_ERRORS:
        inner = icmp[8:]  # the original IP header, then at least 8 bytes of its payload
        if len(inner) < 20:
            return None
        inner_ihl = (inner[0] & 0x0F) * 4
        if inner[9] != socket.IPPROTO_ICMP or len(inner) < inner_ihl + 8:
            return None
        orig = inner[inner_ihl:]
        if orig[0] != ICMP_ECHO_REQUEST:
            return None
        ident, seq = struct.unpack_from("!HH", orig, 4)
        return Parsed("error", ident, seq, inner[16:20], sender, icmp_type, icmp_code)
    return None


def parse_ipv6(packet: bytes, sender: bytes) -> Parsed | None:
    """Parse an ICMPv6 echo reply or an error quoting an echo request (no IPv6 header)."""
    if len(packet) < 8:
        return None
    icmp_type, icmp_code = packet[0], packet[1]
    if icmp_type == ICMP6_ECHO_REPLY:
        ident, seq = struct.unpack_from("!HH", packet, 4)
        return Parsed("reply", ident, seq, sender, sender, icmp_type, icmp_code)
    if icmp_type in ICMP6_ERRORS:
        inner = packet[8:]  # the original IPv6 header (40 bytes), then its payload
        # extension headers before ICMPv6 are not followed: our echoes carry none
        if len(inner) < 48 or inner[6] != socket.IPPROTO_ICMPV6 or inner[40] != 128:
            return None
        ident, seq = struct.unpack_from("!HH", inner, 44)
        return Parsed("error", ident, seq, inner[24:40], sender, icmp_type, icmp_code)
    return None


def parse_errqueue(
    family: int, data: bytes, ancdata: list[tuple[int, int, bytes]], address: object
) -> Parsed | None:
    """Parse one MSG_ERRQUEUE message of a datagram ping socket (None if not an ICMP error).

    ``data`` is our original echo request (identifier rewritten by the kernel), ``address``
    its destination, and the ``sock_extended_err`` control message names the ICMP type and
    code and the router that sent it (the "offender").
    """
    for level, kind, cdata in ancdata:
        if (level, kind) not in ((socket.SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)):
            continue
        if len(cdata) < 16 or len(data) < 8:
            return None
        _errno, origin, icmp_type, icmp_code = struct.unpack_from("=IBBB", cdata)
        if origin == SO_EE_ORIGIN_ICMP and icmp_type not in ICMP_ERRORS:
            return None
        if origin == SO_EE_ORIGIN_ICMP6 and icmp_type not in ICMP6_ERRORS:
            return None
        if origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6):
            return None
        sender = b""
        offender = cdata[16:]
        if len(offender) >= 8 and struct.unpack_from("=H", offender)[0] == socket.AF_INET:
            sender = offender[4:8]
        elif len(offender) >= 24 and struct.unpack_from("=H", offender)[0] == socket.AF_INET6:
            sender = offender[8:24]
        if not isinstance(address, tuple) or not address:
            return None
        ident, seq = struct.unpack_from("!HH", data, 4)
        dest = pack_address(family, str(address[0]))
        return Parsed("error", ident, seq, dest, sender, icmp_type, icmp_code)
    return None


def pack_address(family: int, address: str) -> bytes:
    """Return the packed form of an IP address string (an IPv6 zone suffix is ignored)."""
    return socket.inet_pton(family, address.split("%", 1)[0])


def unpack_address(family: int, packed: bytes) -> str:
    """Return the text form of a packed address ("" when unknown)."""
    if not packed:
        return ""
    return socket.inet_ntop(family, packed)


def describe(family: int, icmp_type: int, icmp_code: int) -> str:
    """Return a short text for an ICMP error type and code."""
    if family == socket.AF_INET6:
        name = ICMP6_ERRORS.get(icmp_type, f"type {icmp_type}")
        code = _ICMP6_UNREACH_CODES.get(icmp_code) if icmp_type == 1 else None
    else:
        name = ICMP_ERRORS.get(icmp_type, f"type {icmp_type}")
        code = _ICMP_UNREACH_CODES.get(icmp_code) if icmp_type == 3 else None
    return f"{name} ({code or f'code {icmp_code}'})"


# -- the shared socket ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Echo:
    """How one echo request ended: a reply (with its RTT), an ICMP error, or a send error."""

    kind: EchoKind
    rtt: float = 0.0
    responder: str = ""
    detail: str = ""


@dataclass(slots=True)
class _Entry:
    dest: bytes
    sent_at: float
    future: asyncio.Future[Echo]


def _icmplib_errno(exc: BaseException) -> int | None:
    """The errno behind an icmplib error (icmplib raises its own from the OSError)."""
    inner = exc.__context__
    return inner.errno if isinstance(inner, OSError) else None


def open_socket(family: int, mode: Mode, source: str | None) -> icmplib.sockets.ICMPSocket:
    """Open, configure and bind a non-blocking ICMP socket (raises SocketSetupError).

    The socket is icmplib's (``ICMPv4Socket``/``ICMPv6Socket``: ``privileged`` is raw, else a
    datagram "ping socket"; it binds ``source`` and names permission and address failures);
    this module then reads and writes its ``sock`` directly: icmplib's per-packet ``send`` and
    ``receive`` cost 3-10x ours and cannot share one socket (docs/icmp.md, "icmplib").
    Keep the returned object: icmplib closes the socket when it is collected.
    """
    fam = "IPv6" if family == socket.AF_INET6 else "IPv4"
    kind = icmplib.ICMPv6Socket if family == socket.AF_INET6 else icmplib.ICMPv4Socket
    try:
        opened = kind(address=source, privileged=mode == "raw")
    except icmplib.SocketPermissionError:
        raise SocketSetupError("permission", f"cannot open a {mode} ICMP socket") from None
    except icmplib.SocketAddressError:
        raise SocketSetupError(
            "source", f"cannot bind source address {source}: address not available"
        ) from None
    except icmplib.ICMPSocketError as exc:
        code = _icmplib_errno(exc)
        if code in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            raise SocketSetupError("family", f"{fam} is not available: {exc}") from None
        bad_name = isinstance(exc.__context__, socket.gaierror)
        if source is not None and (code == errno.EINVAL or bad_name):  # other family, garbage
            raise SocketSetupError(
                "source", f"cannot bind source address {source}: {exc}"
            ) from None
        raise SocketSetupError("permission", f"cannot open ICMP socket: {exc}") from None
    except (OSError, ValueError) as exc:  # a malformed source address
        raise SocketSetupError("source", f"cannot bind source address {source}: {exc}") from None
    sock = opened.sock
    try:
        sock.setblocking(False)
        if mode == "raw" and family == socket.AF_INET:
            # only echo replies and the errors that can quote an echo wake us up
            allowed = (1 << ICMP_ECHO_REPLY) | sum(1 << t for t in ICMP_ERRORS)
            sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~allowed & 0xFFFFFFFF))
        elif mode == "raw":
            words = [0xFFFFFFFF] * 8  # a set bit blocks that ICMPv6 type
            for t in (ICMP6_ECHO_REPLY, *ICMP6_ERRORS):
                words[t >> 5] &= ~(1 << (t & 31)) & 0xFFFFFFFF
            sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))
        else:
            level, opt = (
                (SOL_IPV6, IPV6_RECVERR)
                if family == socket.AF_INET6
                else (socket.SOL_IP, IP_RECVERR)
            )
            sock.setsockopt(level, opt, 1)
        if source is None and mode == "dgram":
            # a datagram socket gets its identifier (port) when bound
            sock.bind(("::" if family == socket.AF_INET6 else "", 0))
    except OSError as exc:
        opened.close()
        raise SocketSetupError("permission", f"cannot set up ICMP socket: {exc.strerror}") from None
    except BaseException:
        opened.close()
        raise
    return opened


class Pinger:
    """One shared ICMP socket: sends echo requests and resolves each one's future.

    Use from one event loop. ``send`` returns a future that ends with an ``Echo``; cancel it
    to give up (its entry is then forgotten, and a late reply is ignored).
    """

    def __init__(
        self,
        family: int,
        mode: Mode,
        clock: Callable[[], float],
        *,
        source: str | None = None,
        sock: socket.socket | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        if not 1 <= max_in_flight <= 32768:
            raise ValueError("max_in_flight must be within 1..32768")
        self.family = family
        self.mode = mode
        self.source = source
        self.clock = clock
        self.loop = asyncio.get_running_loop()
        # icmplib's socket object owns the socket (it closes it when collected): keep it.
        self._opened: icmplib.sockets.ICMPSocket | None = None
        if sock is None:
            self._opened = open_socket(family, mode, source)
            sock = self._opened.sock
        assert sock is not None
        self.sock: socket.socket = sock
        if mode == "dgram":
            bound = self.sock.getsockname()
            self.ident = int(bound[1]) if isinstance(bound, tuple) and len(bound) > 1 else 0
        else:
            self.ident = secrets.randbelow(0x10000)
            while self.ident in _idents_in_use:
                self.ident = (self.ident + 1) & 0xFFFF
            _idents_in_use.add(self.ident)
        self._in_flight: dict[int, _Entry] = {}
        self._max_in_flight = max_in_flight
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._next_seq = secrets.randbelow(0x10000)
        self._closed = False
        # counters for diagnostics and the benchmark
        self.sent = self.replies = self.errors = self.stray = 0
        self.loop.add_reader(self.sock.fileno(), self._on_readable)

    @property
    def in_flight(self) -> int:
        """Return how many echoes await a reply."""
        return len(self._in_flight)

    async def send(self, dest: str, payload: bytes) -> asyncio.Future[Echo]:
        """Send one echo request to dest (an IP of this socket's family); return its future.

        Waits for a free in-flight slot first (bound it with a timeout). A send error ends
        the future at once (kind "unreachable" for routing/firewall errors, else "error").
        """
        if self._closed:
            raise RuntimeError("pinger is closed")
        packed = pack_address(self.family, dest)
        while len(self._in_flight) >= self._max_in_flight:
            waiter: asyncio.Future[None] = self.loop.create_future()
            self._slot_waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._slot_waiters:
                    self._slot_waiters.remove(waiter)
                else:  # woken but giving up (deadline): pass the free slot on
                    self._wake_one()
                raise
            if self._closed:
                raise RuntimeError("pinger is closed")
        seq = self._next_seq
        while seq in self._in_flight:
            seq = (seq + 1) & 0xFFFF
        self._next_seq = (seq + 1) & 0xFFFF
        fut: asyncio.Future[Echo] = self.loop.create_future()
        entry = _Entry(packed, 0.0, fut)
        self._in_flight[seq] = entry
        fut.add_done_callback(lambda _f: self._forget(seq, entry))
        packet = echo_request(self.family, self.ident, seq, payload)
        address = (dest, 0) if self.family == socket.AF_INET else (dest, 0, 0, 0)
        try:
            await self._sendto(packet, address, entry)
        except OSError as exc:
            if not fut.done():
                kind: EchoKind = "unreachable" if exc.errno in _UNREACHABLE_ERRNOS else "error"
                name = errno.errorcode.get(exc.errno or 0, "error")
                fut.set_result(Echo(kind, detail=f"send failed: {name} ({exc.strerror})"))
        except BaseException:
            fut.cancel()
            raise
        return fut

    async def _sendto(self, packet: bytes, address: tuple[object, ...], entry: _Entry) -> None:
        retried = False
        while True:
            entry.sent_at = self.clock()
            try:
                self.sock.sendto(packet, address)
                self.sent += 1
                return
            except (BlockingIOError, InterruptedError):
                await self._writable()
            except OSError:
                # A datagram socket reports an earlier ICMP error (sk_err, another echo's)
                # on the next send and clears it: one immediate retry tells that apart from
                # an error of this send.
                if self.mode != "dgram" or retried:
                    raise
                retried = True

    async def _writable(self) -> None:
        fut: asyncio.Future[None] = self.loop.create_future()
        fd = self.sock.fileno()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        self.loop.add_writer(fd, ready)
        try:
            await fut
        finally:
            self.loop.remove_writer(fd)

    def _forget(self, seq: int, entry: _Entry) -> None:
        if self._in_flight.get(seq) is entry:
            del self._in_flight[seq]
        self._wake_one()

    def _wake_one(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _on_readable(self) -> None:
        for _ in range(_READ_BATCH):
            try:
                data, address = self.sock.recvfrom(_READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # a datagram socket's pending ICMP error (details are on the error queue)
                continue
            now = self.clock()
            if self.family == socket.AF_INET6:
                parsed = parse_ipv6(data, pack_address(self.family, address[0]))
            elif self.mode == "raw":
                parsed = parse_ipv4(data, with_ip_header=True)
            else:
                parsed = parse_ipv4(
                    data, with_ip_header=False, sender=pack_address(self.family, address[0])
                )
            if parsed is not None:
                self.handle(parsed, now)
        if self.mode == "dgram":
            self._drain_error_queue()

    def _drain_error_queue(self) -> None:
        for _ in range(_READ_BATCH):
            try:
                data, ancdata, _flags, address = self.sock.recvmsg(2048, 1024, socket.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            parsed = parse_errqueue(self.family, data, ancdata, address)
            if parsed is not None:
                self.handle(parsed, self.clock())

    def handle(self, parsed: Parsed, now: float) -> None:
        """Resolve the echo a parsed message answers; ignore it unless everything matches."""
        entry = self._in_flight.get(parsed.seq)
        if (
            entry is None
            or entry.future.done()
            or parsed.ident != self.ident
            or parsed.dest != entry.dest
        ):
            self.stray += 1
            return
        responder = unpack_address(self.family, parsed.sender)
        if parsed.kind == "reply":
            self.replies += 1
            entry.future.set_result(Echo("reply", now - entry.sent_at, responder))
        else:
            self.errors += 1
            detail = describe(self.family, parsed.icmp_type, parsed.icmp_code)
            entry.future.set_result(
                Echo("unreachable", now - entry.sent_at, responder, f"{detail} from {responder}")
            )

    def close(self) -> None:
        """Stop reading, fail nothing silently: pending echoes are cancelled; close the socket."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if not self.loop.is_closed():
                self.loop.remove_reader(self.sock.fileno())
        for entry in list(self._in_flight.values()):
            entry.future.cancel()
        for waiter in self._slot_waiters:
            waiter.cancel()
        if self.mode == "raw":
            _idents_in_use.discard(self.ident)
        self.sock.close()
