"""Program impact: `/mentor report --weeks N [--chart]` (the weekly figures, charts) and `/mentor export`.

The report's numbers are summed up by the database (GROUP BY week, status) and the arithmetic is in
bot/impact_figures.py; charts are drawn by bot/charts.py in the worker process. The export streams every
table in batches of BATCH rows, each batch its own short transaction (keyset paging by id), into CSV files,
then zips them in the worker: memory stays flat however long the history, and the database's writer lock
is never held for the whole export.

Goals, the pulse survey's quality score and health states come from other features: they plug in through
SOURCES (ImpactSources) and show "-" until they do."""

from __future__ import annotations

import csv
import tempfile
import zipfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import impact_figures as fig
from bot import safeguards
from bot.access import coordinator_program
from bot.args import Args, as_int_in
from bot.charts import health_png, meeting_rate_png
from bot.context import Ctx, Runtime
from bot.errors import UserError
from bot.feature import PROGRAM, Access, Arg, Feature, Kind
from bot.messages import Attachment, Message, Response
from bot.offload import in_worker
from bot.pairs import STARTED
from bot.periods import zone
from bot.safeguards import Hidden
from storage.db import Database
from storage.models import (
    AuditLog,
    Checkin,
    CheckinStatus,
    Enrollment,
    Escalation,
    Feedback,
    Member,
    Pair,
    Program,
    Workspace,
)

MAX_WEEKS = 104
CHART_WEEKS = 12  # --chart without --weeks
BATCH = 1000  # export rows per read transaction
WEEKS = Arg("weeks", Kind.INT, low=1, high=MAX_WEEKS)
CHART = Arg("chart", Kind.FLAG)
feature = Feature("impact")


# --- where other features plug in -----------------------------------------------------------------------

ExportRows = Callable[[Database, int, Hidden], AsyncIterator[Sequence[Sequence[Any]]]]


@dataclass
class ImpactSources:
    """What other features add to the report and the export; each None shows "-" (or nothing) until set.

    goals(session, program, hidden, now) -> {"set": n, "in_progress": n, "done": n, "overdue": n}
    quality(session, program, hidden, weeks) -> ({week Monday: average 1-5}, program quality score or None)
    health_now(session, program, hidden, now, rt) -> Counter of pairs by health-state label, as shown
    health_history(session, program, hidden, since) -> [(day, Counter by health-state label)], oldest first
    export_tables: [(file name, header, rows(db, program_id, hidden) yielding batches of rows)]"""

    goals: Callable[[AsyncSession, Program, Hidden, datetime], Awaitable[dict[str, int]]] | None = None
    quality: Callable[[AsyncSession, Program, Hidden, list[date]],
                      Awaitable[tuple[dict[date, float], float | None]]] | None = None
    health_now: Callable[[AsyncSession, Program, Hidden, datetime, Runtime], Awaitable[Counter[str]]] | None = None
    health_history: Callable[[AsyncSession, Program, Hidden, date],
                             Awaitable[list[tuple[date, Counter[str]]]]] | None = None
    export_tables: list[tuple[str, tuple[str, ...], ExportRows]] = field(default_factory=list)


SOURCES = ImpactSources()


async def pair_rows(db: Database, model: Any, program_id: int, hidden: Hidden,
                    row: Callable[[Any], list[object]]) -> AsyncIterator[list[list[object]]]:
    """For an export table of rows that belong to a pair (goals, pulses): the program's rows the reader may
    see, as `row` writes them, 1,000 a transaction, walked by id."""
    last = 0
    while True:
        async with db.transaction() as s:
            batch = (await s.exec(select(model).join(Pair, col(Pair.id) == model.pair_id).where(
                Pair.program_id == program_id, model.id > last).order_by(model.id).limit(1000))).all()
        if not batch:
            return
        last = batch[-1].id
        yield [row(x) for x in batch if hidden.keeps(x.pair_id)]


# --- the figures ---------------------------------------------------------------------------------------


@dataclass
class Figures:
    """Everything the impact report says, as plain data."""

    weeks: list[fig.Week]
    flow: fig.Flow
    retention: list[fig.Retention]
    three_meetings: int
    started: int
    ack_hours: float | None
    resolve_hours: float | None
    escalations: int
    goals: dict[str, int] | None = None
    quality: float | None = None
    health: Counter[str] | None = None


def _not_hidden(column: Any, hidden: Hidden) -> tuple[Any, ...]:
    return (col(column).not_in(hidden.pair_ids),) if hidden.pair_ids else ()


async def figures(rt: Runtime, program: Program, now: datetime, count: int, hidden: Hidden,
                  sources: ImpactSources | None = None) -> Figures:
    """The impact figures of the `count` weeks ending with this one (in the program's zone). Each query is its
    own short transaction, so SQLite's one writer is free between them and other events are answered."""
    sources, db = sources or SOURCES, rt.db

    async def rows(stmt: Any) -> list[Any]:
        async with db.transaction() as s:
            return list((await s.exec(stmt)).all())

    async def plugged(fn: Callable[..., Awaitable[Any]], *more: Any) -> Any:
        async with db.transaction() as s:
            return await fn(s, program, hidden, *more)

    weeks = fig.weeks_ending(now.astimezone(zone(program.tz)).date(), count)
    first, end = weeks[0].isoformat(), (weeks[-1] + timedelta(weeks=1)).isoformat()
    since = datetime.combine(weeks[0], datetime.min.time(), tzinfo=zone(program.tz))
    in_program = (Pair.program_id == program.id, *_not_hidden(Pair.id, hidden))
    on_pair = col(Pair.id) == col(Checkin.pair_id)
    in_weeks = (col(Checkin.period) >= first, col(Checkin.period) < end)
    outcomes = (await rows(
        select(Checkin.period, Checkin.status, func.count()).join(Pair, on_pair)
        .where(*in_program, *in_weeks).group_by(Checkin.period, Checkin.status)))
    ratings = (await rows(
        select(Checkin.period, func.sum(Feedback.rating), func.count()).select_from(Feedback)
        .join(Checkin, col(Checkin.id) == col(Feedback.checkin_id)).join(Pair, on_pair)
        .where(*in_program, *in_weeks).group_by(Checkin.period)))
    week_rows = fig.weekly(weeks, outcomes, ratings)
    quality = None
    if sources.quality is not None:
        per_week, quality = await plugged(sources.quality, weeks)
        for w in week_rows:
            w.quality = per_week.get(w.start)

    spans = [fig.PairSpan(pid, started, ended, cause) for pid, started, ended, cause in (await rows(
        select(Pair.id, Pair.created_at, Pair.ended_at, Pair.end_cause)
        .where(*in_program, col(Pair.status).in_(STARTED))))]
    kept = {mark: (await rows(_kept(program, hidden, mark)))[0] for mark in fig.retention_marks(spans, now)}
    # Pair first, each pair's check-ins through its (pair_id, period) index, stopping at the third met one:
    # the cost grows with the pairs, not with the weeks of history.
    third_met = (select(Checkin.id).where(col(Checkin.pair_id) == col(Pair.id), Checkin.status == CheckinStatus.MET)
                 .order_by(col(Checkin.period)).limit(1).offset(fig.THREE_MEETINGS - 1)
                 .correlate(Pair).scalar_subquery())
    [three] = await rows(select(func.count()).select_from(Pair).where(
        *in_program, col(Pair.status).in_(STARTED), third_met.is_not(None)))

    esc = await rows(select(Escalation.opened_at, Escalation.acked_at, Escalation.resolved_at).where(
        Escalation.program_id == program.id, col(Escalation.opened_at) >= since,
        *_not_hidden(Escalation.pair_id, hidden)))
    return Figures(
        weeks=week_rows, flow=fig.flow(spans, since, now), retention=fig.retention(spans, now, kept),
        three_meetings=three, started=len(spans),
        ack_hours=fig.median_hours(acked - opened for opened, acked, _ in esc if acked),
        resolve_hours=fig.median_hours(done - opened for opened, _, done in esc if done),
        escalations=len(esc),
        goals=await plugged(sources.goals, now) if sources.goals else None, quality=quality,
        health=await plugged(sources.health_now, now, rt) if sources.health_now else None,
    )


def _kept(program: Program, hidden: Hidden, mark: fig.Mark) -> Any:
    """How many pairs of the mark's cohort still on at the mark that met in the 4 weeks before it (one query, by the
    cohort's start range rather than a list of ids, so a cohort of thousands costs the same)."""
    cohort = datetime.combine(mark.cohort, datetime.min.time(), tzinfo=mark.at.tzinfo)
    met = sa.exists().where(col(Checkin.pair_id) == col(Pair.id), Checkin.status == CheckinStatus.MET,
                            col(Checkin.period) >= (mark.at - fig.MEETING_WINDOW).date().isoformat(),
                            col(Checkin.period) < mark.at.date().isoformat()).correlate(Pair)
    stmt = (
        select(func.count()).select_from(Pair)
        .where(Pair.program_id == program.id, *_not_hidden(Pair.id, hidden), col(Pair.status).in_(STARTED),
               col(Pair.created_at) >= cohort, col(Pair.created_at) < cohort + timedelta(weeks=1),
               sa.or_(col(Pair.ended_at).is_(None), col(Pair.ended_at) > mark.at), met)
    )
    return stmt


# --- saying them ---------------------------------------------------------------------------------------


def _week_line(rt: Runtime, w: fig.Week) -> str:
    return rt.t("impact.week_line", week=w.start.isoformat(), met=w.met, rescheduled=w.rescheduled,
                could_not=w.could_not_meet, missed=w.missed, open=w.open, rate=fig.percent(w.rate),
                rating=fig.one_decimal(w.rating), quality=fig.one_decimal(w.quality))


def render(rt: Runtime, program: Program, f: Figures, now: datetime, hidden: Hidden) -> Message:
    """The impact report as one message: a table of weeks, then the program's figures."""
    t = rt.t
    met = sum(w.met for w in f.weeks)
    closed = sum(w.closed for w in f.weeks)
    rated = sum(w.rating_count for w in f.weeks)
    causes = ", ".join(t("impact.cause", count=n, cause=t(f"endcause.{c}") if c != "unknown" else t("impact.no_cause"))
                       for c, n in f.flow.causes.items())
    fields: list[tuple[str, str]] = [
        (t("impact.weeks"), "\n".join(_week_line(rt, w) for w in f.weeks)),
        (t("impact.meeting_rate"), t("impact.meeting_rate_value", rate=fig.percent(met / closed if closed else None),
                                     met=met, closed=closed)),
        (t("impact.rating"), t("impact.rating_value", avg=fig.one_decimal(
            sum(w.rating_sum for w in f.weeks) / rated if rated else None), count=rated,
            trend=" → ".join(fig.one_decimal(w.rating) for w in f.weeks))),
        (t("impact.quality"), fig.one_decimal(f.quality)),
        (t("impact.pairs"), t("impact.pairs_value", started=f.flow.started, ended=f.flow.ended,
                              causes=t("impact.causes", causes=causes) if causes else "")),
        (t("impact.retention"), ", ".join(
            t("impact.retention_value", weeks=r.weeks, share=fig.percent(r.share), kept=r.kept, eligible=r.eligible)
            for r in f.retention)),
        (t("impact.three_meetings"), t("impact.three_meetings_value", count=f.three_meetings, started=f.started,
                                       share=fig.percent(f.three_meetings / f.started if f.started else None))),
        (t("impact.escalations"), t("impact.escalations_value", ack=fig.one_decimal(f.ack_hours),
                                    resolve=fig.one_decimal(f.resolve_hours), count=f.escalations)),
        (t("impact.goals"), t("impact.goals_value", set=f.goals.get("set", 0),
                              in_progress=f.goals.get("in_progress", 0), done=f.goals.get("done", 0),
                              overdue=f.goals.get("overdue", 0)) if f.goals is not None else "-"),
        (t("impact.health"), ", ".join(f"{state}: {n}" for state, n in f.health.items()) or "-"
         if f.health is not None else "-"),
    ]
    if hidden.pair_ids:
        fields.append((t("report.hidden"), t("report.hidden_value", pairs=hidden.label())))
    head = t("impact.head", program=program.name, weeks=len(f.weeks), first=f.weeks[0].start.isoformat(),
             when=now.strftime("%Y-%m-%d %H:%M UTC"))
    return Message(head, tuple(fields))


def weeks_option(args: Args) -> int | None:
    """--weeks N, checked; None when not given."""
    if "weeks" not in args.options:
        return None
    weeks = as_int_in(args.options["weeks"], 1, MAX_WEEKS)
    if weeks is None:
        raise UserError("impact.bad_weeks", value=args.options["weeks"], max=MAX_WEEKS)
    return weeks


async def impact_report(ctx: Ctx, program: Program, weeks: int, chart: bool) -> Response:
    """The impact report for `/mentor report --weeks N [--chart]`: worked out after the event's commit, in short
    transactions, and charts drawn in the worker, so other events are answered meanwhile."""
    hidden = await safeguards.hidden_from(ctx.session, ctx.me, program)
    rt, now = ctx.rt, ctx.now

    async def work() -> Response:
        f = await figures(rt, program, now, weeks, hidden)
        message = render(rt, program, f, now, hidden)
        if not chart:
            return Response([message])
        history = None
        if SOURCES.health_history is not None:
            async with rt.db.transaction() as s:
                history = [(d.isoformat(), dict(c)) for d, c in
                           await SOURCES.health_history(s, program, hidden, f.weeks[0].start)]
        drawn = await _charts(rt, program.name, fig.rate_series(f.weeks), history)
        return Response([message, *drawn.messages], files=drawn.files)

    return Response(then=work)


async def _charts(rt: Runtime, name: str, points: list[tuple[str, float | None]],
                  history: list[tuple[str, dict[str, int]]] | None) -> Response:
    out = Response()
    if fig.enough_to_chart(points):
        png = await in_worker(meeting_rate_png, points, rt.t("impact.chart_rate_title", program=name),
                              rt.t("impact.chart_rate_axis"))
        out.files.append(Attachment(f"meeting-rate-{_slug(name)}.png", png, rt.t("impact.chart_rate_file")))
    else:
        out.messages.append(Message(rt.t("impact.chart_too_little", least=2)))
    if history is not None:
        if len(history) >= 2:
            states = sorted({state for _, counts in history for state in counts})
            png = await in_worker(health_png, history, [(s, s) for s in states],
                                  rt.t("impact.chart_health_title", program=name), rt.t("impact.chart_health_axis"))
            out.files.append(Attachment(f"health-{_slug(name)}.png", png, rt.t("impact.chart_health_file")))
        else:
            out.messages.append(Message(rt.t("impact.chart_health_too_little", least=2)))
    return out


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "program"


# --- the export ----------------------------------------------------------------------------------------


Build = Callable[[int], Any]  # the last id read -> the next batch's select, ordered by its first column


async def batches(db: Database, build: Build) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Rows of `build`'s select BATCH at a time, each batch in its own short transaction (keyset paging on
    the first column, an id): memory and lock time stay the same however many rows there are."""
    last = 0
    while True:
        async with db.transaction() as s:
            rows = (await s.exec(build(last).limit(BATCH))).all()  # type: ignore[call-overload]
        if not rows:
            return
        yield rows
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _stamp(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def tables(program_id: int, hidden: Hidden) -> list[tuple[str, tuple[str, ...], Build]]:
    """Each CSV file of the export: its name, header and select (the first column an increasing id)."""
    pair_ok = _not_hidden(Pair.id, hidden)
    a, b = sa.orm.aliased(Member), sa.orm.aliased(Member)
    # `x + 0` is not indexable: it keeps the planner walking the table by its id, in order, up to the batch's
    # LIMIT, instead of gathering every row of the program through another index and sorting them all for each
    # batch (that made the export quadratic: 45 s for a year of 10,000 pairs on SQLite).
    pairs = select(Pair.id).where(Pair.program_id == program_id, col(Pair.status).in_(STARTED), *pair_ok)
    of_program = (col(Checkin.pair_id) + 0).in_(pairs)
    return [
        ("people.csv", ("enrollment_id", "member_id", "name", "platform_id", "role", "active", "joined_at", "left_at",
                        "capacity", "tz", "topics", "interests", "languages", "goals", "paused"),
         lambda last: select(Enrollment.id, Member.id, Member.display_name, Member.external_id, Enrollment.role,
                             Enrollment.active, Enrollment.joined_at, Enrollment.left_at, Enrollment.capacity,
                             Member.tz, Member.topics, Member.interests, Member.languages, Member.goals, Member.paused)
         .join(Member, col(Member.id) == col(Enrollment.member_id))
         .where(col(Enrollment.program_id) + 0 == program_id, col(Enrollment.id) > last).order_by(col(Enrollment.id))),
        ("pairs.csv", ("pair_id", "kind", "status", "member_a_id", "member_a", "member_b_id", "member_b", "started_at",
                       "ended_at", "end_cause", "end_reason", "score"),
         lambda last: select(Pair.id, Pair.kind, Pair.status, Pair.member_a_id, a.display_name, Pair.member_b_id,
                             b.display_name, Pair.created_at, Pair.ended_at, Pair.end_cause, Pair.end_reason,
                             Pair.score)
         .join(a, a.id == col(Pair.member_a_id)).join(b, b.id == col(Pair.member_b_id))
         .where(col(Pair.program_id) + 0 == program_id, col(Pair.status).in_(STARTED), *pair_ok,
                col(Pair.id) > last).order_by(col(Pair.id))),
        ("checkins.csv", ("checkin_id", "pair_id", "period", "status", "due_at", "closes_at", "answered_by_id",
                          "answered_at", "reminded_at"),
         lambda last: select(Checkin.id, Checkin.pair_id, Checkin.period, Checkin.status, Checkin.due_at,
                             Checkin.closes_at, Checkin.answered_by_id, Checkin.answered_at, Checkin.reminded_at)
         .where(of_program, col(Checkin.id) > last).order_by(col(Checkin.id))),
        ("ratings.csv", ("rating_id", "checkin_id", "pair_id", "period", "member_id", "rating", "note", "created_at"),
         lambda last: select(Feedback.id, Feedback.checkin_id, Checkin.pair_id, Checkin.period, Feedback.member_id,
                             Feedback.rating, Feedback.note, Feedback.created_at)
         .join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
         .where(of_program, col(Feedback.id) > last).order_by(col(Feedback.id))),
        ("escalations.csv", ("escalation_id", "pair_id", "kind", "status", "reporter_id", "reason", "opened_at",
                             "acked_by_id", "acked_at", "resolved_by_id", "resolved_at", "resolution"),
         lambda last: select(Escalation.id, Escalation.pair_id, Escalation.kind, Escalation.status,
                             Escalation.reporter_id, Escalation.reason, Escalation.opened_at, Escalation.acked_by_id,
                             Escalation.acked_at, Escalation.resolved_by_id, Escalation.resolved_at,
                             Escalation.resolution)
         .where(Escalation.program_id == program_id, *_not_hidden(Escalation.pair_id, hidden),
                col(Escalation.id) > last).order_by(col(Escalation.id))),
        ("audit.csv", ("audit_id", "at", "actor_id", "action", "detail"),
         lambda last: select(AuditLog.id, AuditLog.at, AuditLog.actor_id, AuditLog.action, AuditLog.detail)
         .where(AuditLog.program_id == program_id, col(AuditLog.id) > last).order_by(col(AuditLog.id))),
    ]


async def write_csvs(db: Database, program_id: int, hidden: Hidden, folder: Path,
                     sources: ImpactSources | None = None) -> list[tuple[str, int]]:
    """Every export file written into `folder`, streamed; returns (file name, rows) for each."""
    sources = sources or SOURCES
    written = []
    plugged = [(name, header, _plugged(rows, db, program_id, hidden)) for name, header, rows in sources.export_tables]
    mine = [(name, header, batches(db, build)) for name, header, build in tables(program_id, hidden)]
    for name, header, stream in [*mine, *plugged]:
        count = 0
        with open(folder / name, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            async for rows in stream:
                writer.writerows([_stamp(v) for v in row] for row in rows)
                count += len(rows)
        written.append((name, count))
    return written


def _plugged(rows: ExportRows, db: Database, program_id: int, hidden: Hidden) -> AsyncIterator[Sequence[Sequence[Any]]]:
    return rows(db, program_id, hidden)


def zip_files(folder: str, names: list[str], target: str) -> int:
    """Zip the named files of `folder` into `target` (run in the worker: deflating is CPU work); its size."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.write(Path(folder) / name, arcname=name)
    return Path(target).stat().st_size


async def export_to(db: Database, program_id: int, hidden: Hidden, target: Path) -> list[tuple[str, int]]:
    """The program's export as a ZIP at `target`: CSVs streamed into a temporary folder, zipped off the loop."""
    with tempfile.TemporaryDirectory(prefix="mentorbot-export-") as folder:
        written = await write_csvs(db, program_id, hidden, Path(folder))
        await in_worker(zip_files, folder, [name for name, _ in written], str(target))
    return written


@feature.command("export", access=Access.COORDINATOR, options=(PROGRAM,), grouped=("report", "export"))
async def export(ctx: Ctx, args: Args) -> Response:
    """`/mentor export [--program P]`: the program's data as a ZIP of CSV files, privately to the coordinator."""
    program = await coordinator_program(ctx, args, "export")
    if args.words:
        raise UserError("error.no_words", command="export")
    # A coordinator in a pair never gets that pair's private side (its check-ins, ratings, reports).
    hidden = await safeguards.hidden_from(ctx.session, ctx.me, program)
    rt, program_id, name, now = ctx.rt, program.id, program.name, ctx.now
    assert program_id is not None

    async def build() -> Response:
        with tempfile.TemporaryDirectory(prefix="mentorbot-zip-") as folder:
            target = Path(folder) / "export.zip"
            written = await export_to(rt.db, program_id, hidden, target)
            data = target.read_bytes()
        filename = f"mentorbot-{_slug(name)}-{now.date().isoformat()}.zip"
        counts = ", ".join(rt.t("impact.export_count", file=f, rows=n) for f, n in written)
        lines = [rt.t("impact.exported", program=name, counts=counts)]
        if hidden.pair_ids:
            lines.append(rt.t("impact.export_hidden", pairs=hidden.label()))
        return Response([Message("\n".join(lines))], files=[Attachment(filename, data, rt.t("impact.export_file",
                                                                                             program=name))])

    return Response(then=build)


async def export_program(db: Database, name: str, workspace: str | None, target: Path) -> list[tuple[str, int]]:
    """`mentorbot export --program P --out FILE`: the program's whole export (nothing hidden: whoever runs
    the command line holds the database) as a ZIP at `target`. UserError for a program not found or ambiguous."""
    async with db.transaction() as s:
        stmt = select(Program.id, Workspace.external_id, Workspace.name).join(
            Workspace, col(Workspace.id) == col(Program.workspace_id)).where(Program.name == name)
        found = [(pid, ext, ws_name) for pid, ext, ws_name in (await s.exec(stmt)).all()
                 if workspace in (None, ext, ws_name)]
    if not found:
        raise UserError("impact.no_program", program=name)
    if len(found) > 1:
        raise UserError("impact.which_workspace", program=name,
                        workspaces=", ".join(ws_name or ext for _, ext, ws_name in found))
    return await export_to(db, found[0][0], safeguards.hidden_of(()), target)
