"""How the bolt app meets Slack: an aiohttp web app (HTTP mode) or a Socket Mode connection."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDictProxy
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.metrics_server import HEALTH_PATH, add_routes
from bot.health import Health

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
# Requests larger than this are refused (413) before they are read to the end or parsed. What Slack sends
# is far smaller: a slash command's text is at most a few thousand characters, and an interaction carries
# one of the bot's own messages or forms (at most 50 or 100 blocks).
MAX_BODY_BYTES = 256 * 1024
# What Slack sends: slash commands and interactivity as a form, the Events API as JSON.
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


class Malformed(Exception):
    """A request that cannot be one of Slack's: the HTTP status to answer and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def read_body(content_type: str, headers: CIMultiDictProxy[str], raw: bytes) -> dict[str, Any]:
    """The body Slack sent, parsed; Malformed when it cannot be one of Slack's. Checked before bolt, which
    answers some of these with a 500 (a timestamp that is not a number, JSON that does not parse)."""
    stamp = headers.get("X-Slack-Request-Timestamp")
    if stamp is not None and not stamp.strip().isdecimal():
        raise Malformed(401, "the request timestamp is not a number")
    if content_type not in (FORM, JSON):
        raise Malformed(415, f"Slack never sends {content_type or 'a body without a content type'}")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(400, "the body is not UTF-8") from None
    try:
        if content_type == JSON:
            parsed = json.loads(body)
        elif body.startswith("{"):
            raise Malformed(400, "a JSON body labelled as a form")
        else:
            form = dict(parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body)))
            parsed = json.loads(form["payload"]) if "payload" in form else form
    except ValueError:
        raise Malformed(400, f"the body is not what {content_type} says") from None
    if not isinstance(parsed, dict):
        raise Malformed(400, "the body is not an object")
    return parsed


def web_app(app: AsyncApp, health: Health | None = None) -> web.Application:
    """POST /slack/events (commands, interactivity and events; bolt checks the signature), GET /healthz and,
    given the bot's `health`, GET /metrics (without it, as for a bare bolt app, /healthz only says "ok")."""

    async def events(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            log.info("slack: refused a request of %d bytes", request.content_length)
            return web.Response(status=413, text="request too large")
        try:
            raw = await request.read()  # the application's client_max_size stops a chunked body early
        except web.HTTPRequestEntityTooLarge:
            log.info("slack: refused a request larger than %d bytes", MAX_BODY_BYTES)
            return web.Response(status=413, text="request too large")
        try:
            body = read_body(request.content_type if request.body_exists else "", request.headers, raw)
        except Malformed as problem:
            log.info("slack: refused a malformed request: %s", problem.reason)
            return web.Response(status=problem.status, text=problem.reason)
        try:
            bolt_request = AsyncBoltRequest(body=raw.decode("utf-8"), query=request.query_string,
                                            headers=request.headers)  # type: ignore[arg-type]
            if bolt_request.body != body:
                # bolt reads any form containing the word "payload" (a slash command's text, say) as an
                # interaction without one, and drops it; the signature is still checked on the raw body.
                bolt_request.body = body
                bolt_request.context = build_async_context(AsyncBoltContext(), body)
            return await to_aiohttp_response(await app.async_dispatch(bolt_request))
        except Exception:  # anything else bolt trips over: answer 400, keep serving
            log.warning("slack: could not process a request", exc_info=True)
            return web.Response(status=400, text="bad request")

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application(client_max_size=MAX_BODY_BYTES)
    application.router.add_post(EVENTS_PATH, events)
    if health is None:
        application.router.add_get(HEALTH_PATH, ok)
    else:
        add_routes(application, health)
    return application


async def serve_http(app: AsyncApp, port: int, health: Health | None = None) -> None:
    """Serve on every interface until cancelled."""
    host = "0.0.0.0"
    runner = web.AppRunner(web_app(app, health), access_log=None)
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
