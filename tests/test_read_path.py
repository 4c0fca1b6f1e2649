"""Commands that only read run in a read-only transaction; anything that writes still has one effect."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from bot.clock import ManualClock
from bot.core import MentorBot
from bot.events import Actor, CommandEvent
from storage.db import Database, WriteNeeded
from storage.models import Member, ProcessedEvent
from testkit.console import START
from tests.conftest import PG_URL

ALICE = Actor("slack", "T1", "U1", "alice", "Europe/Berlin")


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement either engine sends while the block runs, first words only."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()[:2]).upper())

    engines = [db.engine.sync_engine]
    if db.read_engine.pool is not db.engine.sync_engine.pool:  # SQLite's readers have their own pool
        engines.append(db.read_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def command(bot: MentorBot, text_: str, event_id: str, actor: Actor = ALICE) -> str:
    response = await bot.handle(CommandEvent(actor, text_, None, event_id))
    return "\n".join(m.text for m in response.messages)


async def count(db: Database, model: type) -> int:
    async with db.read() as s:
        return len((await s.exec(select(model))).all())


async def test_status_of_someone_known_only_reads(bot: MentorBot, db: Database) -> None:
    await command(bot, "status", "e1")  # first meeting: the member row is written, with the event id
    assert await count(db, Member) == 1 and await count(db, ProcessedEvent) == 1
    with statements(db) as seen:
        reply = await command(bot, "status", "e2")
    assert "not in any program" in reply or reply  # the same answer as before, whatever its words
    assert all(s.startswith(("SELECT", "BEGIN")) for s in seen), seen
    assert "BEGIN IMMEDIATE" not in seen
    assert len(seen) <= 3, seen  # BEGIN, who is acting and was this event done already, their enrolments
    assert await count(db, ProcessedEvent) == 1  # nothing to deduplicate: a repeat would only look again


async def test_a_writing_command_redelivered_has_one_effect(bot: MentorBot, db: Database) -> None:
    await command(bot, "status", "e1")
    first = await command(bot, "profile --tz Asia/Tokyo", "e2")
    again = await command(bot, "profile --tz Asia/Tokyo", "e2")  # the platform delivered it twice
    assert first and again == ""
    async with db.read() as s:
        me = (await s.exec(select(Member))).one()
    assert me.tz == "Asia/Tokyo"
    assert await count(db, ProcessedEvent) == 2


async def test_news_about_the_actor_is_written(bot: MentorBot, db: Database) -> None:
    await command(bot, "status", "e1")
    await command(bot, "status", "e2", Actor("slack", "T1", "U1", "alice b", "Asia/Tokyo"))
    async with db.read() as s:
        me = (await s.exec(select(Member))).one()
    assert (me.display_name, me.tz_from_platform) == ("alice b", "Asia/Tokyo")


async def test_a_read_only_transaction_refuses_to_write(db: Database) -> None:
    with pytest.raises(WriteNeeded):
        async with db.read() as s:
            await s.exec(text("INSERT INTO workspace (platform, external_id, name) VALUES ('x', 'y', '')"))
    with pytest.raises(WriteNeeded):
        async with db.read() as s:
            s.add(Member(workspace_id=1, external_id="U9"))
            await s.flush()
    assert await count(db, Member) == 0


async def test_a_change_left_unflushed_on_the_read_path_is_refused_not_dropped(bot: MentorBot, db: Database) -> None:
    await command(bot, "status", "e1")
    with pytest.raises(WriteNeeded):
        async with db.read() as s:
            me = (await s.exec(select(Member))).one()
            me.display_name = "changed where only reads may happen"
    async with db.read() as s:
        assert (await s.exec(select(Member))).one().display_name == "alice"


async def test_a_command_with_work_after_its_commit_is_recorded_and_done_once(bot: MentorBot, db: Database) -> None:
    admin = Actor("slack", "T1", "U1", "alice", "Europe/Berlin", is_admin=True)
    await command(bot, "program create Spring", "e1", admin)
    first = await bot.handle(CommandEvent(admin, "export", None, "e2"))  # reads, then builds the file after commit
    again = await bot.handle(CommandEvent(admin, "export", None, "e2"))  # the platform delivered it twice
    assert [f.filename for f in first.files] and first.files[0].filename.endswith(".zip")
    assert again.messages == [] and again.files == []
    assert await count(db, ProcessedEvent) == 2


async def reads_at_once(db: Database, n: int) -> list[int]:
    """`n` reads, each holding its connection (its SELECT done) until all `n` do; the members each one saw."""
    holding, release = asyncio.Semaphore(0), asyncio.Event()

    async def look() -> int:
        async with db.read() as s:
            try:
                seen = len((await s.exec(select(Member))).all())
            finally:
                holding.release()  # a read that fails must not leave the others waiting for it
            await release.wait()
            return seen

    looks = [asyncio.create_task(look()) for _ in range(n)]
    for _ in looks:
        await holding.acquire()
    release.set()
    return await asyncio.gather(*looks)


async def test_many_reads_open_at_once_never_wait_for_each_other(tmp_path: Path, sqlite_template: Path) -> None:
    # SQLite reads run on the loop's own thread: reads suspended inside their transactions (waiting on something
    # else) hold their connection, and the next read must still get one at once, since a wait for the pool there
    # would block the loop that has to free one. (PostgreSQL's pool waits with an await, as any pool does.)
    shutil.copy(sqlite_template, tmp_path / "reads.db")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    try:
        assert await reads_at_once(db, 40) == [0] * 40
    finally:
        await db.close()


@pytest.mark.skipif(not PG_URL, reason="a database server that drops connections: PostgreSQL only")
async def test_a_command_is_answered_after_the_server_dropped_every_connection(pg_ready: str) -> None:
    # The read pool has no pre-ping: the first read on a dropped connection fails, and handle() asks again.
    db = Database(pg_ready)
    try:
        bot = MentorBot(db, ManualClock(START))
        first = await command(bot, "status", "d1")
        assert await command(bot, "status", "d2") == first  # a read on a pooled connection

        await reads_at_once(db, 4)  # the pool now holds four connections
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            await conn.commit()
        assert await command(bot, "status", "d3") == first
        assert await command(bot, "status", "d4") == first
    finally:
        await db.close()
