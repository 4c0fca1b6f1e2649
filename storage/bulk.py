"""Statements for many rows at once, on the tables (Core) rather than through the ORM's bulk paths, which
cost more per row than the database does (bench/fanout.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Row,
    String,
    Table,
    Update,
    bindparam,
    column,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import AutoString
from sqlmodel.ext.asyncio.session import AsyncSession


async def insert_new(s: AsyncSession, model: Any, rows: list[dict[str, Any]], unique: tuple[str, ...],
                     returning: tuple[str, ...] = ()) -> list[Row[Any]]:
    """One INSERT of many rows, skipping each row whose `unique` columns are already taken; `returning`
    columns of the rows it did insert."""
    if not rows:
        return []
    columns = tuple(rows[0])
    if _on_postgresql(s):
        # From arrays, one per column: an executemany's multi-row VALUES costs more per row on both sides.
        stmt: Any = _insert_from_arrays(model.__table__, columns, unique, returning)
        params: Any = {f"a_{k}": [row[k] for row in rows] for k in columns}
    else:
        stmt, params = _insert_rows(model.__table__, unique, returning), rows
    result = await s.exec(stmt, params=params)
    return list(result.all()) if returning else []


@cache
def _insert_rows(table: Table, unique: tuple[str, ...], returning: tuple[str, ...]) -> Any:
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    return stmt.returning(*(table.c[c] for c in returning)) if returning else stmt


@cache
def _insert_from_arrays(table: Table, columns: tuple[str, ...], unique: tuple[str, ...],
                        returning: tuple[str, ...]) -> Any:
    v = _arrays(table, columns)
    stmt = postgresql.insert(table).from_select(list(columns), select(*v.c)).on_conflict_do_nothing(
        index_elements=list(unique))
    return stmt.returning(*(table.c[c] for c in returning)) if returning else stmt


def _arrays(table: Table, columns: tuple[str, ...]) -> Any:
    """unnest(:a_<column>, ...) AS v(<column>, ...): rows from one array parameter per column."""
    values = func.unnest(*(bindparam(f"a_{k}", type_=postgresql.ARRAY(_unbounded(table.c[k].type))) for k in columns))
    return values.table_valued(*(column(k, table.c[k].type) for k in columns)).render_derived().alias("v")


def _unbounded(kind: Any) -> Any:
    # The parameter is cast to the array's type, and a cast to VARCHAR(n) cuts a longer text short where the
    # column itself refuses it: without the length, a value too long still fails, as in a plain INSERT.
    return String() if isinstance(kind, String | AutoString) else kind


@dataclass(frozen=True)
class PerDatabase:
    """One statement built for each database; `for_session` picks the one to run."""

    sqlite: Any
    postgresql: Any

    def for_session(self, s: AsyncSession) -> Any:
        return self.postgresql if _on_postgresql(s) else self.sqlite


def with_ids_in(build: Callable[[Any], Any], column: Any, name: str) -> PerDatabase:
    """`build(condition)` where the condition is `column IN :name`: on SQLite a placeholder per value, on
    PostgreSQL one array parameter (`= ANY`), as rendering and parsing a thousand placeholders cost more than
    the query (a fan-out's batch of 1,000 pairs: 6 ms against 1.3 ms of the bot's CPU)."""
    array = bindparam(name, type_=postgresql.ARRAY(column.type))
    return PerDatabase(build(column.in_(bindparam(name, expanding=True))), build(column == func.any(array)))


def _on_postgresql(s: AsyncSession) -> bool:
    return s.bind is not None and s.bind.dialect.name == "postgresql"


# Rows per set of values from which one UPDATE per set beats binding each row: an UPDATE costs the ORM's
# fixed ~100 us, a row in an executemany ~15 us.
SHARED_ROWS = 8
IDS_PER_STATEMENT = 900  # under the 999 variables an older SQLite allows a statement


async def update_by_id(s: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """Set each row's values by its id, in id order; every row dict sets the same columns as the first. One
    statement for all rows, or on SQLite one per set of values when many rows share each set."""
    if not rows:
        return
    # In id order, the one order every transaction that may wait for rows on PostgreSQL locks them in (the
    # deliverer's flushes and lease renewals lock theirs so first): two that share rows cannot deadlock.
    rows = sorted(rows, key=lambda row: row["id"])
    columns = tuple(k for k in rows[0] if k != "id")
    if _on_postgresql(s):
        # One statement joining arrays of the values, where an executemany runs the statement once per row
        # (most of a fan-out's planning time on the server). The arrays keep id order, and so do the locks.
        await s.exec(_update_from_arrays(model.__table__, columns),  # type: ignore[call-overload]
                     params={f"a_{k}": [row[k] for row in rows] for k in ("id", *columns)})
        return
    if (shared := _by_shared_values(rows, columns)) is not None:
        # Rows sharing their values (a fan-out's pairs of one zone share their next due moment): one
        # statement per set of values, where an executemany binds and runs every row on its own.
        for values, ids in shared.items():
            bound = {f"b_{k}": v for k, v in zip(columns, values, strict=True)}
            for first in range(0, len(ids), IDS_PER_STATEMENT):
                params = {"b_ids": ids[first:first + IDS_PER_STATEMENT], **bound}
                await s.exec(_update_ids_statement(model.__table__, columns), params=params)  # type: ignore[call-overload]
        return
    stmt = _update_statement(model.__table__, columns)
    await s.exec(stmt, params=[{f"b_{k}": v for k, v in row.items()} for row in rows])  # type: ignore[call-overload]


def _by_shared_values(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> dict[tuple[Any, ...], list[int]] | None:
    """The rows' ids by their values, when a few sets of values cover many rows; else None."""
    shared: dict[tuple[Any, ...], list[int]] = {}
    try:
        for row in rows:
            shared.setdefault(tuple(row[k] for k in columns), []).append(row["id"])
    except TypeError:  # a value that is not hashable (a JSON column's dict): no sharing to find
        return None
    return shared if len(shared) * SHARED_ROWS <= len(rows) else None


@cache
def _update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    # Built once per table and columns: building it cost more than running it for a small flush.
    # Bound as "b_<column>": SQLAlchemy refuses a bind named after a column the statement sets.
    return update(table).where(table.c.id == bindparam("b_id")).values({k: bindparam(f"b_{k}") for k in columns})


@cache
def _update_ids_statement(table: Table, columns: tuple[str, ...]) -> Update:
    ids = bindparam("b_ids", expanding=True)
    return update(table).where(table.c.id.in_(ids)).values({k: bindparam(f"b_{k}") for k in columns})


@cache
def _update_from_arrays(table: Table, columns: tuple[str, ...]) -> Update:
    v = _arrays(table, ("id", *columns))
    return update(table).where(table.c.id == v.c.id).values({k: v.c[k] for k in columns})
