"""`mpp-monitor sites`: the central page listing every site the central store hears from."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import zoneinfo
from pathlib import Path
from typing import Any

HELP = "Serve (or write once) the central page: every site in the central store, worst first."
EXAMPLES = """\
  mpp-monitor sites --store http://127.0.0.1:8428 --listen 127.0.0.1:9481
      serves / (HTML, Bahasa Indonesia; ?lang=en), /sites.json and /runbook from the
      VictoriaMetrics (or Prometheus) the sites remote-write to
  mpp-monitor sites --store http://127.0.0.1:8428 --dark-after 5m --once --out /var/www/mpp.html
      writes the page once (for cron and a plain web server); exit 1 if the store is down
"""


def _seconds(text: str) -> float:
    from monitor.render.central import duration_seconds

    try:
        return float(duration_seconds(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration(text: str) -> str:
    _seconds(text)
    return text.strip()


def _zone(text: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r} (an IANA name such as Asia/Makassar)"
        ) from None


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the page's arguments."""
    parser.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="the central store's query API, e.g. http://127.0.0.1:8428 (VictoriaMetrics)",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:9481", metavar="HOST:PORT", help="(default %(default)s)"
    )
    parser.add_argument(
        "--dark-after",
        type=_seconds,
        default=300.0,
        metavar="DURATION",
        help="no heartbeat for this long: the site is dark (as render central; default 5m)",
    )
    parser.add_argument(
        "--remember",
        type=_duration,
        default="1d",
        metavar="DURATION",
        help="list sites heard from within this long (default %(default)s)",
    )
    parser.add_argument(
        "--timezone",
        type=_zone,
        default="Asia/Makassar",
        metavar="ZONE",
        help="IANA time zone of the page's times, e.g. Asia/Jakarta (default %(default)s, WITA)",
    )
    parser.add_argument("--refresh", type=int, default=30, metavar="SECONDS")
    parser.add_argument("--lang", choices=("id", "en"), default="id")
    parser.add_argument("--once", action="store_true", help="write the page to --out and exit")
    parser.add_argument("--out", metavar="FILE", help="with --once: where to write the page")
    parser.add_argument("--json", action="store_true", help="with --once: write JSON instead")
    parser.add_argument(
        "--web.config",
        dest="web_config",
        metavar="FILE",
        help="TLS and basic-auth settings (Prometheus web-config format, as `run`)",
    )


async def _fetch(args: argparse.Namespace) -> tuple[float, Any, str]:
    """(now, rows or None, the store's URL as shown)"""
    from monitor.web.sites import SitesPage

    page = SitesPage(args.store, remember=args.remember, dark_after=args.dark_after)
    try:
        now = time.time()
        return now, await page.rows(now), page.shown
    finally:
        await page.close()


def _once(args: argparse.Namespace) -> int:
    from monitor.web.sites import render_page, rows_json

    now, rows, shown = asyncio.run(_fetch(args))
    if args.json and rows is not None:
        text = json.dumps(rows_json(rows, now), indent=1) + "\n"
    else:
        text = render_page(rows, now=now, lang=args.lang, refresh=args.refresh, tz=args.timezone)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if rows is None:
        print(f"mpp-monitor sites: the store at {shown} does not answer", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve the page, or write it once."""
    if args.once:
        try:
            return _once(args)
        except OSError as exc:
            print(f"mpp-monitor sites: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return 1
    if args.out or args.json:
        print("mpp-monitor sites: --out and --json go with --once", file=sys.stderr)
        return 2
    from monitor.inventory import ConfigError
    from monitor.web.config import ListenError, load_web_config, parse_listen

    try:
        listen, web_config = parse_listen(args.listen), load_web_config(args.web_config)
    except (ConfigError, ListenError) as exc:
        print(f"mpp-monitor sites: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(args, listen, web_config))


async def _serve(args: argparse.Namespace, listen: tuple[str, int], web_config: Any) -> int:
    from monitor.commands.run import stop_on_signals
    from monitor.web.app import WebServer
    from monitor.web.config import os_error_text
    from monitor.web.sites import SitesPage, make_sites_app

    page = SitesPage(args.store, remember=args.remember, dark_after=args.dark_after,
                     refresh=args.refresh, tz=args.timezone)  # fmt: skip
    stop = stop_on_signals()
    server = WebServer(make_sites_app(page, web_config), web_config=web_config)
    try:
        url = await server.start(*listen)
    except OSError as exc:
        await page.close()
        print(f"mpp-monitor sites: cannot listen on {args.listen}: {os_error_text(exc)}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"mpp-monitor sites: serving {url} from {page.shown}", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
