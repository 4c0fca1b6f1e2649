"""Slack settings from the environment or .env; a bad one stops start-up with one line naming it."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.settings import SettingsError, settings_error

DEFAULT_API_URL = "https://slack.com/api/"
_NAMES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL")


class SlackSettings(BaseSettings):
    """What the Slack adapter needs. Socket Mode when `slack_app_token` is set, else HTTP on `port`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Validated even when absent, so a missing token is named like a malformed one.
    slack_bot_token: str = Field(default="", validate_default=True)
    slack_signing_secret: str = ""
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_API_URL
    port: int = 3000

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str) -> str:
        if not value.startswith("xoxb-") or len(value) < 10:
            raise ValueError("expected the Bot User OAuth Token, which starts with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith("xapp-"):
            raise ValueError("expected an app-level token, which starts with xapp- (or leave it unset for HTTP mode)")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        url = urlparse(value)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"expected an http(s) URL like {DEFAULT_API_URL}, got {value!r}")
        return value if value.endswith("/") else value + "/"

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError(f"expected a TCP port between 1 and 65535, got {value}")
        return value


def _env_file_mentions_slack(env_file: str | None) -> bool:
    if not env_file or not os.path.isfile(env_file):
        return False
    return any(name in _NAMES and value for name, value in dotenv_values(env_file).items())


def load(env_file: str | None = ".env") -> SlackSettings | None:
    """The Slack settings; None when no SLACK_* setting is given at all. Raises SettingsError otherwise
    when one is missing or malformed, one line per problem."""
    if not any(os.environ.get(name) for name in _NAMES) and not _env_file_mentions_slack(env_file):
        return None
    try:
        settings = SlackSettings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise settings_error(exc) from None
    if not settings.socket_mode and not settings.slack_signing_secret:
        raise SettingsError("Bad setting SLACK_SIGNING_SECRET: required in HTTP mode (the app's Basic Information "
                            "page); or set SLACK_APP_TOKEN to use Socket Mode")
    return settings
