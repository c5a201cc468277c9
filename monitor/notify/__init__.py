"""Alert notifications: Alertmanager webhook in, short Indonesian messages out, per team.

Wiring (``monitor/commands/run.py``)::

    notifier = Notifier(plan_source=lambda: service.plan)  # follows reloads by itself
    service.notifier = notifier                            # exporter: stats, queue_length
    app = make_app(..., notifier=notifier)                 # POST /api/v1/alerts/webhook/{team}

The web app mounts the webhook (``webhook.mount``) and starts/stops the workers with itself.
Without a plan:
``Notifier(Routing(channels={(site, team): [channel, ...]}, names=..., timezones=...))``.
"""

from monitor.notify.channels import (
    Channel,
    EmailChannel,
    FonnteChannel,
    TelegramChannel,
    WahaChannel,
    WebhookChannel,
    channel_names,
    parse_channel,
)
from monitor.notify.messages import AlertGroup, Formatter, WebhookAlert
from monitor.notify.notifier import RESULTS, Notifier, NotifierSettings, SubmitResult
from monitor.notify.routing import Routing, routing_from_plan
from monitor.notify.webhook import WEBHOOK_PATH, make_webhook_routes, mount

__all__ = [
    "RESULTS",
    "WEBHOOK_PATH",
    "AlertGroup",
    "Channel",
    "EmailChannel",
    "FonnteChannel",
    "Formatter",
    "Notifier",
    "NotifierSettings",
    "Routing",
    "SubmitResult",
    "TelegramChannel",
    "WahaChannel",
    "WebhookAlert",
    "WebhookChannel",
    "channel_names",
    "make_webhook_routes",
    "mount",
    "parse_channel",
    "routing_from_plan",
]
