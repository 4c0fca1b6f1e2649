"""The discord.py client: minimal intents, the /mentor tree, buttons and modals into core events."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

import prompts
from adapters.discord import endpoints
from adapters.discord.commands import mentor_group
from adapters.discord.interactions import PLATFORM, actor_for, answer
from adapters.discord.messenger import NO_MENTIONS, DiscordMessenger
from adapters.discord.settings import DiscordSettings
from adapters.discord.views import FORM_ID, ActionButton, submitted_values
from bot.core import MentorBot
from bot.events import ActionEvent, Actor, FormSubmission, MemberLeft

log = logging.getLogger(__name__)

# What the bot needs in a server, and why (the README explains each): read and post in the coordinators'
# and pairs channels, embeds for the fields of a post, private threads for pairs, and adding both members
# to an invite-only thread (which needs Manage Threads).
BOT_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True,
    create_private_threads=True, send_messages_in_threads=True, manage_threads=True,
)
SCOPES = ("bot", "applications.commands")

# A 429 asking for longer than this is not waited out in the send; the outbox retries it later instead.
MAX_RATELIMIT_WAIT = 30.0


def intents(settings: DiscordSettings) -> discord.Intents:
    """Guilds only: slash commands, buttons, modals and the bot's own DMs need no more. The privileged
    Server Members intent is asked for only when the operator opts in, to notice members leaving."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.members = settings.members_intent
    return wanted


def invite_url(application_id: int) -> str:
    """The OAuth2 URL a server admin opens to add the bot with exactly the permissions it needs."""
    return discord.utils.oauth_url(application_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)


class MentorClient(discord.Client):
    """One Discord connection serving every server the bot is in."""

    def __init__(self, bot: MentorBot, settings: DiscordSettings, **options: Any) -> None:
        super().__init__(intents=intents(settings), allowed_mentions=NO_MENTIONS,
                         max_ratelimit_timeout=MAX_RATELIMIT_WAIT, **options)
        self.bot = bot
        self.settings = settings
        self.tree: app_commands.CommandTree[MentorClient] = app_commands.CommandTree(self)
        self.tree.add_command(mentor_group())
        # Registered on the bot by whoever starts the client (serve), once it has logged in.
        self.messenger = DiscordMessenger(self)

    async def setup_hook(self) -> None:
        # Buttons are rebuilt from their custom_id, so those on old messages work after a restart.
        self.add_dynamic_items(ActionButton)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Register /mentor: in the listed servers at once, else globally (which Discord rolls out slowly)."""
        if not self.settings.guild_ids:
            await self.tree.sync()
            return
        for guild_id in self.settings.guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)

    async def on_button(self, interaction: discord.Interaction[Any], workspace: str, action_id: str,
                        value: str) -> None:
        """A core button: the action id and value it carries, as an ActionEvent."""
        actor = actor_for(interaction, workspace, self.settings.coordinator_role)
        await answer(interaction, workspace, self.bot.handle(
            ActionEvent(actor, action_id, value, event_id=str(interaction.id))))

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Modal submissions of core forms. Read here from the payload rather than by a Modal object, which
        exists only in the process that opened it."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        match = FORM_ID.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        workspace = match["ws"]
        values = submitted_values(list(data.get("components", [])))
        actor = actor_for(interaction, workspace, self.settings.coordinator_role)
        await answer(interaction, workspace, self.bot.handle(
            FormSubmission(actor, match["form"], match["state"], values, event_id=str(interaction.id))))

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """Someone left the server (only with the Server Members intent): their pairs end, coordinators hear.
        Leaving a server is not deleting an account (they may come back, and Discord tells bots nothing of
        deletions), so their data stays until they or a coordinator ask: /mentor forget-me, /mentor forget."""
        user = payload.user
        actor = Actor(PLATFORM, str(payload.guild_id), str(user.id), display_name=user.display_name)
        await self.bot.handle(MemberLeft(actor))


async def serve(bot: MentorBot, settings: DiscordSettings, **options: Any) -> None:
    """Log in, register /mentor and the Discord messenger on the bot, connect to the gateway named by the
    API's /gateway/bot, run until cancelled."""
    endpoints.use_api(settings.api_url)
    async with MentorClient(bot, settings, **options) as client:
        try:
            await client.login(settings.bot_token.get_secret_value())
            bot.add_messenger(client.messenger)  # logged in: its sends can go out from now on
            _, gateway, _ = await client.http.get_bot_gateway()
            endpoints.use_gateway(gateway)
            await client.connect(reconnect=True)
        except discord.LoginFailure:
            log.error(prompts.say("discord.doctor.login_failed"))  # the operator's fix, not just a traceback
            raise
        except discord.PrivilegedIntentsRequired:
            log.error(prompts.say("discord.doctor.members_intent_off"))
            raise
