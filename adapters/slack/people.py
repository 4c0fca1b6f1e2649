"""Who a sign-up row names in Slack (`mentorbot import --platform slack`): users.info for an id,
users.lookupByEmail for an e-mail address (scope users:read.email), users.list for an @handle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import CALL_FAILURES, error_code, make_client, make_session
from adapters.slack.messenger import PLATFORM, profile_from_user
from adapters.slack.pacing import TIER_3, TIER_4, Pacer
from adapters.slack.settings import SlackSettings
from bot.errors import UserError
from bot.signups import LookupUnavailable, Person, PersonRef

TIER_2 = 20
# Slack's tiers for the look-ups; an import of thousands of rows waits rather than meeting 429s.
PER_MINUTE = {"users.info": TIER_4, "users.lookupByEmail": TIER_3, "users.list": TIER_2}
NOT_FOUND = frozenset({"user_not_found", "users_not_found", "invalid_arguments"})
PAGE = 200  # users.list page size Slack recommends


def _person(user: dict[str, Any]) -> Person | None:
    """A Slack user as a sign-up person; None for deactivated accounts and bots, who cannot take part."""
    if user.get("deleted") or user.get("is_bot") or user.get("id") == "USLACKBOT":
        return None
    profile = profile_from_user(user)
    return Person(profile.user_id, profile.display_name, profile.tz)


class SlackPeople:
    """The PeopleResolver for one Slack workspace (the bot token's team)."""

    platform = PLATFORM
    emails = True

    def __init__(self, client: AsyncWebClient, workspace: str, pacer: Pacer) -> None:
        self.client = client
        self.workspace = workspace
        self.pacer = pacer
        self._everyone: list[dict[str, Any]] | None = None

    async def _call(self, method: str, **params: Any) -> dict[str, Any] | None:
        """One Web API call's data; None when Slack says there is no such user."""
        await self.pacer.wait(method)
        try:
            response = await self.client.api_call(method, http_verb="GET", params=params)
        except SlackApiError as exc:
            code = error_code(exc)[1]
            if code in NOT_FOUND:
                return None
            raise LookupUnavailable(f"{method}: {code}") from None
        except CALL_FAILURES as exc:
            raise LookupUnavailable(f"{method}: {type(exc).__name__}") from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _all_users(self) -> list[dict[str, Any]]:
        """Everyone in the workspace, read once per import (users.list, page by page)."""
        if self._everyone is None:
            users: list[dict[str, Any]] = []
            cursor = ""
            while True:
                data = await self._call("users.list", limit=PAGE, **({"cursor": cursor} if cursor else {})) or {}
                users += data.get("members") or []
                cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
                if not cursor:
                    break
            self._everyone = users
        return self._everyone

    async def find(self, ref: PersonRef) -> list[Person]:
        """An id or e-mail address names one user or none; an @handle matches a username or display name,
        ignoring case (so it may match several)."""
        if ref.kind == "handle":
            wanted = ref.value.casefold()
            found = [u for u in await self._all_users()
                     if wanted in (str(u.get("name", "")).casefold(),
                                   str((u.get("profile") or {}).get("display_name", "")).casefold())]
        else:
            method, param = ("users.info", "user") if ref.kind == "id" else ("users.lookupByEmail", "email")
            data = await self._call(method, **{param: ref.value})
            found = [data["user"]] if data and data.get("user") else []
        return [p for u in found if (p := _person(u)) is not None]


@asynccontextmanager
async def open_people(settings: SlackSettings, workspace: str | None,
                      pacer: Pacer | None = None) -> AsyncIterator[SlackPeople]:
    """A SlackPeople for the bot token's workspace (auth.test); `workspace`, when given, must be that team."""
    async with make_session() as session:
        pacer = pacer or Pacer(PER_MINUTE)
        people = SlackPeople(make_client(settings.slack_bot_token, settings.slack_api_url, pacer, session), "", pacer)
        team = str((await people._call("auth.test") or {}).get("team_id") or "")
        if not team:
            raise LookupUnavailable("auth.test: no team")
        if workspace and workspace != team:
            raise UserError("import.workspace_mismatch", value=workspace, team=team)
        people.workspace = team
        yield people
