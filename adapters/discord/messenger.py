"""The Messenger port on Discord: DMs, channel posts, and a private thread per pair (a bot cannot open a
group DM). Every failure becomes a DeliveryError whose reason tells the coordinators what to fix."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Literal

import aiohttp
import discord

import prompts
from adapters.discord.interactions import PLATFORM
from adapters.discord.views import attachments_for, content_for, embed_for, view_for
from adapters.limits import clip
from bot.messages import Message
from bot.messenger import Delivered, DeliveryError, Destination, Profile, ProfileUnavailable

log = logging.getLogger(__name__)

NONCE_LENGTH = 25  # Discord's limit
THREAD_NAME_LIMIT = 100
ARCHIVE_AFTER_MINUTES: Literal[10080] = 10080  # a week: the longest Discord allows, so a weekly pair's thread stays open
NO_MENTIONS = discord.AllowedMentions.none()  # text people wrote (a report, a note) must never ping anyone
# Seconds one REST call (a post, a thread, adding a member, an edit, a look-up) may take. discord.py's
# session has no timeout of its own short of aiohttp's five minutes; this covers its own 5xx retries (about
# 25 s) and a 429 it waits out (client.MAX_RATELIMIT_WAIT). Past it the outbox retries later.
CALL_TIMEOUT = 90.0


def nonce_for(idempotency_key: str) -> str:
    """The same outbox row always sends the same nonce; with enforce_nonce Discord posts it once."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:NONCE_LENGTH]


def _fatal(reason: str) -> DeliveryError:
    """A failure that trying again cannot fix; the reason goes to the coordinators."""
    return DeliveryError(reason, retryable=False)


def _failure(exc: Exception, forbidden: DeliveryError, missing: DeliveryError) -> DeliveryError:
    """A Discord or network error as a DeliveryError: passing trouble is retried, the rest is explained."""
    if isinstance(exc, discord.RateLimited):
        return DeliveryError(prompts.say("discord.delivery.unavailable", error="429"), retry_after=exc.retry_after)
    if isinstance(exc, discord.DiscordServerError):
        return DeliveryError(prompts.say("discord.delivery.unavailable", error=str(exc.status)))
    if isinstance(exc, discord.Forbidden):
        return forbidden
    if isinstance(exc, discord.NotFound):
        return missing
    if isinstance(exc, discord.HTTPException) and (exc.status == 429 or exc.status >= 500):
        # A 429 that is not Discord's JSON (Cloudflare's page) or a 5xx discord.py did not classify: passing.
        return DeliveryError(prompts.say("discord.delivery.unavailable", error=str(exc.status)))
    if isinstance(exc, discord.HTTPException):
        return _fatal(prompts.say("discord.delivery.rejected", error=_said(exc)))
    return DeliveryError(prompts.say("discord.delivery.unavailable", error=type(exc).__name__))


def _said(exc: discord.HTTPException) -> str:
    """What Discord said about a refusal: its message when it answered in JSON (a code), else only the status,
    so a proxy's HTML page never reaches the coordinators."""
    if exc.code or (exc.text and not exc.text.lstrip().startswith("<")):
        return clip(exc.text or str(exc.status), 300)
    return f"HTTP {exc.status}"


_TRANSIENT = (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError)


class DiscordMessenger:
    """Sends the outbox through a logged-in discord.py client."""

    platform = PLATFORM

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    # --- the port --------------------------------------------------------------------------------

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        nonce = nonce_for(idempotency_key)
        if dest.kind == "user":
            channel = await self._dm(dest.ref or "")
            sent = await self._post(channel, dest.workspace, message, nonce,
                                    forbidden=_fatal(prompts.say("discord.delivery.dm_closed", user=dest.ref)),
                                    missing=_fatal(prompts.say("discord.delivery.member_left", user=dest.ref)))
            # The DM channel is where a later edit of this message must go.
            return Delivered(sent, str(channel))
        if dest.kind == "channel":
            channel_id = _channel_id(dest.ref)
            sent = await self._post(channel_id, dest.workspace, message, nonce,
                                    forbidden=_fatal(prompts.say("discord.delivery.channel_forbidden", channel=dest.ref)),
                                    missing=_fatal(prompts.say("discord.delivery.channel_gone", channel=dest.ref)))
            return Delivered(sent)
        return await self._send_to_pair(dest, message, nonce)

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        channel = self.client.get_partial_messageable(_channel_id(dest.ref))
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                await channel.get_partial_message(int(message_ref)).edit(
                    content=content_for(message), embed=embed_for(message), view=view_for(message, dest.workspace),
                    allowed_mentions=NO_MENTIONS,
                )
        except _TRANSIENT as exc:
            missing = _fatal(prompts.say("discord.delivery.message_gone"))
            raise _failure(exc, forbidden=_fatal(prompts.say("discord.delivery.channel_forbidden", channel=dest.ref)),
                           missing=missing) from exc

    async def lookup_profile(self, workspace: str, user_id: str) -> Profile | None:
        """The server member's display name; None when they are not in the server, ProfileUnavailable when
        Discord cannot say now."""
        try:
            name = await self._display_name(workspace, user_id)
        except discord.NotFound:
            return None
        except _TRANSIENT as exc:
            log.warning("no profile for %s in %s: %s", user_id, workspace, type(exc).__name__)
            raise ProfileUnavailable(type(exc).__name__) from exc
        return None if name is None else Profile(user_id, name)

    # --- helpers -------------------------------------------------------------------------------

    async def _post(self, channel_id: int, workspace: str, message: Message, nonce: str, *,
                    forbidden: DeliveryError, missing: DeliveryError | None) -> str:
        """Post a message; with `missing` None, an unknown channel is left to the caller as NotFound."""
        channel = self.client.get_partial_messageable(channel_id)
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                sent = await channel.send(content_for(message), nonce=nonce, allowed_mentions=NO_MENTIONS,
                                          **attachments_for(message, workspace))
        except discord.NotFound as exc:
            if missing is None:
                raise
            raise missing from exc
        except _TRANSIENT as exc:
            raise _failure(exc, forbidden, missing or forbidden) from exc
        return str(sent.id)

    async def _dm(self, user_id: str) -> int:
        left = _fatal(prompts.say("discord.delivery.member_left", user=user_id))
        if not user_id.isdecimal():
            raise left
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                data = await self.client.http.start_private_message(int(user_id))
        except _TRANSIENT as exc:
            raise _failure(exc, forbidden=_fatal(prompts.say("discord.delivery.dm_closed", user=user_id)), missing=left) from exc
        return int(data["id"])

    async def _send_to_pair(self, dest: Destination, message: Message, nonce: str) -> Delivered:
        if dest.ref:
            try:
                sent = await self._post(
                    _channel_id(dest.ref), dest.workspace, message, nonce,
                    forbidden=_fatal(prompts.say("discord.delivery.thread_post_forbidden", channel=dest.ref)),
                    missing=None,
                )
                return Delivered(sent)
            except discord.NotFound:
                # Someone deleted the thread: open a new one; the deliverer stores it on the pair.
                log.warning("pair thread %s was deleted; opening a new one", dest.ref)
        thread = str(await self._open_thread(dest))
        try:
            sent = await self._post(int(thread), dest.workspace, message, nonce,
                                    forbidden=_fatal(prompts.say("discord.delivery.thread_post_forbidden", channel=thread)),
                                    missing=_fatal(prompts.say("discord.delivery.pairs_channel_gone", channel=dest.home)))
        except DeliveryError as exc:
            # The deliverer stores the new thread on the pair, so the retry posts there (and its nonce
            # catches a post that did land) instead of opening another thread.
            exc.conversation_ref = thread
            raise
        return Delivered(sent, thread)

    async def _open_thread(self, dest: Destination) -> int:
        """A private thread in the program's pairs channel with both members added."""
        if not dest.home:
            raise _fatal(prompts.say("discord.delivery.no_pairs_channel"))
        home = _channel_id(dest.home)
        names = [await self._member_name(dest.workspace, member) for member in dest.members]
        name = prompts.say("discord.thread_name", a=names[0], b=names[-1])
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                thread = await self.client.http.start_thread_without_message(
                    home, name=clip(name, THREAD_NAME_LIMIT), auto_archive_duration=ARCHIVE_AFTER_MINUTES,
                    type=discord.ChannelType.private_thread.value, invitable=False,
                )
        except _TRANSIENT as exc:
            raise _failure(exc, forbidden=_fatal(prompts.say("discord.delivery.thread_forbidden", channel=dest.home)),
                           missing=_fatal(prompts.say("discord.delivery.pairs_channel_gone", channel=dest.home))) from exc
        thread_id = int(thread["id"])
        for member in dest.members:
            try:
                async with asyncio.timeout(CALL_TIMEOUT):
                    await self.client.http.add_user_to_thread(thread_id, int(member))
            except _TRANSIENT as exc:
                raise _failure(exc, forbidden=_fatal(prompts.say("discord.delivery.add_member_forbidden", channel=thread_id,
                                                     user=member)),
                               missing=_fatal(prompts.say("discord.delivery.member_left", user=member))) from exc
        return thread_id

    async def _display_name(self, workspace: str, user_id: str) -> str | None:
        """The server member's display name, fetched; None for ids that are not Discord's. Raises what
        discord.py raised (NotFound when they are not in the server)."""
        if not (workspace.isdecimal() and user_id.isdecimal()):
            return None
        async with asyncio.timeout(CALL_TIMEOUT):
            member: Any = await self.client.http.get_member(int(workspace), int(user_id))
        return member_name(member)

    async def _member_name(self, workspace: str, user_id: str) -> str:
        """The display name for a pair's thread; a member who is gone fails the send, saying so."""
        left = _fatal(prompts.say("discord.delivery.member_left", user=user_id))
        try:
            name = await self._display_name(workspace, user_id)
        except _TRANSIENT as exc:
            raise _failure(exc, forbidden=left, missing=left) from exc
        if name is None:
            raise left
        return name


def member_name(member: dict[str, Any]) -> str:
    """A server member's name as people see it there: nickname, else global name, else username."""
    user = member.get("user", {})
    return str(member.get("nick") or user.get("global_name") or user.get("username") or user.get("id", "?"))


def _channel_id(ref: str | None) -> int:
    """A channel id from a stored reference; anything else (a typed #name) cannot be posted to."""
    if ref is None or not ref.isdecimal():
        raise _fatal(prompts.say("discord.delivery.not_a_channel", channel=ref or ""))
    return int(ref)
