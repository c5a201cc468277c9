"""TLS helpers shared by the HTTP and TCP probes: contexts, chain expiry, error reasons."""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

from cryptography import x509

from probes.net import Address

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h), grouped by what an operator does.
_EXPIRED = {10}  # CERT_HAS_EXPIRED
_NOT_YET_VALID = {9}
_HOSTNAME = {62, 63, 64}  # HOSTNAME_MISMATCH, EMAIL_MISMATCH, IP_ADDRESS_MISMATCH
_UNTRUSTED = {2, 18, 19, 20, 21, 24, 27, 28}  # unknown issuer, self-signed, untrusted, rejected

_DER = 2  # _ssl.ENCODING_DER

TLS_START: ContextVar[Callable[[ssl.SSLObject], None] | None] = ContextVar(
    "mpp_probe_tls_start", default=None
)
"""Set by a probe to learn when its TLS handshake starts (the TCP connect is then done)."""


class TimedSSLContext(ssl.SSLContext):
    """An SSLContext that tells the running probe (through TLS_START) when a handshake starts.

    asyncio creates the SSLObject right after the TCP connection is established, inside the
    task that asked for the connection, so this splits aiohttp's connect into TCP and TLS.
    """

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        """Wrap as usual, then report the start of the handshake to the probe."""
        obj = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        hook = TLS_START.get()
        if hook is not None:
            hook(obj)
        return obj


@functools.lru_cache(maxsize=64)
def _client_context(ca_file: str | None, stamp: int, insecure: bool) -> TimedSSLContext:
    ctx = TimedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_file is not None:
        ctx.load_verify_locations(cafile=ca_file)  # only this bundle: a private CA
    else:
        ctx.load_default_certs()
    return ctx


def client_context(ca_file: Path | None, insecure: bool) -> TimedSSLContext:
    """Return a cached client context (re-created when the CA file changes; OSError if absent)."""
    stamp = os.stat(ca_file).st_mtime_ns if ca_file is not None and not insecure else 0
    return _client_context(str(ca_file) if ca_file else None, stamp, insecure)


@functools.cache
def unverified_context() -> ssl.SSLContext:
    """A context that accepts any certificate: only to read a chain that failed verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        # Read the certificate of old servers too; nothing is trusted on this connection.
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):
        pass
    return ctx


def chain_der(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> list[bytes]:
    """Return the DER certificates the peer sent (leaf first), or [] if none."""
    if ssl_object is None:
        return []
    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter()
        except (ssl.SSLError, ValueError):
            chain = None
        if chain:
            return [bytes(cert.public_bytes(_DER)) for cert in chain]
    try:
        leaf = ssl_object.getpeercert(binary_form=True)
    except (ssl.SSLError, ValueError):
        return []
    return [leaf] if leaf else []


def earliest_expiry(chain: list[bytes]) -> float | None:
    """Return the earliest notAfter of the chain as unix seconds (None if unreadable)."""
    expiries: list[float] = []
    for der in chain:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        expiries.append(cert.not_valid_after_utc.timestamp())
    return min(expiries) if expiries else None


def version_text(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str:
    """Return the protocol as blackbox_exporter labels it ("TLS 1.3"), or ""."""
    version = ssl_object.version() if ssl_object is not None else None
    if not version:
        return ""
    return version.replace("TLSv", "TLS ").replace("SSLv", "SSL ")


def classify(exc: BaseException) -> tuple[str, str]:
    """Return (reason, detail) for a TLS failure: tls_expired, tls_hostname, tls_untrusted
    or tls_error."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        message = str(exc.verify_message or getattr(exc, "reason", None) or "verification failed")
        if code in _EXPIRED:
            return "tls_expired", "certificate has expired"
        if code in _HOSTNAME:
            return "tls_hostname", f"certificate does not match the name: {message}"
        if code in _UNTRUSTED:
            return "tls_untrusted", f"certificate not trusted: {message}"
        if code in _NOT_YET_VALID:
            return "tls_error", "certificate is not yet valid"
        return "tls_error", f"certificate verification failed: {message}"
    if isinstance(exc, ssl.SSLError):
        return "tls_error", f"TLS failed: {getattr(exc, 'reason', None) or type(exc).__name__}"
    return "tls_error", f"TLS failed: {type(exc).__name__}"


async def fetch_chain(
    address: Address, port: int, server_name: str | None, source: str | None
) -> list[bytes]:
    """Handshake again without verification and return the peer's chain ([] on failure).

    Used after verification failed so the expiry is still reported; the caller bounds it.
    """
    local = (source, 0) if source else None
    try:
        _, writer = await asyncio.open_connection(
            address.ip,
            port,
            ssl=unverified_context(),
            server_hostname=server_name or "",
            local_addr=local,
            family=address.family,
        )
    except (OSError, ssl.SSLError):
        return []
    try:
        return chain_der(writer.get_extra_info("ssl_object"))
    finally:
        writer.transport.abort()  # no close_notify wait: this connection has served its use
