"""WAHA (WhatsApp HTTP API, self-hosted): ``POST {base_url}/api/sendText``.

JSON ``{chatId, text, session}`` and header ``X-Api-Key``. ``chat_id`` is normalised when the
inventory is loaded: a number written the Indonesian way (``0812-3456-7890``,
``+62 812 3456 7890``, ``62812...``) becomes ``62812...@c.us``; a group id ``...@g.us`` is kept;
anything else is a config error. WAHA Core (the free edition) serves only the session named
``default`` and answers 422 for any other: ``session`` may differ only with
``edition: plus``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from monitor.fields import BaseUrl, Secret, WhatsAppChat
from monitor.notify.channels.base import BaseChannel, Request, Verdict, json_object, secret_value


class WahaChannel(BaseChannel):
    """WAHA WhatsApp gateway: ``POST {base_url}/api/sendText``."""

    kind: Literal["waha"]
    base_url: BaseUrl
    chat_id: WhatsAppChat
    edition: Literal["core", "plus"] = "core"
    session: str = Field(default="default", min_length=1)
    api_key: Secret | None = None

    @field_validator("session")
    @classmethod
    def _core_has_one_session(cls, session: str, info: ValidationInfo) -> str:
        if info.data.get("edition", "core") == "core" and session != "default":
            raise ValueError(
                f"session {session!r}: WAHA Core serves only the session 'default' "
                "(HTTP 422 for any other); remove 'session', or set 'edition: plus'"
            )
        return session

    @property
    def chat(self) -> str:
        """The WAHA chat id (``62812...@c.us`` or ``...@g.us``, normalised at load)."""
        return self.chat_id

    def request(self, text: str, payload: Mapping[str, Any]) -> Request:
        """The sendText call for one message."""
        headers = {}
        key = secret_value(self.api_key)
        if key is not None:
            headers["X-Api-Key"] = key
        body = {"chatId": self.chat, "text": text, "session": self.session}
        return Request(f"{self.base_url}/api/sendText", body, headers=headers)

    def verdict(self, status: int, body: bytes) -> Verdict | None:
        """422 while the session is STARTING is transient (WAHA is connecting to WhatsApp):
        retried; any other 422 (an unknown session, a bad chat id) is not."""
        if status != 422:
            return None
        doc = json_object(body)
        state = doc.get("status") if doc is not None else None
        starting = state == "STARTING" or b"STARTING" in body
        return Verdict(retry=starting)
