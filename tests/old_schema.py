"""For migration tests: a database at an old revision, seeded with rows, then upgraded to head, on SQLite and
(when the session has it) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import create_engine
from storage.migrate import upgrade


@asynccontextmanager
async def upgraded(tmp_path: Path, pg_ready: str | None, revision: str, seed_sql: str) -> AsyncIterator[list[AsyncEngine]]:
    """Each database, built to `revision`, given the `;`-separated `seed_sql`, then upgraded to head."""
    urls = [f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"] + ([await _fresh_pg(pg_ready)] if pg_ready else [])
    engines = []
    for url in urls:
        await asyncio.to_thread(upgrade, url, revision)
        engine = create_engine(url)
        async with engine.begin() as conn:
            for statement in seed_sql.strip().split(";"):
                if statement.strip():
                    await conn.execute(text(statement))
        await asyncio.to_thread(upgrade, url)
        engines.append(engine)
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()
        if pg_ready:
            await _drop_pg(urls[1])


async def _admin_pg(url: str, *sql: str) -> None:
    engine = create_async_engine(make_url(url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for statement in sql:
            await conn.execute(text(statement))
    await engine.dispose()


async def _fresh_pg(url: str) -> str:
    """An empty PostgreSQL database of this test's own, on the server the test session uses."""
    server = make_url(url)
    name = f"{server.database}_mig"
    await _admin_pg(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


async def _drop_pg(url: str) -> None:
    name = make_url(url).database
    await _admin_pg(url.rsplit("/", 1)[0] + "/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
