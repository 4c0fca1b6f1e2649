"""Who a sign-up row names in a Discord server (`mentorbot import --platform discord`), over the REST API
with the bot token: the guild member endpoint for an id, the guild member search for an @handle. Discord
shares no e-mail addresses with bots, and no time zones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, Route

from adapters.discord import endpoints
from adapters.discord.interactions import PLATFORM
from adapters.discord.messenger import CALL_TIMEOUT, member_name
from adapters.discord.settings import DiscordSettings
from bot.errors import UserError
from bot.signups import LookupUnavailable, Person, PersonRef

SEARCH_LIMIT = 1000  # Discord's most per search; the names are then matched exactly
_FAILURES = (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError)


class DiscordPeople:
    """The PeopleResolver for one Discord server."""

    platform = PLATFORM
    emails = False

    def __init__(self, http: HTTPClient, guild_id: int) -> None:
        self.http = http
        self.guild_id = guild_id
        self.workspace = str(guild_id)

    async def _members(self, ref: PersonRef) -> list[dict[str, Any]]:
        if ref.kind == "id":
            if not ref.value.isdecimal():
                return []
            try:
                return [await self.http.get_member(self.guild_id, int(ref.value))]
            except discord.NotFound:  # not in this server (or no such user)
                return []
        route = Route("GET", "/guilds/{guild_id}/members/search", guild_id=self.guild_id)
        found: list[dict[str, Any]] = await self.http.request(route, params={"query": ref.value,
                                                                             "limit": SEARCH_LIMIT})
        # The search matches names that start with the query; a handle must be a whole name.
        wanted = ref.value.casefold()
        return [m for m in found if wanted in {str(n).casefold() for n in (
            m.get("nick"), (m.get("user") or {}).get("username"), (m.get("user") or {}).get("global_name")) if n}]

    async def find(self, ref: PersonRef) -> list[Person]:
        """An id names one member or none; an @handle matches a username, global name or server nickname."""
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                members = await self._members(ref)
        except _FAILURES as exc:
            status = f" {exc.status}" if isinstance(exc, discord.HTTPException) else ""
            raise LookupUnavailable(f"{type(exc).__name__}{status}") from None
        return [Person(str(m["user"]["id"]), member_name(m)) for m in members
                if m.get("user") and not m["user"].get("bot")]


def guild_for(settings: DiscordSettings, workspace: str | None) -> int:
    """The server to import into: --workspace, else the one configured in DISCORD_GUILD_IDS."""
    if workspace:
        if not (workspace.isdecimal() and 15 <= len(workspace) <= 20):
            raise UserError("import.bad_guild", value=workspace[:40])
        return int(workspace)
    if len(settings.guild_ids) != 1:
        raise UserError("import.which_guild", ids=", ".join(map(str, settings.guild_ids)) or "-")
    return settings.guild_ids[0]


@asynccontextmanager
async def open_people(settings: DiscordSettings, workspace: str | None) -> AsyncIterator[DiscordPeople]:
    """A DiscordPeople for the chosen server, logged in with the bot token (no gateway connection)."""
    guild = guild_for(settings, workspace)
    endpoints.use_api(settings.api_url)
    client = discord.Client(intents=discord.Intents.none())
    async with client:
        try:
            await client.login(settings.bot_token.get_secret_value())
        except discord.LoginFailure:
            raise LookupUnavailable("LoginFailure: DISCORD_BOT_TOKEN refused") from None
        except _FAILURES as exc:
            raise LookupUnavailable(type(exc).__name__) from None
        yield DiscordPeople(client.http, guild)
