"""SMS through a GSM modem on the monitoring server: Debian's ``gammu-smsd``.

The notifier hands each message to ``gammu-smsd-inject -c SMSDRC TEXT +62812... -text ...``,
which puts it into gammu-smsd's outbox (files or SQL backend); the running ``gammu-smsd``
sends it through the modem, with no internet at all. A message counts as delivered once it is
in that outbox: gammu-smsd keeps and retries it from there (``error/`` holds what the network
refused). Numbers are E.164, normalised at load (``0812...`` -> ``+62812...``). The text is
the short form: one 160-character GSM-7 segment. See docs/sms.md.

``when`` (``offline`` by default) and ``after`` make SMS the escalation channel: it is used
while the site has no internet, or when a critical message is still undelivered on the team's
other channels after ``after``; ``when: always`` sends every message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field

from monitor.fields import Phone, PositiveSeconds
from monitor.notify.channels.base import BaseChannel, DeliveryError, Severity, When

DEFAULT_SMSDRC = "/etc/gammu-smsdrc"


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


class SmsChannel(BaseChannel):
    """SMS through gammu-smsd (``gammu-smsd-inject``)."""

    short: ClassVar[bool] = True  # the text is the one-segment form
    kind: Literal["sms"]
    to: Annotated[list[Phone], BeforeValidator(_one_or_many), Field(min_length=1, max_length=20)]
    severity: list[Severity] = ["critical"]
    when: When = "offline"
    after: PositiveSeconds | None = 600.0  # a critical message undelivered for 10 min
    smsd_config: Path = Path(DEFAULT_SMSDRC)
    inject_command: str = Field(default="gammu-smsd-inject", min_length=1)

    async def inject(self, text: str, payload: MutableMapping[str, Any]) -> None:
        """Queue ``text`` to every number not yet done; record each one done in the payload
        (``delivered_to``), so a retry after a partial failure sends no second copy."""
        done: list[str] = payload.setdefault("delivered_to", [])
        for number in self.to:
            if number in done:
                continue
            await self._inject_one(number, text)
            done.append(number)

    async def _inject_one(self, number: str, text: str) -> None:
        argv = [self.inject_command, "-c", str(self.smsd_config), "TEXT", number, "-text", text]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise DeliveryError(
                f"{self.inject_command} not found (apt install gammu-smsd)", retry=False
            ) from None
        except OSError as exc:
            raise DeliveryError(
                f"cannot run {self.inject_command} ({type(exc).__name__})", retry=True
            ) from None
        try:
            _, err = await proc.communicate()
        finally:
            if proc.returncode is None:  # cancelled (the attempt's deadline): leave no child
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            detail = lines[-1].strip() if lines else "no message"
            raise DeliveryError(
                f"{Path(self.inject_command).name} exit {proc.returncode}: {detail}", retry=True
            )
