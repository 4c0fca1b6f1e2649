"""`mentorbot run` with Slack and Discord both configured: one process, one event loop, one database.
Each platform is its own local fake; a slash command from each reaches the same core."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import select

from adapters.cli import _run
from adapters.discord import PLATFORM as DISCORD
from adapters.discord import endpoints
from adapters.discord.settings import DiscordSettings
from adapters.slack import PLATFORM as SLACK
from bot.settings import Settings
from storage.db import Database
from storage.models import Program, Workspace
from tests.discord.conftest import People
from testkit.fake_discord import GUILD_ID, MANAGE_GUILD, TOKEN, FakeDiscord
from tests.slack.conftest import TEAM, free_port, text_of
from tests.slack.conftest import settings as slack_settings
from testkit.fake_slack import FakeSlack, signed_headers


async def test_slack_and_discord_share_one_process_and_one_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/both.db"
    fake_slack, fake_discord = FakeSlack(team=TEAM), FakeDiscord()
    fake_slack.add_user("UCAROL", "Carol", "America/New_York", admin=True)
    carol = fake_discord.add_user("carol", permissions=MANAGE_GUILD)
    await fake_slack.start()
    await fake_discord.start()
    listening = asyncio.Event()
    original_start = web.TCPSite.start

    async def start(site: web.TCPSite) -> None:  # tells the test when Slack's port is open
        await original_start(site)
        listening.set()

    monkeypatch.setattr(web.TCPSite, "start", start)
    saved = endpoints.current()
    port = free_port()
    chosen = [
        (SLACK, slack_settings(fake_slack.url + "/api/", port=port)),
        (DISCORD, DiscordSettings(bot_token=TOKEN, api_url=fake_discord.url + "/api/v10",  # type: ignore[arg-type]
                                  guild_ids=(GUILD_ID,))),
    ]
    running = asyncio.create_task(_run(Settings(database_url=url), chosen))
    try:
        await asyncio.wait_for(listening.wait(), timeout=30)  # guards against a hang; no sleeping
        await fake_discord.wait_for(lambda: fake_discord.identify is not None
                                    and fake_discord.find("PUT", r"/applications/\d+/guilds/\d+/commands"))
        body = urlencode({"team_id": TEAM, "user_id": "UCAROL", "user_name": "carol", "command": "/mentor",
                          "text": "program create Spring", "channel_id": "C1", "trigger_id": "t1",
                          "response_url": fake_slack.hook_url("both")})
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body,
                                 headers=signed_headers(body, "application/x-www-form-urlencoded")) as resp:
                slack_reply = text_of((await resp.json())["blocks"])
        discord_reply = (await People(fake_discord).command(carol, "program create", name="Autumn")).text
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        endpoints.restore(saved)
        await fake_slack.stop()
        await fake_discord.stop()
    assert "Program Spring created" in slack_reply
    assert "Program Autumn created" in discord_reply
    db = Database(url)
    try:
        async with db.transaction() as s:
            rows = (await s.exec(select(Workspace.platform, Program.name).join(Program))).all()
    finally:
        await db.close()
    assert sorted(rows) == [("discord", "Autumn"), ("slack", "Spring")]
