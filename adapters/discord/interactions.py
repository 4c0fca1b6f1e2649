"""From an interaction to the core and back: who acted, and the ephemeral answer within Discord's 3 s."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from io import BytesIO
from typing import Any

import aiohttp
import discord

import prompts
from adapters.discord.views import CONTENT_LIMIT, FormModal, attachments_for
from adapters.limits import ACK_BUDGET, clip, file_size, split_text
from bot.events import Actor
from bot.messages import Attachment, Message, Response

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Past ACK_BUDGET of Discord's 3 s, the answer is deferred and followed up instead.
# Seconds the answer (its callback and follow-ups) may take: a Discord that does not answer must not hold
# the handler for aiohttp's five minutes. The work is done and committed either way.
ANSWER_TIMEOUT = 30.0
UNKNOWN_INTERACTION = 10062  # the interaction expired (or was answered) before we could answer it
FILES_PER_MESSAGE = 10  # Discord's limit of attachments on one message
FILE_DESCRIPTION_LIMIT = 1024  # an attachment's description (its alt text)


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
        if response.files:  # a modal is the whole answer: nothing can ride with it
            log.warning("interaction %s opened a form; its %d file(s) were not sent", interaction.id,
                        len(response.files))
        return
    messages = list(response.messages) or [Message(prompts.say("discord.done"))]
    if response.form is not None:  # too slow for a modal: say so rather than drop the form silently
        messages.append(Message(prompts.say("discord.form_late")))
    limit = interaction.filesize_limit
    fitting = [f for f in response.files if len(f.data) <= limit]
    messages += [Message(prompts.say("discord.files.too_large", title=f.title or f.filename,
                                     size=file_size(len(f.data)), limit=file_size(limit)))
                 for f in response.files if len(f.data) > limit]
    batches = [fitting[i:i + FILES_PER_MESSAGE] for i in range(0, len(fitting), FILES_PER_MESSAGE)]
    for m, message in enumerate(messages):
        parts = split_text(message.text, CONTENT_LIMIT) or [""]  # an empty text still carries fields and buttons
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            # Fields and buttons follow the last part; the files, the very last part of the answer.
            extra = attachments_for(message, workspace) if last else {}
            files = batches[0] if batches and last and m == len(messages) - 1 else []
            await _send(interaction, part, extra, files)
    for batch in batches[1:]:  # more than Discord takes on one message: further ephemeral followups
        await _send(interaction, "", {}, batch)


async def _send(interaction: discord.Interaction[Any], content: str, extra: dict[str, Any],
                files: list[Attachment]) -> None:
    """One ephemeral message of the answer (the interaction's response, or a followup once it has one).
    When Discord refuses the files (too large for it after all, 413; a bad upload, 400), the text goes
    without them and a short note says what happened."""
    kwargs: dict[str, Any] = {"ephemeral": True, **extra}
    if files:
        kwargs["files"] = [discord.File(BytesIO(f.data), filename=f.filename,
                                        description=clip(f.title, FILE_DESCRIPTION_LIMIT) or None) for f in files]
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, **kwargs)
        else:
            await interaction.response.send_message(content, **kwargs)
    except discord.HTTPException as exc:
        if not files or (isinstance(exc, discord.NotFound) and exc.code == UNKNOWN_INTERACTION):
            raise
        error = f"HTTP {exc.status}" + (f", code {exc.code}" if exc.code else "")
        log.warning("Discord refused %d file(s) for interaction %s: %s %s", len(files), interaction.id, error,
                    clip(exc.text, 200))
        if content or extra:
            await _send(interaction, content, extra, [])
        await _send(interaction, prompts.say("discord.files.refused", error=error), {}, [])
