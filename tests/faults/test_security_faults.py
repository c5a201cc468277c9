"""FAULTS.md, Security: secrets, `<script>` in names, no probing on request, TLS 1.2 minimum."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import ssl
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from monitor.plan import Target
from monitor.web.config import load_web_config
from probes.base import ProbeResult
from tests.notify.gateways import FakeGateway, alert, group
from tests.runtime.helpers import FakeProbes, fail, ok
from tests.support.hostile import EVIL, EVIL_INVENTORY

from .conftest import Canary, Serve, fetch, free_port, samples

ROOT = Path(__file__).resolve().parents[2]

# ---- credentials and tokens ----------------------------------------------------------------

PASSWORD = "Sandi-Rahasia-7319"
TOKEN = "bearer-tok-5521-xyz"
FONNTE = "fonnte-tok-8842"
WAHA = "waha-key-1177"
HOOK = "hook-tok-6093"
BASIC = base64.b64encode(f"petugas:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, TOKEN, FONNTE, WAHA, HOOK, BASIC)

SECRET_INVENTORY = """\
defaults: {interval: 1s, timeout: 500ms}
sites:
  - id: t
    name: Test
    teams:
      - id: kominfo
        name: Kominfo
        channels:
          - {kind: fonnte, target: "6281100001111", base_url: "GW", token: {env: MPP_T_FONNTE}}
          - {kind: webhook, url: "GW/hook/k", token: {env: MPP_T_HOOK}}
          - {kind: waha, chat_id: "6281200001111", base_url: "GW", api_key: {env: MPP_T_WAHA}}
    links:
      - {id: isp, name: ISP, anchors: [{probe: tcp, address: 127.0.0.1, port: APP}]}
    agencies:
      - id: a
        name: Agency A
        team: kominfo
        applications:
          - id: basic
            name: Basic
            url: "http://127.0.0.1:APP/basic"
            links: [isp]
            settings: {basic_auth: {username: petugas, password: {env: MPP_T_PASSWORD}}}
          - id: bearer
            name: Bearer
            url: "http://127.0.0.1:APP/bearer"
            links: [isp]
            settings: {bearer_token: {file: TOKENFILE}}
          - id: echo
            name: Echo
            url: "http://127.0.0.1:APP/echo"
            links: [isp]
            body_match: ["^never$"]
            settings: {basic_auth: {username: petugas, password: {env: MPP_T_PASSWORD}}}
          - id: denied
            name: Denied
            url: "http://127.0.0.1:APP/denied"
            links: [isp]
            settings: {basic_auth: {username: petugas, password: {env: MPP_T_PASSWORD}}}
"""


@pytest.fixture
async def protected_app() -> AsyncIterator[tuple[int, list[str]]]:
    """Loopback app that needs the credentials and echoes whatever Authorization it gets."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        seen.append(header)
        wanted = {"/basic": f"Basic {BASIC}", "/bearer": f"Bearer {TOKEN}"}.get(request.path)
        if request.path == "/echo":
            return web.Response(text=f"you sent {header}")
        if wanted is None or header != wanted:
            return web.Response(status=401, text=f"denied: {header}")
        return web.Response(text="welcome")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][1], seen
    finally:
        await runner.cleanup()


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    """Message gateways that echo the token back in their error answers."""
    gw = FakeGateway()
    await gw.start()
    gw.answer("fonnte", *[(500, {"reason": f"token {FONNTE} rejected"})] * 10)
    gw.answer("waha", (401, {"error": f"bad key {WAHA}"}))
    gw.answer("webhook", (403, {"error": f"Bearer {HOOK} refused"}))
    try:
        yield gw
    finally:
        await gw.close()


async def _poll(check: Any, deadline: float, what: str) -> Any:
    """Await check() until it returns something truthy (bounded)."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        try:
            last = await check()
        except aiohttp.ClientError as exc:
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def test_secrets_never_in_metrics_pages_api_logs_or_errors(
    tmp_path: Path, protected_app: tuple[int, list[str]], gateway: FakeGateway
) -> None:
    app_port, seen = protected_app
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    inventory = tmp_path / "inventory.yaml"
    good = (
        SECRET_INVENTORY.replace("APP", str(app_port))
        .replace("GW", gateway.url)
        .replace("TOKENFILE", str(token_file))
    )
    inventory.write_text(good)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MPP_T_PASSWORD": PASSWORD,
        "MPP_T_FONNTE": FONNTE,
        "MPP_T_WAHA": WAHA,
        "MPP_T_HOOK": HOOK,
    }
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "--config", str(inventory),
            "--listen", f"127.0.0.1:{port}", "--log-level", "debug",
            stdout=out, stderr=err, env=env, cwd=ROOT,
        )  # fmt: skip
        texts: dict[str, str] = {}
        try:

            async def probed() -> dict[str, float] | None:
                _, _, text = await fetch(base + "metrics", timeout=5)
                s = samples(text, "probe_success")
                return s if len(s) == 5 else None

            success = await _poll(probed, 30, "a result for every target")
            # the credentials were read and used: the protected pages let the probes in
            assert success["t/application/a-basic/http"] == 1.0
            assert success["t/application/a-bearer/http"] == 1.0
            assert success["t/application/a-echo/http"] == 0.0  # body_mismatch, body has secret
            assert success["t/application/a-denied/http"] == 0.0  # 401 echoing the secret
            assert f"Basic {BASIC}" in seen and f"Bearer {TOKEN}" in seen

            # a page to the team: every gateway answers with an error that quotes the token
            payload = group(alert(team="kominfo", site="t"), team="kominfo")
            payload["groupLabels"]["site"] = payload["commonLabels"]["site"] = "t"
            status, _, texts["webhook"] = await fetch(
                base + "api/v1/alerts/webhook/kominfo?site=t", method="POST", json=payload
            )
            assert status == 202, texts["webhook"]

            async def gateways_failed() -> str | None:
                _, _, text = await fetch(base + "metrics", timeout=5)
                failed = [
                    k for k, v in samples(text, "mpp_notifier_messages_total").items()
                    if '"result": "failed"' in k and v >= 1
                ]  # fmt: skip
                kinds = {a.kind for a in gateway.attempts}
                return text if len(failed) == 2 and kinds == {"fonnte", "waha", "webhook"} else None

            texts["metrics"] = await _poll(gateways_failed, 30, "the gateways' failures counted")
            for path in ("", "?lang=en", "api/v1/status", "-/ready", "nope"):
                texts[path or "page"] = (await fetch(base + path))[2]
            # a reload with the password written inline: refused without repeating it
            inventory.write_text(
                good.replace("password: {env: MPP_T_PASSWORD}", f"password: '{PASSWORD}'", 1)
            )
            status, _, texts["reload"] = await fetch(base + "-/reload", method="POST")
            assert status == 400 and "secret" in texts["reload"], texts["reload"]
            inventory.write_text(good)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        out.seek(0)
        err.seek(0)
        texts["stdout"] = out.read().decode(errors="replace")
        texts["stderr"] = err.read().decode(errors="replace")
    assert proc.returncode == 0, texts["stderr"]
    assert "DEBUG" in texts["stderr"]  # the most talkative log level was on
    assert "Traceback" not in texts["stderr"]
    # the failures were logged, with the gateways' words minus the token
    assert "***" in texts["stderr"]
    for name, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, (name, secret)


# ---- <script> in inventory names -----------------------------------------------------------


async def test_script_in_names_is_escaped_on_every_page(serve: Serve) -> None:
    fake = FakeProbes()

    async def failing(t: Target, n: int) -> ProbeResult:
        return ok() if t.entity == "evil/link/isp" else fail("connect_refused")

    served = await serve(EVIL_INVENTORY, probes=fake.table())
    assert served.service.plan is not None
    for t in served.service.plan.targets:
        fake.script[t.id] = failing
        served.service.scheduler.submit(t.id)  # results now, not in 10 s
    n = len(served.service.plan.targets)
    await served.watcher.wait_for(lambda: len(served.watcher.results) >= n)

    def no_markup(body: str, where: str) -> None:
        low = body.lower()
        assert "<script" not in low and "<img" not in low, where
        assert "<b>a</b>" not in low and "<i>a</i>" not in low, where

    for path in ("", "?lang=en"):
        status, headers, page = await fetch(served.url + path)
        assert status == 200 and headers["Content-Type"].startswith("text/html"), path
        no_markup(page, path or "/")
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
        assert "Agency &lt;script&gt;" in page  # the faults name the agency
        assert "default-src 'none'" in headers["Content-Security-Policy"]

    status, headers, body = await fetch(served.url + "api/v1/status")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["X-Content-Type-Options"] == "nosniff"  # never sniffed as HTML
    doc = json.loads(body)
    assert {s["name"] for s in doc["sites"]} == {f"MPP {EVIL}"}  # data kept as written

    status, headers, metrics = await fetch(served.url + "metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    no_markup(metrics, "/metrics")

    # error pages: plain text, not sniffable, never the markup itself
    status, headers, body = await fetch(served.url + "%3Cscript%3Ealert(1)%3C/script%3E")
    assert status == 404 and headers["Content-Type"].startswith("text/plain")
    no_markup(body, "404")  # the path is not echoed
    assert served.inventory is not None
    served.inventory.write_text(EVIL_INVENTORY + f'"{EVIL}": 1\n')
    status, headers, body = await fetch(served.url + "-/reload", method="POST")
    assert status == 400 and headers["Content-Type"].startswith("text/plain"), body
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, _, page = await fetch(served.url)
    assert status == 200
    no_markup(page, "page after a failed reload")


# ---- no probing on request -----------------------------------------------------------------

ROUTES = {
    ("GET", "/"),
    ("GET", "/api/v1/status"),
    ("GET", "/metrics"),
    ("GET", "/runbook"),  # a static page generated from docs/runbook.md
    ("GET", "/-/healthy"),
    ("GET", "/-/ready"),
    ("POST", "/-/reload"),
    ("PUT", "/-/reload"),
    ("POST", "/api/v1/alerts/webhook/{team}"),
}


async def test_our_endpoints_never_probe_what_a_request_names(
    serve: Serve, canary: Canary, tmp_path: Path
) -> None:
    """Only inventory targets are probed: no /probe, query strings and bodies are ignored."""
    gw = FakeGateway()
    await gw.start()
    legit = Canary()  # the one target of the inventory
    await legit.start()
    try:
        inventory = f"""\
defaults: {{interval: 300ms, timeout: 200ms}}
sites:
  - id: t
    name: Test
    teams:
      - id: kominfo
        name: Kominfo
        channels: [{{kind: webhook, url: "{gw.url}/hook/k"}}]
    infrastructure:
      - {{id: sw, name: Switch, kind: switch, address: 127.0.0.1, checks: ["tcp:{legit.port}"]}}
"""
        served = await serve(inventory, with_notifier=True)  # the real probes
        routes = {
            (r.method, r.resource.canonical)
            for r in served.server.app.router.routes()
            if r.resource is not None and r.method != "HEAD"
        }
        assert routes == ROUTES  # nothing like blackbox_exporter's /probe

        evil_file = tmp_path / "evil.yaml"
        evil_file.write_text(inventory.replace(f"tcp:{legit.port}", f"tcp:{canary.port}"))
        there = f"127.0.0.1:{canary.port}"
        url = f"http://{there}/"
        asks = [
            ("GET", f"probe?target={there}&module=tcp_connect"),
            ("GET", f"probe?target={url}&module=http_2xx"),
            ("GET", f"metrics?target={there}&module=tcp_connect"),
            ("GET", f"?target={url}"),
            ("GET", f"api/v1/status?target={url}"),
            ("GET", f"-/ready?target={url}"),
            ("POST", f"-/reload?config={evil_file}"),
        ]
        for method, path in asks:
            status, _, body = await fetch(served.url + path, method=method)
            assert status in (200, 404), (path, status, body)
            assert (status == 404) == path.startswith("probe"), (path, status)
        status, _, _ = await fetch(
            served.url + "-/reload", method="POST", json={"config": str(evil_file)}
        )
        assert status == 200  # re-read the configured file, which is unchanged
        payload = group(alert(team="kominfo", site="t"), team="kominfo")
        payload["externalURL"] = url
        payload["alerts"][0]["generatorURL"] = url
        payload["alerts"][0]["annotations"]["runbook_url"] = url
        status, _, body = await fetch(
            served.url + "api/v1/alerts/webhook/kominfo?site=t", method="POST", json=payload
        )
        assert status == 202, body
        await gw.next()  # the team's own channel got the message

        watcher = served.watcher
        n = len(watcher.results)
        await watcher.wait_for(lambda: len(watcher.results) >= n + 3)  # three rounds since
        assert all(r.success for _, r, _ in watcher.results)
        assert legit.peers  # the inventory target was probed
        assert canary.peers == []  # and nothing else
        _, _, metrics = await fetch(served.url + "metrics")
        assert set(samples(metrics, "probe_success")) == {f"t/infra/sw/tcp-{legit.port}"}
    finally:
        await legit.close()
        await gw.close()


# ---- TLS on our endpoints ------------------------------------------------------------------


def _old_tls(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """Allow TLS 1.0 and 1.1 (deprecated, hence the warnings filter) and nothing newer."""
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def _old_tls_client(ca: trustme.CA) -> ssl.SSLContext:
    """A client that speaks only TLS 1.0 and 1.1."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return _old_tls(ctx)


async def _handshake(port: int, ctx: ssl.SSLContext) -> str:
    """Return the negotiated TLS version (raises on a failed handshake)."""
    _, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"), 5
    )
    try:
        version = writer.get_extra_info("ssl_object").version()
    finally:
        writer.close()
    return str(version)


async def test_tls_older_than_1_2_is_refused(serve: Serve, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "c.pem")
    cert.private_key_pem.write_to_path(tmp_path / "k.pem")
    # the client can speak TLS 1.1 on this machine: show it against a permissive server
    lax = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(lax)
    _old_tls(lax)

    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    control = await asyncio.start_server(close, "127.0.0.1", 0, ssl=lax)
    try:
        try:
            version = await _handshake(control.sockets[0].getsockname()[1], _old_tls_client(ca))
        except (ssl.SSLError, OSError) as exc:
            pytest.skip(f"this OpenSSL cannot negotiate TLS 1.1 at all: {exc}")
        assert version == "TLSv1.1"
    finally:
        control.close()
        await control.wait_closed()

    web_yml = tmp_path / "web.yml"
    web_yml.write_text(
        f"tls_server_config:\n  cert_file: {tmp_path / 'c.pem'}\n  key_file: {tmp_path / 'k.pem'}\n"
    )
    served = await serve(
        "sites:\n  - id: t\n    name: T\n    teams: [{id: kominfo, name: K}]\n",
        probes=FakeProbes().table(),
        web_config=load_web_config(web_yml),
    )
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        await _handshake(served.port, _old_tls_client(ca))
    modern = ssl.create_default_context()
    ca.configure_trust(modern)
    assert await _handshake(served.port, modern) in ("TLSv1.2", "TLSv1.3")
