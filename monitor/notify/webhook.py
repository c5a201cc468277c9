"""The Alertmanager webhook endpoint of the notifier (aiohttp routes for the web app).

``POST /api/v1/alerts/webhook/{team}?site=SITE[&channel=NAME]`` takes Alertmanager's webhook
payload (version 4) for one team and queues a message to each of that team's channels (or
only the named one). Answers: 202 queued; 200 nothing to send for this team (severity or
resolved filtered out); 400 bad payload, or no ``site`` when the team exists at several
sites; 404 unknown team or channel; 503 queue full (Alertmanager retries later; the messages
are counted ``dropped``). The site defaults to the group's ``site`` label.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from monitor.notify.messages import AlertGroup
from monitor.notify.notifier import Notifier

WEBHOOK_PATH = "/api/v1/alerts/webhook/{team}"

_STATUS = {
    "queued": 202,
    "nothing": 200,
    "no_site": 400,
    "unknown_team": 404,
    "unknown_channel": 404,
    "dropped": 503,
}


def make_webhook_routes(notifier: Notifier, path: str = WEBHOOK_PATH) -> list[web.RouteDef]:
    """Routes to add to the web app: ``app.add_routes(make_webhook_routes(notifier))``."""

    async def receive(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        try:
            group = AlertGroup.model_validate(body)
        except ValidationError as exc:
            fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            return web.json_response(
                {"error": "not an Alertmanager webhook payload", "fields": fields[:10]},
                status=400,
            )
        result = notifier.submit(
            group,
            team=request.match_info["team"],
            site=request.query.get("site") or None,
            channel=request.query.get("channel") or None,
        )
        status = _STATUS[result.outcome]
        body_out: dict[str, object] = {"outcome": result.outcome, "messages": result.messages}
        if result.detail:
            body_out["detail"] = result.detail
        headers = {"Retry-After": "30"} if status == 503 else None
        return web.json_response(body_out, status=status, headers=headers)

    return [web.post(path, receive)]


def mount(app: web.Application, notifier: Notifier) -> None:
    """Mount the Alertmanager webhook on the app and tie the notifier's workers to its life."""
    app.add_routes(make_webhook_routes(notifier))
    app.cleanup_ctx.append(notifier.cleanup_ctx)
