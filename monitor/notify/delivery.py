"""Sending one message through one channel: the gateway formats and their failure modes.

``send`` raises ``DeliveryError`` with a short reason built here (HTTP status, ``timeout``,
``connect_failed``...) and whether a retry may help. It never puts an exception's own text in
the reason: aiohttp's messages can carry the request URL, and a Telegram URL holds the bot
token. Text a gateway returns is redacted of the channel's secrets and shortened.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import aiohttp

from monitor.notify.channels import (
    DeliveredChannel,
    DeliveryError,
    EmailChannel,
    FonnteChannel,
    SmsChannel,
    TelegramChannel,
    WahaChannel,
    WebhookChannel,
    secrets_of,
)

HttpChannel = TelegramChannel | WahaChannel | FonnteChannel | WebhookChannel
MAX_REASON = 120
_RETRY_STATUSES = frozenset({408, 425, 429})


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret value in text by ``***`` and keep it short and on one line."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _secret_values(channel: HttpChannel) -> list[str]:
    values: list[str] = []
    for ref in secrets_of(channel):
        with contextlib.suppress(LookupError):
            values.append(ref.get())
    return values


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


async def deliver(
    session: aiohttp.ClientSession,
    channel: DeliveredChannel,
    text: str,
    payload: MutableMapping[str, Any],
) -> None:
    """Send one message by the channel's way: the local SMS gateway, SMTP, or an HTTP gateway."""
    if isinstance(channel, SmsChannel):
        await channel.inject(text, payload)
    elif isinstance(channel, EmailChannel):
        await channel.send_mail(text, payload)
    else:
        await send(session, channel, text, payload)


async def send(
    session: aiohttp.ClientSession,
    channel: HttpChannel,
    text: str,
    payload: Mapping[str, Any],
) -> None:
    """Send one message; raise DeliveryError on any failure.

    The caller bounds it with ``asyncio.timeout`` (a TimeoutError then means ``timeout``).
    """
    request = channel.request(text, payload)
    kwargs: dict[str, Any] = {"data" if request.form else "json": dict(request.body)}
    kwargs["headers"] = dict(request.headers)
    secrets = _secret_values(channel)
    try:
        async with session.post(request.url, allow_redirects=False, **kwargs) as resp:
            body = await resp.content.read(64 * 1024)
            status = resp.status
            header_after = retry_after_header(resp.headers.get("Retry-After"))
    except aiohttp.ClientConnectorError:
        raise DeliveryError("connect_failed", retry=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"http_error ({type(exc).__name__})", retry=True) from None
    except OSError as exc:
        raise DeliveryError(f"os_error ({type(exc).__name__})", retry=True) from None
    verdict = channel.verdict(status, body)
    after = verdict.retry_after if verdict and verdict.retry_after is not None else header_after
    if 200 <= status < 300:
        refusal = channel.refusal(body)
        if refusal:
            retry = verdict.retry if verdict else True
            raise DeliveryError(redact(refusal, secrets), retry=retry, retry_after=after)
        return
    detail = _describe(body)
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    retry = verdict.retry if verdict else status >= 500 or status in _RETRY_STATUSES
    raise DeliveryError(redact(reason, secrets), retry=retry, retry_after=after)


def retry_after_header(value: str | None, now: float | None = None) -> float | None:
    """Seconds from an HTTP ``Retry-After`` (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
