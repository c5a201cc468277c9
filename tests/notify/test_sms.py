"""The SMS channel: E.164 numbers, the one-segment GSM-7 text, delivery through
``gammu-smsd-inject`` (a recording stand-in for the unit tests, the real gammu-smsd with gammu's
dummy phone at the end), and escalation: SMS while the site is offline, or when a critical
message is still undelivered on the team's other channels."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.fields import e164
from monitor.notify.channels import Channel, DeliveryError, SmsChannel, parse_channel
from monitor.notify.messages import SMS_SEGMENT, AlertGroup, Formatter, WebhookAlert, gsm7
from monitor.notify.notifier import Notifier, NotifierSettings
from monitor.notify.routing import Routing
from monitor.render.smsd import dummy_smsd, sent_messages
from tests.notify.gateways import FakeGateway, alert, closed_port_url, group

FAST = NotifierSettings(backoff_base=0.001, backoff_max=0.01, request_timeout=5)
PASER = Formatter(names={("site", "paser"): "MPP Kabupaten Paser"}, timezones={})


class Inject:
    """A stand-in for gammu-smsd-inject: records each call as a JSON line; a number listed
    in ``fail`` makes the call exit 2 once (then it is taken off the list)."""

    def __init__(self, folder: Path) -> None:
        self.log = folder / "calls.jsonl"
        self.fail = folder / "fail.json"
        self.fail.write_text("[]")
        self.command = folder / "fake-inject"
        self.command.write_text(
            textwrap.dedent(
                f"""\
                #!{sys.executable}
                import json, sys
                args = sys.argv[1:]
                fail = json.load(open({str(self.fail)!r}))
                number = args[3]
                if number in fail:
                    fail.remove(number)
                    json.dump(fail, open({str(self.fail)!r}, "w"))
                    print("Failed to write message to spool", file=sys.stderr)
                    sys.exit(2)
                with open({str(self.log)!r}, "a") as f:
                    f.write(json.dumps(args) + "\\n")
                """
            )
        )
        self.command.chmod(0o755)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def texts(self) -> list[str]:
        return [c[c.index("-text") + 1] for c in self.calls()]

    def channel(self, **kw: Any) -> Channel:
        data = {"kind": "sms", "to": "0812-3456-7890", "inject_command": str(self.command)}
        return parse_channel(data | kw)


@pytest.fixture
def inject(tmp_path: Path) -> Inject:
    return Inject(tmp_path)


def kominfo_alert(
    status: str, name: str, summary: str, span: tuple[str, str], fingerprint: str, **labels: Any
) -> dict[str, Any]:
    """One of Kominfo's alerts: 02:MM UTC (10:MM WITA), ``span`` = (start, end) minutes."""
    a = alert(
        status,
        alertname=name,
        team="kominfo",
        agency="",
        counter="",
        device="",
        starts=f"2025-11-29T02:{span[0]}:00Z",
        ends=f"2025-11-29T02:{span[1]}:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        **labels,
    )
    a["annotations"] = {"summary": summary}
    a["fingerprint"] = fingerprint
    return a


def site_offline(status: str = "firing") -> dict[str, Any]:
    return kominfo_alert(
        status, "MppSiteOffline", "Internet MPP Paser terputus", ("03", "41"), "5173",
        severity="critical", kind="site", entity="paser",
    )  # fmt: skip


def app_down(status: str = "firing", severity: str = "critical") -> dict[str, Any]:
    return kominfo_alert(
        status, "MppApplicationDown", "Aplikasi Antrian tidak merespons", ("10", "20"), "a99",
        severity=severity, kind="application", entity="paser/application/antrian",
    )  # fmt: skip


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Await a condition the notifier's lanes make true (they run in this loop)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def sms_sent(n: Notifier, count: int) -> Callable[[], bool]:
    return lambda: n.stats[("kominfo", "sms", "sent")] >= count


def payload(*alerts: dict[str, Any]) -> AlertGroup:
    return AlertGroup.model_validate(group(*alerts, team="kominfo"))


def kominfo(*channels: Channel, settings: NotifierSettings = FAST, **kw: Any) -> Notifier:
    routing = Routing(channels={("paser", "kominfo"): list(channels)})
    return Notifier(routing, settings, **kw)


# -- numbers and text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "e164_form"),
    [
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("62 812 3456 7890", "+6281234567890"),
        ("(0543) 21234", "+6254321234"),
        ("0062 811 555 1234", "+628115551234"),
    ],
)
def test_numbers_written_the_indonesian_way_become_e164(written: str, e164_form: str) -> None:
    assert e164(written) == e164_form
    ch = parse_channel({"kind": "sms", "to": written})
    assert isinstance(ch, SmsChannel) and ch.to == [e164_form]


@pytest.mark.parametrize("bad", ["0812-000", "+62 812 3456 7890 1234", "0812-ABC-7890", "+0812"])
def test_impossible_numbers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid phone number"):
        e164(bad)


def test_yaml_numbers_and_defaults() -> None:
    ch = parse_channel({"kind": "sms", "to": [6281234567890, "081234567891"]})
    assert isinstance(ch, SmsChannel)
    assert ch.to == ["+6281234567890", "+6281234567891"]
    assert (ch.when, ch.after, ch.severity) == ("offline", 600.0, ["critical"])
    assert str(ch.smsd_config) == "/etc/gammu-smsdrc"


def test_gsm7_folds_what_the_alphabet_lacks_and_cuts_at_one_segment() -> None:
    assert gsm7("🔴 KRITIS: Link Telkom – putus · 09:03–09:59 “WITA” …") == (
        'KRITIS: Link Telkom - putus - 09:03-09:59 "WITA" ...'
    )
    assert gsm7("Kantor Pelayanan Pajak Pratama Tanah Grogōt") == (
        "Kantor Pelayanan Pajak Pratama Tanah Grogot"
    )
    long = gsm7("x" * 400)
    assert len(long) == SMS_SEGMENT and long.endswith("...")
    # the extension table costs two septets per character
    braces = gsm7("{" * 100)
    assert len(braces) * 2 <= SMS_SEGMENT and braces.endswith("...")


def _alerts(*raw: dict[str, Any]) -> list[WebhookAlert]:
    return [WebhookAlert.model_validate(a) for a in raw]


def test_short_text_of_a_firing_and_a_resolved_outage() -> None:
    firing = PASER.render_short(_alerts(site_offline()), "id")
    # the headline names the site by its inventory name, not the rule's summary
    assert (
        firing == "KRITIS: MPP Kabupaten Paser tanpa internet: semua link putus, sejak 10:03 WITA"
    )
    resolved = PASER.render_short(_alerts(site_offline("resolved")), "id")
    assert resolved == (
        "PULIH: MPP Kabupaten Paser tanpa internet: semua link putus 10:03-10:41 WITA, 38 menit"
    )


def test_short_text_of_many_alerts_stays_in_one_segment() -> None:
    many = [app_down() | {"fingerprint": f"f{i}"} for i in range(12)]
    text = PASER.render_short(_alerts(site_offline(), *many), "id")
    assert text.startswith("13 gangguan aktif - MPP Kabupaten Paser: KRITIS: MPP Kabupaten Paser")
    assert len(text) <= SMS_SEGMENT and text.endswith("...")
    assert gsm7(text) == text


# -- delivery through gammu-smsd-inject ---------------------------------------------------


async def test_inject_sends_to_every_number_with_the_smsd_config(inject: Inject) -> None:
    ch = inject.channel(to=["0812-3456-7890", "0813 1111 2222"], smsd_config="/etc/x-smsdrc")
    assert isinstance(ch, SmsChannel)
    done: dict[str, Any] = {}
    await ch.inject("KRITIS: uji", done)
    assert inject.calls() == [
        ["-c", "/etc/x-smsdrc", "TEXT", "+6281234567890", "-text", "KRITIS: uji"],
        ["-c", "/etc/x-smsdrc", "TEXT", "+6281311112222", "-text", "KRITIS: uji"],
    ]
    assert done["delivered_to"] == ["+6281234567890", "+6281311112222"]


async def test_a_missing_inject_command_is_a_permanent_failure(tmp_path: Path) -> None:
    ch = parse_channel({"kind": "sms", "to": "08123456789", "inject_command": str(tmp_path / "x")})
    assert isinstance(ch, SmsChannel)
    with pytest.raises(DeliveryError) as exc:
        await ch.inject("t", {})
    assert not exc.value.retry and "not found" in exc.value.reason


async def test_a_partial_failure_is_retried_for_the_missing_number_only(
    inject: Inject, caplog: pytest.LogCaptureFixture
) -> None:
    inject.fail.write_text(json.dumps(["+6281311112222"]))
    ch = inject.channel(to=["0812-3456-7890", "0813 1111 2222"], when="always")
    n = kominfo(ch)
    await n.start()
    assert n.submit(payload(site_offline()), team="kominfo").outcome == "queued"
    await n.join()
    await n.stop()
    numbers = [c[3] for c in inject.calls()]
    assert numbers == ["+6281234567890", "+6281311112222"]  # the first one once
    assert n.stats[("kominfo", "sms", "sent")] == 1
    assert "fake-inject exit 2: Failed to write message to spool" in caplog.text


async def test_the_inject_child_is_killed_at_the_deadline(tmp_path: Path) -> None:
    hang = tmp_path / "hang"
    pidfile = tmp_path / "pid"
    hang.write_text(
        f"#!{sys.executable}\nimport os, time\n"
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(3600)\n"
    )
    hang.chmod(0o755)
    ch = parse_channel({"kind": "sms", "to": "08123456789", "inject_command": str(hang)})
    assert isinstance(ch, SmsChannel)
    task = asyncio.create_task(ch.inject("t", {}))
    await until(lambda: pidfile.exists() and bool(pidfile.read_text()))  # the child runs
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: no orphan left


# -- escalation ---------------------------------------------------------------------------


def hook(base: str) -> Channel:
    return parse_channel({"kind": "webhook", "url": f"{base}/hook/kominfo"})


async def test_site_offline_goes_by_sms_at_once_and_its_recovery_follows(
    gw: FakeGateway, inject: Inject
) -> None:
    n = kominfo(hook(closed_port_url()), inject.channel(after="1h"))
    await n.start()
    assert n.submit(payload(site_offline()), team="kominfo").outcome == "queued"
    await until(sms_sent(n, 1))
    assert inject.texts() == ["KRITIS: Internet MPP Paser terputus, sejak 10:03 WITA"]
    assert n.site_offline("paser")
    assert n.submit(payload(site_offline("resolved")), team="kominfo").outcome == "queued"
    assert not n.site_offline("paser")
    await until(sms_sent(n, 2))
    assert inject.texts()[1] == "PULIH: Internet MPP Paser terputus 10:03-10:41 WITA, 38 menit"
    await n.stop(drain_timeout=0)


async def test_online_a_critical_message_waits_on_standby_and_is_superseded(
    gw: FakeGateway, inject: Inject
) -> None:
    n = kominfo(hook(gw.url), inject.channel(after=0.2))
    await n.start()
    assert n.submit(payload(app_down()), team="kominfo").outcome == "queued"
    await gw.next()  # the webhook channel delivered it
    await n.join()  # the standby SMS came due and was found unneeded
    assert inject.calls() == []
    assert n.stats[("kominfo", "sms", "superseded")] == 1
    assert n.stats[("kominfo", "webhook", "sent")] == 1
    await n.stop()


async def test_online_an_undelivered_critical_message_escalates_to_sms_after_the_delay(
    inject: Inject,
) -> None:
    n = kominfo(hook(closed_port_url()), inject.channel(after=0.2))
    await n.start()
    assert n.submit(payload(app_down()), team="kominfo").outcome == "queued"
    await until(sms_sent(n, 1))
    assert inject.texts() == ["KRITIS: Aplikasi Antrian tidak merespons, sejak 10:10 WITA"]
    # its resolution follows on SMS too: the team was told "down" there
    assert n.submit(payload(app_down("resolved")), team="kominfo").outcome == "queued"
    await until(sms_sent(n, 2))
    assert inject.texts()[1].startswith("PULIH: Aplikasi Antrian tidak merespons 10:10-10:20")
    await n.stop(drain_timeout=0)


async def test_a_warning_or_a_resolution_never_told_does_not_go_by_sms(
    gw: FakeGateway, inject: Inject
) -> None:
    n = kominfo(hook(gw.url), inject.channel(after=0.01, severity=["critical", "warning"]))
    await n.start()
    n.submit(payload(app_down(severity="warning")), team="kominfo")
    await n.join()
    n.submit(payload(app_down("resolved", severity="warning")), team="kominfo")
    await n.join()
    assert inject.calls() == []
    assert [r.json["status"] for r in gw.attempts] == ["firing", "resolved"]
    await n.stop()


async def test_the_site_going_offline_makes_waiting_standby_sms_due_now(inject: Inject) -> None:
    n = kominfo(hook(closed_port_url()), inject.channel(after="1h"))
    await n.start()
    n.submit(payload(app_down()), team="kominfo")
    await n.quiet()
    assert inject.calls() == []  # on standby for an hour
    n.submit(payload(site_offline()), team="kominfo")
    await until(sms_sent(n, 2))
    assert [t.split(":")[1].strip() for t in inject.texts()] == [
        "Aplikasi Antrian tidak merespons, sejak 10",
        "Internet MPP Paser terputus, sejak 10",
    ]
    await n.stop(drain_timeout=0)


async def test_a_resolution_withdraws_a_standby_sms_that_was_never_sent(
    gw: FakeGateway, inject: Inject
) -> None:
    gw.answer("webhook", 503)  # the first delivery fails, then the webhook recovers
    n = kominfo(hook(gw.url), inject.channel(after="1h"))
    await n.start()
    n.submit(payload(app_down()), team="kominfo")
    n.submit(payload(app_down("resolved")), team="kominfo")
    await n.join()
    assert inject.calls() == []
    assert n.stats[("kominfo", "sms", "collapsed")] == 1
    assert n.queue_length == 0
    await n.stop()


async def test_the_monitors_own_state_can_say_the_site_is_offline(inject: Inject) -> None:
    offline = {"paser"}
    n = kominfo(
        hook(closed_port_url()), inject.channel(after="1h"), offline_source=offline.__contains__
    )
    await n.start()
    n.submit(payload(app_down()), team="kominfo")
    await until(sms_sent(n, 1))
    assert "Antrian" in inject.texts()[0]
    await n.stop(drain_timeout=0)


# -- the real gammu-smsd with gammu's dummy phone -----------------------------------------

GAMMU = shutil.which("gammu-smsd")


@pytest.fixture
def smsd(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    if GAMMU is None:
        pytest.fail("gammu-smsd is not installed: ./tasks setup installs gammu and gammu-smsd")
    rc, spool = dummy_smsd(tmp_path)
    proc = subprocess.Popen([GAMMU, "-c", str(rc)], stdout=subprocess.DEVNULL)
    try:
        yield rc, spool
    finally:
        proc.terminate()
        proc.wait(10)


async def test_real_gammu_smsd_sends_the_site_offline_sms(
    smsd: tuple[Path, Path], gw: FakeGateway
) -> None:
    rc, spool = smsd
    ch = parse_channel({"kind": "sms", "to": "+62 812-3456-7890", "smsd_config": str(rc)})
    n = kominfo(hook(closed_port_url()), ch)
    await n.start()
    assert n.submit(payload(site_offline()), team="kominfo").outcome == "queued"
    # gammu-smsd moves the file from outbox/ to sent/ when the "phone" has sent it
    await until(lambda: any((spool / "sent").glob("*.smsbackup")), timeout=60)
    ((number, text),) = sent_messages(spool)
    assert number == "+6281234567890"
    assert text == "KRITIS: Internet MPP Paser terputus, sejak 10:03 WITA"
    assert n.stats[("kominfo", "sms", "sent")] == 1
    await n.stop(drain_timeout=0)


async def test_site_offline_waits_on_internet_channels_for_its_resolution(
    gw: FakeGateway, inject: Inject
) -> None:
    gw.answer("webhook", 503)  # the gateway is beyond the cut uplinks: the attempt fails
    n = kominfo(hook(gw.url), inject.channel())
    await n.start()
    n.submit(payload(site_offline()), team="kominfo")
    await until(sms_sent(n, 1))  # the SMS goes at once
    await until(lambda: len(gw.attempts) == 1)
    await n.quiet()
    await asyncio.sleep(0.05)  # far beyond FAST's backoff: a retry would have happened
    assert len(gw.attempts) == 1  # held: "offline" would be old news on arrival
    n.submit(payload(site_offline("resolved")), team="kominfo")
    await n.join()
    failed, msg = gw.attempts
    assert failed.status == 503 and msg.json["status"] == "resolved"
    assert "PULIH" in msg.json["text"] and "10:03–10:41 WITA (38 menit)" in msg.json["text"]
    assert n.stats[("kominfo", "webhook", "collapsed")] == 1
    await n.stop()


async def test_a_site_offline_that_gets_through_is_not_held(gw: FakeGateway) -> None:
    n = kominfo(hook(gw.url))  # a gateway inside the building still takes it
    await n.start()
    n.submit(payload(site_offline()), team="kominfo")
    got = await gw.next()
    assert got.json["status"] == "firing"
    await n.stop()


async def test_a_held_site_offline_goes_when_the_hold_ends(gw: FakeGateway) -> None:
    gw.answer("webhook", 503)
    n = kominfo(hook(gw.url), settings=FAST.model_copy(update={"offline_hold": 0.2}))
    await n.start()
    n.submit(payload(site_offline()), team="kominfo")
    got = await gw.next()
    assert got.json["status"] == "firing" and "Internet MPP Paser terputus" in got.json["text"]
    await n.stop()


async def test_a_recovered_site_offline_message_is_held_again(
    gw: FakeGateway, tmp_path: Path
) -> None:
    from monitor.notify.outbox import Outbox

    path = tmp_path / "outbox.sqlite"
    first = kominfo(hook(closed_port_url()), outbox=Outbox(path))
    await first.start()
    first.submit(payload(site_offline()), team="kominfo")
    await first.quiet()
    await first.stop(drain_timeout=0)
    first.outbox.close()
    second = kominfo(hook(gw.url), outbox=Outbox(path))  # a restart; the gateway is back
    await second.start()
    assert second.site_offline("paser")
    await second.quiet()
    assert gw.attempts == []
    second.submit(payload(site_offline("resolved")), team="kominfo")
    await second.join()
    assert [r.json["status"] for r in gw.attempts] == ["resolved"]
    await second.stop()
    second.outbox.close()


async def test_the_local_fast_path_texts_site_offline_without_waiting_for_alertmanager(
    gw: FakeGateway, inject: Inject
) -> None:
    internet = {"paser": True}
    gw.answer("webhook", 503)  # WhatsApp is beyond the cut uplinks: the first attempt fails
    routing = Routing(
        channels={("paser", "kominfo"): [hook(gw.url), inject.channel()]},
        names={("site", "paser"): "MPP Kabupaten Paser"},
        network_teams={"paser": "kominfo"},
    )
    n = Notifier(routing, FAST, offline_source=lambda site: not internet[site])
    await n.start()
    n.check_sites()
    assert inject.calls() == []  # online: nothing to say
    internet["paser"] = False
    n.check_sites(now=1764381780.0)  # 2025-11-29 10:03 WITA
    await until(sms_sent(n, 1))
    assert inject.texts() == [
        "KRITIS: MPP Kabupaten Paser tanpa internet: semua link putus, sejak 10:03 WITA"
    ]
    # Alertmanager's MppSiteOffline minutes later: not a second SMS
    n.submit(payload(site_offline()), team="kominfo")
    internet["paser"] = True
    n.check_sites(now=1764381780.0 + 38 * 60)
    await until(sms_sent(n, 2))
    assert inject.texts()[1] == (
        "PULIH: MPP Kabupaten Paser tanpa internet: semua link putus 10:03-10:41 WITA, 38 menit"
    )
    n.submit(payload(site_offline("resolved")), team="kominfo")
    await n.join()
    assert len(inject.calls()) == 2
    # the internet channel got Alertmanager's outage once, as one PULIH with the span
    assert [r.json["status"] for r in gw.attempts if r.status == 200] == ["resolved"], [
        r.json["text"] for r in gw.attempts
    ]
    await n.stop()


async def test_a_restart_mid_outage_sends_no_second_offline_sms_and_still_the_pulih(
    inject: Inject, tmp_path: Path
) -> None:
    from monitor.notify.outbox import Outbox

    internet = {"paser": False}
    routing = Routing(
        channels={("paser", "kominfo"): [inject.channel()]},
        names={("site", "paser"): "MPP Kabupaten Paser"},
        network_teams={"paser": "kominfo"},
    )
    path = tmp_path / "outbox.sqlite"
    first = Notifier(routing, FAST, outbox=Outbox(path), offline_source=lambda s: not internet[s])
    await first.start()
    first.check_sites(now=1764381780.0)
    await until(sms_sent(first, 1))
    await first.stop()
    first.outbox.close()
    second = Notifier(routing, FAST, outbox=Outbox(path), offline_source=lambda s: not internet[s])
    await second.start()
    second.check_sites(now=1764381780.0 + 60)
    await second.join()
    assert len(inject.calls()) == 1  # still the same outage: no second "KRITIS"
    internet["paser"] = True
    second.check_sites(now=1764381780.0 + 38 * 60)
    await until(lambda: second.stats[("kominfo", "sms", "sent")] >= 1)
    assert inject.texts()[1].startswith("PULIH: MPP Kabupaten Paser tanpa internet")
    assert "10:03-10:41 WITA, 38 menit" in inject.texts()[1]
    await second.stop()
    second.outbox.close()
