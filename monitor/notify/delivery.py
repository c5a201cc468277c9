"""Sending one message through one channel: the gateway formats and their failure modes.

``send`` raises ``DeliveryError`` with a short reason built here (HTTP status, ``timeout``,
``connect_failed``...) and whether a retry may help. It never puts an exception's own text in
the reason: aiohttp's messages can carry the request URL, and a Telegram URL holds the bot
token. Text a gateway returns is redacted of the channel's secrets and shortened.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from monitor.notify.channels import (
    DeliveredChannel,
    FonnteChannel,
    TelegramChannel,
    WahaChannel,
    WebhookChannel,
    secrets_of,
)

MAX_REASON = 120
_RETRY_STATUSES = frozenset({408, 425, 429})


class DeliveryError(Exception):
    """A failed send: ``reason`` is safe to log (no secrets); ``retry`` says if it may help."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret value in text by ``***`` and keep it short and on one line."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _secret_values(channel: DeliveredChannel) -> list[str]:
    values: list[str] = []
    for ref in secrets_of(channel):
        with contextlib.suppress(LookupError):
            values.append(ref.get())
    return values


def _secret(channel: DeliveredChannel, attr: str) -> str | None:
    ref = getattr(channel, attr, None)
    if ref is None:
        return None
    try:
        value: str = ref.get()
    except LookupError as exc:  # names the variable or file only, never a value
        raise DeliveryError(f"secret unavailable: {exc}", retry=False) from None
    return value


def _request(
    channel: DeliveredChannel, text: str, payload: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The URL and aiohttp request keywords for one message."""
    if isinstance(channel, TelegramChannel):
        token = _secret(channel, "token")
        url = f"{channel.base_url}/bot{token}/sendMessage"
        return url, {"json": {"chat_id": channel.chat_id, "text": text}}
    if isinstance(channel, WahaChannel):
        headers = {}
        key = _secret(channel, "api_key")
        if key is not None:
            headers["X-Api-Key"] = key
        body = {"chatId": channel.chat, "text": text, "session": channel.session}
        return f"{channel.base_url}/api/sendText", {"json": body, "headers": headers}
    if isinstance(channel, FonnteChannel):
        token = _secret(channel, "token")
        form = {"target": channel.target, "message": text}
        return f"{channel.base_url}/send", {"data": form, "headers": {"Authorization": token}}
    if isinstance(channel, WebhookChannel):
        headers = {}
        token = _secret(channel, "token")
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return channel.url, {"json": dict(payload), "headers": headers}
    raise DeliveryError(f"channel kind {channel.kind} is not delivered here", retry=False)


def _gateway_refusal(channel: DeliveredChannel, body: bytes) -> str | None:
    """The reason a gateway refused a message while answering 2xx (Fonnte, Telegram)."""
    if not isinstance(channel, FonnteChannel | TelegramChannel):
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if isinstance(channel, FonnteChannel) and doc.get("status") is False:
        return f"fonnte refused: {doc.get('reason', '')}"
    if isinstance(channel, TelegramChannel) and doc.get("ok") is False:
        return f"telegram refused: {doc.get('description', '')}"
    return None


def _describe(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(doc, dict):
        for key in ("description", "reason", "message", "error", "detail"):
            if isinstance(doc.get(key), str):
                return str(doc[key])
    return ""


async def send(
    session: aiohttp.ClientSession,
    channel: DeliveredChannel,
    text: str,
    payload: Mapping[str, Any],
) -> None:
    """Send one message; raise DeliveryError on any failure.

    The caller bounds it with ``asyncio.timeout`` (a TimeoutError then means ``timeout``).
    """
    url, kwargs = _request(channel, text, payload)
    secrets = _secret_values(channel)
    try:
        async with session.post(url, allow_redirects=False, **kwargs) as resp:
            body = await resp.content.read(64 * 1024)
            status = resp.status
    except aiohttp.ClientConnectorError:
        raise DeliveryError("connect_failed", retry=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"http_error ({type(exc).__name__})", retry=True) from None
    except OSError as exc:
        raise DeliveryError(f"os_error ({type(exc).__name__})", retry=True) from None
    if 200 <= status < 300:
        refusal = _gateway_refusal(channel, body)
        if refusal:
            raise DeliveryError(redact(refusal, secrets), retry=True)
        return
    detail = _describe(body)
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    retry = status >= 500 or status in _RETRY_STATUSES
    raise DeliveryError(redact(reason, secrets), retry=retry)
