"""Field types shared by every config model (inventory, channels, web config): one copy each.

``Strict`` (unknown keys are errors, frozen), ``Id``, ``Host``, ``Url``, ``BaseUrl``,
``NumberText``, ``Phone`` (E.164), ``WhatsAppChat``/``WhatsAppTarget`` (Indonesian numbers
normalised to ``62812...[@c.us]``, group ids ``@g.us``), ``Secret`` (a ``SecretRef`` that
refuses inline text),
``Email``, ``Name`` (free text on one line) and the durations ``Seconds``/``PositiveSeconds``/
``Interval``. Messages name the problem in words an operator can act on; the loader adds
file, line and column. The limits are listed in docs/config.md ("Limits").
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

from probes.settings import Seconds, SecretRef, Strict

__all__ = [
    "ID_RE",
    "BaseUrl",
    "Email",
    "Host",
    "Id",
    "Interval",
    "IpAddress",
    "Name",
    "NumberText",
    "Phone",
    "PositiveSeconds",
    "Seconds",
    "Secret",
    "SecretRef",
    "Strict",
    "Url",
    "WhatsAppChat",
    "WhatsAppTarget",
    "check_host",
    "check_url",
]

# \Z, not $: "$" also matches before a final newline, and "pc\n" is not an id
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INLINE_SECRET = "secrets are never written inline: use {env: VARIABLE} or {file: /path/to/secret}"  # noqa: S105 (a message, not a secret)


def _check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError(
            f"invalid id {value!r}: use lower-case letters, digits, '-' and '_' "
            "(start with a letter or digit, at most 63 characters)"
        )
    return value


Id = Annotated[str, AfterValidator(_check_id)]

MAX_NAME = 200


def _check_name(value: str) -> str:
    """Free text for people (any language, any script), but one line and no control codes."""
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"control character {ch!r} at position {i + 1}: a name is one line of text"
            )
    if len(value) > MAX_NAME:
        raise ValueError(f"too long ({len(value)} characters): at most {MAX_NAME}")
    return value


Name = Annotated[str, AfterValidator(_check_name)]


def check_host(value: str) -> str:
    """A literal IPv4/IPv6 address or a DNS host name."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if re.match(r"^\d+(\.\d+){3}$", value):
        raise ValueError(f"invalid IP address {value!r}")
    label = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
    if len(value) > 253 or not re.match(rf"^{label}(\.{label})*\.?$", value):
        raise ValueError(f"invalid address {value!r}: expected an IP address or a host name")
    return value


Host = Annotated[str, AfterValidator(check_host)]


def _check_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"invalid IP address {value!r}") from None
    return value


IpAddress = Annotated[str, AfterValidator(_check_ip)]


def check_url(value: str) -> str:
    """An http(s) URL with a valid host and port and no credentials in it."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid URL {value!r}: expected http://host/... or https://host/...")
    if parts.username or parts.password:
        raise ValueError(
            "credentials in a URL are not allowed: use basic_auth or a token with env/file"
        )
    check_host(parts.hostname)
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"invalid port in URL {value!r}") from None
    return value


Url = Annotated[str, AfterValidator(check_url)]
# A gateway's base URL: paths are appended to it, so a trailing slash is dropped.
BaseUrl = Annotated[Url, AfterValidator(lambda v: v.rstrip("/"))]


def _number_text(value: Any) -> Any:
    # Chat ids and phone numbers are often written unquoted: YAML reads a number.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


NumberText = Annotated[str, BeforeValidator(_number_text), Field(min_length=1)]

_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164_RE = re.compile(r"^\+[1-9][0-9]{7,14}$")
PHONE_FORMS = "+62 812-3456-7890, 0812 3456 7890 or 62812..."


def e164(value: str, country: str = "62") -> str:
    """A phone number as written in Indonesia, in E.164 (``+62812...``).

    Spaces, dots, dashes and parentheses are dropped; a leading ``0`` is the national prefix
    (replaced by ``+<country>``), a bare ``62...`` gets its ``+``; an Indonesian number has 8
    to 12 digits after ``+62``. Raises ValueError naming the
    accepted forms."""
    text = _PHONE_SEPARATORS.sub("", value)
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("0"):
        text = f"+{country}{text[1:]}"
    elif text.startswith(country) and not text.startswith("+"):
        text = "+" + text
    national = text[1 + len(country) :] if text.startswith("+" + country) else None
    if not _E164_RE.match(text) or (national is not None and not 8 <= len(national) <= 12):
        raise ValueError(f"invalid phone number {value!r}: write it as {PHONE_FORMS}")
    return text


_GROUP_RE = re.compile(r"^[0-9]{1,30}(-[0-9]{1,20})?@g\.us\Z")
WHATSAPP_FORMS = f"a phone number ({PHONE_FORMS}) or a group id ending in @g.us"


def whatsapp_number(value: str) -> str:
    """A WhatsApp number as gateways want it: E.164 digits without ``+`` (``62812...``), or a
    group id ``...@g.us`` kept as written. Raises ValueError naming the accepted forms."""
    text = value.strip()
    if text.endswith("@g.us"):
        if not _GROUP_RE.match(text):
            raise ValueError(f"invalid WhatsApp group id {value!r}: expected digits@g.us")
        return text
    if text.endswith("@c.us"):
        text = text[: -len("@c.us")]
    if "@" in text:
        raise ValueError(f"invalid WhatsApp id {value!r}: write {WHATSAPP_FORMS}")
    try:
        return e164(text).lstrip("+")
    except ValueError:
        raise ValueError(f"invalid WhatsApp id {value!r}: write {WHATSAPP_FORMS}") from None


def _whatsapp_chat(value: Any) -> Any:
    value = _number_text(value)
    if not isinstance(value, str):
        return value
    number = whatsapp_number(value)
    return number if number.endswith("@g.us") else number + "@c.us"


def _whatsapp_target(value: Any) -> Any:
    value = _number_text(value)
    return whatsapp_number(value) if isinstance(value, str) else value


# WAHA's chatId, normalised at load: 0812-3456-7890 / +62 812... / 62812... -> 62812...@c.us;
# a group id ...@g.us is kept.
WhatsAppChat = Annotated[str, BeforeValidator(_whatsapp_chat)]
# Fonnte's target, normalised at load: 62812... (digits), or a group id ...@g.us.
WhatsAppTarget = Annotated[str, BeforeValidator(_whatsapp_target)]


def _phone(value: Any) -> Any:
    value = _number_text(value)
    return e164(value) if isinstance(value, str) else value


# A phone number normalised to E.164 at load (YAML may read an unquoted number as an int).
Phone = Annotated[str, BeforeValidator(_phone)]


def _no_inline_secret(value: Any) -> Any:
    if isinstance(value, str | int | float):
        raise ValueError(INLINE_SECRET)
    return value


Secret = Annotated[SecretRef, BeforeValidator(_no_inline_secret)]


def _check_email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError(f"invalid e-mail address {value!r}")
    return value


Email = Annotated[str, AfterValidator(_check_email)]


def _not_negative(value: Any) -> Any:
    """Name a negative duration as such (the duration parser would only call it invalid)."""
    negative = isinstance(value, str) and value.strip().startswith("-")
    negative = negative or (
        isinstance(value, int | float) and not isinstance(value, bool) and value < 0
    )
    if negative:
        raise ValueError(f"must be greater than 0 (got {value!r})")
    return value


def _at_least_a_millisecond(value: float) -> float:
    # the scheduler's grid is in milliseconds: 1e-300s would overflow its arithmetic
    if value < 0.001:
        raise ValueError(f"must be at least 1ms (got {value:g}s)")
    return value


PositiveSeconds = Annotated[
    Seconds, Field(gt=0), AfterValidator(_at_least_a_millisecond), BeforeValidator(_not_negative)
]

MIN_INTERVAL = 0.1
MAX_INTERVAL = 86400.0


def _check_interval(value: float) -> float:
    if value < MIN_INTERVAL:
        raise ValueError(f"must be at least 100ms (got {value:g}s)")
    if value > MAX_INTERVAL:
        raise ValueError(f"must be at most 1d (got {value:g}s)")
    return value


# How often a target is probed: 100ms to 1d (its timeout must also stay below it).
Interval = Annotated[PositiveSeconds, AfterValidator(_check_interval)]
