"""Alembic, driven from code: `mentorbot db upgrade` and start-up both call upgrade()."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

# Lives here, not in storage.db, so that only db imports migrate (lazily, at upgrade) and never back.
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`. Runs its own event loop: call it from a thread."""
    command.upgrade(alembic_config(url), revision)
