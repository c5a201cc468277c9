"""Fonnte (hosted WhatsApp gateway): ``POST {base_url}/send``, form ``target`` and ``message``.

Header ``Authorization: TOKEN``. Fonnte answers 200 with ``{"status": false, "reason": ...}``
when it refuses a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from monitor.fields import BaseUrl, NumberText, Secret
from monitor.notify.channels.base import BaseChannel, Request, json_object, secret_value


class FonnteChannel(BaseChannel):
    """Fonnte WhatsApp gateway: ``POST {base_url}/send`` (form fields)."""

    kind: Literal["fonnte"]
    target: NumberText
    token: Secret
    base_url: BaseUrl = "https://api.fonnte.com"

    def request(self, text: str, payload: Mapping[str, Any]) -> Request:
        """The send call for one message."""
        token = secret_value(self.token) or ""
        form = {"target": self.target, "message": text}
        return Request(f"{self.base_url}/send", form, form=True, headers={"Authorization": token})

    def refusal(self, body: bytes) -> str | None:
        """``{"status": false}`` with 2xx is a refusal."""
        doc = json_object(body)
        if doc is not None and doc.get("status") is False:
            return f"fonnte refused: {doc.get('reason', '')}"
        return None
