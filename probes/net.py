"""Shared network helpers for probes: addresses, families and non-blocking name resolution.

Name resolution never touches the default thread pool (``getaddrinfo`` there can be held
for minutes by a dead resolver and then delays every other probe): literal addresses are
used as they are, names are looked up in the hosts file and then with dnspython's asyncio
resolver on the event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.resolver

from probes.base import ProbeContext, ProbeResult
from probes.settings import IpFamily

RESOLVER_RESOURCE = "resolver"
"""Key in ``ProbeContext.resources`` for a :class:`Resolver` (defaults to the system one)."""

HOSTS_FILE = Path("/etc/hosts")


class Failed(Exception):
    """Stops a probe run with a reason; caught by the probe and turned into its result."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class Run:
    """Phases and findings of one probe run, kept so a deadline still reports what was seen.

    Phases are a state machine: :meth:`switch` closes the running phase (adding its time,
    from ``ctx.monotonic``) and starts the next, so a run cut by its deadline still shows
    which phase was hanging and for how long.
    """

    def __init__(self, ctx: ProbeContext, phases: tuple[str, ...]) -> None:
        self.ctx = ctx
        self.start = ctx.monotonic()
        self.phases: dict[str, float] = dict.fromkeys(phases, 0.0)
        self.phase: str | None = None
        self.phase_start = self.start
        self.values: dict[str, float] = {}
        self.info: dict[str, str] = {}
        self.failure: tuple[str, str] | None = None
        self.address: Address | None = None
        self.secrets: list[str] = []

    def switch(self, phase: str | None) -> None:
        """Close the current phase now and start ``phase`` (None: no phase running)."""
        now = self.ctx.monotonic()
        if self.phase is not None:
            self.phases[self.phase] = self.phases.get(self.phase, 0.0) + max(
                0.0, now - self.phase_start
            )
        self.phase, self.phase_start = phase, now

    def fail(self, reason: str, detail: str) -> None:
        """Record the failure of the run (the first one wins)."""
        if self.failure is None:
            self.failure = (reason, detail)

    async def within(
        self, seconds: float, work: Awaitable[None], *, idle: str, reason: str = ""
    ) -> None:
        """Await ``work`` within the probe's deadline; a timeout or :class:`Failed` becomes the
        run's failure. A timeout is ``reason`` when given, else ``dns`` while resolving and
        ``timeout`` otherwise; ``idle`` names the phase when none was running."""
        try:
            async with asyncio.timeout(seconds):
                await work
        except TimeoutError:
            phase = self.phase or idle
            why = reason or ("dns" if phase == "resolve" else "timeout")
            self.fail(why, f"no answer within {seconds:g}s (during {phase})")
        except Failed as exc:
            self.fail(exc.reason, exc.detail)

    def result(self) -> ProbeResult:
        """Close the run and build its result, with secrets redacted from every text."""
        self.switch(None)
        if self.address is not None:
            self.values["ip_protocol"] = self.address.version
        if self.failure is not None:
            self.info["detail"] = self.failure[1]
        info = {k: redact(v, self.secrets) for k, v in self.info.items()}
        return ProbeResult(
            success=self.failure is None,
            duration_seconds=max(0.0, self.ctx.monotonic() - self.start),
            reason=self.failure[0] if self.failure else "",
            phases=dict(self.phases),
            values=dict(self.values),
            info=info,
        )


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class ResolveError(OSError):
    """A name could not be resolved; ``str()`` is a short human text without secrets."""


@dataclass(frozen=True, slots=True)
class Address:
    """One resolved address: the IP to connect to and its family (4 or 6)."""

    ip: str
    version: int

    @property
    def family(self) -> socket.AddressFamily:
        """The socket address family of this address."""
        return socket.AF_INET6 if self.version == 6 else socket.AF_INET


class Resolver(Protocol):
    """Turns a host name into one address of the wanted family."""

    async def resolve(self, host: str, family: IpFamily) -> Address:
        """Return the address to probe, or raise :class:`ResolveError`."""
        ...


def literal(host: str) -> Address | None:
    """Return the address if ``host`` is a literal IPv4/IPv6 address (brackets allowed)."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    text = text.split("%", 1)[0] if "%" in text else text
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return Address(str(ip), ip.version)


def split_host_port(address: str) -> tuple[str, int]:
    """Split ``host:port`` or ``[v6]:port`` into host and port (ValueError if malformed)."""
    match = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]+):(\d+)", address.strip())
    if match is None:
        raise ValueError(f"address {address!r} is not host:port or [v6]:port")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


def _versions(family: IpFamily) -> tuple[int, ...]:
    # "auto" prefers IPv4: MPP sites run IPv4 LANs and links; IPv6 only when no A record.
    return {"ip4": (4,), "ip6": (6,), "auto": (4, 6)}[family]


def _parse_hosts(text: str) -> dict[str, list[Address]]:
    table: dict[str, list[Address]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        addr = literal(fields[0])
        if addr is None:
            continue
        for name in fields[1:]:
            table.setdefault(name.lower().rstrip("."), []).append(addr)
    return table


class SystemResolver:
    """Hosts file first, then DNS with dnspython's asyncio resolver (never the thread pool).

    ``nameservers``/``port`` override /etc/resolv.conf (tests, or a site's own resolver).
    """

    def __init__(
        self,
        nameservers: list[str] | None = None,
        port: int = 53,
        hosts_file: Path | None = HOSTS_FILE,
    ) -> None:
        self._nameservers = nameservers
        self._port = port
        self._hosts_file = hosts_file
        self._hosts: dict[str, list[Address]] = {}
        self._hosts_stamp: tuple[int, int] | None = None
        self._dns: dns.asyncresolver.Resolver | None = None

    def _hosts_table(self) -> dict[str, list[Address]]:
        # A stat per lookup is cheap; re-read only when the file changed.
        if self._hosts_file is None:
            return {}
        try:
            st = os.stat(self._hosts_file)
        except OSError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._hosts_stamp:
            try:
                text = self._hosts_file.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return {}
            self._hosts, self._hosts_stamp = _parse_hosts(text), stamp
        return self._hosts

    def _dns_resolver(self) -> dns.asyncresolver.Resolver:
        if self._dns is None:
            if self._nameservers is not None:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = list(self._nameservers)
                resolver.port = self._port
            else:
                # Reads /etc/resolv.conf once (a small local file).
                resolver = dns.asyncresolver.Resolver(configure=True)
            # The probe's own deadline bounds the lookup; dnspython's lifetime must not cut
            # it shorter, so give it plenty.
            resolver.lifetime = 3600.0
            resolver.timeout = 2.0
            self._dns = resolver
        return self._dns

    async def resolve(self, host: str, family: IpFamily) -> Address:
        """Return the first address of the preferred family (see :func:`_versions`)."""
        found = literal(host)
        if found is not None:
            return found
        name = host.lower().rstrip(".")
        versions = _versions(family)
        in_hosts = self._hosts_table().get(name, [])
        for version in versions:
            for addr in in_hosts:
                if addr.version == version:
                    return addr
        try:
            resolver = self._dns_resolver()
        except dns.resolver.NoResolverConfiguration:
            raise ResolveError("no DNS resolver configured") from None
        missing: list[str] = []
        for version in versions:
            rdtype = "A" if version == 4 else "AAAA"
            try:
                answer = await resolver.resolve(name, rdtype, search=True)
            except dns.resolver.NXDOMAIN:
                raise ResolveError(f"name {host} does not exist (NXDOMAIN)") from None
            except dns.resolver.NoAnswer:
                missing.append(rdtype)
                continue
            except dns.resolver.NoNameservers:
                raise ResolveError(f"resolvers failed for {host} (SERVFAIL/REFUSED)") from None
            except dns.exception.Timeout:
                raise ResolveError(f"resolver timed out for {host}") from None
            except dns.exception.DNSException as exc:
                raise ResolveError(f"lookup of {host} failed: {type(exc).__name__}") from None
            for rdata in answer:
                return Address(str(rdata.address), version)
            missing.append(rdtype)
        raise ResolveError(f"no {'/'.join(missing)} record for {host}")


_default: SystemResolver | None = None


def get_resolver(ctx: ProbeContext) -> Resolver:
    """Return the resolver from ``ctx.resources`` or the process-wide system resolver."""
    given = ctx.resources.get(RESOLVER_RESOURCE)
    if given is not None:
        resolver: Resolver = given
        return resolver
    global _default
    if _default is None:
        _default = SystemResolver()
    return _default


async def resolve(run: Run, ctx: ProbeContext, host: str, family: IpFamily) -> Address:
    """Return the address to probe and keep it on ``run``: a literal as it is, a name through
    the context's resolver (timed as the ``resolve`` phase; a failed lookup is ``dns``)."""
    address = literal(host)
    if address is None:
        run.switch("resolve")
        try:
            address = await get_resolver(ctx).resolve(host, family)
        except ResolveError as exc:
            raise Failed("dns", str(exc)) from None
    run.address = address
    return address


def source_matches(source: str | None, address: Address) -> str | None:
    """Return an error text if the source address cannot reach ``address``'s family."""
    if source is None:
        return None
    src = literal(source)
    if src is None:
        return f"source {source} is not an IP address"
    if src.version != address.version:
        return f"source {source} is IPv{src.version} but the target is IPv{address.version}"
    return None
