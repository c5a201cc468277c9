"""Telegram Bot API: ``POST {base_url}/bot{token}/sendMessage`` with ``{chat_id, text}``.

Plain text (no parse mode), so names from the inventory cannot inject markup. Telegram answers
200 with ``{"ok": false, "description": ...}`` for some refusals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from monitor.fields import BaseUrl, NumberText, Secret
from monitor.notify.channels.base import BaseChannel, Request, Verdict, json_object, secret_value


class TelegramChannel(BaseChannel):
    """Telegram Bot API: ``POST {base_url}/bot{token}/sendMessage``."""

    kind: Literal["telegram"]
    chat_id: NumberText
    token: Secret
    base_url: BaseUrl = "https://api.telegram.org"

    def request(self, text: str, payload: Mapping[str, Any]) -> Request:
        """The sendMessage call for one message."""
        token = secret_value(self.token)
        return Request(
            f"{self.base_url}/bot{token}/sendMessage", {"chat_id": self.chat_id, "text": text}
        )

    def refusal(self, body: bytes) -> str | None:
        """``{"ok": false}`` with 2xx is a refusal."""
        doc = json_object(body)
        if doc is not None and doc.get("ok") is False:
            return f"telegram refused: {doc.get('description', '')}"
        return None

    def verdict(self, status: int, body: bytes) -> Verdict | None:
        """429 with ``parameters.retry_after``: wait that long (Bot API flood control)."""
        doc = json_object(body)
        params = doc.get("parameters") if doc is not None else None
        after = params.get("retry_after") if isinstance(params, dict) else None
        if isinstance(after, int | float) and not isinstance(after, bool) and after >= 0:
            return Verdict(retry=True, retry_after=float(after))
        return None
