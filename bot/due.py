"""Pair.next_due_at bookkeeping: when the check-in planner next has work for a pair, kept right on every change.

Any change that can move a pair's due moment (its status or active_since, either member's zone, the
program's schedule, a deleted check-in) marks the pair RECOMPUTE, "due now"; the planning sweep then
recomputes it from scratch. A mark can only make the stored moment early, never late, so no change
site can make a nudge go missing: the session hook below sees every ORM change, wherever it is made."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import event, inspect, or_, update
from sqlalchemy.orm import Session

from bot.periods import latest_period, next_period
from storage.models import RECOMPUTE, Checkin, Member, Pair, Program

PAIR_FIELDS = ("status", "active_since")
MEMBER_FIELDS = ("tz", "tz_from_platform")
SCHEDULE_FIELDS = ("cadence", "weekday", "local_time", "tz", "created_at")  # every field bot/periods.py reads
PROGRAM_FIELDS = (*SCHEDULE_FIELDS, "archived")


def schedule_of(program: Program) -> tuple[Any, ...]:
    """The program's schedule: programs with equal schedules have the same periods in the same zones."""
    return tuple(getattr(program, name) for name in SCHEDULE_FIELDS)


def due_period(program: Program, zs: tuple[str, ...], active_since: datetime, now: datetime) -> tuple[date, datetime] | None:
    """The period the planner owes the pair now (the newest one due, if it is after active_since)."""
    found = latest_period(program, zs, now)
    return found if found and found[1] > active_since else None


def next_due(program: Program, zs: tuple[str, ...], active_since: datetime, now: datetime) -> datetime:
    """When the pair's next period is due, once everything due by `now` is planned."""
    return next_period(program, zs, max(now, active_since))[1]


def scratch_due(program: Program, zs: tuple[str, ...], active_since: datetime, planned: set[str], now: datetime) -> datetime:
    """The pair's due moment computed from nothing but its schedule and check-ins (`planned`: their periods)."""
    owed = due_period(program, zs, active_since, now)
    if owed is not None and owed[0].isoformat() not in planned:
        return now
    return next_due(program, zs, active_since, now)


def _changed(obj: Any, fields: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in fields)


def mark_pairs(session: Session, where: Any) -> None:
    """Mark the pairs matching `where` for recomputing (one UPDATE)."""
    session.execute(update(Pair).where(where).values(next_due_at=RECOMPUTE).execution_options(synchronize_session=False))


@event.listens_for(Session, "before_flush")
def _mark_changed(session: Session, _flush_context: Any, _instances: Any) -> None:
    members: set[int] = set()
    programs: set[int] = set()
    pairs: set[int] = set()
    for obj in session.dirty:
        if isinstance(obj, Pair) and _changed(obj, PAIR_FIELDS):
            obj.next_due_at = RECOMPUTE
        elif isinstance(obj, Member) and obj.id is not None and _changed(obj, MEMBER_FIELDS):
            members.add(obj.id)
        elif isinstance(obj, Program) and obj.id is not None and _changed(obj, PROGRAM_FIELDS):
            programs.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Checkin):
            pairs.add(obj.pair_id)  # its period may be owed again
    if members:
        ids = sorted(members)
        mark_pairs(session, or_(Pair.member_a_id.in_(ids), Pair.member_b_id.in_(ids)))  # type: ignore[attr-defined]
    if programs:
        mark_pairs(session, Pair.program_id.in_(sorted(programs)))  # type: ignore[attr-defined]
    if pairs:
        mark_pairs(session, Pair.id.in_(sorted(pairs)))  # type: ignore[union-attr]
