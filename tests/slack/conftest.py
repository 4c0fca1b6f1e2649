"""Slack fixtures: the fake Slack Web API, and the real bolt app served over HTTP on 127.0.0.1 with
requests signed like Slack signs them. Time for pacing and Retry-After is a fake that never sleeps."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack.app import SlackAdapter
from adapters.slack.pacing import Pacer
from adapters.slack.server import EVENTS_PATH, web_app
from adapters.slack.settings import SlackSettings
from bot.core import MentorBot
from testkit.fake_slack import SECRET, FakeSlack, Posted, signed_headers

TOKEN = "xoxb-test-token"
TEAM = "T1"


class FakeTime:
    """monotonic() and sleep() for the pacer: sleeping moves the time instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Slack:
    """Plays Slack's part: sends what Slack would send to the app, signed, and reads what users see."""

    def __init__(self, bot: MentorBot, fake: FakeSlack, http: TestClient, adapter: SlackAdapter, t: FakeTime) -> None:
        self.bot, self.fake, self.http, self.adapter, self.time = bot, fake, http, adapter, t
        self._n = itertools.count(1)

    async def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None,
                   **sign: Any) -> tuple[int, str]:
        """One request to /slack/events; waits for the work it started, so tests see its effects."""
        resp = await self.http.post(EVENTS_PATH, data=body.encode(),
                                    headers=headers if headers is not None else signed_headers(body, content_type, **sign))
        text = await resp.text()
        await self.adapter.drain()
        return resp.status, text

    async def command(self, user: str, text: str, channel: str = "C-GENERAL", **sign: Any) -> dict[str, Any]:
        """`/mentor <text>`; returns the ack body (the ephemeral reply), {} when the ack was empty."""
        n = next(self._n)
        body = urlencode({"token": "x", "team_id": TEAM, "team_domain": "test", "channel_id": channel,
                          "channel_name": "general", "user_id": user, "user_name": user.lower(),
                          "command": "/mentor", "text": text, "api_app_id": "A1",
                          "response_url": self.fake.hook_url(f"cmd{n}"), "trigger_id": f"trigger-cmd-{n}"})
        status, reply = await self.post(body, "application/x-www-form-urlencoded", **sign)
        assert status == 200, (status, reply)
        return json.loads(reply) if reply.startswith("{") else {}

    def button(self, blocks: list[dict[str, Any]], label: str) -> dict[str, Any]:
        for block in blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element["text"]["text"] == label:
                    return dict(element)
        raise AssertionError(f"no button {label!r} in {json.dumps(blocks)[:500]}")

    async def click(self, user: str, message: Posted, label: str, *, action_ts: float | None = None,
                    **sign: Any) -> str:
        """Click a button on a posted message; returns the response_url hook name its replies go to."""
        n = next(self._n)
        element = self.button(message.blocks, label)
        hook = f"click{n}"
        payload = {
            "type": "block_actions", "api_app_id": "A1", "team": {"id": TEAM},
            "user": {"id": user, "name": user.lower(), "team_id": TEAM},
            "trigger_id": f"trigger-click-{n}", "response_url": self.fake.hook_url(hook),
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                          "is_ephemeral": False},
            "channel": {"id": message.channel}, "message": {"ts": message.ts, "blocks": message.blocks},
            "actions": [{"type": "button", "action_id": element["action_id"], "block_id": "b1",
                         "value": element.get("value", ""), "action_ts": str(action_ts or 1700000000.0 + n)}],
        }
        status, text = await self.post(urlencode({"payload": json.dumps(payload)}),
                                       "application/x-www-form-urlencoded", **sign)
        assert status == 200, (status, text)
        return hook

    async def submit(self, user: str, values: dict[str, str], view: dict[str, Any] | None = None,
                     **sign: Any) -> int:
        """Submit the last modal the bot opened (or `view`) with these field values."""
        view = view or self.fake.views[-1]
        n = next(self._n)
        state = {"values": {name: {"value": {"type": "plain_text_input", "value": v}} for name, v in values.items()}}
        payload = {"type": "view_submission", "api_app_id": "A1", "team": {"id": TEAM},
                   "user": {"id": user, "name": user.lower(), "team_id": TEAM}, "trigger_id": f"trigger-view-{n}",
                   "view": {**view, "state": state}}
        status, _ = await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded",
                                    **sign)
        return status

    async def event(self, event: dict[str, Any], event_id: str, *, retry: int | None = None) -> int:
        body = json.dumps({"token": "x", "team_id": TEAM, "api_app_id": "A1", "event": event,
                           "type": "event_callback", "event_id": event_id, "event_time": 1700000000})
        headers = signed_headers(body, "application/json")
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        status, _ = await self.post(body, "application/json", headers=headers)
        return status

    async def deliver(self) -> int:
        sent = await self.bot.deliver()
        await self.adapter.drain()
        return sent

    def posts(self, channel: str) -> list[Posted]:
        return self.fake.in_channel(channel)

    def find(self, channel: str, text: str) -> Posted:
        """The first message in `channel` whose text contains `text`."""
        for posted in self.posts(channel):
            if text in posted.text:
                return posted
        raise AssertionError(f"no {text!r} in {channel}: {[p.text for p in self.posts(channel)]}")

    def last(self, channel: str) -> Posted:
        posts = self.posts(channel)
        assert posts, f"nothing posted in {channel}: {sorted({c for c, _ in self.fake.messages})}"
        return posts[-1]


def text_of(blocks: list[dict[str, Any]]) -> str:
    """Everything a person reads in some blocks (section texts and fields)."""
    parts = []
    for block in blocks:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
    return "\n".join(parts)


def free_port() -> int:
    """A port nothing listens on, for a server the code under test binds itself."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings(api_url: str, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {"slack_bot_token": TOKEN, "slack_signing_secret": SECRET, "slack_api_url": api_url}
    return SlackSettings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(team=TEAM)
    fake.add_user("UCAROL", "Carol", "America/New_York", admin=True)
    fake.add_user("UBOB", "Bob", "Europe/Berlin")
    fake.add_user("UALICE", "Alice", "America/New_York")
    fake.add_user("UDAN", "Dan", "Asia/Tokyo")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def slack(bot: MentorBot, fake_slack: FakeSlack) -> AsyncIterator[Slack]:
    fake_time = FakeTime()
    adapter = SlackAdapter(bot, settings(fake_slack.url + "/api/"),
                           pacer=Pacer(monotonic=fake_time.monotonic, sleep=fake_time.sleep))
    bot.add_messenger(adapter.messenger)  # as serve() does: the adapter's constructor leaves the bot alone
    server = TestServer(web_app(adapter.app, bot.health), host="127.0.0.1", port=0)
    async with TestClient(server) as http:
        yield Slack(bot, fake_slack, http, adapter, fake_time)
        await adapter.close()
