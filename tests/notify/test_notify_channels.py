"""Channel models: strict validation, secrets by reference, names, loaded from the inventory."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.inventory import ConfigError, load_plan
from monitor.notify.channels import (
    EmailChannel,
    FonnteChannel,
    TelegramChannel,
    WahaChannel,
    channel_names,
    parse_channel,
)
from monitor.notify.routing import routing_from_plan
from probes.settings import SecretRef


def test_each_kind_validates() -> None:
    tg = parse_channel({"kind": "telegram", "chat_id": -100123, "token": {"env": "TG"}})
    assert isinstance(tg, TelegramChannel)
    assert tg.chat_id == "-100123"
    assert tg.base_url == "https://api.telegram.org"
    assert tg.severity == ["critical", "warning"]
    waha = parse_channel(
        {"kind": "waha", "base_url": "http://127.0.0.1:3000/", "chat_id": "+62 811-1111-2222"}
    )
    assert isinstance(waha, WahaChannel)
    assert waha.base_url == "http://127.0.0.1:3000"
    assert waha.chat == "6281111112222@c.us"
    group = parse_channel({"kind": "waha", "base_url": "http://w", "chat_id": "1203@g.us"})
    assert isinstance(group, WahaChannel) and group.chat == "1203@g.us"
    fonnte = parse_channel(
        {"kind": "fonnte", "target": "0811 1111 2222", "token": {"file": "/run/t"}}
    )
    assert isinstance(fonnte, FonnteChannel)
    assert fonnte.base_url == "https://api.fonnte.com"
    assert parse_channel({"kind": "email", "to": ["it@bpjs.example.id"]}).kind == "email"
    assert parse_channel({"kind": "webhook", "url": "https://hooks.example/x"}).kind == "webhook"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "telegram", "chat_id": "1", "token": "123:abc"}, "never written inline"),
        ({"kind": "telegram", "chat_id": "1", "token": {"env": "T"}, "tokn": 1}, "tokn"),
        ({"kind": "pager", "to": "1"}, "does not match any of the expected tags"),
        ({"kind": "sms", "to": "1"}, "invalid phone number '1'"),
        ({"kind": "sms", "to": ["0812-3456-7890", "0812 34x"]}, "invalid phone number '0812 34x'"),
        ({"kind": "sms", "to": []}, "at least 1 item"),
        ({"kind": "sms", "to": "08123456789", "when": "sometimes"}, "'always' or 'offline'"),
        ({"kind": "sms", "to": "08123456789", "after": "-5m"}, "after"),
        ({"kind": "webhook", "url": "ftp://x/y"}, "invalid URL"),
        ({"kind": "webhook", "url": "http://u:p@x/y"}, "credentials in a URL"),
        ({"kind": "email", "to": ["not-an-address"]}, "invalid e-mail"),
        (
            {"kind": "waha", "base_url": "http://w", "chat_id": "081111112222", "name": "Bad Name"},
            "name",
        ),
        (
            {"kind": "fonnte", "target": "081111112222", "token": {"env": "A", "file": "/b"}},
            "exactly one",
        ),
    ],
)
def test_bad_channels_are_rejected(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_channel(data)
    assert message in str(exc.value)


def test_the_token_is_not_in_the_repr() -> None:
    ch = parse_channel({"kind": "telegram", "chat_id": "1", "token": {"env": "TG_TOKEN"}})
    assert "TG_TOKEN" in repr(ch)  # the reference, not a value
    assert isinstance(ch.token, SecretRef)


def test_channel_names_default_to_kind_and_are_unique() -> None:
    chans = [
        parse_channel({"kind": "waha", "base_url": "http://w", "chat_id": "081111112222"}),
        parse_channel({"kind": "fonnte", "target": "082222223333", "token": {"env": "F"}}),
        parse_channel({"kind": "telegram", "chat_id": "3", "token": {"env": "T"}}),
        parse_channel({"kind": "webhook", "url": "http://h", "name": "sink"}),
    ]
    assert channel_names(chans) == ["whatsapp", "whatsapp-2", "telegram", "sink"]
    twice = [chans[3], chans[3]]
    with pytest.raises(ValueError, match="two channels are named 'sink'"):
        channel_names(twice)


def test_inventory_team_channels_are_the_notify_models() -> None:
    text = """\
sites:
  - id: paser
    name: MPP
    teams:
      - id: kominfo
        name: Diskominfo
        channels:
          - {kind: waha, chat_id: 6281111112222, base_url: "http://127.0.0.1:3000/",
             session: mpp, edition: plus,
             api_key: {env: WAHA_KEY}, severity: [critical]}
          - {kind: fonnte, target: "6282222223333", token: {env: FONNTE}}
          - {kind: email, to: it@bpjs.example.id}
"""
    team = load_plan("inv.yaml", text).site("paser").teams[0]
    waha, fonnte, email = team.channels
    assert isinstance(waha, WahaChannel)
    assert (waha.base_url, waha.chat_id, waha.session, waha.severity) == (
        "http://127.0.0.1:3000",  # the trailing slash dropped: paths are appended
        "6281111112222@c.us",
        "mpp",
        ["critical"],
    )
    assert waha.api_key == SecretRef(env="WAHA_KEY")
    assert isinstance(fonnte, FonnteChannel) and fonnte.target == "6282222223333"
    assert fonnte.base_url == "https://api.fonnte.com"
    assert isinstance(email, EmailChannel) and email.to == ["it@bpjs.example.id"]
    # the very objects the notifier routes with: nothing converts them later
    assert routing_from_plan(load_plan("inv.yaml", text)).channels[("paser", "kominfo")] == [
        waha,
        fonnte,
        email,
    ]


INVENTORY = """\
sites:
  - id: paser
    name: MPP Kabupaten Paser
    teams:
      - id: kominfo
        name: Diskominfo
        channels:
          - {kind: telegram, chat_id: "-100123", token: {env: TG_TOKEN}}
      - id: it-bpjs
        name: IT BPJS
        channels:
          - {kind: waha, chat_id: "6281111112222", base_url: "http://127.0.0.1:3000",
             api_key: {env: WAHA_KEY}}
          - {kind: email, to: it@bpjs.example.id}
    links:
      - {id: isp-a, name: Telkom Astinet, anchors: [192.0.2.1]}
    agencies:
      - {id: bpjs, name: BPJS Kesehatan, team: it-bpjs}
"""


def test_routing_from_a_real_plan(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(INVENTORY)
    routing = routing_from_plan(load_plan(path))
    assert sorted(routing.channels) == [("paser", "it-bpjs"), ("paser", "kominfo")]
    kinds = [c.kind for c in routing.channels[("paser", "it-bpjs")]]
    assert kinds == ["waha", "email"]
    assert routing.names[("team", "it-bpjs")] == "IT BPJS"
    assert routing.names[("agency", "bpjs")] == "BPJS Kesehatan"
    assert routing.names[("link", "isp-a")] == "Telkom Astinet"
    assert routing.names[("site", "paser")] == "MPP Kabupaten Paser"
    assert routing.timezones == {"paser": "Asia/Makassar"}


def test_a_waha_channel_without_its_server_is_a_config_error(tmp_path: Path) -> None:
    # caught when the inventory loads, not when the first alert is delivered
    path = tmp_path / "inv.yaml"
    path.write_text(INVENTORY.replace(', base_url: "http://127.0.0.1:3000"', ""))
    with pytest.raises(ConfigError, match=r"inv.yaml:12:13: .*channels\[0\].base_url: missing"):
        load_plan(path)


def test_notifier_settings_reject_an_unknown_zone() -> None:
    from monitor.notify.notifier import NotifierSettings

    with pytest.raises(ValidationError, match="unknown time zone 'Asia/Paser'"):
        NotifierSettings(default_timezone="Asia/Paser")
    with pytest.raises(ValidationError, match="queue_siz"):
        NotifierSettings.model_validate({"queue_siz": 10})


@pytest.mark.parametrize(
    ("written", "chat", "target"),
    [
        ("0812-3456-7890", "6281234567890@c.us", "6281234567890"),
        ("+62 812-3456-7890", "6281234567890@c.us", "6281234567890"),
        ("62812 3456 7890", "6281234567890@c.us", "6281234567890"),
        (6281234567890, "6281234567890@c.us", "6281234567890"),  # unquoted in YAML
        ("081234567890@c.us", "6281234567890@c.us", "6281234567890"),
        ("120363000000000001@g.us", "120363000000000001@g.us", "120363000000000001@g.us"),
    ],
)
def test_whatsapp_ids_written_the_indonesian_way_are_normalised_at_load(
    written: object, chat: str, target: str
) -> None:
    text = f"""\
sites:
  - id: paser
    name: MPP
    teams:
      - id: kominfo
        name: Diskominfo
        channels:
          - {{kind: waha, chat_id: {written!r}, base_url: "http://127.0.0.1:3000"}}
          - {{kind: fonnte, target: {written!r}, token: {{env: F}}}}
"""
    waha, fonnte = load_plan("inv.yaml", text.replace("'", '"')).site("paser").teams[0].channels
    assert isinstance(waha, WahaChannel) and isinstance(fonnte, FonnteChannel)
    assert (waha.chat, fonnte.target) == (chat, target)
    assert waha.session == "default"
