"""Where a team's alert messages go: one file per channel kind, and here the one table of kinds.

Every model is strict (a typo is an error) and frozen; secrets are ``Secret``
(``{env: NAME}`` or ``{file: /path}``), never inline text. These models ARE the inventory's
team channels: ``teams[].channels[]`` in inventory.yaml is validated against ``Channel`` at
load, so a bad channel is reported as ``FILE:LINE:COL: field: message`` by check-config.

Common fields (``base.BaseChannel``): ``name`` (the channel's id within its team: label
``channel`` of ``mpp_notifier_messages_total`` and ``?channel=`` on the webhook; default
``whatsapp`` for waha/fonnte, else the kind; repeats get ``-2``, ``-3``...), ``language``
(``id`` default, or ``en``), ``severity`` (default critical, warning), ``send_resolved``.

Kinds: ``telegram``, ``waha``, ``fonnte``, ``webhook`` (delivered by the notifier over HTTP,
each with ``request()`` and ``refusal()``), ``sms`` (delivered by the notifier through the local
gammu-smsd, ``inject()``: no internet needed) and ``email`` (sent by the notifier over SMTP,
``send_mail()``: the same message text, subject its first line). See each module for its
fields and wire format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from monitor.fields import SecretRef
from monitor.notify.channels.base import BaseChannel, DeliveryError, Request, Severity
from monitor.notify.channels.email import EmailChannel
from monitor.notify.channels.fonnte import FonnteChannel
from monitor.notify.channels.sms import SmsChannel
from monitor.notify.channels.telegram import TelegramChannel
from monitor.notify.channels.waha import WahaChannel
from monitor.notify.channels.webhook import WebhookChannel

__all__ = [
    "KINDS",
    "BaseChannel",
    "Channel",
    "DeliveredChannel",
    "DeliveryError",
    "EmailChannel",
    "FonnteChannel",
    "Request",
    "Severity",
    "SmsChannel",
    "TelegramChannel",
    "WahaChannel",
    "WebhookChannel",
    "channel_names",
    "default_name",
    "parse_channel",
    "secrets_of",
]

# The one table of channel kinds: kind -> model, and the name a channel gets by default.
KINDS: dict[str, tuple[type[BaseChannel], str]] = {
    "telegram": (TelegramChannel, "telegram"),
    "waha": (WahaChannel, "whatsapp"),
    "fonnte": (FonnteChannel, "whatsapp"),
    "webhook": (WebhookChannel, "webhook"),
    "email": (EmailChannel, "email"),
    "sms": (SmsChannel, "sms"),
}

Channel = Annotated[
    TelegramChannel | WahaChannel | FonnteChannel | WebhookChannel | EmailChannel | SmsChannel,
    Field(discriminator="kind"),
]
DeliveredChannel = (
    TelegramChannel | WahaChannel | FonnteChannel | WebhookChannel | SmsChannel | EmailChannel
)

_ADAPTER: TypeAdapter[Channel] = TypeAdapter(Channel)


def parse_channel(data: Any) -> Channel:
    """Validate one channel mapping (raises pydantic.ValidationError)."""
    return _ADAPTER.validate_python(data)


def default_name(channel: BaseChannel) -> str:
    """The name a channel gets when none is given."""
    return KINDS[channel.kind][1]


def channel_names(channels: Sequence[BaseChannel]) -> list[str]:
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


def secrets_of(channel: BaseChannel) -> list[SecretRef]:
    """The secret references a channel holds (to redact their values from any text)."""
    return channel.secrets()
