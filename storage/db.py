"""Async engine and sessions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import cast

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.json_codec import JSON_CODEC
from storage.read_session import ReadSessions, sqlite_read_engine

# Set on the engine a read-only transaction runs on (Database.read) on PostgreSQL and in-memory SQLite: any
# statement that is not a plain SELECT raises WriteNeeded before it reaches the database (and an in-memory
# SQLite read begins DEFERRED, not IMMEDIATE). A SQLite file's reader needs no mark: it is query_only.
READ_ONLY = "mentorbot_read_only"


class WriteNeeded(Exception):
    """A read-only transaction was about to write; the caller reruns its work in Database.transaction()."""


def is_read(statement: str) -> bool:
    """Whether a statement only reads (a SELECT that locks no rows); anything else needs a write transaction."""
    head = statement.lstrip()[:6].upper()
    return head == "SELECT" and "FOR UPDATE" not in statement.upper()


def _sync(engine: AsyncEngine | Engine) -> Engine:
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


def _guard_reads(engine: AsyncEngine | Engine) -> None:
    @event.listens_for(_sync(engine), "before_cursor_execute")
    def _before(conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(READ_ONLY) and statement != "BEGIN" and not is_read(statement):
            raise WriteNeeded(statement[:60])


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(engine: AsyncEngine | Engine, busy_ms: int, *, query_only: bool = False) -> None:
    @event.listens_for(_sync(engine), "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # The driver opens no transactions of its own: _begin_explicitly's BEGIN opens them, or none do.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        if query_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()


def _refusals_need_a_writer(engine: Engine) -> None:
    """On a SQLite reader in query_only mode, the database's own refusal of a write becomes WriteNeeded."""
    @event.listens_for(engine, "handle_error")
    def _on_error(context) -> None:  # type: ignore[no-untyped-def]
        if getattr(context.original_exception, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY:
            raise WriteNeeded(str(context.statement)[:60])


def _begin_explicitly(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # IMMEDIATE: a deferred transaction that later writes fails at once with "database is locked".
        # A read-only one must not take the single writer's lock: in WAL mode readers never wait.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    """Engine with SQLite made safe for concurrent writers (WAL, busy timeout, BEGIN IMMEDIATE)."""
    if not is_sqlite(url):
        engine = create_async_engine(url, pool_pre_ping=True, **JSON_CODEC)
        _guard_reads(engine)
        return engine
    engine = create_async_engine(url, connect_args={"timeout": 30}, **JSON_CODEC)
    _guard_reads(engine)
    _sqlite_pragmas(engine, 30000)
    _begin_explicitly(engine)
    return engine


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names; None for PostgreSQL and for an in-memory database."""
    path = make_url(url).database if is_sqlite(url) else None
    return path if path and path != ":memory:" else None


def create_reader(url: str, engine: AsyncEngine) -> AsyncEngine | Engine:
    """The engine read-only transactions run on, which refuses any write with WriteNeeded. Its transactions send
    no BEGIN: each SELECT reads the latest committed state on its own (as any statement does under PostgreSQL's
    READ COMMITTED), so a command that only looks sends its SELECTs and nothing else.

    - A SQLite file: a synchronous engine of its own (storage/read_session.py).
    - PostgreSQL: a pool of its own in autocommit, without the pre-ping (a round trip on every checkout): a
      read on a connection the server dropped fails once, and whoever asked reads again (a command is retried
      by MentorBot.handle, a sweep's probe at the next tick); writes keep the pre-ping, so no send fails.
    - SQLite in memory: the main engine, whose reads BEGIN (not IMMEDIATE) on its one connection."""
    path = sqlite_file(url)
    if path is not None:
        # A reader waits for a lock only in rare moments (recovery after a crash): briefly, then it fails.
        # SQLite itself refuses its writes (query_only), so no statement pays for _guard_reads' check.
        reader = sqlite_read_engine(path, timeout=0.2)
        _sqlite_pragmas(reader, 200, query_only=True)
        _refusals_need_a_writer(reader)
        return reader
    if is_sqlite(url):
        return engine.execution_options(**{READ_ONLY: True})
    reader = create_async_engine(url, isolation_level="AUTOCOMMIT", **JSON_CODEC)
    _guard_reads(reader)
    return reader.execution_options(**{READ_ONLY: True})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class Database:
    """The engine plus a way to run one unit of work in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = session_factory(self.engine)
        self.reader = create_reader(url, self.engine)
        if isinstance(self.reader, AsyncEngine):
            self._read_sessions: async_sessionmaker[AsyncSession] | ReadSessions = session_factory(self.reader)
        else:
            self._read_sessions = ReadSessions(self.reader)
        # SQLite takes one writer at a time, and its busy handler retries with growing sleeps, which
        # starves some of many waiting transactions for seconds. Queueing them here, first come first
        # served, keeps every wait short. (Other processes on the same file still meet the busy timeout.)
        self._one_writer = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session, one transaction: committed on success, rolled back on any error."""
        async with self._one_writer or nullcontext(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """One session in a transaction that only reads: no writer lock; any write (a flush too) raises WriteNeeded.
        On a SQLite file it is a ReadSession, which offers AsyncSession's reading methods."""
        if isinstance(self._read_sessions, ReadSessions):
            with self._read_sessions.begin() as reads:
                yield cast(AsyncSession, reads)
        else:
            async with self._read_sessions() as session, session.begin():
                yield session

    @property
    def read_engine(self) -> Engine:
        """The synchronous engine read-only transactions send their statements through (for tests that watch them)."""
        return _sync(self.reader)

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from storage.migrate import upgrade

        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        if isinstance(self.reader, Engine):
            self.reader.dispose()
        else:
            await self.reader.dispose()  # its own pool, or the main engine's (disposed twice, harmlessly)
        await self.engine.dispose()
