"""Storage: the migrations build exactly the models' schema and convert old rows; times stay UTC; SQLite takes
concurrent writers."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlmodel import SQLModel, func, select

from storage.db import Database
from storage.models import AuditLog, Member, OutboxKind, UTCDateTime, Workspace
from tests.old_schema import upgraded


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


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1),
                    timezones=st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))))
def test_sqlite_stores_a_time_as_the_text_sqlalchemy_would(moment: datetime) -> None:
    # UTCDateTime binds in one step on SQLite; rows written before (and SQLAlchemy's own DATETIME) must compare
    # equal and sort the same, so the text has to be the same.
    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = sqlite.DATETIME().bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(moment) == theirs(UTCDateTime().process_bind_param(moment, dialect))


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


_OLD_OUTBOX = [  # (key, kind, subject_id) of every key format written before outbox rows had a kind
    ("intro:3", "intro", 3),
    ("nudge:3:2026-12-07", "nudge", 3),
    ("nudge-again:12:2", "nudge-again", 12),
    ("answer:12", "answer", 12),
    ("answer:12:met", "answer", 12),
    ("remind:12", "remind", 12),
    ("closed:12", "closed", 12),
    ("rate:12:4", "rate", 12),
    ("rated:12:4", "rated", 12),
    ("paused:3:4:2026-12-01T08:00:00+00:00", "paused", 3),
    ("resumed:4:2026-12-02T08:00:00+00:00", "resumed", 4),
    ("resumed-partner:3:4:2026-12-02T08:00:00+00:00", "resumed-partner", 3),
    ("ended:3:4", "ended", 3),
    ("ended-checkin:12", "ended-checkin", 12),
    ("escalation:7@channel:C123", "escalation", 7),
    ("escalation:7:acked@channel:C123", "escalation", 7),
    ("escalation:7@channel:C123@direct:5", "escalation", 7),
    ("escalation-reminder:7@user:5", "escalation-reminder", 7),
    ("escalation-note:7:9@user:5", "escalation-note", 7),
    ("digest:1:2026-12-07@channel:C123", "digest", 1),
]


async def test_the_migration_gives_existing_outbox_rows_their_kind_and_subject(
    tmp_path: Path, pg_ready: str | None,
) -> None:
    seed = "INSERT INTO workspace (id, platform, external_id, name) VALUES (1, 'slack', 'T1', '');" + "".join(
        "INSERT INTO outbox (id, key, workspace_id, dest_kind, target, payload, status, attempts, next_attempt_at,"
        f" created_at) VALUES ({i}, '{key}', 1, 'user', '1', '{{}}', 'sent', 0, '2026-12-01 08:00:00',"
        " '2026-12-01 08:00:00');" for i, (key, _, _) in enumerate(_OLD_OUTBOX, 1))
    async with upgraded(tmp_path, pg_ready, "0004_pair_end_cause", seed) as engines:
        for engine in engines:
            async with engine.connect() as conn:
                got = (await conn.execute(text("SELECT key, kind, subject_id FROM outbox ORDER BY id"))).all()
            assert [tuple(row) for row in got] == _OLD_OUTBOX, engine.url
    # Every kind that existed before the migration is covered; the newer ones never had keys to read.
    newer = {OutboxKind.PROPOSAL, OutboxKind.REQUEST, OutboxKind.REQUEST_ANSWER, OutboxKind.FIRST_IN_LINE,
             OutboxKind.GOAL_PROGRESS, OutboxKind.GOAL_PROGRESSED,
             OutboxKind.FIT_CHECK, OutboxKind.FIT_ANSWERED, OutboxKind.PULSE, OutboxKind.PULSE_ANSWERED}
    assert {kind for _, kind, _ in _OLD_OUTBOX} == {str(k) for k in OutboxKind} - newer
