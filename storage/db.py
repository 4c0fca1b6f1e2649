"""Async engine and sessions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from functools import partial
from typing import Any

import aiosqlite

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

# Set on the engine a read-only transaction runs on (Database.read): BEGIN DEFERRED on SQLite, and any
# statement that is not a plain SELECT raises WriteNeeded before it reaches the database.
READ_ONLY = "mentorbot_read_only"


class WriteNeeded(Exception):
    """A read-only transaction was about to write; the caller reruns its work in Database.transaction()."""


def is_read(statement: str) -> bool:
    """Whether a statement only reads (a SELECT that locks no rows); anything else needs a write transaction."""
    head = statement.lstrip()[:6].upper()
    return head == "SELECT" and "FOR UPDATE" not in statement.upper()


def _guard_reads(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(READ_ONLY) and statement != "BEGIN" and not is_read(statement):
            raise WriteNeeded(statement[:60])


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(engine: AsyncEngine, busy_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, open transactions so we can make them IMMEDIATE:
        # a deferred transaction that later writes fails at once with "database is locked".
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # A read-only transaction must not take the single writer's lock: in WAL mode readers never wait.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    """Engine with SQLite made safe for concurrent writers (WAL, busy timeout, BEGIN IMMEDIATE)."""
    if not is_sqlite(url):
        engine = create_async_engine(url, pool_pre_ping=True)
        _guard_reads(engine)
        return engine
    engine = create_async_engine(url, connect_args={"timeout": 30})
    _guard_reads(engine)
    _sqlite_pragmas(engine, 30000)
    return engine


class _InlineQueue:
    """Stands in for aiosqlite's queue to its worker thread (SQLAlchemy puts work on it directly)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class _InlineSqlite(aiosqlite.Connection):
    """aiosqlite's interface, run on the calling thread: no hop to a worker thread and back per call
    (four per statement), which under load costs milliseconds each. Only for reads in WAL mode, which
    never wait for a writer, so the event loop is never blocked on a lock."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, 64)
        self._tx = _InlineQueue()  # type: ignore[assignment]

    async def _execute(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> aiosqlite.Connection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._connect().__await__()  # no worker thread to start

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def create_reader(url: str, engine: AsyncEngine) -> AsyncEngine:
    """The engine read-only transactions run on: for a SQLite file its own pool of inline connections
    (see _InlineSqlite); otherwise the main engine's pool. Marked READ_ONLY either way."""
    path = make_url(url).database if is_sqlite(url) else None
    if not path or path == ":memory:":
        return engine.execution_options(**{READ_ONLY: True})

    async def connect() -> aiosqlite.Connection:
        # A reader waits for a lock only in rare moments (recovery after a crash): briefly, then it fails.
        return await _InlineSqlite(partial(sqlite3.connect, path, timeout=0.2, isolation_level=None,
                                           check_same_thread=False))

    reader = create_async_engine(url, async_creator=connect)
    _guard_reads(reader)
    _sqlite_pragmas(reader, 200)
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
        self._read_sessions = session_factory(self.reader)
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
        """One session in a transaction that only reads: no writer lock; any write (a flush too) raises WriteNeeded."""
        async with self._read_sessions() as session, session.begin():
            yield session

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from storage.migrate import upgrade

        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        if self.reader.engine is not self.engine:
            await self.reader.dispose()
        await self.engine.dispose()
