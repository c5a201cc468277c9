"""E-mail, delivered by the notifier over SMTP: the same Indonesian message as every channel.

Earlier versions rendered e-mail into Alertmanager's ``email_configs``: those teams got
Alertmanager's stock English template and every severity. Now the notifier sends it like any
other channel: the text is the one ``Formatter.render`` writes for WhatsApp and Telegram (in
the channel's ``language``), the subject its first line, the channel's ``severity`` filter
applies, and the message waits in the durable outbox and is retried while the mail server
cannot be reached.

Fields: ``to`` (one address or a list), ``smarthost`` (``host:port``, default
``localhost:25``: Debian's exim4/postfix, which queues mail itself while the internet is down),
``sender`` (the From address), ``starttls`` (upgrade with STARTTLS, verifying the server's
certificate), ``username`` and ``password`` (a secret ``{env: NAME}`` / ``{file: PATH}``) for
SMTP AUTH (only over STARTTLS, or to localhost).

Failures: a refused connection, a timeout or a 4xx answer is retried; a 5xx answer (unknown
recipient, relaying denied) and a failed login are not (they need an officer, not time).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from monitor.fields import Email, Secret
from monitor.notify.channels.base import BaseChannel, DeliveryError

SUBJECT_PREFIX = "[mpp-monitor] "
MAX_SUBJECT = 150
TIMEOUT = 10.0  # seconds for the whole SMTP exchange (the notifier also bounds the attempt)

# smtplib blocks: its own small pool, so a hanging mail server never holds the threads that
# aiohttp's resolver and everything else share.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mpp-smtp")


def _one_or_many(value: Any) -> Any:
    # one address may be written without a list
    return [value] if isinstance(value, str) else value


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"smarthost {value!r}: want host:port, e.g. mail.paserkab.go.id:587")
    return value


SmartHost = Annotated[str, BeforeValidator(lambda v: _host_port(str(v)))]


def subject(text: str) -> str:
    """The subject: the message's first line, one line, at most 150 characters."""
    first = " ".join((text.strip().splitlines() or [""])[0].split())
    line = SUBJECT_PREFIX + first
    return line if len(line) <= MAX_SUBJECT else line[: MAX_SUBJECT - 1] + "…"


class EmailChannel(BaseChannel):
    """E-mail over SMTP, sent by the notifier."""

    kind: Literal["email"]
    to: Annotated[list[Email], BeforeValidator(_one_or_many), Field(min_length=1, max_length=50)]
    smarthost: SmartHost = "localhost:25"
    sender: Email = "mpp-monitor@localhost"
    starttls: bool = False
    username: str | None = Field(default=None, min_length=1, max_length=200)
    password: Secret | None = None

    @model_validator(mode="after")
    def _login_needs_both(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both 'username' and 'password' for SMTP AUTH, or neither")
        host = self.smarthost.rpartition(":")[0]
        if self.username and not self.starttls and host not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError("SMTP AUTH to a remote server needs 'starttls: true'")
        return self

    def message(self, text: str, recipients: list[str]) -> EmailMessage:
        """The e-mail for one notification text."""
        mail = EmailMessage()
        mail["Subject"] = subject(text)
        mail["From"] = self.sender
        mail["To"] = ", ".join(recipients)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self.sender.rpartition("@")[2] or "localhost"
        mail["Message-ID"] = f"<{uuid.uuid4().hex}@{domain}>"
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to alerts
        mail.set_content(text, charset="utf-8")
        return mail

    async def send_mail(self, text: str, payload: MutableMapping[str, Any]) -> None:
        """Send to every address not yet done; record each one done in the payload
        (``delivered_to``), so a retry after a partial refusal sends no second copy."""
        done: list[str] = payload.setdefault("delivered_to", [])
        todo = [a for a in self.to if a not in done]
        if not todo:
            return
        password = None
        if self.password is not None:
            try:
                password = self.password.get()
            except LookupError as exc:
                raise DeliveryError(f"smtp password: {exc}", retry=False) from None
        mail = self.message(text, todo)
        loop = asyncio.get_running_loop()
        refused = await loop.run_in_executor(_POOL, self._exchange, mail, todo, password)
        done.extend(a for a in todo if a not in refused)
        if refused:
            codes = sorted({code for code, _ in refused.values()})
            retry = all(400 <= c < 500 for c in codes)
            raise DeliveryError(
                f"smtp refused {len(refused)} recipient(s) ({', '.join(map(str, codes))})",
                retry=retry,
            )

    def _exchange(
        self, mail: EmailMessage, recipients: list[str], password: str | None
    ) -> dict[str, tuple[int, bytes]]:
        host, _, port = self.smarthost.rpartition(":")
        host = host.strip("[]")
        try:
            with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and password is not None:
                    smtp.login(self.username, password)
                refused: dict[str, tuple[int, bytes]] = smtp.send_message(
                    mail, from_addr=self.sender, to_addrs=recipients
                )
                return refused
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
            return {str(k): v for k, v in exc.recipients.items()}
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"smtp login refused ({exc.smtp_code})", retry=False) from None
        except smtplib.SMTPResponseException as exc:
            retry = 400 <= exc.smtp_code < 500
            raise DeliveryError(f"smtp {exc.smtp_code}", retry=retry) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError("smtp server does not offer STARTTLS/AUTH", retry=False) from None
        except (smtplib.SMTPException, ssl.SSLError) as exc:
            raise DeliveryError(f"smtp_error ({type(exc).__name__})", retry=True) from None
        except ConnectionRefusedError:
            raise DeliveryError("connect_failed", retry=True) from None
        except TimeoutError:
            raise DeliveryError("timeout", retry=True) from None
        except OSError as exc:
            raise DeliveryError(f"os_error ({type(exc).__name__})", retry=True) from None
