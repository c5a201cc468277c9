"""DNS probe: one query to a chosen resolver (``target.address``), rcode and answers checked.

Phase ``lookup`` (and ``resolve`` when the resolver is given by name). Over UDP the query is
retransmitted (same id, same socket) when a third of the deadline passes without an answer,
as stub resolvers do: one dropped packet costs time, not a failure, while a dead resolver
still fails with ``dns_timeout`` at the deadline. A truncated UDP answer is asked again over
TCP. Everything runs on the event loop (dnspython's asyncio backend): no thread pool.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import dns._asyncbackend
import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.rcode

from probes import net
from probes.base import ProbeContext, ProbeResult, ProbeTarget
from probes.settings import DnsSettings

UDP_SENDS = 3  # transmissions of one UDP query within the deadline
_RCODE_REASONS = {"NXDOMAIN": "dns_nxdomain", "SERVFAIL": "dns_servfail", "REFUSED": "dns_refused"}


async def probe(target: ProbeTarget, settings: DnsSettings, ctx: ProbeContext) -> ProbeResult:
    """Ask the resolver at ``target.address`` for ``settings.query_name``."""
    run = net.Run(ctx, ("lookup",))
    work = _probe(target, settings, ctx, run)
    await run.within(target.timeout, work, idle="lookup", reason="dns_timeout")
    return run.result()


async def _probe(
    target: ProbeTarget, settings: DnsSettings, ctx: ProbeContext, run: net.Run
) -> None:
    server = net.literal(target.address)
    if server is None:
        run.switch("resolve")
        try:
            server = await net.get_resolver(ctx).resolve(target.address, "auto")
        except net.ResolveError as exc:
            raise net.Failed("dns", f"resolver address: {exc}") from None
    run.address = server
    mismatch = net.source_matches(settings.source, server)
    if mismatch:
        raise net.Failed("connect_error", mismatch)
    try:
        query = dns.message.make_query(settings.query_name, settings.query_type)
    except dns.exception.DNSException as exc:
        raise net.Failed("protocol_error", f"bad query name: {type(exc).__name__}") from None
    if not settings.recursion_desired:
        query.flags &= ~dns.flags.RD

    run.switch("lookup")
    started = run.ctx.monotonic()
    try:
        if settings.transport == "tcp":
            response = await _tcp(query, server, settings)
        else:
            interval = target.timeout / UDP_SENDS
            response, sends = await _udp(query, server, settings, interval)
            if sends > 1:
                run.info["retransmissions"] = str(sends - 1)
            if response.flags & dns.flags.TC:
                run.info["truncated"] = "retried over TCP"
                response = await _tcp(query, server, settings)
    except ConnectionRefusedError:
        raise net.Failed("connect_refused", f"{server.ip} port {settings.port} refused") from None
    except OSError as exc:
        text = exc.strerror or type(exc).__name__
        raise net.Failed("connect_error", f"cannot reach {server.ip}: {text}") from None
    except dns.exception.Timeout:
        raise net.Failed("dns_timeout", "the resolver did not answer") from None
    except (dns.exception.DNSException, EOFError, ValueError) as exc:
        raise net.Failed("protocol_error", f"bad DNS response: {type(exc).__name__}") from None
    run.values["lookup_seconds"] = run.ctx.monotonic() - started
    run.switch(None)

    rcode = response.rcode()
    rcode_text = dns.rcode.to_text(rcode)
    answers = sum(len(rrset) for rrset in response.answer)
    run.values["dns_rcode"] = float(rcode)
    run.values["dns_answer_rrs"] = float(answers)
    run.info["rcode"] = rcode_text
    if rcode_text not in settings.valid_rcodes:
        reason = _RCODE_REASONS.get(rcode_text, "dns_rcode")
        raise net.Failed(reason, f"{settings.query_name} {settings.query_type}: {rcode_text}")
    if answers < settings.min_answers:
        raise net.Failed(
            "dns_no_answer",
            f"{answers} answers for {settings.query_name} {settings.query_type}, "
            f"need {settings.min_answers}",
        )


async def _tcp(
    query: dns.message.Message, server: net.Address, settings: DnsSettings
) -> dns.message.Message:
    return await dns.asyncquery.tcp(
        query, server.ip, port=settings.port, source=settings.source, backend=_backend()
    )


def _backend() -> dns._asyncbackend.Backend:
    return dns.asyncbackend.get_backend("asyncio")


async def _udp(
    query: dns.message.Message, server: net.Address, settings: DnsSettings, interval: float
) -> tuple[dns.message.Message, int]:
    """Send over UDP, retransmitting every ``interval`` seconds until an answer arrives."""
    family = server.family
    destination = dns.inet.low_level_address_tuple((server.ip, settings.port), family)
    source = (
        dns.inet.low_level_address_tuple((settings.source, 0), family) if settings.source else None
    )
    backend: Any = _backend()  # dnspython's socket API is untyped
    sock: Any = await backend.make_socket(family, socket.SOCK_DGRAM, 0, source, destination)
    try:
        wire = query.to_wire()
        sends = 0
        while True:
            await sock.sendto(wire, destination, None)
            sends += 1
            try:
                if sends < UDP_SENDS:
                    async with asyncio.timeout(interval):
                        response, _, _ = await _receive(sock, destination, query)
                else:  # last transmission: wait until the probe's deadline
                    response, _, _ = await _receive(sock, destination, query)
            except TimeoutError:
                continue
            return response, sends
    finally:
        await sock.close()


async def _receive(
    sock: dns._asyncbackend.DatagramSocket,
    destination: tuple[str, int] | tuple[str, int, int, int],
    query: dns.message.Message,
) -> tuple[dns.message.Message, float, object]:
    result: tuple[dns.message.Message, float, object] = await dns.asyncquery.receive_udp(
        sock, destination, None, ignore_unexpected=True, query=query
    )
    return result
