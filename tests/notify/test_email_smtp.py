"""E-mail through the notifier over SMTP, against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.notify.channels import Channel, DeliveryError, parse_channel
from monitor.notify.channels.email import subject
from monitor.notify.delivery import deliver
from monitor.notify.messages import AlertGroup
from monitor.notify.notifier import Notifier, NotifierSettings
from monitor.notify.routing import Routing
from tests.notify.gateways import alert, group
from tests.support.smtp import Mailbox
from tests.support.smtp import smtp_server as running_smtp_server
from tests.web.helpers import free_port

FAST = NotifierSettings(backoff_base=0.001, backoff_max=0.01, request_timeout=5, max_attempts=3)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    with running_smtp_server() as server:
        yield server


def mail_channel(port: int, **kw: Any) -> Channel:
    return parse_channel(
        {"kind": "email", "to": ["it@dukcapil.example.id"], "smarthost": f"127.0.0.1:{port}",
         "sender": "mpp@paserkab.example.id"} | kw
    )  # fmt: skip


def payload(*alerts: dict[str, Any]) -> AlertGroup:
    return AlertGroup.model_validate(group(*alerts, team="bpjs"))


async def test_the_notifier_mails_the_same_indonesian_message(
    smtp_server: tuple[Mailbox, int],
) -> None:
    box, port = smtp_server
    box.loop, box.arrived = asyncio.get_running_loop(), asyncio.Event()
    routing = Routing(
        channels={("paser", "bpjs"): [mail_channel(port)]},
        names={("agency", "bpjs-kesehatan"): "BPJS Kesehatan", ("team", "bpjs"): "IT BPJS"},
    )
    n = Notifier(routing, FAST)
    await n.start()
    try:
        critical = alert(severity="critical", alertname="MppApplicationDown")
        critical["annotations"] = {
            "summary": "Aplikasi VClaim (BPJS Kesehatan) tidak dapat diakses"
        }
        assert n.submit(payload(critical), team="bpjs", site="paser").outcome == "queued"
        await asyncio.wait_for(box.arrived.wait(), 30)
        text = n._formatter.render(payload(critical).alerts, "id")
    finally:
        await n.stop()
    assert n.stats[("bpjs", "email", "sent")] == 1
    envelope, mail = box.messages[0]
    assert envelope.mail_from == "mpp@paserkab.example.id"
    assert envelope.rcpt_tos == ["it@dukcapil.example.id"]
    assert mail["Subject"] == (
        "[mpp-monitor] 🔴 KRITIS: Aplikasi VClaim (BPJS Kesehatan) tidak dapat diakses"
    )
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_content().replace("\r\n", "\n")
    assert body.strip() == text.strip()  # the very text WhatsApp gets
    assert "Penanggung jawab: tim IT BPJS" in body


async def test_the_channels_severity_filter_holds_for_email(
    smtp_server: tuple[Mailbox, int],
) -> None:
    box, port = smtp_server
    routing = Routing(channels={("paser", "bpjs"): [mail_channel(port, severity=["critical"])]})
    n = Notifier(routing, FAST)
    await n.start()
    try:
        outcome = n.submit(payload(alert(severity="warning")), team="bpjs", site="paser")
    finally:
        await n.stop()
    assert outcome.outcome == "nothing"
    assert box.messages == []


async def test_english_channel_gets_english(smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    channel = mail_channel(port, language="en")
    await deliver(None, channel, "🔴 CRITICAL: Application X is down\nWhere: MPP", {})  # type: ignore[arg-type]
    assert box.messages[0][1]["Subject"] == "[mpp-monitor] 🔴 CRITICAL: Application X is down"


async def test_a_refused_recipient_is_not_retried_and_not_mailed_twice(
    smtp_server: tuple[Mailbox, int],
) -> None:
    box, port = smtp_server
    box.refuse["gone@dukcapil.example.id"] = "550 5.1.1 no such user"
    channel = mail_channel(port, to=["it@dukcapil.example.id", "gone@dukcapil.example.id"])
    state: dict[str, Any] = {}
    with pytest.raises(DeliveryError) as caught:
        await deliver(None, channel, "🔴 KRITIS: uji", state)  # type: ignore[arg-type]
    assert caught.value.retry is False and "550" in str(caught.value)
    assert state["delivered_to"] == ["it@dukcapil.example.id"]
    # A second attempt (by an officer's retry) sends nothing new to the one already mailed.
    with pytest.raises(DeliveryError):
        await deliver(None, channel, "🔴 KRITIS: uji", state)  # type: ignore[arg-type]
    assert [e.rcpt_tos for e, _ in box.messages] == [["it@dukcapil.example.id"]]


async def test_a_busy_server_is_retried(smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    box.refuse["it@dukcapil.example.id"] = "451 4.3.0 try again later"
    with pytest.raises(DeliveryError) as caught:
        await deliver(None, mail_channel(port), "x", {})  # type: ignore[arg-type]
    assert caught.value.retry is True


async def test_no_server_is_retried_and_names_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASS", "s3cret-smtp")
    channel = mail_channel(
        free_port(), username="mpp", password={"env": "SMTP_PASS"}, smarthost="127.0.0.1:1"
    )
    with pytest.raises(DeliveryError) as caught:
        await deliver(None, channel, "x", {})  # type: ignore[arg-type]
    assert caught.value.retry is True and str(caught.value) == "connect_failed"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"smarthost": "mail.example.id"}, "want host:port"),
        ({"smarthost": "mail.example.id:99999"}, "want host:port"),
        ({"username": "mpp"}, "give both 'username' and 'password'"),
        (
            {"username": "mpp", "password": {"env": "X"}, "smarthost": "mail.example.id:587"},
            "needs 'starttls: true'",
        ),
        ({"password": "inline-secret", "username": "mpp"}, "inline"),
    ],
)
def test_bad_email_channels_are_refused_at_load(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_channel({"kind": "email", "to": "it@dukcapil.example.id"} | fields)
    assert message in str(caught.value)


def test_subject_is_one_line_and_bounded() -> None:
    assert subject("  🔴 KRITIS: a\nb") == "[mpp-monitor] 🔴 KRITIS: a"
    long = subject("x" * 500)
    assert len(long) == 150 and long.endswith("…")
    assert subject("") == "[mpp-monitor] "
