"""Explicit wiring: building an adapter or the heartbeat changes nothing on the bot; the starter registers
messengers and the after-handle hook."""

from __future__ import annotations

import logging

import pytest

from adapters.console import Console
from adapters.slack.app import SlackAdapter
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.scheduler import Heartbeat
from testkit.console import Script
from tests.slack.conftest import settings


async def test_building_adapters_and_the_heartbeat_leaves_the_bot_alone(
    bot: MentorBot, clock: ManualClock
) -> None:
    heartbeat = Heartbeat(bot)
    Console(bot, clock)
    slack = SlackAdapter(bot, settings("http://127.0.0.1:9/api/"))  # never called: nothing is served
    try:
        assert bot.messengers == {}
        bot.add_messenger(slack.messenger)
        assert bot.messengers == {"slack": slack.messenger}
    finally:
        await slack.close()
        heartbeat.shutdown()


async def test_on_handled_listeners_run_once_per_handled_event(bot: MentorBot, run: Script) -> None:
    calls: list[str] = []
    bot.on_handled(lambda: calls.append("first"))
    bot.on_handled(lambda: calls.append("second"))
    await run("@carol /mentor help")
    assert calls == ["first", "second"]


async def test_a_failing_listener_does_not_change_the_reply(
    bot: MentorBot, run: Script, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("listener bug")

    bot.on_handled(broken)
    with caplog.at_level(logging.ERROR):
        out = await run("@carol /mentor help")
    assert "/mentor" in out and "went wrong" not in out
    assert any("on_handled listener failed" in r.getMessage() for r in caplog.records)
