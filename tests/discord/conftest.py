"""Fixtures for the Discord adapter: the fake Discord, the real discord.py client running the adapter
against it, a helper that acts like people clicking in the Discord app (interactions over the gateway),
and the steps most stories start with (a program, a pair)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import yarl

from adapters.discord import endpoints
from adapters.discord.client import serve
from adapters.discord.settings import DiscordSettings
from bot.core import MentorBot
from testkit.fake_discord import (
    APP_ID,
    GENERAL,
    GUILD_ID,
    LEADS,
    MANAGE_GUILD,
    PAIRS,
    ROLE_ID,
    TOKEN,
    FakeDiscord,
    FakeUser,
)

ATTACHMENT_LIMIT = 8 * 1024 * 1024
NUDGE_DUE = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin, the earlier of the pair's zones


@dataclass
class Reply:
    """What the person saw: every reply message (ephemeral), or the modal / choices they got."""

    kind: int  # 4 message, 5 deferred then followed up, 9 modal, 8 autocomplete
    messages: list[dict[str, Any]] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(m.get("content") or "" for m in self.messages)

    @property
    def ephemeral(self) -> bool:
        return all(m.get("flags", 0) & 64 for m in self.messages)


class People:
    """Acts in the fake Discord as the given people would, and reads what they were shown."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._ids = itertools.count(700000000000000001)

    # --- payloads -------------------------------------------------------------------------------

    def _base(self, kind: int, user: FakeUser, channel: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        iid = next(self._ids)
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(APP_ID), "type": kind, "token": f"tok{iid}", "version": 1,
            "data": data, "channel_id": channel["id"], "channel": channel, "locale": "en-US",
            "app_permissions": "0", "attachment_size_limit": ATTACHMENT_LIMIT, "entitlements": [],
            "authorizing_integration_owners": {},
        }
        if channel.get("type") == 1:  # a DM: no server, no member
            payload.update(user=user.user(), context=1)
        else:
            payload.update(guild_id=str(GUILD_ID), member=user.member(), context=0,
                           guild={"id": str(GUILD_ID), "locale": "en-US", "features": []})
        return payload

    def _command_spec(self, path: list[str]) -> dict[str, Any]:
        """The option list discord.py registered for /mentor <path>, read from the recorded sync."""
        sync = self.fake.find("PUT", r"/applications/\d+/guilds/\d+/commands")[-1].body
        spec = next(c for c in sync if c["name"] == "mentor")
        for name in path:
            spec = next(o for o in spec["options"] if o["name"] == name)
        return spec

    def _options(self, path: list[str], values: dict[str, Any], focused: str | None = None) -> dict[str, Any]:
        spec = self._command_spec(path)
        types = {o["name"]: o["type"] for o in spec.get("options", [])}
        resolved: dict[str, dict[str, Any]] = {}
        options = []
        for name, value in values.items():
            kind = types[name]
            if isinstance(value, FakeUser):
                member = value.member()
                resolved.setdefault("users", {})[str(value.id)] = member.pop("user")
                resolved.setdefault("members", {})[str(value.id)] = member
                value = str(value.id)
            elif kind == 7:  # a channel id
                channel = self.fake.channels[int(value)]
                resolved.setdefault("channels", {})[str(value)] = {**channel, "permissions": "0"}
                value = str(value)
            option = {"name": name, "type": kind, "value": value}
            if name == focused:
                option["focused"] = True
            options.append(option)
        tree: list[dict[str, Any]] = options
        for name in reversed(path):
            tree = [{"name": name, "type": 1 if name == path[-1] else 2, "options": tree}]
        return {"id": "1", "name": "mentor", "type": 1, "options": tree, "resolved": resolved}

    # --- acting ---------------------------------------------------------------------------------

    async def send(self, payload: dict[str, Any]) -> Reply:
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        return await self.reply(payload)

    async def reply(self, payload: dict[str, Any], parts: int = 1) -> Reply:
        """Wait for the answer to an interaction (and `parts` messages of it, when it has text)."""
        iid, token = payload["id"], payload["token"]

        def answered() -> Reply | None:
            callback = self.fake.find("POST", rf"/interactions/{iid}/{token}/callback")
            if not callback:
                return None
            body = callback[0].body
            kind = body["type"]
            if kind == 9:
                return Reply(kind, modal=body["data"])
            if kind == 8:
                return Reply(kind, choices=body["data"]["choices"])
            messages = [body["data"]] if kind == 4 else []
            messages += [c.body for c in self.fake.find("POST", rf"/webhooks/{APP_ID}/{token}")]
            return Reply(kind, messages) if len(messages) >= parts else None

        result: Reply = await self.fake.wait_for(answered)
        return result

    async def command(self, user: FakeUser, path: str, where: int = GENERAL, **values: Any) -> Reply:
        """`/mentor <path> option:value ...` typed by `user` in the channel `where`."""
        data = self._options(path.split(), values)
        return await self.send(self._base(2, user, self.fake.channels[where], data))

    async def autocomplete(self, user: FakeUser, path: str, focused: str, **values: Any) -> list[str]:
        data = self._options(path.split(), values, focused)
        reply = await self.send(self._base(4, user, self.fake.channels[GENERAL], data))
        return [c["name"] for c in reply.choices]

    def click_payload(self, user: FakeUser, message: dict[str, Any], label: str) -> dict[str, Any]:
        button = next(b for row in message["components"] for b in row["components"] if b["label"] == label)
        channel = self.fake.channels[int(message["channel_id"])]
        payload = self._base(3, user, channel, {"custom_id": button["custom_id"], "component_type": 2})
        payload["message"] = message
        return payload

    async def click(self, user: FakeUser, message: dict[str, Any], label: str) -> Reply:
        return await self.send(self.click_payload(user, message, label))

    async def submit(self, user: FakeUser, modal: dict[str, Any], where: int = GENERAL, **values: str) -> Reply:
        """Fill and submit a modal the person was shown."""
        components = [{"type": 18, "component": {"type": 4, "custom_id": name, "value": value}}
                      for name, value in values.items()]
        data = {"custom_id": modal["custom_id"], "components": components}
        return await self.send(self._base(5, user, self.fake.channels[where], data))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(fake: FakeDiscord) -> DiscordSettings:
    return DiscordSettings(bot_token=TOKEN, api_url=fake.url + "/api/v10", guild_ids=(GUILD_ID,))  # type: ignore[arg-type]


@pytest.fixture
def people(fake: FakeDiscord) -> People:
    return People(fake)


@dataclass
class Cast:
    carol: FakeUser  # Manage Server: a server admin
    rita: FakeUser  # has the coordinator role, no special permission
    bob: FakeUser
    alice: FakeUser
    dave: FakeUser  # an ordinary member


@pytest.fixture
def cast(fake: FakeDiscord) -> Cast:
    return Cast(
        carol=fake.add_user("carol", permissions=MANAGE_GUILD),
        rita=fake.add_user("rita", roles=[ROLE_ID]),
        bob=fake.add_user("bob"),
        alice=fake.add_user("alice"),
        dave=fake.add_user("dave"),
    )


class Running:
    """The adapter running as `mentorbot run --discord` would, until stopped."""

    def __init__(self, bot: MentorBot, settings: DiscordSettings, fake: FakeDiscord) -> None:
        self.bot, self.settings, self.fake = bot, settings, fake
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        identified = len(self.fake.find("GET", "/gateway/bot"))
        self.fake.identify = None
        self.task = asyncio.create_task(serve(self.bot, self.settings, guild_ready_timeout=0))
        self.task.add_done_callback(lambda _: asyncio.ensure_future(self.fake.poke()))
        await self.fake.wait_for(lambda: self.fake.identify is not None
                                 or (self.task is not None and self.task.done()))
        assert len(self.fake.find("GET", "/gateway/bot")) == identified + 1
        if self.task.done():
            self.task.result()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None


@pytest.fixture
def discord_globals() -> Iterator[None]:
    """discord.py keeps the API base and the gateway URL process-wide (adapters.discord.endpoints): put them back."""
    saved = endpoints.current()
    yield
    endpoints.restore(saved)
    assert isinstance(saved.gateway, yarl.URL)


@pytest.fixture
async def running(bot: MentorBot, settings: DiscordSettings, fake: FakeDiscord, cast: Cast,
                  discord_globals: None) -> AsyncIterator[Running]:
    adapter = Running(bot, settings, fake)
    await adapter.start()
    yield adapter
    await adapter.stop()


# --- steps most stories start with ---------------------------------------------------------------


async def setup_program(people: People, cast: Cast) -> None:
    assert "created" in (await people.command(cast.carol, "program create", name="Spring", day="mon",
                                              time="10:00")).text
    await people.command(cast.carol, "program channel", channel=LEADS)
    reply = await people.command(cast.carol, "program channel", channel=PAIRS, pairs=True)
    assert "pairs" in reply.text
    await people.command(cast.bob, "join", role="mentor")
    await people.command(cast.bob, "profile", tz="Europe/Berlin", interests="python,music")
    await people.command(cast.alice, "join", role="mentee")
    await people.command(cast.alice, "profile", tz="America/New_York", interests="python,career",
                         goals="First dev job")


async def pair_them(people: People, cast: Cast, bot: MentorBot, fake: FakeDiscord) -> int:
    """Pair Bob with Alice and deliver the intro; returns the id of the thread it opened."""
    reply = await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice)
    assert "Paired #1" in reply.text and reply.ephemeral
    await bot.deliver()
    return max(cid for cid, c in fake.channels.items() if c.get("parent_id") == str(PAIRS))
