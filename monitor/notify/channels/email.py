"""E-mail: rendered into Alertmanager's ``email_configs``; the notifier does not deliver it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from monitor.fields import Email
from monitor.notify.channels.base import BaseChannel


def _one_or_many(value: Any) -> Any:
    # one address may be written without a list
    return [value] if isinstance(value, str) else value


class EmailChannel(BaseChannel):
    """E-mail, delivered by Alertmanager's ``email_configs`` (not by the notifier)."""

    kind: Literal["email"]
    to: Annotated[list[Email], BeforeValidator(_one_or_many), Field(min_length=1)]
