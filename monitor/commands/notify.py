"""`mpp-monitor notify`: the notifier as its own process, apart from the prober.

It reads the same inventory (teams, channels, names, time zones), serves only Alertmanager's
webhook, ``/metrics`` (the notifier's families), ``/-/healthy``, ``/-/ready`` and
``/-/reload``, and delivers from its durable outbox. A prober that crashes, hangs or is
restarted does not take alert delivery with it: ``MppMonitorDown`` still reaches on-call.
Run the prober with ``run --no-notify`` beside it (one notifier per outbox: a second one on
the same file is refused).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from monitor.notify.notifier import SITE_OFFLINE_ALERT, Notifier, NotifierSettings
from monitor.notify.routing import routing_from_plan
from monitor.plan import Plan
from monitor.web.config import (
    WebConfig,
    os_error_text,
)

HELP = "Deliver alerts apart from the prober: Alertmanager's webhook and the durable outbox."
DEFAULT_NOTIFY_LISTEN = "127.0.0.1:9470"
EXAMPLES = f"""\
  mpp-monitor notify --config /etc/mpp-monitor/inventory.yaml \\
      --outbox /var/lib/mpp-monitor/outbox.sqlite
  mpp-monitor notify --config inventory.yaml --listen {DEFAULT_NOTIFY_LISTEN}
  # then: mpp-monitor render alertmanager --notifier-url http://{DEFAULT_NOTIFY_LISTEN} ...

Reload with SIGHUP or POST /-/reload (a bad file keeps the running channels). It learns
that a site is offline from the {SITE_OFFLINE_ALERT} alerts it receives (escalation to SMS).
"""

log = logging.getLogger("mpp_monitor.notify")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the notify options."""
    from monitor.commands.run import add_service_arguments

    add_service_arguments(parser, DEFAULT_NOTIFY_LISTEN, "the webhook and /metrics")


class NotifyProcess:
    """The plan the notifier follows, and the reload state it exports."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.notifier: Notifier | None = None
        self.reload_ok = True
        self.reload_ts: float | None = None
        self.last_reload_error: str | None = None

    @property
    def ready(self) -> bool:
        """Ready once a plan is in and the notifier delivers."""
        return self.plan is not None and self.notifier is not None

    async def apply_plan(self, plan: Plan) -> None:
        """Take a new plan; its channels are checked first (a bad one keeps the old plan)."""
        try:
            routing_from_plan(plan)
        except ValueError as exc:
            self.reload_failed(str(exc))
            raise
        self.plan = plan
        self.reload_ok, self.reload_ts, self.last_reload_error = True, time.time(), None

    def reload_failed(self, reason: str) -> None:
        """Record a rejected file: the old plan keeps running."""
        self.reload_ok, self.last_reload_error = False, reason
        log.error("configuration not applied, keeping the old one: %s", reason)

    def metrics(self) -> bytes:
        """The notifier's exposition."""
        from monitor.exporter.samples import exposition, notifier_families, process_families

        fams = process_families(self.reload_ok, self.reload_ts)
        if self.notifier is not None:
            fams += notifier_families(self.notifier)
        return exposition(fams)


async def serve_notifier(
    plan: Plan,
    *,
    config_path: str,
    listen: tuple[str, int],
    web_config: WebConfig,
    outbox: str | None,
    stop: asyncio.Event,
    settings: NotifierSettings | None = None,
) -> str:
    """Run the standalone notifier until ``stop`` is set; return the URL it served."""
    from monitor.commands.run import StartupError, open_outbox, run_until, warn_open_webhook
    from monitor.web.app import Reloader, WebServer, make_notify_app

    process = NotifyProcess()
    try:
        await process.apply_plan(plan)
    except ValueError as exc:
        raise StartupError(f"{config_path}: {exc}") from None
    warn_open_webhook(listen[0], web_config)
    box = open_outbox(outbox)
    notifier = Notifier(settings=settings, plan_source=lambda: process.plan, outbox=box)
    process.notifier = notifier
    reloader = Reloader(process, config_path)
    app = make_notify_app(process, notifier, reloader, web_config=web_config)
    server = WebServer(app, web_config=web_config)
    try:
        try:
            url = await server.start(*listen)
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {listen[0]}:{listen[1]}: {os_error_text(exc)}"
            ) from None
        print(
            f"mpp-monitor notify: webhook {url}api/v1/alerts/webhook/TEAM · metrics {url}metrics"
            f" · outbox {box.path} ({box.count()} waiting)",
            flush=True,
        )

        await run_until(stop, reloader, config_path)
        return url
    finally:
        await server.stop()  # the app's cleanup stops the notifier (the outbox keeps the rest)
        await notifier.stop(drain_timeout=0)
        box.close()


async def _main(args: argparse.Namespace) -> int:
    from monitor.commands.run import (
        notifier_settings,
        read_startup,
        stop_on_signals,
        until_stopped,
    )

    startup = read_startup(args)
    if startup is None:
        return 1
    listen, plan, web_config = startup
    stop = stop_on_signals()
    return await until_stopped(
        "mpp-monitor notify",
        serve_notifier(
            plan,
            config_path=args.config,
            listen=listen,
            web_config=web_config,
            outbox=args.outbox,
            stop=stop,
            settings=notifier_settings(args),
        ),
    )


def run(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT."""
    from monitor.commands.run import run_service

    return run_service(args, _main)
