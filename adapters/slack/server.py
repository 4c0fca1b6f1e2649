"""How the bolt app meets Slack: an aiohttp web app (HTTP mode) or a Socket Mode connection."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def web_app(app: AsyncApp) -> web.Application:
    """POST /slack/events (commands, interactivity and events; bolt checks the signature) and GET /healthz."""

    async def events(request: web.Request) -> web.Response:
        try:
            return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))
        except Exception:  # bolt trips over some malformed payloads; answer 400, keep serving
            log.warning("slack: could not process a request", exc_info=True)
            return web.Response(status=400, text="bad request")

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get(HEALTH_PATH, health)
    return application


async def serve_http(app: AsyncApp, port: int) -> None:
    """Serve on every interface until cancelled."""
    host = "0.0.0.0"
    runner = web.AppRunner(web_app(app), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("slack: listening on %s:%d%s", host, port, EVENTS_PATH)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def serve_socket_mode(app: AsyncApp, app_token: str) -> None:
    """Hold a Socket Mode connection (opened with apps.connections.open) until cancelled."""
    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()
    log.info("slack: connected in Socket Mode")
    try:
        await asyncio.Event().wait()
    finally:
        await handler.close_async()
