"""A real SMTP server (aiosmtpd) on loopback that records what it accepts."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.web.helpers import free_port


@dataclass
class Mailbox:
    """What the SMTP server accepted, and which recipients it refuses (code, text)."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    arrived: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        if self.loop is not None and self.arrived is not None:
            self.loop.call_soon_threadsafe(self.arrived.set)
        return "250 Message accepted"


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A running server on a free loopback port: its mailbox and port."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()
