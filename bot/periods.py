"""Cadence and time-zone math: when a pair's check-in is due, in whose local time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from storage.models import Cadence, Program

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEARCH_DAYS = 70  # covers a monthly cadence with room to spare


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_hhmm(text: str) -> time | None:
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdecimal() for p in parts):
        return None
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return None
    return time(hour, minute)


def _anchor(program: Program) -> date:
    """The first period date on or after the program's creation, in its own zone (biweekly parity)."""
    start = program.created_at.astimezone(zone(program.tz)).date()
    return start + timedelta(days=(program.weekday - start.weekday()) % 7)


def is_period_date(program: Program, day: date) -> bool:
    if day.weekday() != program.weekday:
        return False
    if program.cadence == Cadence.BIWEEKLY:
        return ((day - _anchor(program)).days // 7) % 2 == 0
    if program.cadence == Cadence.MONTHLY:
        return day.day <= 7  # the first such weekday of the month
    return True


def due_at(program: Program, day: date, zones: Iterable[str]) -> datetime:
    """The program's local time on `day` in each zone; the earliest of them, in UTC."""
    at = parse_hhmm(program.local_time) or time(10, 0)
    return min(datetime.combine(day, at, tzinfo=zone(z)).astimezone(UTC) for z in zones)


def latest_period(program: Program, zones: tuple[str, ...], now: datetime) -> tuple[date, datetime] | None:
    """The newest period whose due time has passed, with that due time."""
    day = now.date() + timedelta(days=2)
    for _ in range(_SEARCH_DAYS):
        if is_period_date(program, day):
            due = due_at(program, day, zones)
            if due <= now:
                return day, due
        day -= timedelta(days=1)
    return None


def next_period(program: Program, zones: tuple[str, ...], after: datetime) -> tuple[date, datetime]:
    """The first period due strictly after `after`."""
    day = after.date() - timedelta(days=2)
    while True:
        if is_period_date(program, day):
            due = due_at(program, day, zones)
            if due > after:
                return day, due
        day += timedelta(days=1)


def first_period_from(program: Program, zones: tuple[str, ...], day: date) -> tuple[date, datetime]:
    """The first period on or after calendar day `day`, with its due time."""
    while not is_period_date(program, day):
        day += timedelta(days=1)
    return day, due_at(program, day, zones)


def period_end(program: Program, day: date, zones: tuple[str, ...]) -> datetime:
    """A period closes when the next one is due."""
    return next_period(program, zones, due_at(program, day, zones))[1]


def local(dt: datetime, tz: str) -> datetime:
    return dt.astimezone(zone(tz))
