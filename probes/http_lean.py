"""Lean HTTP/1.1 transport for the HTTP probe: one GET/HEAD on one fresh connection.

Built on asyncio's ``create_connection`` and aiohttp's own response protocol and parser
(``ResponseHandler`` with its ``HttpResponseParser``): the same parsing, header caps, flow
control, decompression and errors as aiohttp's client, without the session, connector,
request and response objects around them. ``probes.http`` decides when this serves and keeps
the phases, checks and failure reasons; this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.helpers import EMPTY_BODY_METHODS
from aiohttp.http import SERVER_SOFTWARE, RawResponseMessage
from yarl import URL

from probes.net import Address

METHODS = frozenset({"GET", "HEAD"})
"""Methods the lean path sends (no request body); anything else goes through aiohttp's client."""

# What aiohttp's client adds when the settings do not name them, in its order.
_DEFAULTS = (*aiohttp.ClientRequest.DEFAULT_HEADERS.items(), ("User-Agent", SERVER_SOFTWARE))


def request_head(method: str, url: URL, headers: Mapping[str, str]) -> bytes:
    """Return the request line and headers as aiohttp's client would send them here."""
    given = {name.lower() for name in headers}
    lines = [f"{method} {url.raw_path_qs} HTTP/1.1"]
    if "host" not in given:
        lines.append(f"Host: {url.host_port_subcomponent}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.extend(f"{name}: {value}" for name, value in _DEFAULTS if name.lower() not in given)
    if "connection" not in given:
        lines.append("Connection: close")  # one request per connection, as force_close does
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8")


async def connect(
    address: Address,
    port: int,
    server_name: str | None,
    sslcontext: ssl.SSLContext | None,
    source: str | None,
) -> ResponseHandler:
    """Open the TCP connection (and TLS when ``sslcontext`` is given); errors propagate."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: ResponseHandler(loop),
        address.ip,
        port,
        ssl=sslcontext,
        server_hostname=server_name if sslcontext is not None else None,
        family=address.family,
        local_addr=(source, 0) if source else None,
    )
    return protocol


async def exchange(
    protocol: ResponseHandler, method: str, head: bytes, max_header_bytes: int
) -> tuple[RawResponseMessage, aiohttp.StreamReader]:
    """Send ``head`` and return the final response head and its body stream (1xx skipped)."""
    protocol.set_response_params(
        skip_payload=method in EMPTY_BODY_METHODS,
        read_until_eof=True,
        max_line_size=max_header_bytes,
        max_field_size=max_header_bytes,
    )
    assert protocol.transport is not None
    protocol.transport.write(head)
    while True:
        message, payload = await protocol.read()
        if not 100 <= message.code <= 199 or message.code == 101:
            return message, payload


class Cookies:
    """Cookies set along one redirect chain (aiohttp's jar, made only when one is set)."""

    def __init__(self) -> None:
        self._jar: aiohttp.CookieJar | None = None

    def keep(self, set_cookie: Sequence[str], url: URL) -> None:
        """Store the Set-Cookie values of a response from ``url``."""
        if set_cookie:
            if self._jar is None:
                self._jar = aiohttp.CookieJar(unsafe=True)  # as the client session's jar
            self._jar.update_cookies_from_headers(set_cookie, url)

    def add_to(self, headers: dict[str, str], url: URL) -> None:
        """Add the cookies for ``url`` to ``headers``, after a Cookie header already there."""
        if self._jar is None:
            return
        cookies = self._jar.filter_cookies(url)
        if not cookies:
            return
        text = cookies.output(header="", sep=";").strip()
        name = next((k for k in headers if k.lower() == "cookie"), "Cookie")
        headers[name] = f"{headers[name]}; {text}" if name in headers else text
