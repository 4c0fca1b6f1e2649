"""Statements for many rows at once, on the tables (Core) rather than through the ORM's bulk paths, which
cost more per row than the database does (bench/fanout.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, Update, bindparam, update
from sqlmodel.ext.asyncio.session import AsyncSession


async def update_by_id(s: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany UPDATE of `model`'s table by id, in id order; every row dict sets the same columns as the first."""
    if not rows:
        return
    # In id order, the one order every transaction that may wait for rows on PostgreSQL locks them in (the
    # deliverer's flushes and lease renewals lock theirs so first): two that share rows cannot deadlock.
    rows = sorted(rows, key=lambda row: row["id"])
    stmt = _update_statement(model.__table__, tuple(k for k in rows[0] if k != "id"))
    await s.exec(stmt, params=[{f"b_{k}": v for k, v in row.items()} for row in rows])  # type: ignore[call-overload]


@cache
def _update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    # Built once per table and columns: building it cost more than running it for a small flush.
    # Bound as "b_<column>": SQLAlchemy refuses a bind named after a column the statement sets.
    return update(table).where(table.c.id == bindparam("b_id")).values({k: bindparam(f"b_{k}") for k in columns})
