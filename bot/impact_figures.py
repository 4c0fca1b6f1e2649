"""The program impact figures, computed from plain numbers the database already summed up.

Nothing here touches the database or prompts: bot/flows/impact.py runs the (aggregating) queries and
says the result; these functions are the arithmetic, so the hand-computed tests check them directly and
the chart worker gets plain data."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

RETENTION_WEEKS = (4, 8, 12)
MEETING_WINDOW = timedelta(weeks=4)  # "still meeting" at a mark: met at least once in the 4 weeks before it
THREE_MEETINGS = 3  # a common retention benchmark: a pair that met three times tends to last


def week_of(day: date) -> date:
    """The Monday of the week `day` falls in: the week a check-in's period is counted in."""
    return day - timedelta(days=day.weekday())


def weeks_ending(today: date, count: int) -> list[date]:
    """The Mondays of the `count` weeks ending with the week of `today`, oldest first."""
    last = week_of(today)
    return [last - timedelta(weeks=count - 1 - i) for i in range(count)]


@dataclass
class Week:
    """One week's check-ins by outcome and its ratings (by the check-in's period)."""

    start: date
    met: int = 0
    rescheduled: int = 0
    could_not_meet: int = 0
    missed: int = 0
    open: int = 0  # still due: the week has not closed yet
    rating_sum: int = 0
    rating_count: int = 0
    quality: float | None = None  # the pulse survey's average, when the lead wires it in (ImpactSources)

    @property
    def closed(self) -> int:
        return self.met + self.rescheduled + self.could_not_meet + self.missed

    @property
    def rate(self) -> float | None:
        """Met out of closed check-ins (as the report's totals count it), or None for a week with none."""
        return self.met / self.closed if self.closed else None

    @property
    def rating(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None


def weekly(weeks: Sequence[date], outcomes: Iterable[tuple[str, str, int]],
           ratings: Iterable[tuple[str, int, int]]) -> list[Week]:
    """Per week: `outcomes` are (period YYYY-MM-DD, check-in status, count), `ratings` (period, sum, count).
    Periods outside the weeks are left out."""
    by_start = {w: Week(w) for w in weeks}
    for period, status, n in outcomes:
        week = by_start.get(week_of(date.fromisoformat(period)))
        if week is not None:
            attr = "open" if status == "due" else status
            setattr(week, attr, getattr(week, attr) + n)
    for period, total, n in ratings:
        week = by_start.get(week_of(date.fromisoformat(period)))
        if week is not None:
            week.rating_sum += total
            week.rating_count += n
    return [by_start[w] for w in weeks]


@dataclass(frozen=True)
class PairSpan:
    """A started pair: when it started and ended (None while it lasts) and why it ended."""

    pair_id: int
    started: datetime
    ended: datetime | None = None
    cause: str | None = None


@dataclass(frozen=True)
class Mark:
    """One retention question: of the pairs started in the week of `cohort`, which were still on at `at`
    (`weeks` after that week began) and had met in the 4 weeks before."""

    cohort: date
    weeks: int
    at: datetime


def cohorts(spans: Iterable[PairSpan]) -> dict[date, list[PairSpan]]:
    """Pairs by the week they started in (UTC calendar weeks of their start)."""
    out: dict[date, list[PairSpan]] = {}
    for span in spans:
        out.setdefault(week_of(span.started.date()), []).append(span)
    return out


def retention_marks(spans: Iterable[PairSpan], now: datetime) -> list[Mark]:
    """Each cohort week and retention mark reached by now (the database then says how many of that cohort
    were still on at the mark and had met in the 4 weeks before it)."""
    marks = []
    for week in sorted(cohorts(spans)):
        for k in RETENTION_WEEKS:
            at = datetime.combine(week + timedelta(weeks=k), datetime.min.time(), tzinfo=now.tzinfo)
            if at <= now:
                marks.append(Mark(week, k, at))
    return marks


@dataclass(frozen=True)
class Retention:
    weeks: int
    kept: int  # still active at the mark and met in the 4 weeks before it
    eligible: int  # started at least `weeks` weeks before now

    @property
    def share(self) -> float | None:
        return self.kept / self.eligible if self.eligible else None


def retention(spans: Sequence[PairSpan], now: datetime, kept: dict[Mark, int]) -> list[Retention]:
    """Retention at 4, 8 and 12 weeks from each cohort's eligible pairs and how many of them were kept."""
    eligible = {k: 0 for k in RETENTION_WEEKS}
    kept_total = {k: 0 for k in RETENTION_WEEKS}
    by_cohort = cohorts(spans)
    for mark in retention_marks(spans, now):
        eligible[mark.weeks] += len(by_cohort[mark.cohort])
        kept_total[mark.weeks] += kept.get(mark, 0)
    return [Retention(k, kept_total[k], eligible[k]) for k in RETENTION_WEEKS]


@dataclass(frozen=True)
class Flow:
    """Pairs started and ended between two moments, the ended ones by cause."""

    started: int
    ended: int
    causes: dict[str, int] = field(default_factory=dict)


def flow(spans: Iterable[PairSpan], since: datetime, until: datetime) -> Flow:
    started = ended = 0
    causes: dict[str, int] = {}
    for s in spans:
        started += since <= s.started < until
        if s.ended is not None and since <= s.ended < until:
            ended += 1
            key = s.cause or "unknown"
            causes[key] = causes.get(key, 0) + 1
    return Flow(started, ended, dict(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))))


def median_hours(durations: Iterable[timedelta]) -> float | None:
    """The median of the durations in hours, or None when there are none."""
    hours = [d.total_seconds() / 3600 for d in durations]
    return statistics.median(hours) if hours else None


def percent(share: float | None) -> str:
    """`75%`, or "-" when there is nothing to divide."""
    return "-" if share is None else f"{100 * share:.0f}%"


def one_decimal(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def rate_series(weeks: Sequence[Week]) -> list[tuple[str, float | None]]:
    """(week's Monday, meeting rate in percent or None): the meeting-rate chart's data."""
    return [(w.start.isoformat(), None if w.rate is None else 100 * w.rate) for w in weeks]


def enough_to_chart(points: Sequence[tuple[str, float | None]], least: int = 2) -> bool:
    """A line needs at least two points with a value; fewer is said in words, not drawn."""
    return sum(1 for _, v in points if v is not None) >= least
