"""`mpp-monitor run`: probe the inventory, serve /metrics, the status page and the API."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor import logs
from monitor.inventory import ConfigError, load_plan
from monitor.notify.notifier import NotifierSettings
from monitor.notify.outbox import Outbox, OutboxError
from monitor.plan import Plan
from monitor.state import InMaintenance

if TYPE_CHECKING:
    from monitor.web.app import Reloader
from monitor.web.config import (
    DEFAULT_LISTEN,
    ListenError,
    WebConfig,
    is_loopback,
    load_web_config,
    os_error_text,
    parse_listen,
)

HELP = "Run the monitor: probe every target, serve /metrics, the status page and the JSON API."
EXAMPLES = f"""\
  mpp-monitor run --config /etc/mpp-monitor/inventory.yaml
  mpp-monitor run --config examples/demo.yaml --listen {DEFAULT_LISTEN}
  mpp-monitor run --config inventory.yaml --listen 0.0.0.0:9469 --web.config web.yml
  mpp-monitor run --config inventory.yaml --no-notify     # beside `mpp-monitor notify`

Reload the inventory with SIGHUP or POST /-/reload: the new file is validated whole first;
a bad file keeps the running configuration. Stop with SIGTERM or Ctrl-C.
web.yml (Prometheus web-config style):
  tls_server_config: {{cert_file: tls.crt, key_file: tls.key}}
  basic_auth_users: {{admin: $2b$12$...}}   # bcrypt hash
"""

log = logging.getLogger("mpp_monitor.run")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the run options."""
    add_service_arguments(parser, DEFAULT_LISTEN, "the web endpoints")
    parser.add_argument(
        "--no-notify",
        action="store_true",
        help="do not deliver alerts here (no webhook): `mpp-monitor notify` runs apart",
    )


def add_service_arguments(parser: argparse.ArgumentParser, listen: str, serves: str) -> None:
    """The options every long-running command shares (run and notify)."""
    parser.add_argument("--config", required=True, metavar="FILE", help="inventory file")
    parser.add_argument(
        "--listen",
        default=listen,
        metavar="HOST:PORT",
        help=f"address for {serves} (default {listen})",
    )
    parser.add_argument(
        "--web.config",
        dest="web_config",
        default=None,
        metavar="FILE",
        help="TLS and basic-auth settings (Prometheus web-config format)",
    )
    add_outbox_argument(parser)
    parser.add_argument(
        "--loop",
        default="auto",
        choices=LOOPS,
        help="event loop: uvloop (18-24%% less CPU per probe, docs/performance.md), asyncio's "
        "own, or auto: uvloop when installed, else asyncio (default auto)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="log verbosity (default info)",
    )
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=logs.FORMATS,
        help="text (with time), journal (no time: journald adds it), json (one object per "
        "line); auto: journal under systemd, else text (default auto)",
    )


# ---- the outbox -------------------------------------------------------------------------

OUTBOX_NAME = "outbox.sqlite"


def add_outbox_argument(parser: argparse.ArgumentParser) -> None:
    """``--outbox FILE`` (run and notify share it)."""
    parser.add_argument(
        "--outbox",
        default=None,
        metavar="FILE",
        help=(
            "the notifier's durable outbox (SQLite file); default "
            "$STATE_DIRECTORY/outbox.sqlite under systemd (StateDirectory=), else ':memory:' "
            "(not durable: a warning says so)"
        ),
    )
    parser.add_argument(
        "--message-ttl",
        default="24h",
        type=_ttl,
        metavar="DURATION",
        help="how long an undelivered message is retried before it expires (default 24h)",
    )


def _ttl(text: str) -> float:
    from probes.settings import parse_duration

    try:
        seconds = float(parse_duration(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 60 <= seconds <= 30 * 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: between 1m and 30d")
    return seconds


def notifier_settings(args: argparse.Namespace) -> NotifierSettings:
    """The notifier's settings from the command line."""
    return NotifierSettings(message_ttl=args.message_ttl)


def outbox_path(arg: str | None) -> str:
    """Where the outbox lives: the argument, else systemd's state directory, else memory."""
    if arg:
        return arg
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return str(Path(state) / OUTBOX_NAME) if state else ":memory:"


def open_outbox(arg: str | None) -> Outbox:
    """Open (and lock) the outbox, or raise StartupError saying why not."""
    path = outbox_path(arg)
    try:
        box = Outbox(path)
    except OutboxError as exc:
        raise StartupError(str(exc)) from None
    if box.durable:
        log.info("notify: outbox %s (%d message(s) waiting)", path, box.count())
    else:
        log.warning(
            "notify: the outbox is in memory: messages waiting for delivery are lost when "
            "the process stops; give --outbox FILE (or run under systemd with StateDirectory=)"
        )
    return box


# ---- maintenance windows from the inventory ---------------------------------------------


def maintenance_for(plan: Plan) -> InMaintenance | None:
    """``in_maintenance(entity_id, wall)`` from the inventory's windows (None if there are none)."""
    from monitor.state.calendar import MaintenanceIndex

    index = MaintenanceIndex(plan)
    return index.active if index.entities() else None


# ---- running ----------------------------------------------------------------------------


def settle_memory() -> None:
    """Move the long-lived objects of a plan out of the garbage collector's way.

    At 10,000 targets a full collection walking them paused the loop for ~200 ms (probe
    lateness); frozen, the longest pause was ~33 ms (bench/README.md). Called once each plan's
    /metrics label text is built (the Service's ``after_warm``: at start and after each
    reload), unfreezing first so that the replaced plan can be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class StartupError(Exception):
    """A clear start-up problem: printed as is, exit status 1."""


async def setup_icmp(plan: Plan, ctx: Any) -> None:
    """Open the ICMP sockets when the plan pings (StartupError with the probes' advice)."""
    if not any(t.probe == "icmp" for t in plan.targets):
        return
    from probes import icmp

    try:
        await icmp.setup(ctx)
    except icmp.IcmpUnavailable as exc:
        raise StartupError(str(exc)) from None


def close_icmp(ctx: Any) -> None:
    """Release the ICMP sockets (if any were opened)."""
    try:
        from probes import icmp
    except ImportError:
        return
    icmp.close(ctx)


async def serve(
    plan: Plan,
    *,
    config_path: str | Path,
    listen: tuple[str, int],
    web_config: WebConfig,
    stop: asyncio.Event,
    loader: Callable[[str | Path], Plan] = load_plan,
    on_listening: Callable[[str], None] | None = None,
    outbox: str | None = ":memory:",
    settings: NotifierSettings | None = None,
) -> None:
    """Start the service and its web endpoints, run until ``stop`` is set, stop cleanly.

    ``outbox``: the notifier's outbox file (``:memory:``: not durable); None: no notifier
    here (``mpp-monitor notify`` delivers)."""
    from monitor.notify.notifier import Notifier
    from monitor.service import Service, notifier_routing
    from monitor.web.app import Reloader, WebServer, make_app

    service = Service(
        maintenance_for=maintenance_for,
        # the notifier here follows service.plan: a plan it could not route is not applied
        routing_for=notifier_routing if outbox is not None else None,
        down_after=plan.down_after,
        up_after=plan.up_after,
        after_warm=settle_memory,
    )
    server: WebServer | None = None
    notifier: Notifier | None = None
    try:
        if outbox is not None:
            # follows reloads through plan_source; the exporter reads its stats; the
            # monitor's own state says when a site is offline (escalation to SMS)
            notifier = Notifier(
                settings=settings,
                plan_source=lambda: service.plan,
                outbox=open_outbox(outbox),
                offline_source=lambda site: _offline(service.state.site_internet_up(site)),
            )
            service.notifier = notifier
        await setup_icmp(plan, service.ctx)
        try:
            await service.apply_plan(plan)
        except Exception as exc:
            raise StartupError(f"{config_path}: {exc}") from None
        reloader = Reloader(service, config_path, loader)
        if notifier is not None:
            warn_open_webhook(listen[0], web_config)
        app = make_app(service, reloader, web_config=web_config, notifier=notifier)
        server = WebServer(app, web_config=web_config)
        try:
            url = await server.start(*listen)
        except OSError as exc:
            server = None
            raise StartupError(
                f"cannot listen on {listen[0]}:{listen[1]}: {os_error_text(exc)}"
            ) from None
        if on_listening is not None:
            on_listening(url)

        await run_until(stop, reloader, config_path)
    finally:
        if server is not None:
            await server.stop()
        await service.stop()
        close_icmp(service.ctx)
        if notifier is not None:
            await notifier.stop(drain_timeout=0)
            notifier.outbox.close()


async def until_stopped(name: str, serving: Awaitable[object]) -> int:
    """Await a service until it stops: 0, or 1 after printing a start-up problem."""
    try:
        await serving
    except StartupError as exc:
        logs.say(f"{name}: {exc}")
        return 1
    logs.say(f"{name}: stopped", logging.INFO)
    return 0


LOOPS = ("auto", "asyncio", "uvloop")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """Return the factory of the named event loop (None: asyncio's default); ImportError
    when uvloop is asked for and not installed (``auto`` falls back to asyncio)."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise
        return None
    return uvloop.new_event_loop


def run_service(
    args: argparse.Namespace, main: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
) -> int:
    """Log as ``--log-level`` says and run ``main(args)`` in a new event loop (``--loop``)."""
    logs.configure(args.log_level, args.log_format)
    try:
        factory = loop_factory(args.loop)
    except ImportError:
        logs.say("--loop uvloop: uvloop is not installed (pip install uvloop)")
        return 1
    with asyncio.Runner(loop_factory=factory) as runner:
        log.debug("event loop: %s", "uvloop" if factory is not None else "asyncio")
        return runner.run(main(args))


def _offline(internet_up: bool | None) -> bool | None:
    return None if internet_up is None else not internet_up


async def run_until(stop: asyncio.Event, reloader: Reloader, config_path: str | Path) -> None:
    """Serve until ``stop`` is set; SIGHUP reloads the inventory meanwhile."""
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[list[str]]] = set()

    def hup() -> None:
        log.info("SIGHUP: reloading %s", config_path)
        task = loop.create_task(reloader.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, hup)
    try:
        await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        for task in reloads:
            task.cancel()


def warn_open_webhook(host: str, web_config: WebConfig) -> bool:
    """Log a warning when the alert webhook listens beyond loopback without basic auth
    (anyone on the LAN could then make us send fake alerts); True when it warned."""
    if is_loopback(host) or web_config.auth_enabled:
        return False
    log.warning(
        "notify: the alert webhook listens on %s without basic auth: anyone who can reach "
        "it can send fake alerts to the teams' WhatsApp/Telegram; set basic_auth_users in "
        "--web.config (and render alertmanager with --notifier-user and "
        "--notifier-password-file) or listen on 127.0.0.1",
        host,
    )
    return True


def read_startup(args: argparse.Namespace) -> tuple[tuple[str, int], Plan, WebConfig] | None:
    """``--listen``, ``--config`` and ``--web.config`` read; None after printing the error."""
    try:
        return parse_listen(args.listen), load_plan(args.config), load_web_config(args.web_config)
    except (ConfigError, ListenError) as exc:
        logs.say(str(exc))
        return None


def stop_on_signals() -> asyncio.Event:
    """An event SIGINT and SIGTERM set."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _main(args: argparse.Namespace) -> int:
    startup = read_startup(args)
    if startup is None:
        return 1
    listen, plan, web_config = startup
    stop = stop_on_signals()

    def listening(url: str) -> None:
        print(
            f"mpp-monitor: {len(plan.targets)} targets; status page {url} · "
            f"metrics {url}metrics · API {url}api/v1/status",
            flush=True,
        )

    return await until_stopped(
        "mpp-monitor",
        serve(
            plan,
            config_path=args.config,
            listen=listen,
            web_config=web_config,
            stop=stop,
            on_listening=listening,
            outbox=None if args.no_notify else outbox_path(args.outbox),
            settings=notifier_settings(args),
        ),
    )


def run(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT."""
    return run_service(args, _main)
