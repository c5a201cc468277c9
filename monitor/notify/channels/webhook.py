"""Any HTTP endpoint: ``POST url`` with the message and its alerts as JSON.

Body ``{site, team, channel, status, language, text, alerts: [...]}``; optional
``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from monitor.fields import Secret, Url
from monitor.notify.channels.base import BaseChannel, Request, secret_value


class WebhookChannel(BaseChannel):
    """Any HTTP endpoint: the message and its alerts as JSON."""

    kind: Literal["webhook"]
    url: Url
    token: Secret | None = None

    def request(self, text: str, payload: Mapping[str, Any]) -> Request:
        """The POST for one message."""
        headers = {}
        token = secret_value(self.token)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return Request(self.url, dict(payload), headers=headers)
