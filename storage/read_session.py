"""Read-only transactions on a SQLite file without the asyncio bridge.

An AsyncSession on aiosqlite crosses a greenlet boundary several times per statement, and on the read path
(where statements already run on the calling thread: WAL readers never wait for a writer) that bridge cost
more than the statements themselves, about half of a read command's time. ReadSession offers the part of
AsyncSession the flows use, as coroutines, over a plain synchronous Session on a pysqlite engine."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import SingletonThreadPool
from sqlmodel import Session

from storage.json_codec import JSON_CODEC


class ReadSession:
    """AsyncSession's reading methods, run synchronously on a sync Session. Anything that would write still
    goes through the session and so meets the read-only guard (storage/db.py: WriteNeeded)."""

    def __init__(self, session: Session) -> None:
        self.sync_session = session

    @property
    def bind(self) -> Any:  # storage/bulk.py asks which database it writes to
        return self.sync_session.bind

    async def exec(self, statement: Any, *, params: Any = None, execution_options: Any = None,
                   bind_arguments: dict[str, Any] | None = None) -> Any:
        return self.sync_session.exec(statement, params=params, execution_options=execution_options or {},
                                      bind_arguments=bind_arguments)

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.sync_session.execute(statement, params, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return self.sync_session.get(entity, ident, **kw)

    async def refresh(self, instance: Any, attribute_names: Sequence[str] | None = None, **kw: Any) -> None:
        self.sync_session.refresh(instance, attribute_names, **kw)

    async def flush(self, objects: Sequence[Any] | None = None) -> None:
        self.sync_session.flush(objects)

    async def delete(self, instance: Any) -> None:
        self.sync_session.delete(instance)

    def add(self, instance: Any) -> None:
        self.sync_session.add(instance)

    def add_all(self, instances: Any) -> None:
        self.sync_session.add_all(instances)


def sqlite_read_engine(path: str, timeout: float) -> Engine:
    """A synchronous engine on the SQLite file at `path` (its pragmas and guard are added by storage/db.py)."""
    # One connection per thread (the loop's), shared by every read on it: a read opens no transaction (storage/db.py
    # create_reader) and cannot write, so reads suspended at once do not disturb each other, and none ever waits
    # for a connection, which on the loop's own thread would be a wait for ever. Nothing to roll back on return.
    return create_engine("sqlite://", poolclass=SingletonThreadPool, pool_reset_on_return=None,
                         creator=partial(sqlite3.connect, path, timeout=timeout, isolation_level=None,
                                         check_same_thread=False), **JSON_CODEC)


class ReadSessions:
    """Makes ReadSessions on `engine`: the session's transaction sends no BEGIN (storage/db.py create_reader)."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, class_=Session, expire_on_commit=False)

    @contextmanager
    def begin(self) -> Iterator[ReadSession]:
        # No session.begin(): its commit costs as much as a statement and would send nothing. The final flush
        # is what the commit did of use: a change made on the read path meets the refusal, and is not dropped.
        with self._sessions() as session:
            yield ReadSession(session)
            session.flush()
