"""HTTP(S) probe: one fresh connection per hop, phases, expectations, certificate expiry.

Phases (seconds, summed over redirect hops, as blackbox_exporter does): ``resolve`` (name
lookup; 0 for literal IPs), ``connect`` (TCP), ``tls`` (handshake; split from aiohttp's
connection step by :class:`probes.tls.TimedSSLContext`), ``processing`` (request sent until
the response headers are parsed) and ``transfer`` (body read).
"""

from __future__ import annotations

import base64
import re
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NoReturn, Protocol

import aiohttp
from aiohttp import http_exceptions
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.helpers import HeadersMixin
from aiohttp.http import HttpVersion
from multidict import CIMultiDictProxy
from yarl import URL

from probes import http_lean, net, tls
from probes.base import ProbeContext, ProbeResult, ProbeTarget
from probes.settings import HttpSettings, IpFamily

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

LEAN = True
"""Serve GET/HEAD without a body on :mod:`probes.http_lean`; False (or any other request):
aiohttp's client. Tests set it to prove both paths."""


class _Run(net.Run):
    """One HTTP run: also the TLS object of the current hop and the expiry of every hop."""

    def __init__(self, ctx: ProbeContext) -> None:
        super().__init__(ctx, PHASES)
        self.ssl_object: ssl.SSLObject | None = None
        self.expiries: list[float] = []

    def on_tls_start(self, ssl_object: ssl.SSLObject) -> None:
        """TLS handshake starts: the TCP connection is established."""
        self.switch("tls")
        self.ssl_object = ssl_object

    def result(self) -> ProbeResult:
        """Build the result with the earliest certificate expiry over all hops."""
        if self.expiries:
            self.values["ssl_earliest_cert_expiry"] = min(self.expiries)
        return super().result()


class Reply(HeadersMixin):
    """One response as both paths hand it to the checks: status, version, headers, body."""

    def __init__(
        self,
        status: int,
        version: HttpVersion | None,
        headers: CIMultiDictProxy[str],
        content: aiohttp.StreamReader,
    ) -> None:
        self.status = status
        self.version = version
        self.headers = self._headers = headers  # HeadersMixin reads _headers
        self.content = content


class _Exchange(Protocol):
    """How one hop is carried: aiohttp's client session or the lean path."""

    def request(
        self, url: URL, method: str, body: str | None, headers: dict[str, str], https: bool
    ) -> AbstractAsyncContextManager[Reply]:
        """Connect, send, and yield the response head; the connection closes on exit."""
        ...


class _Resolver(AbstractResolver):
    """aiohttp resolver adapter: times the lookup and keeps the address used."""

    def __init__(self, run: _Run, resolver: net.Resolver, family: IpFamily) -> None:
        self._run = run
        self._resolver = resolver
        self._family = family

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` to the one address this probe will use."""
        self._run.switch("resolve")
        address = await self._resolver.resolve(host, self._family)
        self._run.address = address
        self._run.switch("connect")
        return [
            {
                "hostname": host,
                "host": address.ip,
                "port": port,
                "family": address.family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
        ]

    async def close(self) -> None:
        """Nothing to release."""


def _trace(run: _Run) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def connected(session: Any, context: Any, params: Any) -> None:
        run.switch("processing")

    trace.on_connection_create_end.append(connected)
    return trace


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _classify_response_error(exc: BaseException) -> tuple[str, str]:
    """Map an error raised while reading a response to (reason, detail)."""
    for cause in _causes(exc):
        if isinstance(cause, http_exceptions.LineTooLong):
            return "header_too_large", "response header line longer than max_header_bytes"
        if isinstance(cause, http_exceptions.BadHttpMessage) and "Too many headers" in str(
            cause.message
        ):
            return "header_too_large", "too many response headers"
    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ServerDisconnectedError):
            return "protocol_error", "server closed the connection without a full response"
        if isinstance(cause, http_exceptions.HttpProcessingError | aiohttp.ClientPayloadError):
            message = getattr(cause, "message", "") or type(cause).__name__
            return "protocol_error", f"not a valid HTTP response: {str(message)[:120]}"
        if isinstance(cause, ConnectionResetError):
            return "connect_error", "connection reset by the server"
    return "protocol_error", f"HTTP exchange failed: {type(exc).__name__}"


def _classify_connect_error(os_error: OSError, host: str, port: int | None) -> tuple[str, str]:
    if isinstance(os_error, ConnectionRefusedError):
        return "connect_refused", f"connection refused by {host}:{port}"
    text = os_error.strerror or str(os_error) or type(os_error).__name__
    return "connect_error", f"cannot connect to {host}:{port}: {text}"[:200]


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return (url.scheme, url.host, url.port)


def _public(url: URL) -> str:
    """The URL without credentials, query or fragment (those may carry tokens)."""
    return str(url.with_user(None).with_query(None).with_fragment(None))


def _search(pattern: str, text: str, reason: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:  # settings validate regexes; this guards hand-built settings
        raise net.Failed(reason, f"invalid regular expression {pattern!r}") from None


def _check_headers(headers: CIMultiDictProxy[str], required: dict[str, str]) -> None:
    for name, pattern in required.items():
        values = headers.getall(name, [])
        if not values:
            raise net.Failed("header_mismatch", f"response header {name} missing")
        if not any(_search(pattern, v, "header_mismatch") for v in values):
            raise net.Failed(
                "header_mismatch", f"response header {name} does not match {pattern!r}"
            )


def _check_body(text: str, settings: HttpSettings) -> None:
    for pattern in settings.body_must_match:
        if not _search(pattern, text, "body_mismatch"):
            raise net.Failed("body_mismatch", f"body does not match {pattern!r}")
    for pattern in settings.body_must_not_match:
        if _search(pattern, text, "body_mismatch"):
            raise net.Failed("body_mismatch", f"body matches forbidden {pattern!r}")


async def probe(target: ProbeTarget, settings: HttpSettings, ctx: ProbeContext) -> ProbeResult:
    """Request ``target.address`` (a URL) and check the response against ``settings``."""
    run = _Run(ctx)
    token = tls.TLS_START.set(run.on_tls_start)
    try:
        await run.within(target.timeout, _probe(target, settings, ctx, run), idle="request")
    finally:
        tls.TLS_START.reset(token)
    return run.result()


def _basic(username: str, password: str, run: _Run) -> str:
    """The Basic credentials (RFC 7617, UTF-8), registered for redaction too."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    run.secrets.append(token)
    return f"Basic {token}"


def _auth_headers(url: URL, settings: HttpSettings, run: _Run) -> dict[str, str]:
    """Return the Authorization header (if any), registering the secrets for redaction."""
    try:
        if settings.bearer_token is not None:
            token = settings.bearer_token.get()
            run.secrets.append(token)
            return {"Authorization": f"Bearer {token}"}
        if settings.basic_auth is not None:
            password = settings.basic_auth.password.get()
            run.secrets.append(password)
            return {"Authorization": _basic(settings.basic_auth.username, password, run)}
    except LookupError as exc:
        raise net.Failed("secret_unavailable", str(exc)) from None
    if url.user is not None:
        run.secrets.append(url.password or "")
        return {"Authorization": _basic(url.user, url.password or "", run)}
    return {}


async def _probe(target: ProbeTarget, settings: HttpSettings, ctx: ProbeContext, run: _Run) -> None:
    try:
        url = URL(target.address)
    except (ValueError, TypeError):
        raise net.Failed("protocol_error", "target address is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise net.Failed("protocol_error", f"unsupported URL scheme {url.scheme!r}")
    auth = _auth_headers(url, settings, run)
    url = url.with_user(None).with_fragment(None)
    if LEAN and settings.method in http_lean.METHODS and settings.body is None:
        await _follow(_LeanExchange(settings, ctx, run), url, auth, settings, run)
    else:
        async with _session(settings, ctx, run, target.timeout) as session:
            await _follow(_ClientExchange(session, settings, run), url, auth, settings, run)
    budget = settings.latency_budget
    elapsed = ctx.monotonic() - run.start
    if budget is not None and elapsed > budget:
        raise net.Failed("slow", f"took {elapsed:.3f}s, budget {budget:g}s")


def _session(
    settings: HttpSettings, ctx: ProbeContext, run: _Run, timeout: float
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        force_close=True,  # a fresh connection per probe: connect and TLS are measured
        use_dns_cache=False,
        resolver=_Resolver(run, net.get_resolver(ctx), settings.family),
        local_addr=(settings.source, 0) if settings.source else None,
        limit=0,
    )
    # asyncio.timeout in probe() is the deadline; these are only a backstop.
    backstop = timeout + 1.0
    client_timeout = aiohttp.ClientTimeout(
        total=backstop, sock_connect=backstop, sock_read=backstop
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=client_timeout,
        trace_configs=[_trace(run)],
        max_line_size=settings.max_header_bytes,
        max_field_size=settings.max_header_bytes,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    )


async def _follow(
    exchange: _Exchange, url: URL, auth: dict[str, str], settings: HttpSettings, run: _Run
) -> None:
    """Make the request, following redirects hop by hop as the settings allow."""
    start_origin = _origin(url)
    method = settings.method
    body = settings.body
    seen = {url}
    redirects = 0
    run.values["redirects"] = 0
    while True:
        headers = dict(settings.headers)
        if _origin(url) == start_origin:
            headers.update(auth)  # never send credentials to another origin
        location = await _hop(exchange, url, method, body, headers, settings, run)
        if location is None:
            return
        try:
            next_url = url.join(URL(location)).with_fragment(None).with_user(None)
        except (ValueError, TypeError):
            raise net.Failed("protocol_error", "redirect with an invalid Location") from None
        if next_url.scheme not in ("http", "https") or not next_url.host:
            raise net.Failed("protocol_error", f"redirect to unsupported {next_url.scheme!r}")
        if next_url in seen:
            raise net.Failed("redirect_loop", f"redirect loop back to {_public(next_url)}")
        if redirects >= settings.max_redirects:
            raise net.Failed("too_many_redirects", f"more than {settings.max_redirects} redirects")
        redirects += 1
        run.values["redirects"] = redirects
        seen.add(next_url)
        status = int(run.values["status_code"])
        if status == 303 or (status in (301, 302) and method == "POST"):
            method = "HEAD" if method == "HEAD" else "GET"  # as browsers do
            body = None
        url = next_url


def _tls_context(settings: HttpSettings) -> tls.TimedSSLContext:
    try:
        return tls.client_context(settings.ca_file, settings.insecure_skip_verify)
    except (OSError, ssl.SSLError) as exc:
        raise net.Failed("tls_error", f"cannot load ca_file {settings.ca_file}: {exc}") from None


async def _hop(
    exchange: _Exchange,
    url: URL,
    method: str,
    body: str | None,
    headers: dict[str, str],
    settings: HttpSettings,
    run: _Run,
) -> str | None:
    """Make one request; return the Location to follow, or None when this is the final hop."""
    https = url.scheme == "https"
    assert url.host is not None
    run.address = net.literal(url.host)
    run.ssl_object = None
    run.switch("connect")
    try:
        async with exchange.request(url, method, body, headers, https) as reply:
            run.switch("transfer")
            _record_response(reply, url, run)
            if https:
                _record_tls(run)
            if (
                settings.follow_redirects
                and reply.status in _REDIRECT_CODES
                and "Location" in reply.headers
            ):
                run.switch(None)
                return reply.headers["Location"]
            await _read_and_check(reply, settings, run)
            run.switch(None)
            return None
    except (
        aiohttp.ClientResponseError,
        aiohttp.ClientPayloadError,
        http_exceptions.HttpProcessingError,
    ) as exc:
        raise net.Failed(*_classify_response_error(exc)) from None
    except aiohttp.ServerDisconnectedError:
        raise net.Failed(
            "protocol_error", "server closed the connection without a full response"
        ) from None
    except aiohttp.ClientOSError as exc:
        raise net.Failed(*_classify_response_error(exc)) from None
    except aiohttp.ClientError as exc:
        raise net.Failed("protocol_error", f"HTTP exchange failed: {type(exc).__name__}") from None


async def _certificate_failed(
    exc: ssl.SSLCertVerificationError, url: URL, settings: HttpSettings, run: _Run
) -> NoReturn:
    """Fail the run for a rejected certificate, still reporting the chain's expiry."""
    reason, detail = tls.classify(exc)
    run.fail(reason, detail)  # kept if the deadline hits during the second handshake
    await _expiry_after_failure(url, settings, run)
    raise net.Failed(reason, detail)


class _ClientExchange:
    """Hops through aiohttp's client session (any method, body, or feature)."""

    def __init__(self, session: aiohttp.ClientSession, settings: HttpSettings, run: _Run) -> None:
        self._session = session
        self._settings = settings
        self._run = run

    @asynccontextmanager
    async def request(
        self, url: URL, method: str, body: str | None, headers: dict[str, str], https: bool
    ) -> AsyncIterator[Reply]:
        """One request on a fresh connection of the session."""
        sslcontext: ssl.SSLContext | bool = _tls_context(self._settings) if https else False
        try:
            async with self._session.request(
                method, url, headers=headers, data=body, allow_redirects=False, ssl=sslcontext
            ) as resp:
                self._keep_peer(resp)
                yield Reply(resp.status, resp.version, resp.headers, resp.content)
        except aiohttp.ClientConnectorCertificateError as exc:
            cert_error = exc.certificate_error
            assert isinstance(cert_error, ssl.SSLCertVerificationError)
            await _certificate_failed(cert_error, url, self._settings, self._run)
        except aiohttp.ClientConnectorSSLError as exc:
            raise net.Failed(*tls.classify(exc.os_error)) from None
        except aiohttp.ClientConnectorDNSError as exc:
            raise net.Failed("dns", str(exc.os_error)[:200]) from None
        except aiohttp.ClientConnectorError as exc:
            raise net.Failed(*_classify_connect_error(exc.os_error, exc.host, exc.port)) from None
        except aiohttp.ClientSSLError as exc:
            raise net.Failed("tls_error", f"TLS failed: {type(exc).__name__}") from None

    def _keep_peer(self, resp: aiohttp.ClientResponse) -> None:
        if self._run.address is None:
            transport = resp.connection.transport if resp.connection else None
            peer = transport.get_extra_info("peername") if transport else None
            if peer:
                self._run.address = net.literal(str(peer[0]))


class _LeanExchange:
    """Hops on :mod:`probes.http_lean`: GET or HEAD, no body, a fresh connection each."""

    def __init__(self, settings: HttpSettings, ctx: ProbeContext, run: _Run) -> None:
        self._settings = settings
        self._ctx = ctx
        self._run = run
        self._cookies = http_lean.Cookies()

    @asynccontextmanager
    async def request(
        self, url: URL, method: str, body: str | None, headers: dict[str, str], https: bool
    ) -> AsyncIterator[Reply]:
        """One request on its own connection, aborted on exit."""
        settings = self._settings
        self._cookies.add_to(headers, url)
        protocol = await self._connect(url, https)
        try:
            self._run.switch("processing")
            head = http_lean.request_head(method, url, headers)
            message, payload = await http_lean.exchange(
                protocol, method, head, settings.max_header_bytes
            )
            self._cookies.keep(message.headers.getall("Set-Cookie", ()), url)
            yield Reply(message.code, message.version, message.headers, payload)
        finally:
            protocol.abort()  # no graceful close: it could outlive the deadline

    async def _connect(self, url: URL, https: bool) -> ResponseHandler:
        settings, run = self._settings, self._run
        host = url.raw_host
        assert host is not None and url.port is not None
        address = await net.resolve(run, self._ctx, host, settings.family)
        mismatch = net.source_matches(settings.source, address)
        if mismatch:
            raise net.Failed("connect_error", mismatch)
        run.switch("connect")
        sslcontext = _tls_context(settings) if https else None
        try:
            return await http_lean.connect(
                address, url.port, host.rstrip("."), sslcontext, settings.source
            )  # the name verified and sent as SNI has no trailing dot, as aiohttp's
        except ssl.SSLCertVerificationError as exc:
            await _certificate_failed(exc, url, settings, run)
        except ssl.SSLError as exc:
            raise net.Failed(*tls.classify(exc)) from None
        except OSError as exc:
            raise net.Failed(*_classify_connect_error(exc, host, url.port)) from None


def _record_response(reply: Reply, url: URL, run: _Run) -> None:
    run.values["status_code"] = reply.status
    version = reply.version
    if version is not None:
        run.values["http_version"] = version.major + version.minor / 10
        run.info["http_version_text"] = f"HTTP/{version.major}.{version.minor}"
    run.info["final_url"] = _public(url)


def _record_tls(run: _Run) -> None:
    expiry = tls.earliest_expiry(tls.chain_der(run.ssl_object))
    if expiry is not None:
        run.expiries.append(expiry)
    version = tls.version_text(run.ssl_object)
    if version:
        run.info["tls_version"] = version


async def _expiry_after_failure(url: URL, settings: HttpSettings, run: _Run) -> None:
    """Read the rejected chain with a second, unverified handshake to report its expiry."""
    if run.address is None or url.host is None:
        return
    server_name = None if net.literal(url.host) else url.host
    chain = await tls.fetch_chain(run.address, url.port or 443, server_name, settings.source)
    expiry = tls.earliest_expiry(chain)
    if expiry is not None:
        run.expiries.append(expiry)


async def _read_and_check(resp: Reply, settings: HttpSettings, run: _Run) -> None:
    keep = bool(settings.body_must_match or settings.body_must_not_match)
    buffer = bytearray()
    total = 0
    try:
        async for chunk in resp.content.iter_chunked(_CHUNK):
            total += len(chunk)
            if total > settings.max_body_bytes:
                raise net.Failed("body_too_large", f"body exceeds {settings.max_body_bytes} bytes")
            if keep:
                buffer += chunk
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise net.Failed(*_classify_response_error(exc)) from None
    length = resp.content_length
    run.values["content_length"] = length if length is not None else total
    run.switch(None)

    valid = settings.valid_status_codes
    ok = resp.status in valid if valid else 200 <= resp.status < 300
    if not ok:
        raise net.Failed("status", f"status {resp.status} not accepted")
    _check_headers(resp.headers, settings.required_headers)
    if keep:
        charset = resp.charset or "utf-8"
        try:
            text = buffer.decode(charset, errors="replace")
        except LookupError:
            text = buffer.decode("utf-8", errors="replace")
        _check_body(text, settings)
