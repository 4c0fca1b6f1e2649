"""Check-ins: plan one per pair per period, nudge at the local due time, take the one-click answer,
remind once after 48 hours, close unanswered periods as missed, escalate pairs that stop meeting."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from functools import cache, partial
from typing import Any, Literal

from sqlalchemy import bindparam, update
from sqlalchemy.orm import aliased
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

import prompts
from bot.args import Args, as_id
from bot.context import Ctx, Runtime
from bot.errors import UserError
from bot.due import schedule_of
from bot.feature import PAIR, Feature
from bot.flows.escalation import open_escalation, raise_escalation
from bot.flows.goals import overdue_note
from bot.messages import Button, Message, Response
from bot.outbox import enqueue, enqueue_rows, outbox_key, outbox_row
from bot.pairs import in_pair, members_of, my_pair, open_checkin, period_checkin, recent_checkins, zones
from bot.periods import first_period_from, latest_period, next_period, period_end
from storage.bulk import insert_new, update_by_id
from storage.models import Checkin, CheckinStatus, EscalationKind, Member, Outbox, OutboxKind, Pair, PairStatus, Program

REMIND_AFTER = timedelta(hours=48)
NUDGE_GAP = timedelta(hours=12)  # a coordinator's nudges to one pair, at most one per this
# A batch's work holds the event loop in stretches that grow with it; with Core statements 1,000 keeps acks during a
# fan-out within 1.5x of idle, and 250 made planning 30% slower (bench/slack_ack.py --during-fanout, bench/fanout.py).
PLAN_BATCH = 1000
PLAN_WORKERS = 3
ANSWERS = {
    "checkin.met": CheckinStatus.MET,
    "checkin.rescheduled": CheckinStatus.RESCHEDULED,
    "checkin.could_not_meet": CheckinStatus.COULD_NOT_MEET,
}
BAD: tuple[str, ...] = (CheckinStatus.MISSED, CheckinStatus.COULD_NOT_MEET)
feature = Feature("checkin")
NudgeOutcome = Literal["sent", "skipped", "recent"]


def was_paused(pair: Pair, checkin: Checkin) -> bool:
    """Whether this check-in's period does not count for the pair's record: the pair is paused now,
    or the period was due before its last pause ended (counting starts afresh after a pause)."""
    return pair.status == PairStatus.PAUSED or (pair.resumed_at is not None and checkin.due_at < pair.resumed_at)


def nudge_key(pair_id: int, period: str) -> str:
    return outbox_key(OutboxKind.NUDGE, pair_id, period)


def answer_buttons(rt: Runtime, checkin_id: int, pair_id: int) -> tuple[Button, ...]:
    met, rescheduled, could_not, report = _answer_labels(rt.lang)
    value = str(checkin_id)
    return (
        Button(met, "checkin.met", value, "primary"),
        Button(rescheduled, "checkin.rescheduled", value),
        Button(could_not, "checkin.could_not_meet", value),
        Button(report, "escalation.report", str(pair_id), "danger"),
    )


@cache
def _answer_labels(lang: str) -> tuple[str, ...]:
    # Rendered once per language: a fan-out asks for them on every nudge, and the catalog never changes.
    return tuple(prompts.say(f"button.{k}", lang) for k in ("met", "rescheduled", "could_not_meet", "report"))


def nudge_message(rt: Runtime, program: Program, a: Member, b: Member, checkin: Checkin, note: str = "") -> Message:
    """The check-in question; `note` is a feature's line for this pair (its overdue goals)."""
    return _nudge(rt, program, a.display_name, b.display_name, checkin.id, checkin.pair_id, checkin.period, note)  # type: ignore[arg-type]


def _nudge(rt: Runtime, program: Program, a: str, b: str, checkin_id: int, pair_id: int, period: str, note: str) -> Message:
    text = rt.t("checkin.nudge", a=a, b=b, program=program.name, period=period)
    text = f"{text}\n\n{note}" if note else text
    return Message(text, buttons=answer_buttons(rt, checkin_id, pair_id))


def _checkin_for(program: Program, pair: Pair, day: date, due: datetime, zs: tuple[str, ...]) -> Checkin:
    return Checkin(
        pair_id=pair.id,  # type: ignore[arg-type]
        period=day.isoformat(),
        due_at=due,
        closes_at=period_end(program, day, zs),
    )


async def plan_due(rt: Runtime, now: datetime) -> int:
    """Create this period's check-in and its nudge for every active pair whose local due time passed.

    Only pairs the due index names are read (next_due_at <= now), in short transactions of PLAN_BATCH;
    only the newest period is planned, so downtime yields one catch-up nudge, never a backlog."""
    # On PostgreSQL, a few planners at once: one renders its batch while the server runs another's
    # statements. SKIP LOCKED hands each its own pairs. SQLite has one writer, so one planner.
    workers = 1 if rt.db.dialect == "sqlite" else PLAN_WORKERS
    periods = _Periods(now)
    async with asyncio.TaskGroup() as group:  # one failing cancels the others; their batches roll back
        planners = [group.create_task(_plan_until_done(rt, periods, extra=i > 0)) for i in range(workers)]
    return sum(p.result() for p in planners)


class _Periods:
    """The sweep's period math: pairs whose programs share a schedule and whose members share their zones share
    their periods, so each combination is computed once a sweep (a few hundred for 100,000 pairs)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._programs: dict[tuple[Any, ...], Program] = {}  # a program with each schedule: any one computes it
        self.latest = cache(lambda key, zs: latest_period(self._programs[key], zs, now))
        self.following = cache(lambda key, zs, after: next_period(self._programs[key], zs, after)[1])
        self.ends = cache(lambda key, day, zs: period_end(self._programs[key], day, zs))

    def schedule(self, program: Program) -> tuple[Any, ...]:
        """The key the program's periods are kept under."""
        key = schedule_of(program)
        self._programs.setdefault(key, program)
        return key


async def _plan_until_done(rt: Runtime, periods: _Periods, extra: bool) -> int:
    now = periods.now
    planned = 0
    while True:
        if extra and rt.foreground.busy():
            return planned  # people are waiting for answers: the first planner carries on alone
        async with rt.db.transaction() as s:
            batch = await _due_pairs(s, now)
            if batch:
                planned += await _plan_batch(s, rt, periods, batch)
        # Each batch moves its pairs' next_due_at past now, so the next probe finds only the rest
        # (or pairs another planner holds, which it plans).
        if len(batch) < PLAN_BATCH:
            return planned


_DueRow = tuple[int, int, datetime, str, str | None, str | None, str, str | None, str | None]


def _due_pairs_statement() -> Any:
    a, b = aliased(Member), aliased(Member)
    return (
        select(Pair.id, Pair.program_id, Pair.active_since, a.display_name, a.tz, a.tz_from_platform,
               b.display_name, b.tz, b.tz_from_platform)
        .join(a, col(a.id) == col(Pair.member_a_id))
        .join(b, col(b.id) == col(Pair.member_b_id))
        .where(Pair.status == PairStatus.ACTIVE, col(Pair.next_due_at) <= bindparam("now"))
        .order_by(col(Pair.next_due_at))
        .limit(PLAN_BATCH)
        # Another replica planning at the same moment skips the pairs this one holds.
        .with_for_update(skip_locked=True, of=Pair)  # type: ignore[arg-type]
    )


# Built once: building it (two aliases, their columns) cost a tenth of the bot's time planning a fan-out.
_DUE_PAIRS = _due_pairs_statement()


async def _due_pairs(s: AsyncSession, now: datetime) -> list[_DueRow]:
    """Up to PLAN_BATCH due active pairs, with only the columns planning needs (index-served)."""
    return list((await s.exec(_DUE_PAIRS, params={"now": now})).all())


def _zones(rt: Runtime, row: _DueRow) -> tuple[str, ...]:
    _, _, _, _, atz, aptz, _, btz, bptz = row
    return tuple(sorted({atz or aptz or rt.default_tz, btz or bptz or rt.default_tz}))


async def _plan_batch(s: AsyncSession, rt: Runtime, periods: _Periods, batch: list[_DueRow]) -> int:
    """A few statements for the whole batch: the programs, one INSERT of the check-ins not yet planned,
    the goal notes, one INSERT of outbox rows, one UPDATE of next_due_at."""
    now = periods.now
    program_ids = {row[1] for row in batch}
    programs = {p.id: p for p in (await s.exec(select(Program).where(col(Program.id).in_(program_ids)))).all()}
    # Not in a thread: contending for the GIL, that delayed commands more than running it here (bench/slack_ack.py).
    owed, next_at, rows = _owed(rt, periods, batch, programs)
    if owed:
        # A period already planned (its check-in opened by hand, say) is skipped: it gets no second nudge.
        ids = dict(await insert_new(s, Checkin, rows, unique=("pair_id", "period"), returning=("pair_id", "id")))  # type: ignore[arg-type]
        owed = {pid: o for pid, o in owed.items() if pid in ids}
        notes = await overdue_note(s, rt, list(owed), now)
        await enqueue_rows(s, _nudge_rows(rt, now, owed, ids, notes))
    await update_by_id(s, Pair, [{"id": pid, "next_due_at": at} for pid, at in next_at.items()])
    return len(owed)


_Owed = dict[int, tuple[_DueRow, Program, date]]


def _owed(rt: Runtime, periods: _Periods, batch: list[_DueRow], programs: dict[int | None, Program]
          ) -> tuple[_Owed, dict[int, datetime | None], list[dict[str, Any]]]:
    """The pairs owed this period's check-in, with its row, and every pair's next due moment."""
    owed: _Owed = {}
    next_at: dict[int, datetime | None] = {}
    rows: list[dict[str, Any]] = []
    now, latest, following, ends = periods.now, periods.latest, periods.following, periods.ends
    schedules = {pid: periods.schedule(program) for pid, program in programs.items()}
    for row in batch:
        program = programs[row[1]]
        if program.archived:
            next_at[row[0]] = None  # out of the index until the program is unarchived (bot/due.py marks it)
            continue
        zs, key = _zones(rt, row), schedules[row[1]]
        if (found := latest(key, zs)) and found[1] > row[2]:  # due_period, shared
            day, due = found
            owed[row[0]] = (row, program, day)
            rows.append({"pair_id": row[0], "period": day.isoformat(), "due_at": due,
                         "closes_at": ends(key, day, zs), "status": CheckinStatus.DUE})
        next_at[row[0]] = following(key, zs, max(now, row[2]))  # next_due, shared
    return owed, next_at, rows


def _nudge_rows(rt: Runtime, now: datetime, owed: _Owed, ids: dict[int, int], notes: dict[int, str]
                ) -> list[dict[str, Any]]:
    return [
        outbox_row(
            kind=OutboxKind.NUDGE, subject_id=pid, details=(day.isoformat(),),
            workspace_id=program.workspace_id, program_id=program.id, dest_kind="pair", target=pid,
            message=_nudge(rt, program, row[3], row[6], ids[pid], pid, day.isoformat(), notes.get(pid, "")),
            now=now,
        )
        for pid, (row, program, day) in owed.items()
    ]


async def next_plan_time(rt: Runtime, now: datetime) -> datetime | None:
    """When plan_due next has something to do: one index probe."""
    async with rt.db.read() as s:
        soonest = (await s.exec(select(func.min(Pair.next_due_at)).where(Pair.status == PairStatus.ACTIVE))).one()
    return None if soonest is None else max(soonest, now)


async def _locked(ctx: Ctx, pair: Pair) -> Pair:
    """Hold the pair's row so the planner (which skips locked pairs) cannot create the same check-in."""
    locked = await ctx.session.get(Pair, pair.id, with_for_update=True, populate_existing=True)
    assert locked is not None
    return locked


async def _record_answer(ctx: Ctx, checkin: Checkin, pair: Pair, status: CheckinStatus) -> None:
    """Store the answer, show it to both in the pair's conversation, and follow up."""
    # A later "met" after "rescheduled" is a second, different answer: it gets its own message.
    details: tuple[object, ...] = () if checkin.status == CheckinStatus.DUE else (status,)
    checkin.status = status
    checkin.answered_by_id, checkin.answered_at = ctx.me.id, ctx.now
    program = await ctx.session.get(Program, pair.program_id)
    assert program is not None
    text = ctx.t("checkin.answered", who=ctx.me.display_name, answer=ctx.t(f"outcome.{status}"), period=checkin.period)
    await enqueue(
        ctx.session,
        kind=OutboxKind.ANSWER,
        subject_id=checkin.id,
        details=details,
        workspace_id=ctx.ws.id,  # type: ignore[arg-type]
        program_id=program.id,
        dest_kind="pair",
        target=pair.id,  # type: ignore[arg-type]
        message=Message(text),
        now=ctx.now,
        edits_key=nudge_key(pair.id, checkin.period),  # type: ignore[arg-type]
    )
    if status == CheckinStatus.MET:
        for hook in ctx.rt.after_met:  # the rating request, and whatever else features declared
            await hook(ctx.session, ctx.rt, ctx.now, program, pair, checkin)
    elif status in BAD:
        await escalate_if_not_meeting(ctx.session, ctx.rt, ctx.now, program, pair)


async def answer(ctx: Ctx, value: str, status: CheckinStatus) -> Response:
    """A We met / We rescheduled / We couldn't meet click. The first answer wins."""
    # Locked: two members clicking at once on PostgreSQL must not both count as the first answer.
    checkin_id = as_id(value)
    checkin = await ctx.session.get(Checkin, checkin_id, with_for_update=True) if checkin_id else None
    pair = await ctx.session.get(Pair, checkin.pair_id) if checkin else None
    if checkin is None or pair is None:
        raise UserError("error.stale_button")
    if not in_pair(pair, ctx.me.id):
        raise UserError("error.not_your_checkin")
    if pair.status == PairStatus.ENDED:
        raise UserError("error.pair_ended", id=pair.id)
    if checkin.status != CheckinStatus.DUE:
        who = await ctx.session.get(Member, checkin.answered_by_id) if checkin.answered_by_id else None
        return ctx.reply(
            "checkin.already_answered",
            answer=ctx.t(f"outcome.{checkin.status}"),
            who=who.display_name if who else ctx.t("checkin.nobody"),
        )
    await _record_answer(ctx, checkin, pair, status)
    return ctx.reply(f"checkin.thanks_{status}")


for _action_id, _status in ANSWERS.items():
    feature.action(_action_id)(partial(answer, status=_status))


@feature.command("checkin", options=(PAIR,))
async def log_meeting(ctx: Ctx, args: Args) -> Response:
    """`/mentor checkin`: we met, record it for the open period (or the coming one).

    One meeting is one check-in: a period already answered "met" (by either member, by button or by
    command) is not logged again, and never pushes the log onto a future period."""
    if args.words:
        raise UserError("error.checkin_no_words")
    pair = await _locked(ctx, await my_pair(ctx, args, "checkin"))
    if pair.status != PairStatus.ACTIVE:
        raise UserError("error.pair_paused", id=pair.id)
    open_one = await open_checkin(ctx.session, pair.id)  # type: ignore[arg-type]
    if open_one is None:
        program = await ctx.session.get(Program, pair.program_id)
        assert program is not None
        zs = zones(ctx.rt, *await members_of(ctx.session, pair))
        latest = latest_period(program, zs, ctx.now)
        current = latest if latest and latest[1] > pair.active_since else None
        existing = await period_checkin(ctx.session, pair.id, current[0]) if current else None  # type: ignore[arg-type]
        if current and existing is None:
            # The current period was never planned (it is due, the sweep has not run yet).
            day, due = current
        elif existing is not None and existing.status == CheckinStatus.MET:
            return await _already_met(ctx, existing)
        elif existing is not None and existing.status in (CheckinStatus.RESCHEDULED, CheckinStatus.COULD_NOT_MEET):
            # "We rescheduled" (or couldn't), then met after all within the period: that period met.
            await _record_answer(ctx, existing, pair, CheckinStatus.MET)
            return ctx.reply("checkin.logged", period=existing.period)
        else:
            # No period of this pair has started yet: log the coming one.
            day, due = next_period(program, zs, max(ctx.now, pair.active_since))
            if coming := await period_checkin(ctx.session, pair.id, day):  # type: ignore[arg-type]
                if coming.status == CheckinStatus.MET:
                    return await _already_met(ctx, coming)
                return ctx.reply("checkin.already_logged", period=coming.period)
        open_one = _checkin_for(program, pair, day, due, zs)
        ctx.session.add(open_one)
        await ctx.session.flush()
    await _record_answer(ctx, open_one, pair, CheckinStatus.MET)
    return ctx.reply("checkin.logged", period=open_one.period)


async def _already_met(ctx: Ctx, checkin: Checkin) -> Response:
    who = await ctx.session.get(Member, checkin.answered_by_id) if checkin.answered_by_id else None
    if who is not None and who.id == ctx.me.id:
        return ctx.reply("checkin.already_met_you", period=checkin.period)
    return ctx.reply("checkin.already_met", period=checkin.period,
                     who=who.display_name if who else ctx.t("checkin.nobody"))


async def nudge_now(ctx: Ctx, pair: Pair, program: Program) -> NudgeOutcome:
    """A coordinator's nudge: repeat the open check-in's question, or open the next period early;
    at most one per pair every NUDGE_GAP, so running it again posts nothing."""
    pair = await _locked(ctx, pair)
    if pair.status != PairStatus.ACTIVE:
        return "skipped"
    if pair.nudged_at is not None and pair.nudged_at > ctx.now - NUDGE_GAP:
        return "recent"
    a, b = await members_of(ctx.session, pair)
    open_one = await open_checkin(ctx.session, pair.id)  # type: ignore[arg-type]
    if open_one is None:
        zs = zones(ctx.rt, a, b)
        day, due = next_period(program, zs, max(ctx.now, pair.active_since))
        if await period_checkin(ctx.session, pair.id, day):  # type: ignore[arg-type]
            return "skipped"  # that period is already answered
        open_one = _checkin_for(program, pair, day, due, zs)
        ctx.session.add(open_one)
        await ctx.session.flush()
        kind, subject_id, details = OutboxKind.NUDGE, pair.id, (open_one.period,)
    else:
        # Numbered, not timestamped: two nudges in the same second are two nudges.
        earlier = (
            await ctx.session.exec(
                select(func.count()).select_from(Outbox).where(Outbox.kind == OutboxKind.NUDGE_AGAIN,
                                                               Outbox.subject_id == open_one.id)
            )
        ).one()
        kind, subject_id, details = OutboxKind.NUDGE_AGAIN, open_one.id, (earlier + 1,)
    await enqueue(
        ctx.session,
        kind=kind,
        subject_id=subject_id,
        details=details,
        workspace_id=program.workspace_id,
        program_id=program.id,
        dest_kind="pair",
        target=pair.id,  # type: ignore[arg-type]
        message=nudge_message(ctx.rt, program, a, b, open_one),
        now=ctx.now,
    )
    pair.nudged_at = ctx.now
    return "sent"


async def reschedule(ctx: Ctx, old: Program, new: Program) -> None:
    """A program's schedule changed (`old` is a copy from before): each active pair keeps the period
    under way to its full length, and the new schedule starts with its first period on or after the
    day that one ends. So a change never adds a short period, never leaves two open, never costs a miss."""
    a, b = aliased(Member), aliased(Member)
    found = (
        await ctx.session.exec(
            select(Pair, a, b).join(a, col(a.id) == col(Pair.member_a_id)).join(b, col(b.id) == col(Pair.member_b_id))
            .where(Pair.program_id == new.id, Pair.status == PairStatus.ACTIVE)
            .with_for_update(of=Pair)
        )
    ).all()
    if not found:
        return
    newest: dict[int, Checkin] = {}
    under_way = select(Checkin).where(col(Checkin.pair_id).in_([p.id for p, _, _ in found]), Checkin.closes_at > ctx.now)
    for c in (await ctx.session.exec(under_way.order_by(col(Checkin.due_at)))).all():
        newest[c.pair_id] = c  # ordered by due time: the last one wins
    for pair, ma, mb in found:
        zs = zones(ctx.rt, ma, mb)
        checkin = newest.get(pair.id)  # type: ignore[arg-type]
        if checkin is not None:
            end_day = next_period(old, zs, checkin.due_at)[0]
        else:
            current = latest_period(old, zs, ctx.now)
            if current is None or current[1] <= pair.active_since:
                continue  # no period has started yet: the new schedule applies from the start
            end_day = next_period(old, zs, current[1])[0]
        _, due = first_period_from(new, zs, end_day)
        # Periods are planned only when due after active_since: this makes `due` the first one.
        pair.active_since = max(pair.active_since, due - timedelta(seconds=1))
        if checkin is not None and checkin.status == CheckinStatus.DUE and checkin.closes_at > due:
            checkin.closes_at = due  # only a move to an earlier time of day: the next period takes over


# --- the clock ---------------------------------------------------------------------------------


async def remind_unanswered(rt: Runtime, now: datetime) -> None:
    """One reminder 48 hours after the nudge, while the period is still open; batches of PLAN_BATCH,
    read through the (status, reminded_at, due_at) index, so reminded check-ins are never walked again."""
    a, b = aliased(Member), aliased(Member)
    stmt = (
        select(Checkin.id, Checkin.period, Pair.id, Program.workspace_id, Program.id, a.display_name, b.display_name)
        .join(Pair, col(Pair.id) == col(Checkin.pair_id))
        .join(Program, col(Program.id) == col(Pair.program_id))
        .join(a, col(a.id) == col(Pair.member_a_id))
        .join(b, col(b.id) == col(Pair.member_b_id))
        .where(
            Checkin.status == CheckinStatus.DUE,
            col(Checkin.reminded_at).is_(None),
            Checkin.due_at <= now - REMIND_AFTER,
            Checkin.closes_at > now,
            Pair.status == PairStatus.ACTIVE,
        )
        .order_by(col(Checkin.due_at))
        .limit(PLAN_BATCH)
        .with_for_update(skip_locked=True, of=Checkin)  # type: ignore[arg-type]
    )
    while True:
        async with rt.db.transaction() as s:
            found = list((await s.exec(stmt)).all())
            rows = [
                outbox_row(kind=OutboxKind.REMIND, subject_id=cid, workspace_id=ws_id, program_id=prog_id,
                           dest_kind="pair", target=pid, now=now, message=Message(
                               rt.t("checkin.reminder", a=a_name, b=b_name, period=period),
                               buttons=answer_buttons(rt, cid, pid)))
                for cid, period, pid, ws_id, prog_id, a_name, b_name in found
            ]
            if found:
                await s.exec(update(Checkin).where(col(Checkin.id).in_([r[0] for r in found]))  # type: ignore[call-overload]
                             .values(reminded_at=now).execution_options(synchronize_session=False))
            await enqueue_rows(s, rows)
        if len(found) < PLAN_BATCH:
            return


async def close_periods(rt: Runtime, now: datetime) -> None:
    """Unanswered check-ins whose period ended become missed; pairs that keep missing escalate."""
    stmt = select(Checkin, Pair, Program).join(Pair, col(Pair.id) == col(Checkin.pair_id)).join(
        Program, col(Program.id) == col(Pair.program_id)
    ).where(Checkin.status == CheckinStatus.DUE, Checkin.closes_at <= now).order_by(col(Checkin.closes_at))
    # Short transactions of PLAN_BATCH: closed rows leave the (status, closes_at) index range.
    while await _close_batch(rt, now, stmt.limit(PLAN_BATCH).with_for_update(skip_locked=True, of=Checkin)) == PLAN_BATCH:
        pass


async def _close_batch(rt: Runtime, now: datetime, stmt: Any) -> int:
    async with rt.db.transaction() as s:
        found = (await s.exec(stmt)).all()
        closed: dict[int, tuple[Pair, Program]] = {}
        rows = []
        for checkin, pair, program in found:
            paused = was_paused(pair, checkin)
            rows.append(
                outbox_row(
                    kind=OutboxKind.CLOSED, subject_id=checkin.id, workspace_id=program.workspace_id,
                    program_id=program.id,
                    dest_kind="pair", target=pair.id,  # type: ignore[arg-type]
                    message=Message(rt.t("checkin.closed_paused" if paused else "checkin.closed_missed",
                                         period=checkin.period)), now=now,
                    edits_key=nudge_key(pair.id, checkin.period),  # type: ignore[arg-type]
                )
            )
            if paused:
                # A pause is not a missed meeting: the period leaves no record to count toward an escalation.
                await s.delete(checkin)
                continue
            checkin.status = CheckinStatus.MISSED
            if pair.status == PairStatus.ACTIVE:
                closed[pair.id] = (pair, program)  # type: ignore[index]
        await enqueue_rows(s, rows)
        await s.flush()
        for pair, program in closed.values():
            await escalate_if_not_meeting(s, rt, now, program, pair)
    return len(found)


async def next_close(rt: Runtime, now: datetime) -> datetime | None:
    """When the earliest open period closes."""
    async with rt.db.read() as s:
        return (await s.exec(select(Checkin.closes_at).where(Checkin.status == CheckinStatus.DUE)
                             .order_by(col(Checkin.closes_at)).limit(1))).first()


async def next_reminder(rt: Runtime, now: datetime) -> datetime | None:
    """When the oldest unreminded open check-in of an active pair gets its reminder, if before its period closes
    (a later check-in's reminder cannot come before that close, and close-periods runs first)."""
    async with rt.db.read() as s:
        remind = (
            await s.exec(
                # Only active pairs are reminded (as in remind_unanswered); a paused pair's open
                # check-in must not report a reminder time that never gets done.
                select(Checkin.due_at, Checkin.closes_at).join(Pair, col(Pair.id) == col(Checkin.pair_id))
                .where(Checkin.status == CheckinStatus.DUE, col(Checkin.reminded_at).is_(None),
                       Pair.status == PairStatus.ACTIVE)
                .order_by(col(Checkin.due_at)).limit(1)
            )
        ).first()
    return remind[0] + REMIND_AFTER if remind and remind[0] + REMIND_AFTER < remind[1] else None


async def escalate_if_not_meeting(s: AsyncSession, rt: Runtime, now: datetime, program: Program, pair: Pair) -> None:
    """Raise a not-meeting escalation after `missed_threshold` bad periods in a row, counting only
    periods since the pair's last pause ended: nothing from before or during a pause counts."""
    if pair.status != PairStatus.ACTIVE:
        return
    threshold = max(program.missed_threshold, 1)
    recent = [c for c in await recent_checkins(s, pair.id, threshold) if not was_paused(pair, c)]  # type: ignore[arg-type]
    if len(recent) < threshold or any(c.status not in BAD for c in recent):
        return
    if await open_escalation(s, pair.id, EscalationKind.NOT_MEETING):  # type: ignore[arg-type]
        return
    periods = ", ".join(sorted(c.period for c in recent))
    await raise_escalation(
        s, rt, now, program=program, kind=EscalationKind.NOT_MEETING, pair=pair,
        reason=rt.t("escalation.not_meeting_reason", count=threshold, periods=periods),
    )


# Close before planning: a period ends exactly when the next one is due.
feature.sweep("close-periods", close_periods, next_close)
feature.sweep("plan-checkins", plan_due, next_plan_time)
feature.sweep("remind-checkins", remind_unanswered, next_reminder)
