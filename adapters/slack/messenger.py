"""The Messenger port for Slack: posts, edits and profile look-ups through the Web API, paced to Slack's limits."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

import prompts
from adapters.slack.blocks import message_payload
from adapters.slack.client import CALL_FAILURES, CONNECTION_FAILURES, error_code, retry_after
from adapters.slack.pacing import Pacer
from bot.messages import Message
from bot.messenger import Delivered, DeliveryError, Destination, Profile, ProfileUnavailable

log = logging.getLogger(__name__)
PLATFORM = "slack"
PROFILE_TTL = 3600.0  # seconds; names and zones change rarely, and user_change events refresh them sooner
# Errors that trying again cannot fix: the send is failed at once and the coordinators are told.
PERMANENT = frozenset({
    "not_in_channel", "channel_not_found", "is_archived", "account_inactive", "user_not_found",
    "cannot_dm_bot", "user_disabled", "team_access_not_granted", "restricted_action", "not_allowed_token_type",
    "invalid_auth", "token_revoked", "missing_scope", "message_not_found", "cant_update_message",
    "msg_too_long", "invalid_blocks", "too_many_users", "user_is_restricted", "ekm_access_denied",
})
MESSAGE_REF_SEPARATOR = "/"


def message_ref(channel: str, ts: str) -> str:
    """A posted message as the outbox stores it: the conversation and the timestamp, so an edit needs nothing else."""
    return f"{channel}{MESSAGE_REF_SEPARATOR}{ts}"


def delivery_error(exc: Exception) -> DeliveryError:
    """A failed Web API call as the deliverer understands it: why, and whether trying later can help."""
    if isinstance(exc, SlackApiError):
        status, code = error_code(exc)
        if status == 429 or code == "ratelimited":
            wait = retry_after(exc.response.headers)
            return DeliveryError(prompts.say("slack.error_ratelimited"), retryable=True, retry_after=wait,
                                 code="ratelimited")
        if code in PERMANENT:
            return DeliveryError(permanent_reason(code), retryable=False, code=code)
        return DeliveryError(prompts.say("slack.error_temporary", code=code), retryable=True, code=code)
    if isinstance(exc, CONNECTION_FAILURES):
        return DeliveryError(prompts.say("slack.error_connection", error=type(exc).__name__), retryable=True,
                             code=type(exc).__name__)
    raise exc


def permanent_reason(code: str) -> str:
    """A sentence a coordinator can act on, with Slack's error code for whoever digs deeper."""
    if f"slack.reason_{code}" in prompts.catalog():
        return prompts.say(f"slack.reason_{code}", code=code)
    return prompts.say("slack.error_permanent", code=code)


@dataclass
class _Cached:
    profile: Profile | None
    at: float


def profile_from_user(user: dict[str, Any]) -> Profile:
    """A users.info `user` (or a user_change event's) as the core's Profile."""
    info = user.get("profile") or {}
    name = info.get("display_name") or info.get("real_name") or user.get("real_name") or user.get("name") or user["id"]
    return Profile(
        user_id=user["id"],
        display_name=str(name),
        tz=user.get("tz") or None,
        is_admin=bool(user.get("is_admin") or user.get("is_owner")),
    )


class SlackMessenger:
    """Sends through one bot token's workspace. Pacing is shared by every send of this process."""

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, pacer: Pacer) -> None:
        self.client = client
        self.pacer = pacer
        self._profiles: dict[tuple[str, str], _Cached] = {}

    async def _call(self, method: str, conversation: str | None = None, **kwargs: Any) -> dict[str, Any]:
        await self.pacer.wait(method, conversation)
        try:
            response = await self.client.api_call(method, json=kwargs)
        except CALL_FAILURES as exc:
            raise delivery_error(exc) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        """Post to a user's DM with the app, a pair's group DM (opened on first use) or a channel."""
        opened = None
        channel = dest.ref
        if dest.kind == "pair" and channel is None:
            data = await self._call("conversations.open", users=",".join(dest.members))
            channel = opened = str(data["channel"]["id"])
        if not channel:
            raise DeliveryError(prompts.say("slack.error_no_destination", kind=dest.kind), retryable=False)
        data = await self._call("chat.postMessage", channel, channel=channel, **message_payload(message))
        posted_in = str(data.get("channel") or channel)
        # A DM posted to a user id lands in a D... conversation; keep it, edits need the real id.
        conversation = opened if dest.kind == "pair" else (posted_in if posted_in != dest.ref else None)
        return Delivered(message_ref(posted_in, str(data["ts"])), conversation)

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        """Replace a message posted earlier (its ref carries the conversation and timestamp)."""
        channel, sep, ts = message_ref.rpartition(MESSAGE_REF_SEPARATOR)
        if not sep:
            raise DeliveryError(prompts.say("slack.error_bad_ref", ref=message_ref[:80]), retryable=False)
        await self._call("chat.update", channel, channel=channel, ts=ts, **message_payload(message))

    async def lookup_profile(self, workspace: str, user_id: str) -> Profile | None:
        """users.info, cached per workspace and user for PROFILE_TTL; None when Slack knows no such user.
        When Slack cannot answer, the last profile it gave stands (however old); with none, ProfileUnavailable."""
        key = (workspace, user_id)
        cached = self._profiles.get(key)
        if cached and time.monotonic() - cached.at < PROFILE_TTL:
            return cached.profile
        try:
            response = await self.client.users_info(user=user_id)
        except CALL_FAILURES as exc:
            why = error_code(exc)[1] if isinstance(exc, SlackApiError) else type(exc).__name__
            if why not in ("user_not_found", "invalid_arguments"):
                log.warning("users.info failed for %s: %s", user_id, why)
                if cached is not None:
                    return cached.profile
                raise ProfileUnavailable(why) from exc
            profile = None
        else:
            user = response.get("user") or {}
            profile = None if user.get("deleted") else profile_from_user(user)
        self.remember(workspace, user_id, profile)
        return profile

    def remember(self, workspace: str, user_id: str, profile: Profile | None) -> None:
        """Cache what Slack says of a user for PROFILE_TTL (a users.info answer or a user_change event);
        None for a user who is gone."""
        self._profiles[(workspace, user_id)] = _Cached(profile, time.monotonic())
