"""WAHA (WhatsApp HTTP API, self-hosted): ``POST {base_url}/api/sendText``.

JSON ``{chatId, text, session}`` and header ``X-Api-Key``. ``chat_id`` is ``628...@c.us``, a
group ``...@g.us``, or a bare number, to which ``@c.us`` is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from monitor.fields import BaseUrl, NumberText, Secret
from monitor.notify.channels.base import BaseChannel, Request, secret_value


class WahaChannel(BaseChannel):
    """WAHA WhatsApp gateway: ``POST {base_url}/api/sendText``."""

    kind: Literal["waha"]
    base_url: BaseUrl
    chat_id: NumberText
    session: str = Field(default="default", min_length=1)
    api_key: Secret | None = None

    @property
    def chat(self) -> str:
        """The WAHA chat id: a bare number becomes a personal chat ``<number>@c.us``."""
        return self.chat_id if "@" in self.chat_id else f"{self.chat_id.lstrip('+')}@c.us"

    def request(self, text: str, payload: Mapping[str, Any]) -> Request:
        """The sendText call for one message."""
        headers = {}
        key = secret_value(self.api_key)
        if key is not None:
            headers["X-Api-Key"] = key
        body = {"chatId": self.chat, "text": text, "session": self.session}
        return Request(f"{self.base_url}/api/sendText", body, headers=headers)
