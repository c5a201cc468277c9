"""ICMP echo probe: several echoes per run, loss and RTT statistics, over shared sockets.

Names are resolved by the shared resolver of ``probes.net`` (``ctx.resources["resolver"]``,
never the thread pool). ``ctx.resources["icmp"]`` holds an ``IcmpResources``: the socket
mode decided once, and one shared ``Pinger`` per (family, source address). Create it at
start-up with ``await setup(ctx)``, which raises ``IcmpUnavailable`` with an operator-facing
message when neither raw nor datagram ICMP sockets are allowed, and release it with
``close(ctx)``. If a probe runs before ``setup``, the resources are created on first use
(a missing privilege is then reported as reason ``permission``).

Reasons: ``timeout`` (no reply, or the deadline cut the run short), ``unreachable`` (only
ICMP errors such as destination unreachable, never counted as replies), ``loss`` (more loss
than ``settings.max_loss``), ``dns``, ``family`` (no address of the configured family, or
the family is not available), ``permission``, ``source`` (cannot bind the source address).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from probes.base import ProbeContext, ProbeResult, ProbeTarget
from probes.icmp_socket import (
    DEFAULT_MAX_IN_FLIGHT,
    Echo,
    IcmpUnavailable,
    Mode,
    Pinger,
    SocketSetupError,
    detect_mode,
)
from probes.net import Address, Failed, ResolveError, Resolver, get_resolver
from probes.net import literal as _parse_literal
from probes.settings import IcmpSettings, IpFamily

__all__ = ["IcmpResources", "IcmpUnavailable", "close", "detect_mode", "probe", "setup"]


@dataclass
class IcmpResources:
    """The process's ICMP mode and its shared sockets, one per (family, source address)."""

    mode: Mode
    clock: Callable[[], float]
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    pingers: dict[tuple[int, str | None], Pinger] = field(default_factory=dict)

    def pinger(self, family: int, source: str | None) -> Pinger:
        """Return the shared socket for (family, source), opening it on first use."""
        key = (family, source)
        p = self.pingers.get(key)
        if p is not None and p.loop is not asyncio.get_running_loop():
            # opened under another event loop (tests, restarts): its reader is gone
            p.close()
            p = None
        if p is None:
            p = Pinger(
                family, self.mode, self.clock, source=source, max_in_flight=self.max_in_flight
            )
            self.pingers[key] = p
        return p

    def close(self) -> None:
        """Close every shared socket."""
        for p in self.pingers.values():
            p.close()
        self.pingers.clear()


async def setup(
    ctx: ProbeContext,
    *,
    mode: Literal["auto", "raw", "dgram"] = "auto",
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> IcmpResources:
    """Decide the socket mode once and store the resources (raises IcmpUnavailable)."""
    old = ctx.resources.get("icmp")
    if isinstance(old, IcmpResources):
        old.close()
    res = IcmpResources(detect_mode(mode), ctx.monotonic, max_in_flight)
    ctx.resources["icmp"] = res
    return res


def close(ctx: ProbeContext) -> None:
    """Close the shared ICMP sockets stored in ctx (if any)."""
    res = ctx.resources.pop("icmp", None)
    if isinstance(res, IcmpResources):
        res.close()


def _wanted_family(settings: IcmpSettings) -> IpFamily:
    """The family to resolve for: the configured one, or the source's when "auto"."""
    if settings.source is None:
        return settings.family
    src = literal(settings.source)
    if src is None:
        raise Failed("source", f"source {settings.source!r} is not an IP address")
    wanted: IpFamily = "ip6" if src.version == 6 else "ip4"
    if settings.family not in ("auto", wanted):
        raise Failed(
            "source",
            f"source {settings.source} is IPv{src.version} but family is {settings.family}",
        )
    return wanted


def _check_literal(host: str, found: Address, family: IpFamily) -> Address:
    if family not in ("auto", f"ip{found.version}"):
        raise Failed("family", f"{host} is an IPv{found.version} address but family is {family}")
    return found


async def _resolve(resolver: Resolver, host: str, family: IpFamily) -> Address:
    """Return the address to ping; never falls back to the other family."""
    found = literal(host)
    if found is not None:
        return _check_literal(host, found, family)
    try:
        return await resolver.resolve(host, family)
    except ResolveError as exc:
        error = str(exc)
    if family != "auto":
        # Only to name the right reason: does the host exist in the other family?
        other: IpFamily = "ip4" if family == "ip6" else "ip6"
        with contextlib.suppress(ResolveError):
            await resolver.resolve(host, other)
            raise Failed(
                "family", f"{host} has no {family} address (only {other}) and family is {family}"
            )
    raise Failed("dns", error)


@lru_cache(maxsize=4096)
def literal(host: str) -> Address | None:
    """``probes.net.literal``, cached: targets are a fixed set and parsing IPs is not free."""
    return _parse_literal(host)


@lru_cache(maxsize=64)
def _payload(size: int) -> bytes:
    return bytes((i + 0x10) & 0xFF for i in range(size))


def _resources(ctx: ProbeContext) -> IcmpResources:
    res = ctx.resources.get("icmp")
    if isinstance(res, IcmpResources):
        return res
    try:
        res = IcmpResources(detect_mode("auto"), ctx.monotonic)
    except IcmpUnavailable as exc:
        raise Failed("permission", str(exc).splitlines()[0]) from None
    ctx.resources["icmp"] = res
    return res


async def _echoes(
    pinger: Pinger,
    ip: str,
    settings: IcmpSettings,
    deadline: float,
    clock: Callable[[], float],
) -> tuple[list[Echo | None], bool]:
    """Send count echoes spaced evenly; return their outcomes (None: no answer) and whether
    all were sent before the deadline."""
    payload = _payload(settings.payload_size)
    futures: list[asyncio.Future[Echo]] = []
    complete = True
    t0 = clock()
    try:
        for i in range(settings.count):
            at = t0 + i * settings.spacing
            if at >= deadline:
                complete = False
                break
            delay = at - clock()
            if delay > 0:
                # the spacing between echoes is part of the measurement
                await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(max(deadline - clock(), 0)):
                    futures.append(await pinger.send(ip, payload))
            except TimeoutError:  # no free in-flight slot before the deadline
                complete = False
                break
        pending = [f for f in futures if not f.done()]
        remaining = deadline - clock()
        if pending and remaining > 0:
            await asyncio.wait(pending, timeout=remaining)
    finally:
        for f in futures:
            f.cancel()  # forgets unanswered echoes; a late reply is then ignored
    outcomes = [f.result() if f.done() and not f.cancelled() else None for f in futures]
    return outcomes, complete


async def probe(target: ProbeTarget, settings: IcmpSettings, ctx: ProbeContext) -> ProbeResult:
    """Ping target.address count times; report loss and RTT statistics."""
    clock = ctx.monotonic
    start = clock()
    # Finish a little before target.timeout so the scheduler's own bound never cancels us
    # before the partial statistics are reported.
    deadline = start + target.timeout - min(0.1, 0.1 * target.timeout)
    phases: dict[str, float] = {}
    values: dict[str, float] = {}
    info: dict[str, str] = {}

    def result(success: bool, reason: str = "", detail: str = "") -> ProbeResult:
        if detail:
            info["detail"] = detail
        return ProbeResult(success, clock() - start, reason, phases, values, info)

    try:
        res = _resources(ctx)
        info["mode"] = res.mode
        if settings.source is not None:
            info["source"] = settings.source
        family = _wanted_family(settings)
        t = clock()
        host = target.address.strip()
        found = literal(host)
        if found is not None:  # the common case: no lookup, no timer
            address = _check_literal(host, found, family)
        else:
            try:
                async with asyncio.timeout(max(deadline - t, 0)):
                    address = await _resolve(get_resolver(ctx), host, family)
            except TimeoutError:
                raise Failed("dns", f"resolving {host} did not finish in time") from None
        phases["resolve"] = clock() - t
        values["ip_protocol"] = address.version
        info["address"] = ip = address.ip
        t = clock()
        try:
            pinger = res.pinger(address.family, settings.source)
        except SocketSetupError as exc:
            raise Failed(exc.reason, exc.detail) from None
        phases["setup"] = clock() - t
    except Failed as exc:
        return result(False, exc.reason, exc.detail)

    outcomes, complete = await _echoes(pinger, ip, settings, deadline, clock)
    success, reason, detail, stats = summarize(
        outcomes, settings.count, complete, settings.max_loss
    )
    values.update(stats)
    if "rtt_mean_seconds" in stats:
        phases["rtt"] = stats["rtt_mean_seconds"]
    return result(success, reason, detail)


def summarize(
    outcomes: list[Echo | None], count: int, complete: bool, max_loss: float
) -> tuple[bool, str, str, dict[str, float]]:
    """Turn echo outcomes into (success, reason, detail, values); ICMP errors are losses.

    RTT values are present only when some reply came (stddev is the population one, as
    ping's mdev). A run the deadline cut short fails with "timeout" but keeps its figures.
    """
    rtts = [e.rtt for e in outcomes if e is not None and e.kind == "reply"]
    errors = [e for e in outcomes if e is not None and e.kind != "reply"]
    sent, received = len(outcomes), len(rtts)
    loss = 1.0 - received / sent if sent else 1.0
    values: dict[str, float] = {
        "packets_sent": sent,
        "packets_received": received,
        "loss_ratio": loss,
    }
    if rtts:
        # plain float arithmetic: the statistics module's exact Fractions cost more than
        # the rest of a probe at thousands of targets
        ordered = sorted(rtts)
        mid = received // 2
        median = ordered[mid] if received % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        mean = math.fsum(rtts) / received
        variance = math.fsum((r - mean) ** 2 for r in rtts) / received
        values["rtt_min_seconds"] = ordered[0]
        values["rtt_median_seconds"] = median
        values["rtt_mean_seconds"] = mean
        values["rtt_max_seconds"] = ordered[-1]
        values["rtt_stddev_seconds"] = math.sqrt(variance)
    error_detail = errors[0].detail if errors else ""
    if not complete:
        detail = f"deadline reached after {sent} of {count} echoes; {received} replies"
        return False, "timeout", detail, values
    if received == 0:
        if any(e.kind == "unreachable" for e in errors):
            return False, "unreachable", error_detail, values
        return False, "timeout", error_detail or f"no reply to {sent} echoes", values
    if loss > max_loss:
        detail = f"{sent - received} of {sent} echoes lost (max_loss {max_loss})"
        return False, "loss", detail, values
    return True, "", error_detail, values
