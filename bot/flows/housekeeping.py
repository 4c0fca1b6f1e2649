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
    async with rt.db.transaction() as s:
        # Look before deleting: the probe is one step down the processed_at index, the DELETE a statement more.
        if (await s.exec(select(ProcessedEvent.id).where(old).limit(1))).first() is not None:
            await s.exec(delete(ProcessedEvent).where(old))


feature.sweep("forget-old-events", forget_old_events)
