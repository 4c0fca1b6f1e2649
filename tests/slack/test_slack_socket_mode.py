"""Socket Mode: the app opens a connection with apps.connections.open and answers envelopes over the
WebSocket, here a local fake endpoint."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.slack.app import SlackAdapter
from adapters.slack.server import serve_socket_mode
from bot.core import MentorBot
from tests.slack.conftest import TEAM, settings, text_of
from testkit.fake_slack import FakeSlack


async def test_a_slash_command_over_socket_mode(bot: MentorBot, fake_slack: FakeSlack) -> None:
    config = settings(fake_slack.url + "/api/", slack_app_token="xapp-1-test", slack_signing_secret="")
    adapter = SlackAdapter(bot, config)
    bot.add_messenger(adapter.messenger)
    serving = asyncio.create_task(serve_socket_mode(adapter.app, "xapp-1-test"))
    try:
        await fake_slack.push({
            "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
            "payload": {"team_id": TEAM, "user_id": "UCAROL", "user_name": "carol", "command": "/mentor",
                        "text": "program create Spring", "channel_id": "C1", "trigger_id": "trig-1",
                        "response_url": fake_slack.hook_url("sm")},
        })
        # A guard against a hang, not a sleep: the ack normally arrives in milliseconds.
        ack = await asyncio.wait_for(fake_slack.socket_acks.get(), timeout=30)
        await adapter.drain()
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await adapter.close()
    assert ack["envelope_id"] == "env-1"
    assert "Program Spring created" in text_of(ack["payload"]["blocks"])
    opened = [c for c in fake_slack.calls if c.method == "apps.connections.open"]
    assert opened and opened[0].token == "xapp-1-test"
