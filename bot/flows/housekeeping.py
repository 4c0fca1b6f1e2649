"""Work no person sees: keeping the bot's own bookkeeping small."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select

from bot.context import Runtime
from bot.feature import Feature
from storage.models import ProcessedEvent

feature = Feature("housekeeping")

# Platforms redeliver an event within minutes; a week of remembered ids is plenty.
REMEMBER_EVENTS = timedelta(days=7)


async def forget_old_events(rt: Runtime, now: datetime) -> None:
    """Drop inbound event ids too old to be redelivered, so the dedup table stays small."""
    old = col(ProcessedEvent.processed_at) < now - REMEMBER_EVENTS
    # Look before deleting, on the read path: one step down the processed_at index, no writer lock.
    async with rt.db.read() as s:
        if (await s.exec(select(ProcessedEvent.id).where(old).limit(1))).first() is None:
            return
    async with rt.db.transaction() as s:
        await s.exec(delete(ProcessedEvent).where(old))


feature.sweep("forget-old-events", forget_old_events)
