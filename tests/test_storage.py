"""Storage: the migrations build exactly the models' schema; times stay UTC; SQLite takes concurrent writers."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, func, select

from storage.db import Database
from storage.models import AuditLog, Member, Workspace


async def test_migrations_match_the_models(db: Database) -> None:
    def diff(conn):  # type: ignore[no-untyped-def]
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, SQLModel.metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_times_come_back_as_the_same_utc_instant(db: Database) -> None:
    berlin_noon = datetime(2026, 12, 7, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    async with db.transaction() as s:
        ws = Workspace(platform="console", external_id="w")
        s.add(ws)
        await s.flush()
        s.add(Member(workspace_id=ws.id, external_id="u", created_at=berlin_noon))
    async with db.transaction() as s:
        member = (await s.exec(select(Member))).one()
    assert member.created_at == berlin_noon
    assert member.created_at.tzinfo is not None and member.created_at.utcoffset() == timedelta(0)


async def test_concurrent_writers_do_not_fail_with_database_is_locked(db: Database) -> None:
    async with db.transaction() as s:
        ws = Workspace(platform="console", external_id="w")
        s.add(ws)
        await s.flush()
        member = Member(workspace_id=ws.id, external_id="u", created_at=datetime.now(UTC))
        s.add(member)
        await s.flush()
        ids = (ws.id, member.id)
    second = Database(db.url)  # another engine, like another process, on the same file

    async def write(database: Database, n: int) -> None:
        for i in range(25):
            async with database.transaction() as s:
                # Read, then write: the pattern that fails under SQLite's deferred transactions.
                await s.exec(select(func.count()).select_from(AuditLog))
                s.add(AuditLog(workspace_id=ids[0], actor_id=ids[1], action=f"w{n}-{i}", at=datetime.now(UTC)))

    try:
        await asyncio.gather(*(write(d, n) for n, d in enumerate([db, second, db, second])))
    finally:
        await second.close()
    async with db.transaction() as s:
        assert (await s.exec(select(func.count()).select_from(AuditLog))).one() == 100
