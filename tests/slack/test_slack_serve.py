"""`mentorbot run --slack` in HTTP mode: the real server on a real port answers /healthz, /metrics and
signed slash commands, registers its messenger, and stops cleanly when cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from adapters.slack import PLATFORM
from bot.core import MentorBot
from tests.slack.conftest import TEAM, free_port, settings, text_of
from testkit.fake_slack import FakeSlack, signed_headers


async def test_serve_answers_health_checks_and_signed_commands(
    bot: MentorBot, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    listening = asyncio.Event()
    original_start = web.TCPSite.start

    async def start(site: web.TCPSite) -> None:  # tells the test when the port is open, instead of polling
        await original_start(site)
        listening.set()

    monkeypatch.setattr(web.TCPSite, "start", start)
    port = free_port()
    serving = asyncio.create_task(PLATFORM.serve(bot, settings(fake_slack.url + "/api/", port=port)))
    try:
        await asyncio.wait_for(listening.wait(), timeout=30)  # a guard against a hang, not a sleep
        assert "slack" in bot.messengers
        base = f"http://127.0.0.1:{port}"
        body = urlencode({"team_id": TEAM, "user_id": "UCAROL", "user_name": "carol", "command": "/mentor",
                          "text": "program create Spring", "channel_id": "C1", "trigger_id": "t1",
                          "response_url": fake_slack.hook_url("serve")})
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/healthz") as resp:  # just started: healthy, the figures in JSON
                assert (resp.status, (await resp.json())["status"]) == (200, "ok")
            async with http.get(base + "/metrics") as resp:
                assert resp.status == 200 and 'mentorbot_outbox_pending{platform="slack"}' in await resp.text()
            headers = signed_headers(body, "application/x-www-form-urlencoded")
            async with http.post(base + "/slack/events", data=body, headers=headers) as resp:
                assert resp.status == 200
                ack: dict[str, Any] = await resp.json()
            async with http.post(base + "/slack/events", data=body, headers={**headers, "X-Slack-Signature": "v0=0"}) as resp:
                assert resp.status == 401
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    assert "Program Spring created" in text_of(ack["blocks"])
