"""Which of icmplib's public pieces can carry the shared ICMP socket, measured piece by piece.

probes/icmp_socket.py opens its socket with icmplib (``ICMPv4Socket``/``ICMPv6Socket``) and
then sends and reads it itself. This script prints, per piece, CPU microseconds per packet of
icmplib's way and of ours on one raw IPv4 socket, echoing to 127.0.0.1 only (root or
CAP_NET_RAW needed), and the ratio:

- open: ``ICMPv4Socket(privileged=True)`` vs ``socket.socket`` (once per process: negligible);
- build: ``ICMPRequest`` + the packet icmplib's ``send`` builds vs ``echo_request``;
- send: ``ICMPv4Socket.send(request)`` vs ``sock.sendto(echo_request(...))``;
- receive: ``ICMPv4Socket.receive(None, timeout)`` vs ``recvfrom`` + ``parse_ipv4``.

    .venv/bin/python bench/icmplib_pieces.py [--packets 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable

import icmplib

from probes.icmp_socket import _READ_SIZE, echo_request, parse_ipv4

MAX_PACKETS = 50_000  # bound whatever the arguments say
DEST = "127.0.0.1"
PAYLOAD = b"\x00" * 56


def cpu() -> float:
    return time.process_time()  # user + system of this process, fine-grained


def per_packet(n: int, fn: Callable[[int], object]) -> float:
    """CPU microseconds per call of fn(i) over n calls."""
    start = cpu()
    for i in range(n):
        fn(i)
    return (cpu() - start) / n * 1e6


def drain(sock: socket.socket) -> int:
    sock.setblocking(False)
    got = 0
    try:
        while True:
            sock.recvfrom(65535)
            got += 1
    except BlockingIOError:
        return got


def run(n: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    opens = max(1, n // 50)
    icmplib_open = per_packet(opens, lambda i: icmplib.ICMPv4Socket(privileged=True).close())
    ours_open = per_packet(
        opens, lambda i: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    )
    out["open (once per process)"] = (icmplib_open, ours_open)

    lib = icmplib.ICMPv4Socket(privileged=True)
    ident = 0x4242

    def lib_build(i: int) -> bytes:
        req = icmplib.ICMPRequest(DEST, ident, i & 0xFFFF, payload=PAYLOAD)
        return bytes(lib._create_packet(req.id, req.sequence, req.payload))

    out["build an echo request"] = (
        per_packet(n, lib_build),
        per_packet(n, lambda i: echo_request(socket.AF_INET, ident, i & 0xFFFF, PAYLOAD)),
    )

    # send: replies pile up in the socket's buffer; drained between rounds, never read here
    sock = lib.sock
    batch = 500
    lib_send = ours_send = 0.0
    for start in range(0, n, batch):
        count = min(batch, n - start)
        lib_send += (
            per_packet(
                count, lambda i: lib.send(icmplib.ICMPRequest(DEST, ident, i, payload=PAYLOAD))
            )
            * count
        )
        drain(sock)
        ours_send += (
            per_packet(
                count,
                lambda i: sock.sendto(echo_request(socket.AF_INET, ident, i, PAYLOAD), (DEST, 0)),
            )
            * count
        )
        drain(sock)
    out["send one echo"] = (lib_send / n, ours_send / n)

    # receive: send a batch of echoes, then read their replies one by one
    lib_recv = ours_recv = 0.0
    packed = socket.inet_aton(DEST)
    small = 100  # request + reply per echo: 100 echoes fit the socket's receive buffer
    for start in range(0, n, small):
        count = min(small, n - start)
        sock.setblocking(True)
        for i in range(count):
            sock.sendto(echo_request(socket.AF_INET, ident, i, PAYLOAD), (DEST, 0))
        # each echo to 127.0.0.1 shows up twice on a raw socket (request, reply): both are
        # read and parsed, the reply returned; per reply, on both sides
        lib_recv += per_packet(count, lambda i: lib.receive(None, timeout=1)) * count
        for i in range(count):
            sock.sendto(echo_request(socket.AF_INET, ident, i, PAYLOAD), (DEST, 0))

        def ours(i: int) -> None:
            while True:
                data, _ = sock.recvfrom(_READ_SIZE)
                parsed = parse_ipv4(data, with_ip_header=True, sender=packed)
                if parsed is not None:
                    return

        ours_recv += per_packet(count, ours) * count
    out["receive and parse one reply"] = (lib_recv / n, ours_recv / n)
    lib.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = max(100, min(args.packets, MAX_PACKETS))
    runs = [run(n) for _ in range(max(1, min(args.repeat, 10)))]
    print(f"icmplib {icmplib.__version__}, {n} packets x {len(runs)} runs, CPU us per packet")
    print(f"{'piece':32} {'icmplib':>16} {'ours':>16} {'icmplib/ours':>14}")
    for piece in runs[0]:
        lib = [r[piece][0] for r in runs]
        ours = [r[piece][1] for r in runs]
        ratios = [a / b for a, b in zip(lib, ours, strict=True) if b > 0]
        print(
            f"{piece:32} {statistics.median(lib):8.2f} ({min(lib):.1f}-{max(lib):.1f})"
            f" {statistics.median(ours):7.2f} ({min(ours):.1f}-{max(ours):.1f})"
            f" {statistics.median(ratios):8.1f}x"
        )


if __name__ == "__main__":
    main()
