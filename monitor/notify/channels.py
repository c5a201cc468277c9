"""Where a team's alert messages go: one pydantic model per channel kind.

Every model is frozen with ``extra="forbid"`` (a typo is an error) and secrets are
``SecretRef`` (``{env: NAME}`` or ``{file: /path}``), never inline text. ``Channel`` is the
union discriminated on ``kind``; ``parse_channel(data)`` validates one mapping.

Common fields:

* ``name``: the channel's id within its team, used as the ``channel`` label of
  ``mpp_notifier_messages_total`` and by ``?channel=`` on the webhook. Default: ``whatsapp``
  for waha/fonnte, else the kind; repeats get ``-2``, ``-3``... (``channel_names``).
* ``language``: ``id`` (Bahasa Indonesia, default) or ``en``.
* ``severity``: which alert severities this channel receives (default critical, warning).
* ``send_resolved``: also send the "PULIH" (resolved) message (default true).

Kinds and what the notifier sends:

* ``telegram``: ``chat_id``, ``token`` (bot token), ``base_url`` (default
  ``https://api.telegram.org``). ``POST {base_url}/bot{token}/sendMessage`` with JSON
  ``{chat_id, text}`` (plain text: no parse mode, so names cannot inject markup).
* ``waha`` (WhatsApp HTTP API, self-hosted): ``base_url``, ``chat_id`` (``628...@c.us``, a
  group ``...@g.us``, or a bare number, to which ``@c.us`` is added), ``session`` (default
  ``default``), ``api_key`` (optional). ``POST {base_url}/api/sendText`` with JSON
  ``{chatId, text, session}`` and header ``X-Api-Key``.
* ``fonnte`` (WhatsApp gateway): ``target`` (number(s), comma separated, or a group id),
  ``token``, ``base_url`` (default ``https://api.fonnte.com``). ``POST {base_url}/send`` with
  form fields ``target`` and ``message``, header ``Authorization: TOKEN``.
* ``webhook``: ``url``, ``token`` (optional: ``Authorization: Bearer TOKEN``). ``POST`` JSON
  ``{site, team, channel, status, language, text, alerts: [...]}``.
* ``email``: ``to`` (addresses). Rendered into Alertmanager's ``email_configs``; the
  notifier does not deliver it.

``from_inventory_channel`` converts the inventory's generic channel shape
(``kind: whatsapp`` with ``gateway: waha|fonnte``, ``to``, ``gateway_url``...) into these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from probes.settings import SecretRef

Severity = Literal["critical", "warning", "info"]
Language = Literal["id", "en"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid URL {value!r}: expected http://host/... or https://host/...")
    if parts.username or parts.password:
        raise ValueError("credentials in a URL are not allowed: use token with env/file")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"invalid port in URL {value!r}") from None
    return value.rstrip("/")


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"invalid channel name {value!r}: use lower-case letters, digits, '-' and '_'"
        )
    return value


def _check_email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError(f"invalid e-mail address {value!r}")
    return value


def _number_text(value: Any) -> Any:
    # chat ids and phone numbers are often written unquoted: YAML reads a number
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _no_inline_secret(value: Any) -> Any:
    if isinstance(value, str | int | float):
        raise ValueError(
            "secrets are never written inline: use {env: VARIABLE} or {file: /path/to/secret}"
        )
    return value


HttpUrl = Annotated[str, AfterValidator(_check_url)]
ChannelName = Annotated[str, AfterValidator(_check_name)]
NumberText = Annotated[str, BeforeValidator(_number_text), Field(min_length=1)]
Secret = Annotated[SecretRef, BeforeValidator(_no_inline_secret)]
Email = Annotated[str, AfterValidator(_check_email)]


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ChannelName | None = None
    language: Language = "id"
    severity: list[Severity] = ["critical", "warning"]
    send_resolved: bool = True


class TelegramChannel(_Channel):
    """Telegram Bot API: ``POST {base_url}/bot{token}/sendMessage``."""

    kind: Literal["telegram"]
    chat_id: NumberText
    token: Secret
    base_url: HttpUrl = "https://api.telegram.org"


class WahaChannel(_Channel):
    """WAHA WhatsApp gateway: ``POST {base_url}/api/sendText``."""

    kind: Literal["waha"]
    base_url: HttpUrl
    chat_id: NumberText
    session: str = Field(default="default", min_length=1)
    api_key: Secret | None = None

    @property
    def chat(self) -> str:
        """The WAHA chat id: a bare number becomes a personal chat ``<number>@c.us``."""
        return self.chat_id if "@" in self.chat_id else f"{self.chat_id.lstrip('+')}@c.us"


class FonnteChannel(_Channel):
    """Fonnte WhatsApp gateway: ``POST {base_url}/send`` (form fields)."""

    kind: Literal["fonnte"]
    target: NumberText
    token: Secret
    base_url: HttpUrl = "https://api.fonnte.com"


class WebhookChannel(_Channel):
    """Any HTTP endpoint: the message and its alerts as JSON."""

    kind: Literal["webhook"]
    url: HttpUrl
    token: Secret | None = None


class EmailChannel(_Channel):
    """E-mail, delivered by Alertmanager's ``email_configs`` (not by the notifier)."""

    kind: Literal["email"]
    to: list[Email] = Field(min_length=1)


Channel = Annotated[
    TelegramChannel | WahaChannel | FonnteChannel | WebhookChannel | EmailChannel,
    Field(discriminator="kind"),
]
DeliveredChannel = TelegramChannel | WahaChannel | FonnteChannel | WebhookChannel

_ADAPTER: TypeAdapter[Channel] = TypeAdapter(Channel)


def parse_channel(data: Any) -> Channel:
    """Validate one channel mapping (raises pydantic.ValidationError)."""
    return _ADAPTER.validate_python(data)


def default_name(channel: Channel) -> str:
    """The name a channel gets when none is given."""
    return "whatsapp" if channel.kind in ("waha", "fonnte") else channel.kind


def channel_names(channels: Sequence[Channel]) -> list[str]:
    """Names of a team's channels: given names, else the default, repeats suffixed -2, -3.

    Raises ValueError when two channels end up with the same name.
    """
    names: list[str] = []
    for ch in channels:
        name = ch.name or default_name(ch)
        if ch.name is None and name in names:
            n = 2
            while f"{name}-{n}" in names:
                n += 1
            name = f"{name}-{n}"
        if name in names:
            raise ValueError(f"two channels are named {name!r}")
        names.append(name)
    return names


def secrets_of(channel: Channel) -> list[SecretRef]:
    """The secret references a channel holds (to redact their values from any text)."""
    found: list[SecretRef] = []
    for field in ("token", "api_key"):
        ref = getattr(channel, field, None)
        if isinstance(ref, SecretRef):
            found.append(ref)
    return found


class InventoryChannelLike(Protocol):
    """The inventory's generic channel shape (``monitor.inventory.model.Channel``)."""

    @property
    def kind(self) -> str: ...
    @property
    def chat_id(self) -> str | None: ...
    @property
    def to(self) -> str | None: ...
    @property
    def gateway(self) -> str | None: ...
    @property
    def gateway_url(self) -> str | None: ...
    @property
    def session(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def token(self) -> SecretRef | None: ...
    @property
    def severity(self) -> Sequence[str]: ...


def from_inventory_channel(ch: InventoryChannelLike) -> Channel:
    """Convert an inventory channel (kind telegram/whatsapp/email/webhook) to a model here."""
    common: dict[str, Any] = {"severity": list(ch.severity)}
    data: dict[str, Any]
    if ch.kind == "telegram":
        data = {"kind": "telegram", "chat_id": ch.chat_id, "token": ch.token}
    elif ch.kind == "whatsapp" and ch.gateway == "waha":
        data = {"kind": "waha", "base_url": ch.gateway_url, "chat_id": ch.to}
        if ch.session:
            data["session"] = ch.session
        if ch.token is not None:
            data["api_key"] = ch.token
    elif ch.kind == "whatsapp" and ch.gateway == "fonnte":
        data = {"kind": "fonnte", "target": ch.to, "token": ch.token}
        if ch.gateway_url:
            data["base_url"] = ch.gateway_url
    elif ch.kind == "webhook":
        data = {"kind": "webhook", "url": ch.url}
        if ch.token is not None:
            data["token"] = ch.token
    elif ch.kind == "email":
        data = {"kind": "email", "to": [ch.to]}
    else:
        raise ValueError(f"unsupported channel kind {ch.kind!r} (gateway {ch.gateway!r})")
    return parse_channel(common | data)
