"""Delivery through fake WAHA, Fonnte, Telegram and webhook gateways on loopback."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from monitor.notify.channels import Channel, parse_channel
from monitor.notify.messages import AlertGroup
from monitor.notify.notifier import Notifier, NotifierSettings
from monitor.notify.routing import Routing
from tests.notify.gateways import FakeGateway, alert, closed_port_url, group

WAHA_KEY = "waha-key-5f1c0e"
FONNTE_TOKEN = "fonnte-tok-9a7b3d"
TG_TOKEN = "7000000001:AAE-secret-telegram-token"
HOOK_TOKEN = "hook-bearer-2c4e6a"
SECRETS = (WAHA_KEY, FONNTE_TOKEN, TG_TOKEN, HOOK_TOKEN)
FAST = NotifierSettings(backoff_base=0.001, backoff_max=0.01, request_timeout=5, max_attempts=4)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAHA_KEY", WAHA_KEY)
    monkeypatch.setenv("FONNTE_TOKEN", FONNTE_TOKEN)
    monkeypatch.setenv("TG_TOKEN", TG_TOKEN)
    monkeypatch.setenv("HOOK_TOKEN", HOOK_TOKEN)


def waha(base: str, **kw: Any) -> Channel:
    return parse_channel(
        {
            "kind": "waha",
            "base_url": base,
            "chat_id": "0811-1111-2222",
            "session": "mpp",
            "edition": "plus",
        }
        | {"api_key": {"env": "WAHA_KEY"}}
        | kw
    )


def fonnte(base: str, **kw: Any) -> Channel:
    return parse_channel(
        {
            "kind": "fonnte",
            "base_url": base,
            "target": "+62 822-2222-3333",
            "token": {"env": "FONNTE_TOKEN"},
        }
        | kw
    )


def telegram(base: str, **kw: Any) -> Channel:
    return parse_channel(
        {"kind": "telegram", "base_url": base, "chat_id": "-100123", "token": {"env": "TG_TOKEN"}}
        | kw
    )


def webhook(base: str, **kw: Any) -> Channel:
    return parse_channel(
        {"kind": "webhook", "url": f"{base}/hook/sink", "token": {"env": "HOOK_TOKEN"}} | kw
    )


def notifier(teams: dict[str, Sequence[Channel]], settings: NotifierSettings = FAST) -> Notifier:
    routing = Routing(
        channels={("paser", team): chans for team, chans in teams.items()},
        names={("agency", "bpjs-kesehatan"): "BPJS Kesehatan", ("team", "bpjs"): "IT BPJS"},
    )
    return Notifier(routing, settings)


def payload(*alerts: dict[str, Any], team: str = "bpjs") -> AlertGroup:
    return AlertGroup.model_validate(group(*alerts, team=team))


async def test_waha_request_format_and_message(gw: FakeGateway) -> None:
    n = notifier({"bpjs": [waha(gw.url)]})
    await n.start()
    try:
        assert n.submit(payload(), team="bpjs", site="paser").outcome == "queued"
        got = await gw.next()
    finally:
        await n.stop()
    assert got.kind == "waha"
    assert got.path == "/api/sendText"
    assert got.headers["X-Api-Key"] == WAHA_KEY
    assert got.json["chatId"] == "6281111112222@c.us"
    assert got.json["session"] == "mpp"
    text = got.json["text"]
    assert text.startswith("🟠 PERINGATAN: Perangkat printer di gerai 07 mati\n")
    assert "Lokasi: paser · Gerai 07 · BPJS Kesehatan" in text
    assert "Sejak: Sab 29 Nov 2025 09:15 WITA" in text
    assert "Penanggung jawab: tim IT BPJS" in text
    # the rules' link is relative to the monitor's server and this inventory gives no base
    assert "Panduan" not in text and "/runbook" not in text
    assert n.stats[("bpjs", "whatsapp", "sent")] == 1
    assert n.stats[("bpjs", "whatsapp", "failed")] == 0


async def test_fonnte_request_format(gw: FakeGateway) -> None:
    n = notifier({"bpjs": [fonnte(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs", site="paser")
        got = await gw.next()
    finally:
        await n.stop()
    assert (got.kind, got.path) == ("fonnte", "/send")
    assert got.headers["Authorization"] == FONNTE_TOKEN
    assert got.form["target"] == "6282222223333"
    assert "Perangkat printer di gerai 07 mati" in got.form["message"]
    assert n.stats[("bpjs", "whatsapp", "sent")] == 1


async def test_telegram_request_format(gw: FakeGateway) -> None:
    n = notifier({"bpjs": [telegram(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs", site="paser")
        got = await gw.next()
    finally:
        await n.stop()
    assert got.path == f"/bot{TG_TOKEN}/sendMessage"
    assert got.json["chat_id"] == "-100123"
    assert "parse_mode" not in got.json
    assert "Gerai 07" in got.json["text"]


async def test_webhook_request_format(gw: FakeGateway) -> None:
    n = notifier({"bpjs": [webhook(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs", site="paser")
        got = await gw.next()
    finally:
        await n.stop()
    assert got.path == "/hook/sink"
    assert got.headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
    body = got.json
    assert (body["site"], body["team"], body["channel"], body["status"]) == (
        "paser",
        "bpjs",
        "webhook",
        "firing",
    )
    assert body["language"] == "id"
    assert body["text"].startswith("🟠 PERINGATAN:")
    assert body["alerts"][0]["labels"]["counter"] == "07"
    assert body["alerts"][0]["startsAt"].startswith("2025-11-29T01:15:00")


async def test_resolved_and_english(gw: FakeGateway) -> None:
    n = notifier({"bpjs": [waha(gw.url), telegram(gw.url, language="en")]})
    await n.start()
    try:
        done = alert("resolved", ends="2025-11-29T01:42:00Z")
        assert n.submit(payload(done), team="bpjs", site="paser").messages == 2
        got = {r.kind: r for r in [await gw.next(), await gw.next()]}
    finally:
        await n.stop()
    assert got["waha"].json["text"].startswith("✅ PULIH: Perangkat printer di gerai 07 mati")
    assert "Gangguan: Sab 29 Nov 2025 09:15–09:42 WITA (27 menit)" in got["waha"].json["text"]
    en = got["telegram"].json["text"]
    assert en.startswith("✅ RESOLVED: Device printer at counter 07 is down")
    assert "Outage: Sat 29 Nov 2025 09:15–09:42 WITA (27 min)" in en


async def test_only_the_addressed_teams_channels_receive(gw: FakeGateway) -> None:
    n = notifier(
        {
            "bpjs": [waha(gw.url)],
            "kominfo": [telegram(gw.url), webhook(gw.url, name="sink")],
        }
    )
    await n.start()
    try:
        n.submit(payload(), team="bpjs", site="paser")
        await n.join()
        assert [r.kind for r in gw.attempts] == ["waha"]
        link = alert(alertname="MppLinkDown", team="kominfo", link="isp-telkom", kind="link")
        result = n.submit(payload(link, team="kominfo"), team="kominfo", channel="sink")
        assert result.outcome == "queued"
        await n.join()
        assert [r.kind for r in gw.attempts] == ["waha", "webhook"]
        assert n.submit(payload(link, team="kominfo"), team="kominfo").messages == 2
        await n.join()
        assert sorted(r.kind for r in gw.attempts[2:]) == ["telegram", "webhook"]
    finally:
        await n.stop()
    assert n.stats[("bpjs", "whatsapp", "sent")] == 1
    assert n.stats[("kominfo", "sink", "sent")] == 2
    assert n.stats[("kominfo", "telegram", "sent")] == 1
    assert n.submit(payload(), team="dukcapil", site="paser").outcome == "unknown_team"
    assert n.submit(payload(), team="bpjs", channel="sms").outcome == "unknown_channel"


async def test_severity_filter_per_channel(gw: FakeGateway) -> None:
    n = notifier({"bpjs": [waha(gw.url, severity=["critical"]), webhook(gw.url)]})
    await n.start()
    try:
        result = n.submit(payload(alert(severity="warning")), team="bpjs")
        assert (result.outcome, result.messages) == ("queued", 1)
        await n.join()
    finally:
        await n.stop()
    assert [r.kind for r in gw.attempts] == ["webhook"]


async def test_500_then_200_is_retried_and_delivered(
    gw: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.notify")
    gw.answer("waha", 500, 503)
    n = notifier({"bpjs": [waha(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        got = await gw.next()
        await n.join()
    finally:
        await n.stop()
    assert [r.status for r in gw.attempts] == [500, 503, 200]
    assert "Perangkat printer" in got.json["text"]
    assert n.stats[("bpjs", "whatsapp", "sent")] == 1
    assert n.stats[("bpjs", "whatsapp", "failed")] == 0
    assert "attempt 1/4 failed: HTTP 500" in caplog.text
    assert "attempt 2/4 failed: HTTP 503" in caplog.text


async def test_gateway_down_bounded_retries_then_failed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="monitor.notify")
    n = notifier({"bpjs": [waha(closed_port_url())]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await n.join()
    finally:
        await n.stop()
    assert n.stats[("bpjs", "whatsapp", "failed")] == 1
    assert n.stats[("bpjs", "whatsapp", "sent")] == 0
    assert caplog.text.count("failed: connect_failed") == FAST.max_attempts
    assert "attempt 4/4" in caplog.text and "attempt 5/" not in caplog.text
    assert n.last_error[("bpjs", "whatsapp")] == "connect_failed"


async def test_gateway_always_500_stops_at_max_attempts(gw: FakeGateway) -> None:
    gw.answer("fonnte", *([500] * 10))
    n = notifier({"bpjs": [fonnte(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await n.join()
    finally:
        await n.stop()
    assert len(gw.attempts) == FAST.max_attempts
    assert n.stats[("bpjs", "whatsapp", "failed")] == 1


async def test_client_errors_are_not_retried_and_fonnte_refusals_are(gw: FakeGateway) -> None:
    gw.answer("waha", (401, {"error": "bad key"}))
    gw.answer("fonnte", (200, {"status": False, "reason": "device disconnected"}))
    n = notifier({"bpjs": [waha(gw.url), fonnte(gw.url, name="fonnte")]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await n.join()
    finally:
        await n.stop()
    assert [r.status for r in gw.attempts if r.kind == "waha"] == [401]
    assert n.stats[("bpjs", "whatsapp", "failed")] == 1
    assert n.last_error[("bpjs", "whatsapp")] == "HTTP 401: bad key"
    # the refusal (HTTP 200, status false) was retried and the next try delivered
    assert [r.kind for r in gw.attempts].count("fonnte") == 2
    assert n.stats[("bpjs", "fonnte", "sent")] == 1


async def test_queue_full_counts_dropped_all_or_nothing(gw: FakeGateway) -> None:
    settings = FAST.model_copy(update={"queue_size": 2})
    n = notifier({"bpjs": [waha(gw.url)], "kominfo": [telegram(gw.url), webhook(gw.url)]}, settings)
    # not started: nothing drains the queue
    assert n.submit(payload(), team="bpjs").outcome == "queued"
    assert n.queue_length == 1
    link = payload(alert(team="kominfo"), team="kominfo")
    result = n.submit(link, team="kominfo")
    assert (result.outcome, result.messages) == ("dropped", 2)
    assert n.queue_length == 1  # none of kominfo's two messages went in
    assert n.stats[("kominfo", "telegram", "dropped")] == 1
    assert n.stats[("kominfo", "webhook", "dropped")] == 1
    await n.start()
    try:
        await gw.next()
        await n.join()
    finally:
        await n.stop()
    assert n.queue_length == 0
    assert n.stats[("bpjs", "whatsapp", "sent")] == 1


async def test_stop_counts_undelivered_messages_as_dropped(gw: FakeGateway) -> None:
    n = notifier({"bpjs": [waha(gw.url), webhook(gw.url)]})
    n.submit(payload(), team="bpjs")
    await n.stop()
    assert n.stats[("bpjs", "whatsapp", "dropped")] == 1
    assert n.stats[("bpjs", "webhook", "dropped")] == 1
    assert n.queue_length == 0


def test_every_configured_channel_starts_at_zero() -> None:
    n = notifier(
        {
            "bpjs": [
                waha("http://127.0.0.1:9"),
                parse_channel({"kind": "email", "to": ["it@bpjs.example.id"]}),
            ]
        }
    )
    # e-mail is delivered by the notifier too (over SMTP), so it is counted like WhatsApp
    results = ("sent", "failed", "dropped", "expired", "collapsed", "superseded")
    assert n.stats == {
        ("bpjs", channel, result): 0 for channel in ("whatsapp", "email") for result in results
    }
    assert n.teams() == [("paser", "bpjs")]


async def test_tokens_never_in_logs_or_errors(
    gw: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    # gateways that echo the token back in their error text, and one that is down
    gw.answer("telegram", *[(401, {"ok": False, "description": f"bad token {TG_TOKEN}"})])
    gw.answer("fonnte", *[(500, {"reason": f"token {FONNTE_TOKEN} rejected"})] * 10)
    gw.answer("webhook", *[(403, {"error": f"Bearer {HOOK_TOKEN} refused"})])
    down = closed_port_url()
    n = notifier(
        {
            "bpjs": [
                telegram(gw.url),
                fonnte(gw.url),
                webhook(gw.url),
                waha(down),
                telegram(down, name="tg-down"),
            ]
        }
    )
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await n.join()
    finally:
        await n.stop()
    assert sum(v for (_, _, r), v in n.stats.items() if r == "failed") == 5
    texts = [caplog.text, repr(n.stats), repr(n.last_error), *n.last_error.values()]
    for secret in SECRETS:
        for text in texts:
            assert secret not in text
    assert "bad token ***" in n.last_error[("bpjs", "telegram")]
    assert n.last_error[("bpjs", "tg-down")] == "connect_failed"


async def test_a_missing_secret_fails_without_retry(
    gw: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TG_TOKEN")
    n = notifier({"bpjs": [telegram(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await n.join()
    finally:
        await n.stop()
    assert gw.attempts == []
    assert n.last_error[("bpjs", "telegram")] == (
        "secret unavailable: environment variable TG_TOKEN is not set"
    )


async def test_a_resolution_is_announced_once(gw: FakeGateway) -> None:
    # Prometheus re-sends a resolved alert for 15 minutes; Alertmanager then puts it into the
    # team's next notification next to a new fault: the team must not hear "pulih" twice.
    n = notifier({"bpjs": [waha(gw.url)]})
    await n.start()
    try:
        old = alert("resolved", ends="2025-11-29T01:42:00Z")
        assert n.submit(payload(old), team="bpjs", site="paser").outcome == "queued"
        first = await gw.next()
        assert n.submit(payload(old), team="bpjs", site="paser").outcome == "nothing"
        new = alert(alertname="MppApplicationDown", starts="2025-11-29T02:00:00Z")
        assert n.submit(payload(new, old), team="bpjs", site="paser").outcome == "queued"
        second = await gw.next()
    finally:
        await n.stop()
    assert first.json["text"].startswith("✅ PULIH")
    assert "PULIH" not in second.json["text"]
    assert "pulih" not in second.json["text"].lower()


async def test_waha_422_while_starting_is_retried_other_422_is_not(gw: FakeGateway) -> None:
    starting = {"error": "Session status is not as expected", "status": "STARTING"}
    gw.answer("waha", (422, starting), (422, starting))
    n = notifier({"bpjs": [waha(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await gw.next()
        await n.join()
        assert [r.status for r in gw.attempts] == [422, 422, 200]
        assert n.stats[("bpjs", "whatsapp", "sent")] == 1
        gw.attempts.clear()
        gw.answer("waha", (422, {"error": "Session 'mpp' does not exist"}))
        n.submit(payload(alert(device="pc")), team="bpjs")
        await n.join()
    finally:
        await n.stop()
    assert [r.status for r in gw.attempts] == [422]
    assert n.stats[("bpjs", "whatsapp", "failed")] == 1


async def test_a_bad_fonnte_token_is_not_retried(gw: FakeGateway) -> None:
    gw.answer("fonnte", *[(200, {"status": False, "reason": "invalid token"})] * 10)
    n = notifier({"bpjs": [fonnte(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await n.join()
    finally:
        await n.stop()
    assert len(gw.attempts) == 1
    assert n.stats[("bpjs", "whatsapp", "failed")] == 1
    assert n.last_error[("bpjs", "whatsapp")] == "fonnte refused: invalid token"


@pytest.mark.parametrize(
    ("kind", "answer"),
    [
        ("waha", (429, {"error": "slow down"}, {"Retry-After": "1"})),
        ("fonnte", (503, {"reason": "maintenance"}, {"Retry-After": "1"})),
        (
            "telegram",
            (
                429,
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
            ),
        ),
    ],
)
async def test_the_gateways_retry_after_is_honoured(
    gw: FakeGateway, kind: str, answer: tuple[Any, ...]
) -> None:
    make = {"waha": waha, "fonnte": fonnte, "telegram": telegram}[kind]
    gw.answer(kind, answer)  # type: ignore[arg-type]
    n = notifier({"bpjs": [make(gw.url)]})
    await n.start()
    try:
        n.submit(payload(), team="bpjs")
        await gw.next()
        await n.join()
    finally:
        await n.stop()
    first, second = gw.attempts
    # FAST's own backoff is 1-10 ms: the second try waited for the gateway's 1 s
    assert second.at - first.at >= 0.9
    assert sum(v for (_, _, result), v in n.stats.items() if result == "sent") == 1


def test_retry_after_header_forms() -> None:
    from monitor.notify.delivery import retry_after_header

    assert retry_after_header("120") == 120.0
    assert retry_after_header(None) is None
    assert retry_after_header("soon") is None
    assert retry_after_header("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
