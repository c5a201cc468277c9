"""Alert notifications: Alertmanager webhook in, short Indonesian messages out, per team.

The stages, one module each (imported directly; this package re-exports nothing, so importing
a channel model does not pull in the notifier)::

    channels/   the channel models, one file per gateway (also the inventory's team channels)
    messages    Alertmanager groups -> message text (Bahasa Indonesia / English)
    routing     channels per (site, team), names and zones, from the Plan
    notifier    the queue and its delivery workers (stats for the exporter)
    delivery    one HTTP send through one channel, failures classified
    webhook     POST /api/v1/alerts/webhook/{team}, mounted by the web app (``mount``)

Wiring (``monitor/commands/run.py``)::

    notifier = Notifier(plan_source=lambda: service.plan)  # follows reloads by itself
    service.notifier = notifier                            # exporter: stats, queue_length
    app = make_app(..., notifier=notifier)                 # the web app mounts the webhook
"""
