"""DISCORD_* settings: read once at start-up; a bad one stops it with one line naming the setting."""

from __future__ import annotations

import os
from typing import Annotated

from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

from bot.settings import settings_error

DEFAULT_API_URL = "https://discord.com/api/v10"
DEFAULT_COORDINATOR_ROLE = "Mentorship Coordinator"
PREFIX = "DISCORD_"


class DiscordSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr
    # Servers to register /mentor in at once; empty means a global registration.
    guild_ids: Annotated[tuple[int, ...], NoDecode] = ()
    api_url: str = DEFAULT_API_URL
    # Members with a role of this name may create programs, as members with Manage Server may.
    coordinator_role: str = DEFAULT_COORDINATOR_ROLE
    # The privileged Server Members intent, only to notice members leaving the server.
    members_intent: bool = False

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token or any(c.isspace() for c in token) or token.count(".") != 2:
            raise ValueError("expected the bot token from the application's Bot page (three dot-separated parts)")
        return SecretStr(token)

    @field_validator("guild_ids", mode="before")
    @classmethod
    def _guilds(cls, value: object) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
        bad = [p for p in parts if not (p.isdecimal() and 15 <= len(p) <= 20)]
        if bad:
            raise ValueError(f"expected comma-separated server ids like 123456789012345678, got {', '.join(bad)!r}")
        return tuple(int(p) for p in parts)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        url = URL(value.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"expected an http(s) URL like {DEFAULT_API_URL}, got {value!r}")
        return str(url).rstrip("/")

    @field_validator("coordinator_role")
    @classmethod
    def _role(cls, value: str) -> str:
        if not value.strip() or len(value) > 100:
            raise ValueError("expected a role name of 1 to 100 characters")
        return value.strip()


def _mentions_discord(env_file: str | None) -> bool:
    names = set(os.environ) | (set(dotenv_values(env_file)) if env_file and os.path.isfile(env_file) else set())
    return any(name.upper().startswith(PREFIX) for name in names)


def load(env_file: str | None = ".env") -> DiscordSettings | None:
    """The Discord settings; None when nothing DISCORD_* is set. Raises SettingsError, a line per bad one."""
    if not _mentions_discord(env_file):
        return None
    try:
        return DiscordSettings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise settings_error(exc, PREFIX, missing="required: the bot token from the application's Bot page") from None
