"""What every channel kind shares: the common fields, the request it builds, its refusals."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import AfterValidator

from monitor.fields import ID_RE, PositiveSeconds, SecretRef, Strict
from monitor.i18n import Language

Severity = Literal["critical", "warning", "info"]

_NAME_CHARS = "lower-case letters, digits, '-' and '_'"


def _check_name(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError(f"invalid channel name {value!r}: use {_NAME_CHARS}")
    return value


ChannelName = Annotated[str, AfterValidator(_check_name)]


class DeliveryError(Exception):
    """A failed send: ``reason`` is safe to log (no secrets); ``retry`` says if it may help."""

    def __init__(self, reason: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.retry_after = retry_after  # seconds the gateway asked us to wait, if it said


class Verdict(NamedTuple):
    """A gateway-specific reading of an answer: retry it or not, and after how long."""

    retry: bool
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP POST a gateway wants: URL and aiohttp keywords (json/data, headers)."""

    url: str
    body: Mapping[str, Any]
    form: bool = False  # send body as form fields instead of JSON
    headers: Mapping[str, str] = field(default_factory=dict)


def secret_value(ref: SecretRef | None) -> str | None:
    """The value of a secret reference; a missing one is a permanent delivery failure."""
    if ref is None:
        return None
    try:
        return ref.get()
    except LookupError as exc:  # names the variable or file only, never a value
        raise DeliveryError(f"secret unavailable: {exc}", retry=False) from None


def json_object(body: bytes) -> dict[str, Any] | None:
    """A gateway's reply as a JSON object, or None when it is not one."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


When = Literal["always", "offline"]


class BaseChannel(Strict):
    """Fields every channel has: its name in the team, language, severities, resolved, and
    when it is used (escalation).

    ``when: always`` (the default but for SMS): every message the severities let through.
    ``when: offline``: an escalation channel, used while the site has no internet
    (``MppSiteOffline`` firing, or the monitor's own ``mpp_site_internet_up`` 0), and, when
    ``after`` is set, for a critical message still undelivered on the team's ``always``
    channels that long after it arrived. Its "pulih" follows only a "putus" it carried.
    """

    short: ClassVar[bool] = False  # True: the one-segment SMS text instead of the full one
    kind: str  # each kind narrows it to its Literal (the union's discriminator)
    name: ChannelName | None = None
    language: Language = "id"
    severity: list[Severity] = ["critical", "warning"]
    send_resolved: bool = True
    when: When = "always"
    after: PositiveSeconds | None = None

    def secrets(self) -> list[SecretRef]:
        """The secret references this channel holds."""
        refs = [getattr(self, f, None) for f in type(self).model_fields if f in _SECRET_FIELDS]
        return [r for r in refs if isinstance(r, SecretRef)]

    def refusal(self, body: bytes) -> str | None:
        """Why the gateway refused a message although it answered 2xx (None: accepted)."""
        return None

    def verdict(self, status: int, body: bytes) -> Verdict | None:
        """This gateway's own reading of a refusal (HTTP status, or 2xx with ``refusal``);
        None: the generic rule (5xx, 408, 425, 429 and 2xx refusals are retried)."""
        return None


# every field that may hold a secret, across kinds
_SECRET_FIELDS = frozenset({"token", "api_key", "password"})
