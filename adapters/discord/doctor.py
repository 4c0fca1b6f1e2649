"""`mentorbot doctor` for Discord: the token, the application, the listed servers and the gateway."""

from __future__ import annotations

import aiohttp
import discord

import prompts
from adapters.discord import endpoints
from adapters.discord.client import invite_url
from adapters.discord.settings import DiscordSettings
from adapters.platform import Check

# The application flags that say the Server Members intent is enabled (full, or limited for small bots).
MEMBERS_INTENT_FLAGS = (1 << 14) | (1 << 15)


async def doctor(settings: DiscordSettings) -> list[Check]:
    """One line per thing checked; stops early only when the token itself is refused."""
    where = (prompts.say("discord.doctor.where_guilds", ids=", ".join(map(str, settings.guild_ids)))
             if settings.guild_ids else prompts.say("discord.doctor.where_global"))
    checks = [Check(True, prompts.say("discord.doctor.settings", api=settings.api_url, where=where))]
    endpoints.use_api(settings.api_url)
    client = discord.Client(intents=discord.Intents.none())
    try:
        async with client:
            await client.login(settings.bot_token.get_secret_value())
            checks += await _details(client, settings)
    except discord.LoginFailure:
        checks.append(Check(False, prompts.say("discord.doctor.login_failed")))
    except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        checks.append(Check(False, prompts.say("discord.doctor.unreachable", api=settings.api_url,
                                               error=f"{type(exc).__name__}: {exc}")))
    return checks


async def _details(client: discord.Client, settings: DiscordSettings) -> list[Check]:
    app = await client.application_info()
    checks = [Check(True, prompts.say("discord.doctor.login", name=str(client.user), app=app.id)),
              Check(True, prompts.say("discord.doctor.invite", url=invite_url(app.id)))]
    if settings.members_intent:
        ok = bool(app.flags.value & MEMBERS_INTENT_FLAGS)
        checks.append(Check(ok, prompts.say("discord.doctor.members_intent" if ok else "discord.doctor.members_intent_off")))
    for guild_id in settings.guild_ids:
        try:
            guild = await client.fetch_guild(guild_id, with_counts=False)
            checks.append(Check(True, prompts.say("discord.doctor.guild", name=guild.name, id=guild_id)))
        except (discord.Forbidden, discord.NotFound):
            checks.append(Check(False, prompts.say("discord.doctor.guild_missing", id=guild_id)))
    _, url, _ = await client.http.get_bot_gateway()
    checks.append(Check(True, prompts.say("discord.doctor.gateway", url=url)))
    return checks
