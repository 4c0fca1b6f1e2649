"""Settings from the environment and a .env file; a bad one stops start-up with one clear line."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot import zones
from bot.health import Limits

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./mentorbot.db"
    log_level: str = "INFO"
    log_file: str = "mentorbot.log"
    default_timezone: str = "UTC"
    # /metrics and /healthz on their own port, for processes without the Slack HTTP server (which serves both).
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # /healthz answers 503 past these (seconds): no sweep run finished (3x the 30 s interval), or a due
    # outbox row waiting.
    health_max_sweep_age: float = 90.0
    health_max_outbox_lag: float = 900.0

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return database_url(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in _LEVELS:
            raise ValueError(f"expected one of {', '.join(_LEVELS)}, got {value!r}")
        return value.upper()

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _port(cls, value: object) -> object:
        if value in ("", None):
            return None  # METRICS_PORT= in a .env file: no metrics server
        return value

    @field_validator("metrics_port")
    @classmethod
    def _port_range(cls, value: int | None) -> int | None:
        if value is not None and not 0 < value < 65536:
            raise ValueError(f"expected a TCP port between 1 and 65535, got {value}")
        return value

    @field_validator("health_max_sweep_age", "health_max_outbox_lag")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"expected a number of seconds above 0, got {value}")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        zone_name = zones.canonical(value)
        if zone_name is None:
            raise ValueError(f"expected an IANA time zone like Europe/Berlin, got {value!r}")
        return zone_name


def health_limits(settings: Settings) -> Limits:
    """The /healthz thresholds the settings ask for."""
    return Limits(sweeps=timedelta(seconds=settings.health_max_sweep_age),
                  outbox_lag=timedelta(seconds=settings.health_max_outbox_lag))


def database_url(value: str) -> str:
    """A database URL the bot can open, with the async driver filled in; ValueError saying what is expected."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"expected a URL like sqlite+aiosqlite:///./mentorbot.db, got {value!r}") from None
    if url.drivername in ("sqlite", "postgresql", "postgres"):
        url = url.set(drivername="sqlite+aiosqlite" if url.drivername == "sqlite" else "postgresql+asyncpg")
    if url.drivername not in _DRIVERS:
        raise ValueError(f"expected a sqlite+aiosqlite:// or postgresql+asyncpg:// URL, got {url.drivername}://")
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        folder = Path(url.database).expanduser().parent
        if not folder.is_dir():
            raise ValueError(f"expected a SQLite file in a folder that exists; {str(folder)!r} does not")
    return url.render_as_string(hide_password=False)


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


_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_file_handler: logging.Handler | None = None


def configure_logging(settings: Settings, *, to_file: bool = False) -> None:
    """Logs to stderr, or with `to_file` only to LOG_FILE (the console keeps them out of its transcript)."""
    global _file_handler
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    if _file_handler is not None:  # configured before in this process (tests call main() repeatedly)
        root.removeHandler(_file_handler)
        _file_handler.close()
        _file_handler = None
    if to_file:
        for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
            root.removeHandler(handler)
        _file_handler = logging.FileHandler(settings.log_file, encoding="utf-8", delay=True)
        _file_handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(_file_handler)
    elif not root.handlers:
        logging.basicConfig(level=settings.log_level, format=_FORMAT)
    # Migration and per-tick scheduler chatter drowns what matters.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
