"""Reservations of a platform's send budget (a GCRA per key): in memory for one process, or in the database so
that every replica draws on the same budget instead of each spending all of it.

A key (a method, a conversation) holds its theoretical next call time; a call may go `burst` seconds ahead of it.
Reserving several keys at once books the first moment all of them allow and moves each past it by its step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import SendSlot

# (key, step: seconds the key moves on per call, burst: seconds a call may go ahead of the key's next time)
Spacing = tuple[str, float, float]
PRUNE_EVERY = 60.0  # seconds between deleting keys whose next time has passed (they mean the same as no row)

# Built once, on the table: every post books a slot, and building these (the ORM's bulk update above all) cost
# several times what running them does.
_TABLE = SendSlot.__table__  # type: ignore[attr-defined]
_CREATE = {name: insert(_TABLE).on_conflict_do_nothing(index_elements=["key"])
           for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
_LOCK = (select(_TABLE.c.key, _TABLE.c.next_at).where(_TABLE.c.key.in_(bindparam("keys", expanding=True)))
         .order_by(_TABLE.c.key).with_for_update())
_MOVE = update(_TABLE).where(_TABLE.c.key == bindparam("k")).values(next_at=bindparam("at"))


def book(due: dict[str, float], keys: Sequence[Spacing], now: float) -> tuple[float, dict[str, float]]:
    """The slot the keys allow at `now`, and each key's next time after taking it."""
    slot = max([now] + [due.get(key, now) - burst for key, _, burst in keys])
    return slot, {key: max(due.get(key, slot), slot) + step for key, step, _ in keys}


class Slots(Protocol):
    async def reserve(self, keys: Sequence[Spacing], now: float) -> float:
        """Book the next slot for one call under every key; returns its moment (>= now)."""
        ...

    async def defer(self, key: str, until: float) -> None:
        """No call under `key` before `until` (a Retry-After)."""
        ...


class MemorySlots:
    """One process's budget."""

    def __init__(self) -> None:
        self.due: dict[str, float] = {}

    async def reserve(self, keys: Sequence[Spacing], now: float) -> float:
        slot, after = book(self.due, keys, now)
        self.due.update(after)
        return slot

    async def defer(self, key: str, until: float) -> None:
        self.due[key] = max(self.due.get(key, until), until)


class DatabaseSlots:
    """The budget in the send_slot table, one short transaction per reservation: the keys' rows are locked
    (inserted on first use), read, moved on. Times must come from a clock every replica shares (wall time)."""

    def __init__(self, db: Database, scope: str) -> None:
        self.db = db
        self.scope = scope  # e.g. the platform and its workspace: budgets of different tokens never mix
        self._pruned_at: float | None = None

    def _key(self, key: str) -> str:
        return f"{self.scope}:{key}"[:200]

    async def reserve(self, keys: Sequence[Spacing], now: float) -> float:
        named = [(self._key(key), step, burst) for key, step, burst in keys]
        names = sorted({key for key, _, _ in named})  # one lock order for every replica: no deadlock
        async with self.db.transaction() as s:
            await s.exec(_CREATE[self.db.dialect], params=[{"key": key, "next_at": now} for key in names])  # type: ignore[call-overload]
            rows = await s.exec(_LOCK, params={"keys": names})  # type: ignore[call-overload]
            slot, after = book(dict(rows.all()), named, now)
            await s.exec(_MOVE, params=[{"k": key, "at": at} for key, at in after.items()])  # type: ignore[call-overload]
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                # A key whose time has passed books exactly like a missing one: conversations' keys go.
                await s.exec(delete(_TABLE).where(_TABLE.c.next_at < now, _TABLE.c.key.startswith(f"{self.scope}:")))
                self._pruned_at = now
        return slot

    async def defer(self, key: str, until: float) -> None:
        name = self._key(key)
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        stmt = insert(SendSlot).values(key=name, next_at=until)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "next_at": _greatest(self.db.dialect, SendSlot.__table__.c.next_at, stmt.excluded.next_at)})
        async with self.db.transaction() as s:
            await s.exec(stmt)


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if dialect == "postgresql" else func.max(a, b)
