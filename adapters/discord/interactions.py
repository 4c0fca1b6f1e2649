"""From an interaction to the core and back: who acted, and the ephemeral answer within Discord's 3 s."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
import discord

import prompts
from adapters.discord.views import CONTENT_LIMIT, FormModal, attachments_for
from adapters.limits import ACK_BUDGET, split_text
from bot.events import Actor
from bot.messages import Message, Response

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Past ACK_BUDGET of Discord's 3 s, the answer is deferred and followed up instead.
# Seconds the answer (its callback and follow-ups) may take: a Discord that does not answer must not hold
# the handler for aiohttp's five minutes. The work is done and committed either way.
ANSWER_TIMEOUT = 30.0
UNKNOWN_INTERACTION = 10062  # the interaction expired (or was answered) before we could answer it


def actor_for(interaction: discord.Interaction[Any], workspace: str, coordinator_role: str) -> Actor:
    """The person behind an interaction. Manage Server, Administrator or the coordinator role make them
    a workspace admin to the core (who may create programs and coordinates every program)."""
    user = interaction.user
    is_admin: bool | None = None  # a click in a DM says nothing about server permissions
    # Permissions count only in the server the button or command belongs to.
    if isinstance(user, discord.Member) and str(interaction.guild_id) == workspace:
        perms = interaction.permissions
        role = coordinator_role.casefold()
        is_admin = perms.manage_guild or perms.administrator or any(r.name.casefold() == role for r in user.roles)
    return Actor(PLATFORM, workspace, str(user.id), display_name=user.display_name, is_admin=is_admin)


async def answer(interaction: discord.Interaction[Any], workspace: str, work: Awaitable[Response]) -> None:
    """Run `work` and show its Response to the actor only. Never raises: an answer Discord no longer
    takes is logged, and the work itself is done and committed regardless."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET)
        async with asyncio.timeout(ANSWER_TIMEOUT):
            if not done:
                await interaction.response.defer(ephemeral=True, thinking=True)
            response = await asyncio.shield(task)
            await _show(interaction, workspace, response)
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError) as exc:
        if isinstance(exc, discord.NotFound) and exc.code == UNKNOWN_INTERACTION:
            log.warning("interaction %s expired before it was answered; what it asked for was done", interaction.id)
        else:  # Discord (or a proxy) refused or did not answer: one line, no traceback
            status = f" {exc.status}" if isinstance(exc, discord.HTTPException) else ""
            log.warning("could not answer interaction %s: %s%s", interaction.id, type(exc).__name__, status)
        await task


async def _show(interaction: discord.Interaction[Any], workspace: str, response: Response) -> None:
    if response.form is not None and not interaction.response.is_done():
        modal = FormModal(response.form, workspace, response.text)
        await interaction.response.send_modal(modal)
        modal.stop()  # the submission is handled from its custom_id, not by this object
        return
    messages = list(response.messages) or [Message(prompts.say("discord.done"))]
    if response.form is not None:  # too slow for a modal: say so rather than drop the form silently
        messages.append(Message(prompts.say("discord.form_late")))
    for message in messages:
        parts = split_text(message.text, CONTENT_LIMIT) or [""]  # an empty text still carries fields and buttons
        for i, part in enumerate(parts):
            # Fields and buttons follow the last part.
            extra = attachments_for(message, workspace) if i == len(parts) - 1 else {}
            if interaction.response.is_done():
                await interaction.followup.send(part, ephemeral=True, **extra)
            else:
                await interaction.response.send_message(part, ephemeral=True, **extra)
