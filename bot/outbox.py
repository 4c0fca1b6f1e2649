"""Queue messages the bot sends on its own, in the caller's transaction, once per key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Message
from storage.bulk import insert_new
from storage.models import Outbox, OutboxKind, OutboxStatus


def outbox_key(kind: OutboxKind, subject_id: int | None, *details: object) -> str:
    """A row's idempotency key: its kind, its subject, and whatever else makes it one of a kind. Only for
    uniqueness: what a row is, is read from its kind and subject_id columns, never from the key."""
    return ":".join([str(kind), str(subject_id), *map(str, details)])


URGENT, FAN_OUT = 0, 1  # Outbox.priority: the deliverer claims lower first


def priority_of(dest_kind: str, edits_key: str | None) -> int:
    """Direct messages (ratings, replies to a click) and edits (an answered nudge) go ahead of a fan-out."""
    return URGENT if edits_key is not None or dest_kind == "user" else FAN_OUT


def outbox_row(
    *,
    kind: OutboxKind,
    subject_id: int | None,
    details: tuple[object, ...] = (),
    key: str | None = None,
    workspace_id: int,
    dest_kind: str,
    target: str | int,
    message: Message,
    now: datetime,
    program_id: int | None = None,
    edits_key: str | None = None,
) -> dict[str, Any]:
    """One row to queue; its key is outbox_key(kind, subject_id, *details) unless given whole."""
    return {
        "key": key if key is not None else outbox_key(kind, subject_id, *details),
        "kind": kind,
        "subject_id": subject_id,
        "workspace_id": workspace_id,
        "program_id": program_id,
        "dest_kind": dest_kind,
        "target": str(target),
        "payload": message.to_dict(),
        "edits_key": edits_key,
        "status": OutboxStatus.PENDING,
        "priority": priority_of(dest_kind, edits_key),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def enqueue_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows; a key that is already queued is skipped, so replays send nothing new."""
    await insert_new(session, Outbox, rows, unique=("key",))


async def enqueue(session: AsyncSession, **fields: Any) -> None:
    """Queue one message; see outbox_row for the fields."""
    await enqueue_rows(session, [outbox_row(**fields)])
