"""`mentorbot doctor` against the fake Discord: what it checks, and a refused token (in doctor and at start)."""

from __future__ import annotations

import discord
import pytest
from pydantic import SecretStr

from adapters.discord.client import serve
from adapters.discord.doctor import doctor
from adapters.discord.settings import DiscordSettings
from bot.core import MentorBot
from testkit.fake_discord import GUILD_ID, FakeDiscord

pytestmark = pytest.mark.usefixtures("discord_globals")  # doctor and serve point discord.py at the fake


async def test_doctor_checks_token_servers_and_gateway(fake: FakeDiscord, settings: DiscordSettings) -> None:
    missing = 999999999999999999
    checks = await doctor(settings.model_copy(update={"guild_ids": (GUILD_ID, missing)}))
    text = "\n".join(("ok " if c.ok else "FAIL ") + c.text for c in checks)
    assert "ok discord: logged in as mentorbot" in text
    assert "ok discord: in server Study Club" in text
    assert "permissions=360777272320" in text and "scope=bot+applications.commands" in text
    assert f"FAIL discord: the bot is not in server {missing}" in text
    assert f"ok discord: gateway {fake.url}/gateway" in text


async def test_doctor_reports_a_refused_token(fake: FakeDiscord, settings: DiscordSettings) -> None:
    checks = await doctor(settings.model_copy(update={"bot_token": SecretStr("MTA.other.token")}))
    assert [c.ok for c in checks] == [True, False]
    assert "DISCORD_BOT_TOKEN was refused" in checks[-1].text


async def test_doctor_notices_the_members_intent_is_not_enabled(fake: FakeDiscord,
                                                                settings: DiscordSettings) -> None:
    checks = await doctor(settings.model_copy(update={"members_intent": True}))
    assert any(not c.ok and "Server Members Intent is off" in c.text for c in checks)


async def test_a_refused_token_stops_start_up_saying_what_to_do(
    fake: FakeDiscord, settings: DiscordSettings, bot: MentorBot, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(discord.LoginFailure):
        await serve(bot, settings.model_copy(update={"bot_token": SecretStr("MTA.other.token")}))
    assert any("DISCORD_BOT_TOKEN was refused" in r.getMessage() for r in caplog.records)
    assert fake.find("GET", "/gateway/bot") == []
