"""Listen addresses and the web config file (TLS and basic auth, Prometheus web-config style).

The file looks like Prometheus' ``--web.config.file``::

    tls_server_config:
      cert_file: /etc/mpp-monitor/tls.crt
      key_file: /etc/mpp-monitor/tls.key
      min_version: TLS12          # TLS12 (default) or TLS13
    basic_auth_users:
      admin: $2b$12$...           # bcrypt hash (htpasswd -nBC 12 admin, or python -m bcrypt)

Passwords are checked with bcrypt in a worker thread so a login never stalls a scrape;
successful checks are cached by a salted digest, as Prometheus' exporter-toolkit does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bcrypt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.inventory.load import (
    ConfigError,
    parse_yaml,
    read_config_text,
    validation_errors,
)

DEFAULT_LISTEN = "127.0.0.1:9469"
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
# A valid hash of a random password: unknown users cost the same as wrong passwords, so
# response time does not tell which user names exist.
_DUMMY_HASH = bcrypt.hashpw(os.urandom(16), bcrypt.gensalt(rounds=10))


class ListenError(ValueError):
    """A listen address is malformed."""


def parse_listen(text: str) -> tuple[str, int]:
    """Parse HOST:PORT or [V6]:PORT into (host, port); port 0 means any free port."""
    value = text.strip()
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
    else:
        host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ListenError(
            f"invalid listen address {text!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}"
        )
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for a literal loopback address (127.0.0.0/8 or ::1); names are not trusted."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def os_error_text(exc: OSError) -> str:
    """The short system text of an OSError ("Address already in use")."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


def format_url(host: str, port: int, *, tls: bool = False) -> str:
    """http(s)://host:port/ with IPv6 hosts bracketed."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsServerConfig(_Strict):
    """Our endpoints' certificate and the oldest TLS version accepted."""

    cert_file: Path
    key_file: Path
    min_version: Literal["TLS12", "TLS13"] = "TLS12"


class WebConfigFile(_Strict):
    """The whole web config file."""

    tls_server_config: TlsServerConfig | None = None
    basic_auth_users: dict[str, str] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_only(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if not user or ":" in user:
                raise ValueError(f"invalid user name {user!r}")
            if not hashed.startswith(_BCRYPT_PREFIXES) or len(hashed) != 60:
                # never echo the value: it could be a plain password typed by mistake
                raise ValueError(f"the password of user {user!r} must be a bcrypt hash ($2b$...)")
        return users


@dataclass
class WebConfig:
    """Loaded web config: an SSL context (or None) and the basic-auth checker."""

    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    _cache: dict[bytes, bool] = field(default_factory=dict, repr=False)
    _key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    _lock: asyncio.Semaphore | None = field(default=None, repr=False)

    @property
    def auth_enabled(self) -> bool:
        """True when basic auth is configured."""
        return bool(self.users)

    async def check_header(self, header: str | None) -> bool:
        """Check an Authorization header value against the configured users."""
        if not self.users:
            return True
        creds = parse_basic(header)
        if creds is None:
            return False
        user, password = creds
        digest = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if self._cache.get(digest):
            return True
        hashed = self.users.get(user)
        if self._lock is None:
            # few bcrypt checks at a time: a flood of wrong passwords cannot use every core
            self._lock = asyncio.Semaphore(2)
        async with self._lock:
            ok = await asyncio.to_thread(
                bcrypt.checkpw, password.encode(), hashed if hashed else _DUMMY_HASH
            )
        ok = ok and hashed is not None
        if ok:
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[digest] = True
        return ok


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Split a ``Basic`` Authorization header into (user, password)."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def server_ssl_context(cfg: TlsServerConfig) -> ssl.SSLContext:
    """A server SSL context with TLS 1.2 (or 1.3) as the minimum version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if cfg.min_version == "TLS13" else ssl.TLSVersion.TLSv1_2
    )
    ctx.load_cert_chain(str(cfg.cert_file), str(cfg.key_file))
    return ctx


def load_web_config(path: str | Path | None) -> WebConfig:
    """Load and check a web config file (None: no TLS, no auth); raise ConfigError."""
    if path is None:
        return WebConfig()
    file = str(path)
    doc = parse_yaml(read_config_text(path), file)
    data: Any = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([doc.error((), "the top level must be a mapping")])
    try:
        model = WebConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_errors(doc, exc, WebConfigFile)) from None
    ctx = None
    if model.tls_server_config is not None:
        try:
            ctx = server_ssl_context(model.tls_server_config)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                [doc.error(("tls_server_config",), f"cannot load certificate or key: {reason}")]
            ) from None
    return WebConfig(
        ssl_context=ctx,
        users={u: h.encode() for u, h in model.basic_auth_users.items()},
    )
