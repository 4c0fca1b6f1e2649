"""Settings from the environment and a .env file; a bad one stops start-up with one clear line."""

from __future__ import annotations

import logging

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.periods import valid_zone

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./mentorbot.db"
    log_level: str = "INFO"
    default_timezone: str = "UTC"

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"expected a URL like sqlite+aiosqlite:///./mentorbot.db, got {value!r}") from None
        if url.drivername == "postgresql" or url.drivername == "postgres":
            url = url.set(drivername="postgresql+asyncpg")
        if url.drivername not in _DRIVERS:
            raise ValueError(f"expected a sqlite+aiosqlite:// or postgresql+asyncpg:// URL, got {url.drivername}://")
        return url.render_as_string(hide_password=False)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in _LEVELS:
            raise ValueError(f"expected one of {', '.join(_LEVELS)}, got {value!r}")
        return value.upper()

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        if not valid_zone(value):
            raise ValueError(f"expected an IANA time zone like Europe/Berlin, got {value!r}")
        return value


class SettingsError(Exception):
    """One line per bad setting, naming it and what it expects."""


def settings_error(exc: ValidationError, prefix: str = "", missing: str | None = None) -> SettingsError:
    """One "Bad setting NAME: what it expects" line per error; `prefix` is the settings class's env prefix,
    `missing` what to say of a required setting that is absent."""
    lines = []
    for err in exc.errors():
        name = prefix + str(err["loc"][0]).upper() if err["loc"] else prefix + "setting"
        msg = missing if missing and err["type"] == "missing" else str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"Bad setting {name}: {msg}")
    return SettingsError("\n".join(lines))


def load_settings(env_file: str | None = ".env") -> Settings:
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise settings_error(exc) from None


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Migration and per-tick scheduler chatter drowns what matters.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
