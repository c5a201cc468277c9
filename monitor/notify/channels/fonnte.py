"""Fonnte (hosted WhatsApp gateway): ``POST {base_url}/send``, form ``target`` and ``message``.

Header ``Authorization: TOKEN``. Fonnte answers 200 with ``{"status": false, "reason": ...}``
when it refuses a message. A refusal naming the token or the target (``invalid token``,
``target invalid``) will not pass by retrying: it fails at once, so the operator sees it
instead of 24 hours of retries; others (a disconnected device) are retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from monitor.fields import BaseUrl, Secret, WhatsAppTarget
from monitor.notify.channels.base import BaseChannel, Request, Verdict, json_object, secret_value


class FonnteChannel(BaseChannel):
    """Fonnte WhatsApp gateway: ``POST {base_url}/send`` (form fields)."""

    kind: Literal["fonnte"]
    target: WhatsAppTarget  # 62812... (normalised at load) or a group id ...@g.us
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

    def verdict(self, status: int, body: bytes) -> Verdict | None:
        """A 2xx refusal for a bad token or target: not retried (retrying cannot fix the
        configuration); other answers follow the generic rule."""
        if not 200 <= status < 300:
            return None
        doc = json_object(body)
        reason = str(doc.get("reason", "")).lower() if doc is not None else ""
        if any(w in reason for w in _PERMANENT):
            return Verdict(retry=False)
        return None


_PERMANENT = ("token", "target invalid", "invalid target", "unauthorized")
