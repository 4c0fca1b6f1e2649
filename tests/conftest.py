"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when
MENTORBOT_TEST_POSTGRES_URL is set), a manual clock, and the console harness."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from adapters.console import Console
from bot.clock import ManualClock
from bot.core import MentorBot
from storage.db import Database
from storage.migrate import upgrade
from testkit.console import START, Script

PG_URL = os.environ.get("MENTORBOT_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1) if url.startswith("postgresql://") else url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_ready() -> Iterator[str | None]:
    """A PostgreSQL database of this test session's own (runs side by side never collide), migrated once."""
    if not PG_URL:
        yield None
        return
    server = make_url(asyncpg_url(PG_URL))
    name = f"mentorbot_test_{os.getpid()}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_ready: str | None
) -> AsyncIterator[Database]:
    """A migrated, empty database."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite+aiosqlite:///{path}")
    else:
        assert pg_ready is not None
        database = Database(pg_ready)
        tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def bot(db: Database, clock: ManualClock) -> MentorBot:
    return MentorBot(db, clock)


@pytest.fixture
def console(bot: MentorBot, clock: ManualClock, tmp_path: Path) -> Console:
    console = Console(bot, clock, files_dir=tmp_path / "files")  # the files it hands out go with the test's folder
    bot.add_messenger(console.messenger)  # as `mentorbot console` does
    return console


@pytest.fixture
def run(console: Console) -> Script:
    return Script(console)
