"""DISCORD_* settings: absent means not configured; anything wrong stops start-up naming the setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.discord.settings import DEFAULT_API_URL, load
from bot.settings import SettingsError

TOKEN = "MTA.fake.token"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DISCORD_"):
            monkeypatch.delenv(name)


def test_nothing_discord_means_not_configured(tmp_path: Path) -> None:
    assert load(str(tmp_path / "absent.env")) is None


def test_defaults_and_a_guild_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DISCORD_GUILD_IDS", "111111111111111111, 222222222222222222")
    settings = load(None)
    assert settings is not None
    assert settings.guild_ids == (111111111111111111, 222222222222222222)
    assert settings.api_url == DEFAULT_API_URL and settings.members_intent is False
    assert settings.coordinator_role == "Mentorship Coordinator"
    assert TOKEN not in repr(settings)  # the token never reaches a log line


def test_settings_come_from_the_env_file_too(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DISCORD_BOT_TOKEN={TOKEN}\nDISCORD_API_URL=http://127.0.0.1:9999/api/v10/\n")
    settings = load(str(env))
    assert settings is not None and settings.api_url == "http://127.0.0.1:9999/api/v10"


def test_every_bad_setting_gets_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_GUILD_IDS", "abc,123")
    monkeypatch.setenv("DISCORD_API_URL", "discord.com/api")
    with pytest.raises(SettingsError) as err:
        load(None)
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert any(line.startswith("Bad setting DISCORD_BOT_TOKEN: required") for line in lines)
    assert any("DISCORD_GUILD_IDS" in line and "'abc, 123'" in line for line in lines)
    assert any("DISCORD_API_URL" in line for line in lines)


def test_a_malformed_token_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "not a token")
    with pytest.raises(SettingsError) as err:
        load(None)
    assert "DISCORD_BOT_TOKEN" in str(err.value) and "not a token" not in str(err.value)
