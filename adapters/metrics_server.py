"""GET /metrics (Prometheus text format) and GET /healthz (JSON; 503 when the work is stuck) over aiohttp.

The Slack HTTP server adds these routes to its own app; Socket Mode, Discord-only and console processes serve
them on METRICS_PORT with `serve_metrics`."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from bot.health import Health

log = logging.getLogger(__name__)
METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"


def add_routes(application: web.Application, health: Health) -> None:
    """Serve /metrics and /healthz from `health` on `application`."""

    async def metrics(_: web.Request) -> web.Response:
        try:
            body = await health.scrape()
        except Exception as exc:  # Prometheus marks the target down (up == 0): the database is part of the work
            log.warning("metrics: cannot read the outbox: %s", type(exc).__name__, exc_info=True)
            return web.Response(status=503, text=f"cannot read the database: {type(exc).__name__}")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    async def healthz(_: web.Request) -> web.Response:
        verdict = await health.check()
        return web.json_response(verdict.body, status=200 if verdict.healthy else 503)

    application.router.add_get(METRICS_PATH, metrics)
    application.router.add_get(HEALTH_PATH, healthz)


def metrics_app(health: Health) -> web.Application:
    """An app serving only /metrics and /healthz."""
    application = web.Application()
    add_routes(application, health)
    return application


async def serve_metrics(health: Health, host: str, port: int) -> None:
    """Serve /metrics and /healthz on host:port until cancelled."""
    runner = web.AppRunner(metrics_app(health), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("metrics: listening on %s:%d%s and %s", host, port, METRICS_PATH, HEALTH_PATH)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
