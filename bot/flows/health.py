"""Relationship health: a private fit check after a pair's first meeting, a private pulse survey at 30 days
and every 60 days after, and every live pair's health state (on track, needs attention, at risk, too early
to tell) computed from its record, with a weekly snapshot so the digest can say exactly what changed.

Only coordinators outside a pair ever see what its members answered; a "No" to the fit check raises a
rematch escalation, never told to the partner."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import aliased
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.args import as_id, as_int_in
from bot.context import Ctx, Runtime
from bot.errors import UserError
from bot.feature import Feature
from bot.flows import goals, impact, mydata
from bot.flows.checkin import BAD
from bot.flows.escalation import raise_escalation
from bot.messages import Button, Form, FormField, Message, Response
from bot.outbox import enqueue, enqueue_rows, outbox_key, outbox_row
from bot.pairs import LIVE, in_pair, members_of, partner_id
from bot.safeguards import NOTHING_HIDDEN, Hidden
from storage.bulk import update_by_id
from storage.db import Database
from storage.models import (
    Checkin,
    CheckinStatus,
    EscalationKind,
    EscalationStatus,
    Escalation,
    Feedback,
    FitAnswer,
    FitCheck,
    HealthSnapshot,
    Member,
    OutboxKind,
    Pair,
    PairStatus,
    Program,
    Pulse,
)

PULSE_FIRST = timedelta(days=30)  # as Mentorloop's quality survey: at 30 days, then every 60
PULSE_EVERY = timedelta(days=60)
PULSE_BATCH = 200  # pairs per transaction, so a sweep never holds SQLite's writer lock for long
RECENT = 4  # closed check-ins looked at for a missed period: about a month on a weekly cadence
# A low pulse or an unsure fit check counts for this long, then the pair's record speaks for itself.
ANSWER_COUNTS_FOR = timedelta(days=60)
LOW_PULSE = 2
PULSE_NOTE_FORM = "health.pulse_note"
feature = Feature("health")


class State(StrEnum):
    """A live pair's health, worst first; the values are what `/mentor pairs --health` takes."""

    AT_RISK = "at-risk"
    ATTENTION = "attention"
    ON_TRACK = "on-track"
    EARLY = "early"


STATES = tuple(s.value for s in State)


# --- the record: closed check-ins, ratings, the at-risk rules --------------------------------------


async def closed_checkins(s: AsyncSession, program: Program,
                          hidden: Hidden = NOTHING_HIDDEN) -> dict[int, list[Checkin]]:
    """Answered or missed check-ins per pair, newest first, without the `hidden` pairs."""
    stmt = (
        select(Checkin).join(Pair, col(Pair.id) == col(Checkin.pair_id))
        .where(Pair.program_id == program.id, Checkin.status != CheckinStatus.DUE)
        .order_by(col(Checkin.due_at).desc())
    )
    out: dict[int, list[Checkin]] = defaultdict(list)
    for c in (await s.exec(stmt)).all():
        if hidden.keeps(c.pair_id):
            out[c.pair_id].append(c)
    return out


async def ratings_by_pair(s: AsyncSession, program: Program,
                          hidden: Hidden = NOTHING_HIDDEN) -> dict[int, list[int]]:
    """Ratings per pair, newest first, without the `hidden` pairs."""
    stmt = (
        select(Checkin.pair_id, Feedback.rating).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
        .join(Pair, col(Pair.id) == col(Checkin.pair_id)).where(Pair.program_id == program.id)
        .order_by(col(Feedback.created_at).desc())
    )
    out: dict[int, list[int]] = defaultdict(list)
    for pair_id, rating in (await s.exec(stmt)).all():
        if hidden.keeps(pair_id):
            out[pair_id].append(rating)
    return out


async def _live_ids(s: AsyncSession, program: Program, hidden: Hidden) -> list[int]:
    return [pid for pid in (await s.exec(select(Pair.id).where(Pair.program_id == program.id,
                                                                col(Pair.status).in_(LIVE))
                                         .order_by(col(Pair.id)))).all()
            if pid and hidden.keeps(pid)]


async def at_risk_pairs(s: AsyncSession, rt: Runtime, program: Program,
                        hidden: Hidden = NOTHING_HIDDEN) -> dict[int, str]:
    """Live pairs that need a coordinator's eye, each with why (none of the `hidden` ones): the last
    check-in missed or not met, the last rating 2 or less, or an open escalation."""
    live = await _live_ids(s, program, hidden)
    closed, ratings = await closed_checkins(s, program, hidden), await ratings_by_pair(s, program, hidden)
    open_esc = {
        pid for pid in (
            await s.exec(select(Escalation.pair_id).where(Escalation.program_id == program.id,
                                                          Escalation.status != EscalationStatus.RESOLVED))
        ).all() if pid
    }
    risky: dict[int, str] = {}
    for pid in live:
        reasons = []
        if closed.get(pid) and closed[pid][0].status in BAD:
            reasons.append(rt.t("risk.last_checkin", outcome=rt.t(f"outcome.{closed[pid][0].status}")))
        if ratings.get(pid) and ratings[pid][0] <= 2:
            reasons.append(rt.t("risk.low_rating", rating=ratings[pid][0]))
        if pid in open_esc:
            reasons.append(rt.t("risk.open_escalation"))
        if reasons:
            risky[pid] = "; ".join(reasons)
    return risky


# --- health states ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    """A live pair's state and, unless on track or too early, why."""

    state: State
    why: str = ""


async def _checkin_ratings(s: AsyncSession, program: Program) -> dict[int, list[float]]:
    """Per pair, each rated check-in's average rating, newest check-in first: both members' ratings of one
    meeting are one point, so a 5 and a 4 on the same day is not a fall."""
    stmt = (
        select(Checkin.pair_id, Checkin.id, Feedback.rating).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
        .join(Pair, col(Pair.id) == col(Checkin.pair_id)).where(Pair.program_id == program.id)
        .order_by(col(Checkin.due_at).desc(), col(Checkin.id).desc())
    )
    per_checkin: dict[int, dict[int, list[int]]] = defaultdict(dict)
    for pair_id, checkin_id, rating in (await s.exec(stmt)).all():
        per_checkin[pair_id].setdefault(checkin_id, []).append(rating)
    return {pid: [sum(rs) / len(rs) for rs in by.values()] for pid, by in per_checkin.items()}


async def _recent_answers(s: AsyncSession, program: Program, now: datetime) -> tuple[dict[int, int], set[int]]:
    """The lowest recent pulse rating at or below LOW_PULSE per pair, and the pairs with a recent unsure fit check."""
    since = now - ANSWER_COUNTS_FOR
    low: dict[int, int] = {}
    for pid, rating in (await s.exec(
        select(Pulse.pair_id, Pulse.rating).join(Pair, col(Pair.id) == col(Pulse.pair_id))
        .where(Pair.program_id == program.id, col(Pulse.rating) <= LOW_PULSE, col(Pulse.answered_at) >= since)
    )).all():
        low[pid] = min(rating, low.get(pid, rating))  # type: ignore[arg-type]
    unsure = set((await s.exec(
        select(FitCheck.pair_id).join(Pair, col(Pair.id) == col(FitCheck.pair_id))
        .where(Pair.program_id == program.id, FitCheck.answer == FitAnswer.NOT_SURE,
               col(FitCheck.answered_at) >= since)
    )).all())
    return low, unsure


async def pair_health(s: AsyncSession, rt: Runtime, program: Program, hidden: Hidden, now: datetime,
                      stalled: Iterable[int] | None = None) -> dict[int, Health]:
    """Every live pair's health (none of the `hidden` ones), with why. At risk: the at-risk rules. Too early
    to tell: no closed check-in yet. Needs attention: a missed or not-met check-in among the last few, the
    latest meeting rated lower than the one before, a stalled goal (`stalled`: pair ids), a pulse rating of 2
    or less or an unsure fit check in the last 60 days. On track: none of these. `stalled` defaults to what
    goals say (bot/flows/goals.py stalled_pairs)."""
    stalled = set(stalled if stalled is not None else await goals.stalled_pairs(s, program.id, now, rt.default_tz))  # type: ignore[arg-type]
    live = await _live_ids(s, program, hidden)
    risky = await at_risk_pairs(s, rt, program, hidden)
    closed = await closed_checkins(s, program, hidden)
    rated = await _checkin_ratings(s, program)
    low_pulse, unsure = await _recent_answers(s, program, now)
    out: dict[int, Health] = {}
    for pid in live:
        if pid in risky:
            out[pid] = Health(State.AT_RISK, risky[pid])
            continue
        if not closed.get(pid):
            out[pid] = Health(State.EARLY)
            continue
        reasons = []
        if missed := next((c for c in closed[pid][:RECENT] if c.status in BAD), None):
            reasons.append(rt.t("health.why_missed", outcome=rt.t(f"outcome.{missed.status}"), period=missed.period))
        if len(points := rated.get(pid, [])) >= 2 and points[0] < points[1]:
            reasons.append(rt.t("health.why_falling", before=f"{points[1]:.1f}", now=f"{points[0]:.1f}"))
        if pid in stalled:
            reasons.append(rt.t("health.why_stalled"))
        if pid in low_pulse:
            reasons.append(rt.t("health.why_low_pulse", rating=low_pulse[pid]))
        if pid in unsure:
            reasons.append(rt.t("health.why_unsure"))
        out[pid] = Health(State.ATTENTION, "; ".join(reasons)) if reasons else Health(State.ON_TRACK)
    return out


async def health_states(session: AsyncSession, rt: Runtime, program: Program, hidden: Hidden, now: datetime,
                        stalled: Iterable[int] | None = None) -> dict[int, str]:
    """Every live pair's health state ("on-track", "attention", "at-risk", "early"), none of the `hidden`
    pairs; `stalled` are the pairs with a stalled goal (goals' stalled_pairs)."""
    return {pid: h.state.value for pid, h in (await pair_health(session, rt, program, hidden, now, stalled)).items()}


def describe(rt: Runtime, health: Health) -> str:
    """How a pair's state reads at the end of its line in `/mentor pairs`."""
    if health.why:
        return rt.t("health.line_why", state=rt.t(f"health.state.{health.state}"), why=health.why)
    return rt.t("health.line", state=rt.t(f"health.state.{health.state}"))


# --- weekly snapshots: what changed, and the states over time ------------------------------------------


@dataclass(frozen=True)
class WeekStates:
    """This week's states (every live pair) and the last snapshot before it, for the digest."""

    now: dict[int, str]
    before: dict[int, str] | None
    before_week: str | None


async def weekly_snapshot(s: AsyncSession, rt: Runtime, program: Program, week: date, now: datetime,
                          stalled: Iterable[int] | None = None) -> WeekStates:
    """Record every live pair's state for the digest of `week` (once: a replay reads the stored one) and
    return it with the previous snapshot. Nothing is hidden here; each digest leaves out its own pairs."""
    stored = (await s.exec(select(HealthSnapshot).where(HealthSnapshot.program_id == program.id,
                                                        HealthSnapshot.week == week.isoformat()))).first()
    if stored is None:
        states = await health_states(s, rt, program, NOTHING_HIDDEN, now, stalled)
        s.add(HealthSnapshot(program_id=program.id, week=week.isoformat(),  # type: ignore[arg-type]
                             states={str(k): v for k, v in states.items()}, taken_at=now))
        await s.flush()
    else:
        states = {int(k): v for k, v in stored.states.items()}
    before = (await s.exec(select(HealthSnapshot).where(HealthSnapshot.program_id == program.id,
                                                        HealthSnapshot.week < week.isoformat())
                           .order_by(col(HealthSnapshot.week).desc()).limit(1))).first()
    return WeekStates(states, {int(k): v for k, v in before.states.items()} if before else None,
                      before.week if before else None)


def digest_fields(rt: Runtime, week: WeekStates, hidden: Hidden) -> tuple[tuple[str, str], ...]:
    """The digest's health lines: pairs in each state, and each pair whose state changed since the last digest."""
    now = {pid: st for pid, st in week.now.items() if hidden.keeps(pid)}
    counts = Counter(now.values())
    fields = [(rt.t("health.digest_states"), rt.t(
        "health.digest_states_value", on_track=counts[State.ON_TRACK], attention=counts[State.ATTENTION],
        at_risk=counts[State.AT_RISK], early=counts[State.EARLY]))]
    if week.before is None:
        return tuple(fields)
    before = {pid: st for pid, st in week.before.items() if hidden.keeps(pid)}
    name = lambda st: rt.t(f"health.state.{st}")  # noqa: E731
    changes = [rt.t("health.change", id=pid, before=name(before[pid]), now=name(st))
               for pid, st in sorted(now.items()) if pid in before and before[pid] != st]
    changes += [rt.t("health.change_new", id=pid, now=name(st)) for pid, st in sorted(now.items()) if pid not in before]
    changes += [rt.t("health.change_gone", id=pid) for pid in sorted(before) if pid not in now]
    fields.append((rt.t("health.digest_changes", week=week.before_week),
                   "\n".join(changes) or rt.t("health.digest_no_changes")))
    return tuple(fields)


async def states_over_time(session: AsyncSession, program_id: int) -> list[tuple[date, Counter[str]]]:
    """Per weekly snapshot (oldest first), how many pairs were in each state: for the report's chart."""
    rows = (await session.exec(select(HealthSnapshot).where(HealthSnapshot.program_id == program_id)
                               .order_by(col(HealthSnapshot.week)))).all()
    return [(date.fromisoformat(r.week), Counter(r.states.values())) for r in rows]


# --- the fit check after the first meeting ------------------------------------------------------------


@feature.on_met
async def fit_check(s: AsyncSession, rt: Runtime, now: datetime, program: Program, pair: Pair,
                    checkin: Checkin) -> None:
    """After the pair's first meeting (once per pair), ask each member privately whether it is a good match."""
    if (await s.exec(select(FitCheck.id).where(FitCheck.pair_id == pair.id).limit(1))).first() is not None:
        return
    a, b = await members_of(s, pair)
    asked = [(FitCheck(pair_id=pair.id, member_id=me.id, checkin_id=checkin.id, asked_at=now),  # type: ignore[arg-type]
              partner) for me, partner in ((a, b), (b, a))]
    s.add_all([fc for fc, _ in asked])
    await s.flush()
    await enqueue_rows(s, [
        outbox_row(kind=OutboxKind.FIT_CHECK, subject_id=fc.id, workspace_id=program.workspace_id,
                   program_id=program.id, dest_kind="user", target=fc.member_id, now=now,
                   message=Message(rt.t("health.fit_ask", partner=partner.display_name), buttons=tuple(
                       Button(rt.t(f"health.fit_{answer}"), "health.fit", f"{fc.id}:{answer}") for answer in FitAnswer)))
        for fc, partner in asked
    ])


@feature.action("health.fit")
async def answer_fit(ctx: Ctx, value: str) -> Response:
    """A Yes / Not sure / No click: recorded once; "No" goes to the coordinators as a rematch escalation."""
    id_part, _, answer = value.partition(":")
    fc_id = as_id(id_part)
    fc = await ctx.session.get(FitCheck, fc_id) if fc_id else None
    if fc is None or answer not in set(FitAnswer):
        raise UserError("error.stale_button")
    if fc.member_id != ctx.me.id:
        raise UserError("health.not_yours")
    if fc.answer is not None:
        return ctx.reply("health.fit_already", answer=ctx.t(f"health.fit_{fc.answer}"))
    pair = await ctx.session.get(Pair, fc.pair_id)
    program = await ctx.session.get(Program, pair.program_id) if pair else None
    assert pair is not None and program is not None
    fc.answer, fc.answered_at = answer, ctx.now
    await enqueue(
        ctx.session, kind=OutboxKind.FIT_ANSWERED, subject_id=fc.id, workspace_id=program.workspace_id,
        program_id=program.id, dest_kind="user", target=ctx.me.id,  # type: ignore[arg-type]
        message=Message(ctx.t("health.fit_answered_edit", answer=ctx.t(f"health.fit_{answer}"))), now=ctx.now,
        edits_key=outbox_key(OutboxKind.FIT_CHECK, fc.id),
    )
    if answer != FitAnswer.NO or pair.status not in LIVE:
        return ctx.reply(f"health.fit_thanks_{answer}")
    partner = await ctx.session.get(Member, partner_id(pair, ctx.me.id))
    await raise_escalation(
        ctx.session, ctx.rt, ctx.now, program=program, kind=EscalationKind.REMATCH, pair=pair, reporter=ctx.me,
        reason=ctx.t("health.fit_no_reason", who=ctx.me.display_name, partner=partner.display_name if partner else "?"),
    )
    return ctx.reply("health.fit_thanks_no")


# --- the pulse survey -----------------------------------------------------------------------------------


def pulse_due(start: datetime, round_: int) -> datetime:
    """When survey `round_` (0: day 30, 1: day 90, ...) of a pair that started at `start` is due."""
    return start + PULSE_FIRST + round_ * PULSE_EVERY


def _round_after(start: datetime, now: datetime) -> int:
    """The first round due strictly after `now`: a pair paused through a survey gets one, not a backlog."""
    if now < pulse_due(start, 0):
        return 0
    return (now - pulse_due(start, 0)) // PULSE_EVERY + 1


def _round_of(start: datetime, at: datetime) -> int:
    return max(0, round((at - pulse_due(start, 0)) / PULSE_EVERY))


async def send_pulses(rt: Runtime, now: datetime) -> None:
    """Schedule the pairs the sweep has not seen yet, then ask the pairs whose survey is due (only those:
    the (status, pulse_at) index serves both queries), a batch per transaction, a few statements a batch
    (a cohort that started together comes due together, like a fan-out)."""
    while True:
        async with rt.db.transaction() as s:
            fresh = (await s.exec(select(Pair.id, Pair.created_at).where(
                Pair.status == PairStatus.ACTIVE, col(Pair.pulse_at).is_(None)).limit(PULSE_BATCH))).all()
            if fresh:  # a new pair's first survey is day 30; one found later gets the next round
                await update_by_id(s, Pair, [{"id": pid, "pulse_at": pulse_due(start, _round_after(start, now))}
                                             for pid, start in fresh])
            a, b = aliased(Member), aliased(Member)
            due = (await s.exec(
                select(Pair.id, Pair.program_id, Pair.created_at, Pair.pulse_at, a.id, a.display_name, b.id,
                       b.display_name)
                .join(a, col(a.id) == col(Pair.member_a_id)).join(b, col(b.id) == col(Pair.member_b_id))
                .where(Pair.status == PairStatus.ACTIVE, col(Pair.pulse_at) <= now)
                .order_by(col(Pair.pulse_at)).limit(PULSE_BATCH)
                .with_for_update(skip_locked=True, of=Pair)  # type: ignore[arg-type]
            )).all()
            if due:
                await _ask_pulses(s, rt, due, now)
                await update_by_id(s, Pair, [{"id": row[0], "pulse_at": pulse_due(row[2], _round_after(row[2], now))}
                                             for row in due])
        if len(fresh) < PULSE_BATCH and len(due) < PULSE_BATCH:
            return


async def _ask_pulses(s: AsyncSession, rt: Runtime, due: Sequence[Any], now: datetime) -> None:
    """Ask both members of each due pair (pair id, program id, start, pulse_at, then each member's id and name)."""
    workspace_of = dict((await s.exec(select(Program.id, Program.workspace_id).where(
        col(Program.id).in_({row[1] for row in due})))).all())
    rounds = {row[0]: _round_of(row[2], row[3]) for row in due}
    asked = set((await s.exec(select(Pulse.pair_id, Pulse.member_id, Pulse.round).where(
        col(Pulse.pair_id).in_(list(rounds))))).all())
    # (pair row, member asked, partner's name) for each survey not asked yet
    surveys = [(row, me, partner) for row in due for me, partner in ((row[4], row[7]), (row[6], row[5]))
               if (row[0], me, rounds[row[0]]) not in asked]
    if not surveys:
        return
    pulses = Pulse.__table__
    ids = {(pair_id, member_id): pulse_id for pair_id, member_id, pulse_id in (await s.exec(  # type: ignore[call-overload]
        insert(pulses).returning(pulses.c.pair_id, pulses.c.member_id, pulses.c.id),
        params=[{"pair_id": row[0], "member_id": me, "round": rounds[row[0]], "asked_at": now, "note": ""}
                for row, me, _ in surveys])).all()}
    await enqueue_rows(s, [
        outbox_row(kind=OutboxKind.PULSE, subject_id=(pulse_id := ids[row[0], me]), workspace_id=workspace_of[row[1]],
                   program_id=row[1], dest_kind="user", target=me, now=now,
                   message=Message(rt.t("health.pulse_ask", partner=partner,
                                        days=(pulse_due(row[2], rounds[row[0]]) - row[2]).days),
                                   buttons=tuple(Button(str(n), "health.pulse", f"{pulse_id}:{n}") for n in range(1, 6))))
        for row, me, partner in surveys
    ])


async def next_pulse(rt: Runtime, now: datetime) -> datetime | None:
    """Now if a new pair needs its schedule, else the earliest survey due."""
    async with rt.db.read() as s:
        active = (Pair.status == PairStatus.ACTIVE,)
        if (await s.exec(select(Pair.id).where(*active, col(Pair.pulse_at).is_(None)).limit(1))).first():
            return now
        # ORDER BY ... LIMIT 1, not min(): SQLite reads min() under a WHERE by walking every active pair's entry.
        return (await s.exec(select(Pair.pulse_at).where(*active, col(Pair.pulse_at).is_not(None))
                             .order_by(col(Pair.pulse_at)).limit(1))).first()


feature.sweep("pulse-surveys", send_pulses, next_pulse)


@feature.action("health.pulse")
async def answer_pulse(ctx: Ctx, value: str) -> Response:
    """A 1-5 click on the pulse survey: recorded at once, then an optional note form."""
    id_part, _, rating_part = value.partition(":")
    pulse_id, rating = as_id(id_part), as_int_in(rating_part, 1, 5)
    pulse = await ctx.session.get(Pulse, pulse_id) if pulse_id else None
    pair = await ctx.session.get(Pair, pulse.pair_id) if pulse else None
    if pulse is None or pair is None or rating is None:
        raise UserError("error.stale_button")
    if pulse.member_id != ctx.me.id or not in_pair(pair, ctx.me.id):
        raise UserError("health.not_yours")
    if pulse.rating is not None:
        return ctx.reply("health.pulse_already", rating=pulse.rating)
    pulse.rating, pulse.answered_at = rating, ctx.now
    program = await ctx.session.get(Program, pair.program_id)
    assert program is not None
    await enqueue(
        ctx.session, kind=OutboxKind.PULSE_ANSWERED, subject_id=pulse.id, workspace_id=program.workspace_id,
        program_id=program.id, dest_kind="user", target=ctx.me.id,  # type: ignore[arg-type]
        message=Message(ctx.t("health.pulse_answered_edit", rating=rating)), now=ctx.now,
        edits_key=outbox_key(OutboxKind.PULSE, pulse.id),
    )
    form = Form(PULSE_NOTE_FORM, ctx.t("health.note_title"), (FormField("note", ctx.t("health.note_label")),),
                state=str(pulse.id), submit_label=ctx.t("health.note_submit"))
    return Response([Message(ctx.t("health.pulse_thanks", rating=rating))], form)


@feature.form(PULSE_NOTE_FORM)
async def pulse_note(ctx: Ctx, state: str, values: dict[str, str]) -> Response:
    """The optional note after a pulse rating; only coordinators outside the pair read it."""
    pulse_id = as_id(state)
    pulse = await ctx.session.get(Pulse, pulse_id) if pulse_id else None
    if pulse is None or pulse.member_id != ctx.me.id:
        raise UserError("error.stale_button")
    note = values.get("note", "").strip()
    if not note:
        return ctx.reply("health.no_note")
    pulse.note = note[:2000]
    return ctx.reply("health.note_saved")


async def quality_score(session: AsyncSession, program_id: int,
                        since: datetime | None = None) -> tuple[float | None, int]:
    """The program's quality score: the average pulse rating (answered since `since`, if given) and how many
    answers it is the average of; (None, 0) with no answer yet."""
    stmt = (select(func.avg(Pulse.rating), func.count(col(Pulse.rating))).join(Pair, col(Pair.id) == col(Pulse.pair_id))
            .where(Pair.program_id == program_id, col(Pulse.rating).is_not(None)))
    if since is not None:
        stmt = stmt.where(col(Pulse.answered_at) >= since)
    avg, count = (await session.exec(stmt)).one()
    return (float(avg) if avg is not None else None), int(count)


# --- health in the program's report (the quality score, states now and over time) ----------------------------


async def _report_quality(session: AsyncSession, program: Program, hidden: Hidden,
                          weeks: list[date]) -> tuple[dict[date, float], float | None]:
    """The weekly average pulse answer (by the week it was answered) and the program's quality score."""
    by_week: dict[date, list[int]] = defaultdict(list)
    rows = (await session.exec(select(Pulse.rating, Pulse.answered_at).join(Pair, col(Pair.id) == col(Pulse.pair_id))
                               .where(Pair.program_id == program.id, col(Pulse.rating).is_not(None)))).all()
    for rating, answered in rows:
        day = answered.date()
        week = max((w for w in weeks if w <= day), default=None)
        if week is not None:
            by_week[week].append(rating)
    score, _ = await quality_score(session, program.id)  # type: ignore[arg-type]
    return {w: sum(v) / len(v) for w, v in by_week.items()}, score


async def _report_health_now(session: AsyncSession, program: Program, hidden: Hidden, now: datetime,
                             rt: Runtime) -> Counter[str]:
    """The report's "Health now": live pairs by state, as `/mentor pairs` names them."""
    states = await health_states(session, rt, program, hidden, now)
    return Counter(rt.t(f"health.state.{state}") for state in states.values())


async def _report_history(session: AsyncSession, program: Program, hidden: Hidden,
                          since: date) -> list[tuple[date, Counter[str]]]:
    return [(d, c) for d, c in await states_over_time(session, program.id) if d >= since]  # type: ignore[arg-type]


impact.SOURCES.quality = _report_quality
impact.SOURCES.health_history = _report_history
impact.SOURCES.health_now = _report_health_now


def _pulse_row(p: Pulse) -> list[object]:
    return [p.id, p.pair_id, p.member_id, p.round, p.rating if p.rating is not None else "", p.note,
            p.answered_at.isoformat() if p.answered_at else ""]


def _export_pulses(db: Database, program_id: int, hidden: Hidden) -> AsyncIterator[list[list[object]]]:
    """pulses.csv: every pulse survey of the program's pairs the reader may see."""
    return impact.pair_rows(db, Pulse, program_id, hidden, _pulse_row)


impact.SOURCES.export_tables.append(("pulses.csv", ("id", "pair", "member", "round", "rating", "note", "answered_at"),
                                     _export_pulses))


# --- a person's own answers in my-data, and erased with them ------------------------------------------------


async def _my_answers(session: AsyncSession, me: Member) -> list[dict[str, object]]:
    """my-data: the person's own fit-check and pulse answers (never their partner's)."""
    fits = (await session.exec(select(FitCheck).where(FitCheck.member_id == me.id).order_by(col(FitCheck.id)))).all()
    pulses = (await session.exec(select(Pulse).where(Pulse.member_id == me.id).order_by(col(Pulse.id)))).all()
    return [*({"pair": f.pair_id, "fit_check": f.answer, "answered_at": f.answered_at.isoformat() if f.answered_at
               else None} for f in fits),
            *({"pair": p.pair_id, "pulse_round": p.round, "rating": p.rating, "note": p.note,
               "answered_at": p.answered_at.isoformat() if p.answered_at else None} for p in pulses)]


async def _erase_answers(session: AsyncSession, me: Member, scrub: Callable[[str], str]) -> None:
    """Erasure: the person's pulse notes are blanked (the numbers stay, so the quality score stays right), and
    their name is taken out of their partners' notes."""
    for pulse in (await session.exec(select(Pulse).where(Pulse.member_id == me.id))).all():
        pulse.note = ""
    theirs = select(Pair.id).where((Pair.member_a_id == me.id) | (Pair.member_b_id == me.id))
    for pulse in (await session.exec(select(Pulse).where(Pulse.note != "", col(Pulse.pair_id).in_(theirs)))).all():
        if (cleaned := scrub(pulse.note)) != pulse.note:
            pulse.note = cleaned


mydata.PARTS.append(mydata.DataPart("health", _my_answers, _erase_answers))
