"""The periodic work, in the order it runs, each with a way to ask when it next has something to do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.context import Runtime
from bot.flows import checkin, escalation, membership, report

SweepFn = Callable[[Runtime, datetime], Awaitable[object]]
NextFn = Callable[[Runtime, datetime], Awaitable[datetime | None]]


@dataclass(frozen=True)
class Sweep:
    name: str
    run: SweepFn
    next_at: NextFn | None  # None: another sweep's next_at covers it


SWEEPS: tuple[Sweep, ...] = (
    Sweep("auto-resume", membership.auto_resume, membership.next_auto_resume),
    # Close before planning: a period ends exactly when the next one is due.
    Sweep("close-periods", checkin.close_periods, checkin.next_close_or_reminder),
    Sweep("plan-checkins", checkin.plan_due, checkin.next_plan_time),
    Sweep("remind-checkins", checkin.remind_unanswered, None),
    Sweep("remind-escalations", escalation.remind_unacknowledged, escalation.next_unacknowledged),
    Sweep("digests", report.send_digests, report.next_digest),
)
