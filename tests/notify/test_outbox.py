"""The durable outbox: nothing accepted is lost (restart, kill -9), order per lane, expiry,
stale news collapsed into one message with its span, one notifier per outbox file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from monitor.notify.channels import Channel, parse_channel
from monitor.notify.messages import AlertGroup
from monitor.notify.notifier import Notifier, NotifierSettings
from monitor.notify.outbox import Outbox, OutboxError
from monitor.notify.routing import Routing
from tests.notify.gateways import FakeGateway, alert, closed_port_url, group

ROOT = Path(__file__).resolve().parents[2]
FAST = NotifierSettings(backoff_base=0.001, backoff_max=0.01, request_timeout=5)
# the head of a lane waits a minute after a failure, unless retry_now() or a collapse wakes it
PATIENT = NotifierSettings(backoff_base=60, backoff_max=60, request_timeout=5)


def hook(base: str) -> Channel:
    return parse_channel({"kind": "webhook", "url": f"{base}/hook/sink"})


def make(base: str, outbox: Outbox | None = None, settings: NotifierSettings = FAST) -> Notifier:
    routing = Routing(channels={("paser", "bpjs"): [hook(base)]})
    return Notifier(routing, settings, outbox=outbox)


def at(minute: int, status: str = "firing", **kw: Any) -> dict[str, Any]:
    """An alert that started at 01:MM UTC (09:MM WITA); resolved ones end at 01:59."""
    ends = "2025-11-29T01:59:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"
    return alert(status, starts=f"2025-11-29T01:{minute:02d}:00Z", ends=ends, **kw)


def payload(*alerts: dict[str, Any]) -> AlertGroup:
    return AlertGroup.model_validate(group(*alerts))


def texts(received: Sequence[Any]) -> list[str]:
    return [r.json["text"] for r in received]


async def test_messages_wait_on_disk_across_a_restart_and_keep_their_order(
    gw: FakeGateway, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite"
    first = make(closed_port_url(), Outbox(path))  # the uplink is down
    await first.start()
    for minute in (10, 11, 12):
        assert first.submit(payload(at(minute)), team="bpjs").outcome == "queued"
    await first.quiet()
    await first.stop(drain_timeout=0)
    first.outbox.close()
    assert first.stats[("bpjs", "webhook", "dropped")] == 0  # kept, not dropped
    between = Outbox(path)
    assert between.count() == 3
    between.close()

    second = make(gw.url, Outbox(path))
    await second.start()
    got = [await gw.next() for _ in range(3)]
    await second.join()
    assert [r.json["alerts"][0]["startsAt"][11:16] for r in got] == ["01:10", "01:11", "01:12"]
    assert second.stats[("bpjs", "webhook", "sent")] == 3
    assert second.outbox.count() == 0
    await second.stop()


def test_a_message_accepted_before_kill_9_is_still_there(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    script = textwrap.dedent(
        f"""
        import sys, time
        from monitor.notify.channels import parse_channel
        from monitor.notify.messages import AlertGroup
        from monitor.notify.notifier import Notifier
        from monitor.notify.outbox import Outbox
        from monitor.notify.routing import Routing
        from tests.notify.gateways import alert, group
        hook = parse_channel({{"kind": "webhook", "url": "http://127.0.0.1:9/hook/x"}})
        n = Notifier(Routing(channels={{("paser", "bpjs"): [hook]}}), outbox=Outbox({str(path)!r}))
        result = n.submit(AlertGroup.model_validate(group(alert())), team="bpjs")
        print(result.outcome, flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "queued"  # the webhook would answer 202
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    outbox = Outbox(path)  # the dead process's lock is gone with it
    try:
        [stored] = outbox.pending()
        assert (stored.team, stored.channel) == ("bpjs", "webhook")
        assert "Perangkat printer di gerai 07 mati" in stored.text
        assert stored.payload["alerts"][0]["fingerprint"] == "0123456789abcdef"
    finally:
        outbox.close()


def test_one_notifier_per_outbox_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    owner = Outbox(path)
    try:
        with pytest.raises(OutboxError, match=rf"in use by another notifier \(pid {os.getpid()}\)"):
            Outbox(path)
    finally:
        owner.close()
    Outbox(path).close()  # free again


def test_an_unwritable_outbox_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutboxError, match="cannot create the lock"):
        Outbox(blocker / "outbox.sqlite")


async def test_retries_while_the_message_lives_then_counts_it_expired() -> None:
    n = make(closed_port_url(), settings=FAST.model_copy(update={"message_ttl": 0.2}))
    await n.start()
    n.submit(payload(at(10)), team="bpjs")
    await asyncio.wait_for(n.join(), 10)
    assert n.stats[("bpjs", "webhook", "expired")] == 1
    assert n.stats[("bpjs", "webhook", "failed")] == 0
    assert n.last_error[("bpjs", "webhook")] == "expired undelivered"
    assert n.outbox.count() == 0
    await n.stop()


async def test_order_per_lane_holds_while_the_head_is_retried(gw: FakeGateway) -> None:
    gw.answer("webhook", 503, 503)
    n = make(gw.url)
    await n.start()
    n.submit(payload(at(10)), team="bpjs")
    n.submit(payload(at(11)), team="bpjs")
    await asyncio.wait_for(n.join(), 10)
    order = [(r.status, r.json["alerts"][0]["startsAt"][14:16]) for r in gw.attempts]
    assert order == [(503, "10"), (503, "10"), (200, "10"), (200, "11")]
    await n.stop()


async def test_a_resolution_while_waiting_becomes_one_message_with_the_span(
    gw: FakeGateway,
) -> None:
    gw.answer("webhook", 503)  # the uplink drops as the alert fires
    n = make(gw.url, settings=PATIENT)
    await n.start()
    n.submit(payload(at(3)), team="bpjs")
    await gw.requests.get()
    await n.quiet()  # the 503 is recorded: the firing message waits a minute to retry
    n.submit(payload(at(3, "resolved")), team="bpjs")
    got = await gw.next()
    await asyncio.wait_for(n.join(), 5)
    assert len(gw.attempts) == 2  # the 503, then the one message: no late "down"
    assert got.json["status"] == "resolved"
    text = got.json["text"]
    assert text.startswith("✅ PULIH: Perangkat printer di gerai 07 mati")
    assert "09:03–09:59 WITA (56 menit)" in text
    assert n.stats[("bpjs", "webhook", "collapsed")] == 1
    assert n.stats[("bpjs", "webhook", "sent")] == 1
    await n.stop()


async def test_a_resolution_removes_only_its_own_alert_from_a_waiting_message(
    gw: FakeGateway,
) -> None:
    gw.answer("webhook", 503)
    n = make(gw.url, settings=PATIENT)
    await n.start()
    n.submit(payload(at(1)), team="bpjs")  # the head, held by the 503
    await gw.requests.get()
    await n.quiet()
    n.submit(payload(at(2, counter="05"), at(3, counter="06")), team="bpjs")
    n.submit(payload(at(2, "resolved", counter="05")), team="bpjs")
    n.retry_now()
    got = [await gw.next() for _ in range(3)]
    await asyncio.wait_for(n.join(), 5)
    second = got[1].json
    assert [a["labels"]["counter"] for a in second["alerts"]] == ["06"]
    assert "Gerai 05" not in second["text"] and "Gerai 06" in second["text"]
    assert got[2].json["status"] == "resolved"
    assert n.stats[("bpjs", "webhook", "collapsed")] == 0  # rewritten, not withdrawn
    await n.stop()


async def test_a_repeat_of_alerts_already_waiting_is_not_queued_twice() -> None:
    n = make(closed_port_url())  # not started: everything waits
    assert n.submit(payload(at(10)), team="bpjs").outcome == "queued"
    assert n.submit(payload(at(10)), team="bpjs").outcome == "nothing"
    assert n.submit(payload(at(10), at(11)), team="bpjs").outcome == "queued"  # one is new
    assert n.queue_length == 2


async def test_outbox_depth_and_oldest_age_per_channel() -> None:
    n = make(closed_port_url())
    assert n.outbox_stats == {("bpjs", "webhook"): (0, 0.0)}
    n.submit(payload(at(10)), team="bpjs")
    n.submit(payload(at(11)), team="bpjs")
    depth, age = n.outbox_stats[("bpjs", "webhook")]
    assert depth == 2
    assert 0 <= age < 60
