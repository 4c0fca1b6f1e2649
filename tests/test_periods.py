"""Cadence and time-zone math: due times land at the program's local time in each member's zone."""

from datetime import UTC, date, datetime

import pytest

from bot.periods import due_at, is_period_date, latest_period, next_period, period_end
from storage.models import Cadence, Program


def program(**kw: object) -> Program:
    base = {"workspace_id": 1, "name": "P", "weekday": 0, "local_time": "10:00", "tz": "UTC",
            "created_at": datetime(2026, 11, 2, tzinfo=UTC)}
    return Program(**{**base, **kw})


def test_pair_across_the_date_line_is_nudged_in_the_earlier_zone() -> None:
    p = program()
    # Monday 10:00 in Auckland (UTC+13) is Sunday 21:00 UTC; in Honolulu (UTC-10) Monday 20:00 UTC.
    due = due_at(p, date(2026, 12, 7), ("Pacific/Auckland", "Pacific/Honolulu"))
    assert due == datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    assert due_at(p, date(2026, 12, 7), ("Pacific/Honolulu",)) == datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def test_due_time_follows_daylight_saving_changes() -> None:
    p = program()
    zones = ("America/New_York",)
    # US clocks go back on Sunday 1 November 2026: 10:00 local is 14:00 UTC before, 15:00 UTC after.
    assert due_at(p, date(2026, 10, 26), zones) == datetime(2026, 10, 26, 14, 0, tzinfo=UTC)
    assert due_at(p, date(2026, 11, 2), zones) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    # Europe springs forward on Sunday 29 March 2026: 10:00 Berlin is 09:00 UTC before, 08:00 UTC after.
    berlin = ("Europe/Berlin",)
    assert due_at(p, date(2026, 3, 23), berlin) == datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    assert due_at(p, date(2026, 3, 30), berlin) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_time_skipped_by_the_clock_change_still_gets_a_nudge() -> None:
    p = program(weekday=6, local_time="02:30")  # Sunday 02:30 does not exist in Berlin on 29 March
    due = due_at(p, date(2026, 3, 29), ("Europe/Berlin",))
    assert datetime(2026, 3, 29, 0, 0, tzinfo=UTC) < due < datetime(2026, 3, 29, 2, 0, tzinfo=UTC)


def test_latest_period_is_the_newest_one_already_due() -> None:
    p = program()
    zones = ("Europe/Berlin",)
    before = datetime(2026, 12, 7, 8, 59, tzinfo=UTC)
    after = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert latest_period(p, zones, before) == (date(2026, 11, 30), datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    assert latest_period(p, zones, after) == (date(2026, 12, 7), after)
    # A week and more of downtime still yields only the newest period.
    assert latest_period(p, zones, datetime(2026, 12, 20, tzinfo=UTC))[0] == date(2026, 12, 14)  # type: ignore[index]


def test_next_period_and_period_end() -> None:
    p = program()
    zones = ("UTC",)
    assert next_period(p, zones, datetime(2026, 12, 7, 10, 0, tzinfo=UTC))[0] == date(2026, 12, 14)
    assert next_period(p, zones, datetime(2026, 12, 7, 9, 59, tzinfo=UTC))[0] == date(2026, 12, 7)
    assert period_end(p, date(2026, 12, 7), zones) == datetime(2026, 12, 14, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cadence", "day", "expected"),
    [
        (Cadence.WEEKLY, date(2026, 12, 14), True),
        (Cadence.WEEKLY, date(2026, 12, 15), False),
        (Cadence.BIWEEKLY, date(2026, 11, 2), True),  # the anchor: first Monday on or after creation
        (Cadence.BIWEEKLY, date(2026, 11, 9), False),
        (Cadence.BIWEEKLY, date(2026, 11, 16), True),
        (Cadence.MONTHLY, date(2026, 12, 7), True),  # first Monday of December
        (Cadence.MONTHLY, date(2026, 12, 14), False),
        (Cadence.MONTHLY, date(2027, 2, 1), True),
    ],
)
def test_cadences(cadence: Cadence, day: date, expected: bool) -> None:
    assert is_period_date(program(cadence=cadence), day) is expected


def test_monthly_period_lasts_until_the_next_month() -> None:
    p = program(cadence=Cadence.MONTHLY)
    assert period_end(p, date(2026, 12, 7), ("UTC",)) == datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
