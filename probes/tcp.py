"""TCP probe: connect, optional TLS (expiry, version), optional send/expect exchange.

Phases: ``resolve`` (0 for literal IPs), ``connect``, ``tls`` (0 without TLS) and
``exchange`` (send and read until ``expect`` matches; 0 without send/expect).
"""

from __future__ import annotations

import asyncio
import re
import ssl

from probes import net, tls
from probes.base import ProbeContext, ProbeResult, ProbeTarget
from probes.settings import TcpSettings

PHASES = ("resolve", "connect", "tls", "exchange")
_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\"}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|[nrt0\\])")


def unescape(text: str) -> bytes:
    r"""Turn ``send`` into bytes: UTF-8, with ``\n \r \t \0 \\`` and ``\xHH`` (one byte)."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE_RE.finditer(text):
        out += text[pos : match.start()].encode()
        code = match.group(1)
        out += bytes([int(code[1:], 16)]) if code[0] == "x" else _ESCAPES[code]
        pos = match.end()
    out += text[pos:].encode()
    return bytes(out)


async def probe(target: ProbeTarget, settings: TcpSettings, ctx: ProbeContext) -> ProbeResult:
    """Connect to ``target.address`` (host:port) and run the configured checks."""
    run = net.Run(ctx, PHASES)
    await run.within(target.timeout, _probe(target, settings, ctx, run), idle="connect")
    return run.result()


async def _probe(
    target: ProbeTarget, settings: TcpSettings, ctx: ProbeContext, run: net.Run
) -> None:
    try:
        host, port = net.split_host_port(target.address)
    except ValueError as exc:
        raise net.Failed("connect_error", str(exc)) from None
    address = await net.resolve(run, ctx, host, settings.family)
    mismatch = net.source_matches(settings.source, address)
    if mismatch:
        raise net.Failed("connect_error", mismatch)

    run.switch("connect")
    try:
        reader, writer = await asyncio.open_connection(
            address.ip,
            port,
            family=address.family,
            local_addr=(settings.source, 0) if settings.source else None,
        )
    except ConnectionRefusedError:
        raise net.Failed("connect_refused", f"connection refused by {host}:{port}") from None
    except OSError as exc:
        text = exc.strerror or type(exc).__name__
        raise net.Failed("connect_error", f"cannot connect to {host}:{port}: {text}") from None
    try:
        if settings.tls.enabled:
            await _tls(writer, host, port, address, settings, run)
        if settings.send is not None or settings.expect is not None:
            run.switch("exchange")
            await _exchange(reader, writer, settings)
        run.switch(None)
    finally:
        # No graceful close: a TLS close_notify or FIN wait could outlive the deadline.
        writer.transport.abort()


async def _tls(
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    address: net.Address,
    settings: TcpSettings,
    run: net.Run,
) -> None:
    run.switch("tls")
    conf = settings.tls
    try:
        context = tls.client_context(conf.ca_file, conf.insecure_skip_verify)
    except (OSError, ssl.SSLError) as exc:
        raise net.Failed("tls_error", f"cannot load ca_file {conf.ca_file}: {exc}") from None
    server_name = conf.server_name or host
    try:
        await writer.start_tls(context, server_hostname=server_name)
    except ssl.SSLCertVerificationError as exc:
        reason, detail = tls.classify(exc)
        run.fail(reason, detail)  # kept if the deadline hits during the second handshake
        sni = None if net.literal(server_name) else server_name
        chain = await tls.fetch_chain(address, port, sni, settings.source)
        expiry = tls.earliest_expiry(chain)
        if expiry is not None:
            run.values["ssl_earliest_cert_expiry"] = expiry
        raise net.Failed(reason, detail) from None
    except ssl.SSLError as exc:
        raise net.Failed(*tls.classify(exc)) from None
    except ConnectionError as exc:
        raise net.Failed("tls_error", f"connection lost during TLS: {exc.strerror}") from None
    ssl_object = writer.get_extra_info("ssl_object")
    expiry = tls.earliest_expiry(tls.chain_der(ssl_object))
    if expiry is not None:
        run.values["ssl_earliest_cert_expiry"] = expiry
    version = tls.version_text(ssl_object)
    if version:
        run.info["tls_version"] = version


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, settings: TcpSettings
) -> None:
    try:
        if settings.send is not None:
            writer.write(unescape(settings.send))
            await writer.drain()
        if settings.expect is None:
            return
        try:
            pattern = re.compile(settings.expect)
        except re.error:  # settings validate regexes; this guards hand-built settings
            raise net.Failed(
                "expect_mismatch", f"invalid regular expression {settings.expect!r}"
            ) from None
        buffer = bytearray()
        while len(buffer) < settings.max_read_bytes:
            data = await reader.read(min(4096, settings.max_read_bytes - len(buffer)))
            if not data:
                raise net.Failed(
                    "expect_mismatch", f"connection closed before {settings.expect!r} matched"
                )
            buffer += data
            if pattern.search(buffer.decode("utf-8", errors="replace")):
                return
        raise net.Failed(
            "expect_mismatch",
            f"{settings.expect!r} not found in the first {settings.max_read_bytes} bytes",
        )
    except ConnectionError as exc:
        raise net.Failed("connect_error", f"connection lost: {exc.strerror}") from None
