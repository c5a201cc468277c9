"""Per-kind probe settings, validated by the inventory (unknown keys are errors)."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*\Z")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

MAX_DURATION = 30 * 86400.0
"""The longest duration any config field accepts (30 days); fields may allow less."""


def parse_duration(value: Any) -> Any:
    """Accept 1.5, "1.5", "150ms", "30s", "5m", "1h", "1d" and return seconds (float).

    Refuses what no timer can hold: NaN, infinity and anything over ``MAX_DURATION``
    (``.inf``, ``99999999999d``, ``9223372036854775808``), naming the value as written."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 500ms or 5m")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond float range
            seconds = math.inf
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"invalid duration {_shown(value)}: expected e.g. 30s, 500ms, 5m, 1h")
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    else:
        return value
    if math.isnan(seconds):
        raise ValueError("invalid duration nan: expected e.g. 30s, 500ms, 5m, 1h")
    if seconds > MAX_DURATION:  # infinity too (negative values are the fields' to judge)
        raise ValueError(f"duration {_shown(value)} is too long: at most 30d")
    return seconds


def _shown(value: Any) -> str:
    """The value as written, cut short (a hostile file may hold a 10,000-digit number)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# Seconds as float; the YAML may say 30s, 500ms, 5m.
Seconds = Annotated[float, BeforeValidator(parse_duration)]


def _check_regex(value: str) -> str:
    """Reject a regular expression Python cannot compile, naming the error."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


# A regular expression (re.search semantics), checked when the config is loaded.
Regex = Annotated[str, AfterValidator(_check_regex)]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values immutable after load."""

    # allow_inf_nan: a .inf or .nan in a number field is a mistake, never a setting
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SecretRef(Strict):
    """A secret read from an environment variable or a file, never written inline."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def get(self) -> str:
        """Return the secret's value (raises LookupError naming only the source)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise LookupError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise LookupError(f"cannot read secret file {self.file}: {exc.strerror}") from None

    def __repr__(self) -> str:
        return f"SecretRef(env={self.env!r})" if self.env else f"SecretRef(file={self.file!r})"


MAX_BODY_BYTES = 64 * 1024 * 1024  # a probe reads at most this much of an answer
MAX_CERT_WARNING_DAYS = 3650

IpFamily = Literal["ip4", "ip6", "auto"]


def _check_source(value: str) -> str:
    """A source address to probe from: an IP literal (a name would fail on every run)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(
            f"invalid source address {_shown(value)}: expected an IP address"
        ) from None
    return value


# The local address a probe binds (per-uplink probing through policy routing).
Source = Annotated[str, AfterValidator(_check_source)]


def _check_dns_name(value: str) -> str:
    import dns.exception
    import dns.name

    try:
        dns.name.from_text(value)
    except dns.exception.DNSException as exc:
        raise ValueError(f"invalid DNS name {_shown(value)}: {exc}") from None
    return value


def _check_rcode(value: str) -> str:
    """An rcode name or number, as dnspython spells it (the probe compares that text)."""
    import dns.exception
    import dns.rcode

    try:
        return dns.rcode.to_text(dns.rcode.from_text(value))
    except dns.exception.DNSException:
        raise ValueError(f"unknown DNS rcode {_shown(value)} (e.g. NOERROR, NXDOMAIN)") from None


class IcmpSettings(Strict):
    """Several echoes per run: loss and RTT statistics, not only up/down."""

    count: int = Field(default=3, ge=1, le=100)
    spacing: Seconds = Field(default=0.2, gt=0, le=10)  # seconds between echoes
    payload_size: int = Field(default=56, ge=0, le=1472)
    source: Source | None = None  # source address (per-uplink probing)
    family: IpFamily = "ip4"
    # fail the probe when loss exceeds this ratio (1.0 = only total loss fails)
    max_loss: float = Field(default=1.0, ge=0, le=1)


class TlsSettings(Strict):
    enabled: bool = False
    server_name: str | None = None
    ca_file: Path | None = None
    insecure_skip_verify: bool = False


class TcpSettings(Strict):
    source: Source | None = None
    family: IpFamily = "auto"
    tls: TlsSettings = TlsSettings()
    send: str | None = None  # sent after connect (\n escapes allowed)
    expect: Regex | None = None  # regex the response must match
    max_read_bytes: int = Field(default=64 * 1024, ge=1, le=MAX_BODY_BYTES)


class BasicAuth(Strict):
    username: str
    password: SecretRef


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an HTTP token (RFC 9110)


def _check_header_name(value: str) -> str:
    if not _HEADER_NAME.match(value):
        raise ValueError(f"invalid header name {_shown(value)}")
    return value


def _check_header_value(value: str) -> str:
    # aiohttp refuses CR/LF when sending: the probe would fail on every run
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("a header value must be one line (no CR, LF or NUL)")
    return value


HeaderName = Annotated[str, AfterValidator(_check_header_name)]
HeaderValue = Annotated[str, AfterValidator(_check_header_value)]


class HttpSettings(Strict):
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: dict[HeaderName, HeaderValue] = {}
    body: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token: SecretRef | None = None
    valid_status_codes: list[Annotated[int, Field(ge=100, le=599)]] = []  # empty: any 2xx
    body_must_match: list[Regex] = []  # regexes
    body_must_not_match: list[Regex] = []
    required_headers: dict[HeaderName, Regex] = {}  # header name -> regex
    latency_budget: Seconds | None = Field(default=None, gt=0)  # seconds; over it: reason "slow"
    follow_redirects: bool = True
    max_redirects: int = Field(default=5, ge=0, le=30)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, le=MAX_BODY_BYTES)
    max_header_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    ca_file: Path | None = None
    insecure_skip_verify: bool = False
    cert_warning_days: int = Field(default=14, ge=0, le=MAX_CERT_WARNING_DAYS)
    source: Source | None = None
    family: IpFamily = "auto"


class DnsSettings(Strict):
    query_name: Annotated[str, AfterValidator(_check_dns_name)]
    query_type: Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV"] = "A"
    transport: Literal["udp", "tcp"] = "udp"
    port: int = Field(default=53, ge=1, le=65535)
    valid_rcodes: list[Annotated[str, AfterValidator(_check_rcode)]] = ["NOERROR"]
    min_answers: int = Field(default=1, ge=0, le=1000)
    source: Source | None = None
    recursion_desired: bool = True
