"""The shared socket is icmplib's (ICMPv4Socket/ICMPv6Socket), and its failures keep our reasons.

Real sockets, opened and bound only: nothing is sent.
"""

from __future__ import annotations

import socket

import icmplib
import pytest

from probes.icmp_socket import IcmpUnavailable, SocketSetupError, detect_mode, open_socket


@pytest.fixture(scope="module")
def mode() -> str:
    try:
        return detect_mode()
    except IcmpUnavailable as exc:
        pytest.skip(f"no ICMP sockets here: {exc}")


@pytest.mark.parametrize(
    ("family", "kind"),
    [(socket.AF_INET, icmplib.ICMPv4Socket), (socket.AF_INET6, icmplib.ICMPv6Socket)],
)
def test_the_socket_is_icmplibs_non_blocking_and_filtered(
    mode: str, family: int, kind: type
) -> None:
    source = "127.0.0.1" if family == socket.AF_INET else "::1"
    try:
        opened = open_socket(family, mode, source)  # type: ignore[arg-type]
    except SocketSetupError as exc:
        if exc.reason == "family":
            pytest.skip("no IPv6 here")
        raise
    try:
        assert isinstance(opened, kind)
        sock = opened.sock
        assert sock.getblocking() is False
        assert sock.getsockname()[0] == source
        expected = socket.SOCK_RAW if mode == "raw" else socket.SOCK_DGRAM
        assert sock.type == expected
    finally:
        opened.close()


@pytest.mark.parametrize(
    "source",
    [
        "192.0.2.1",  # TEST-NET-1: an address of no interface here
        "::1",  # the other family
        "not-an-address",
    ],
)
def test_a_bad_source_is_reason_source(mode: str, source: str) -> None:
    with pytest.raises(SocketSetupError) as caught:
        open_socket(socket.AF_INET, mode, source)  # type: ignore[arg-type]
    assert caught.value.reason == "source", caught.value
    assert source in str(caught.value)
