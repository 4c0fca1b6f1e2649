"""The periodic work, in the order it runs, each with a way to ask when it next has something to do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col

from bot.context import Runtime
from bot.flows import checkin, escalation, membership, report
from storage.models import ProcessedEvent

SweepFn = Callable[[Runtime, datetime], Awaitable[object]]
NextFn = Callable[[Runtime, datetime], Awaitable[datetime | None]]


@dataclass(frozen=True)
class Sweep:
    name: str
    run: SweepFn
    next_at: NextFn | None  # None: another sweep's next_at covers it


# Platforms redeliver an event within minutes; a week of remembered ids is plenty.
REMEMBER_EVENTS = timedelta(days=7)


async def forget_old_events(rt: Runtime, now: datetime) -> None:
    """Drop inbound event ids too old to be redelivered, so the dedup table stays small."""
    async with rt.db.transaction() as s:
        await s.exec(delete(ProcessedEvent).where(col(ProcessedEvent.processed_at) < now - REMEMBER_EVENTS))


SWEEPS: tuple[Sweep, ...] = (
    Sweep("auto-resume", membership.auto_resume, membership.next_auto_resume),
    # Close before planning: a period ends exactly when the next one is due.
    Sweep("close-periods", checkin.close_periods, checkin.next_close_or_reminder),
    Sweep("plan-checkins", checkin.plan_due, checkin.next_plan_time),
    Sweep("remind-checkins", checkin.remind_unanswered, None),
    Sweep("remind-escalations", escalation.remind_unacknowledged, escalation.next_unacknowledged),
    Sweep("digests", report.send_digests, report.next_digest),
    Sweep("forget-old-events", forget_old_events, None),
)
