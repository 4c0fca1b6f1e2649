"""manifest.yml asks Slack for exactly what the app handles (checked as text: no YAML parser is installed)."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.slack.app import COMMAND
from adapters.slack.server import EVENTS_PATH
from tests.slack.conftest import Slack

MANIFEST = (Path(__file__).resolve().parents[2] / "manifest.yml").read_text(encoding="utf-8")


def test_command_urls_and_modes() -> None:
    assert f"command: {COMMAND}\n" in MANIFEST and "should_escape: true" in MANIFEST
    assert MANIFEST.count(f"url: https://mentorbot.example.com{EVENTS_PATH}") == 3
    assert "home_tab_enabled: true" in MANIFEST and "socket_mode_enabled: false" in MANIFEST


async def test_every_subscribed_event_has_a_listener(slack: Slack) -> None:
    events = re.findall(r"^      - (\w+)$", MANIFEST.split("bot_events:\n", 1)[1].split("  interactivity:", 1)[0], re.MULTILINE)
    assert events == ["app_home_opened", "user_change", "app_uninstalled", "tokens_revoked"]
    for n, name in enumerate(events):
        # bolt answers 404 to an event no listener takes.
        event = {"type": name, "user": slack.fake.users["UBOB"] if name == "user_change" else "UBOB", "tab": "home"}
        assert await slack.event(event, f"Ev-m{n}") == 200, name


def test_scopes() -> None:
    scopes = re.findall(r"^      - ([\w:.]+)", MANIFEST.split("bot:\n", 1)[1].split("settings:", 1)[0], re.MULTILINE)
    assert scopes == ["commands", "chat:write", "chat:write.public", "files:write", "im:write", "mpim:write",
                      "users:read", "users:read.email"]
