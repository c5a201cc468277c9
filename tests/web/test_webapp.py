"""The web app in-process on loopback: basic auth, TLS, reload, connection limits."""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import bcrypt
import pytest
import trustme
from ruamel.yaml import YAML

from monitor.inventory import ConfigError, load_plan
from monitor.service import Service
from monitor.web.app import Reloader, WebServer, make_app
from monitor.web.config import WebConfig, load_web_config, parse_listen

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
defaults: {interval: 30s, timeout: 1s}
sites:
  - id: t
    name: Test
    teams: [{id: kominfo, name: Kominfo}]
    infrastructure:
      - {id: sw, name: Switch, kind: switch, address: 127.0.0.1, checks: ["tcp:9"]}
"""
PASSWORD = "s3cret-pass"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


Serve = Callable[..., "asyncio.Future[tuple[str, WebServer]]"]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    """Start the app over a real Service on a free loopback port; stop everything after."""
    started: list[tuple[Service, WebServer]] = []
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(SMALL)

    async def start(web_config: WebConfig | None = None, **kw: object) -> tuple[str, WebServer]:
        service = Service()
        await service.apply_plan(load_plan(inventory))
        app = make_app(service, Reloader(service, inventory), web_config=web_config)
        server = WebServer(app, web_config=web_config, **kw)  # type: ignore[arg-type]
        url = await server.start("127.0.0.1", 0)
        started.append((service, server))
        return url, server

    start.inventory = inventory  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for service, server in started:
            await server.stop()
            await service.stop()


def web_config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


async def test_basic_auth_protects_everything_but_healthy(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = load_web_config(web_config_file(tmp_path, f"basic_auth_users:\n  admin: '{HASH}'\n"))
    url, _ = await serve(cfg)
    async with aiohttp.ClientSession() as http:
        for path in ("metrics", "", "api/v1/status", "-/ready", "runbook"):
            async with http.get(url + path) as r:
                assert r.status == 401, path
                assert r.headers["WWW-Authenticate"].startswith("Basic ")
            async with http.get(url + path, headers=basic("admin", "wrong")) as r:
                assert r.status == 401
            async with http.get(url + path, headers=basic("nobody", PASSWORD)) as r:
                assert r.status == 401
            async with http.get(url + path, headers=basic("admin", PASSWORD)) as r:
                assert r.status == 200, path
                body = await r.text()
                assert PASSWORD not in body and HASH not in body
        async with http.post(url + "-/reload") as r:
            assert r.status == 401
        async with http.get(url + "-/healthy") as r:
            assert r.status == 200
        async with http.get(url + "metrics", headers={"Authorization": "Basic !!!"}) as r:
            assert r.status == 401


async def test_runbook_page_has_a_section_for_every_alert(serve) -> None:  # type: ignore[no-untyped-def]
    rules = YAML(typ="safe", pure=True).load((ROOT / "alerts" / "mpp-rules.yml").read_text())
    anchors = {
        r["annotations"]["runbook_url"] for g in rules["groups"] for r in g["rules"] if "alert" in r
    }
    assert anchors and all(a.startswith("/runbook#") for a in anchors), anchors
    url, _ = await serve()
    async with aiohttp.ClientSession() as http, http.get(url + "runbook") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/html")
        page = await r.text()
    ids = set(re.findall(r'<h2 id="([^"]+)"', page))
    missing = {a.partition("#")[2] for a in anchors} - ids
    assert not missing, f"/runbook has no section for {sorted(missing)}"
    assert '<h2 id="mppsiteoffline">MppSiteOffline</h2>' in page


async def test_tls_with_tls12_minimum(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "c.pem")
    cert.private_key_pem.write_to_path(tmp_path / "k.pem")
    cfg = load_web_config(
        web_config_file(
            tmp_path,
            "tls_server_config:\n"
            f"  cert_file: {tmp_path / 'c.pem'}\n  key_file: {tmp_path / 'k.pem'}\n",
        )
    )
    assert cfg.ssl_context is not None
    assert cfg.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2
    url, server = await serve(cfg)
    assert url.startswith("https://")
    tls12 = ssl.create_default_context()
    ca.configure_trust(tls12)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    _, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=tls12)
    assert writer.get_extra_info("ssl_object").version() == "TLSv1.2"
    writer.close()
    client = ssl.create_default_context()
    ca.configure_trust(client)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "-/healthy", ssl=client) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.ClientError):
            async with http.get(url.replace("https", "http") + "-/healthy"):
                pass


async def test_tls13_minimum_refuses_tls12(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "c.pem")
    cert.private_key_pem.write_to_path(tmp_path / "k.pem")
    text = (
        "tls_server_config:\n"
        f"  cert_file: {tmp_path / 'c.pem'}\n"
        f"  key_file: {tmp_path / 'k.pem'}\n"
        "  min_version: TLS13\n"
    )
    cfg = load_web_config(web_config_file(tmp_path, text))
    url, _ = await serve(cfg)
    tls12 = ssl.create_default_context()
    ca.configure_trust(tls12)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorError):
            async with http.get(url + "-/healthy", ssl=tls12):
                pass


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("basic_auth_users:\n  admin: plaintext-password\n", "must be a bcrypt hash"),
        ("basic_auth_user:\n  admin: x\n", "unknown field 'basic_auth_user'"),
        ("tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n",
         "cannot load certificate or key"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
         "min_version"),
        ("basic_auth_users: [\n", "YAML syntax error"),
    ],
)  # fmt: skip
def test_web_config_errors_name_file_and_line(tmp_path: Path, text: str, needle: str) -> None:
    path = web_config_file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_web_config(path)
    message = str(info.value)
    assert needle in message
    assert message.startswith(f"{path}:")
    assert "plaintext-password" not in message  # a mistyped password is never echoed


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9469") == ("127.0.0.1", 9469)
    assert parse_listen("[::1]:80") == ("::1", 80)
    for bad in ("9469", "127.0.0.1", "host:port", "1.2.3.4:99999"):
        with pytest.raises(ValueError, match="invalid listen address"):
            parse_listen(bad)


async def test_reload_with_bad_file_answers_400_and_keeps_the_plan(serve) -> None:  # type: ignore[no-untyped-def]
    url, _ = await serve()
    inventory: Path = serve.inventory
    inventory.write_text(SMALL.replace("kind: switch", "kind: swich"))
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "-/reload") as r:
            assert r.status == 400
            body = await r.text()
        assert body.startswith(f"{inventory}:")
        assert "swich" in body
        async with http.get(url + "metrics") as r:
            text = await r.text()
        assert "mpp_config_last_reload_successful 0.0" in text
        assert 'target="t/infra/sw/tcp-9"' in text
        inventory.write_text(SMALL.replace('checks: ["tcp:9"]', 'checks: ["tcp:7"]'))
        async with http.post(url + "-/reload") as r:
            assert r.status == 200
        async with http.get(url + "metrics") as r:
            text = await r.text()
        assert "mpp_config_last_reload_successful 1.0" in text
        assert "tcp-9" not in text


async def test_trickling_request_head_is_closed_and_scrapes_go_on(serve) -> None:  # type: ignore[no-untyped-def]
    url, server = await serve(keepalive_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        async with aiohttp.ClientSession() as http, http.get(url + "metrics") as r:
            assert r.status == 200
        # keep dripping header bytes: the server still closes the connection
        async with asyncio.timeout(5):
            while True:
                writer.write(b"X")
                try:
                    await writer.drain()
                except ConnectionError:
                    break
                try:
                    async with asyncio.timeout(0.2):
                        data = await reader.read(1024)
                except TimeoutError:
                    continue
                if data == b"":
                    break
    finally:
        writer.close()


async def test_one_peer_cannot_take_every_connection(serve) -> None:  # type: ignore[no-untyped-def]
    url, server = await serve(max_per_peer=3)
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed without an answer
        writer.close()
    finally:
        for _, w in held:
            w.close()
    # once they are gone, the peer is served again
    async with aiohttp.ClientSession() as http:
        for _ in range(20):
            try:
                async with http.get(url + "-/healthy") as r:
                    assert r.status == 200
                    break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("not served after the held connections closed")
