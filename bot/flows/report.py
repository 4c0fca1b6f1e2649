"""What coordinators read: the program report, the at-risk list, the Monday digest."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import coordinators, safeguards
from bot.access import coordinator_program
from bot.args import Args
from bot.context import Ctx, Runtime
from bot.errors import UserError
from bot.feature import PROGRAM, Access, Feature
from bot.flows import impact
from bot.flows.health import at_risk_pairs, closed_checkins, digest_fields, ratings_by_pair, weekly_snapshot
from bot.messages import Message, Response
from bot.outbox import enqueue_rows, outbox_key, outbox_row
from bot.pairs import STARTED, label
from bot.periods import zone
from bot.safeguards import NOTHING_HIDDEN, Hidden
from storage.models import (
    Checkin,
    CheckinStatus,
    Enrollment,
    Escalation,
    EscalationStatus,
    Feedback,
    Member,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Pair,
    PairStatus,
    Program,
    Role,
)

DIGEST_AT = time(9, 0)
feature = Feature("report")


async def pair_line(s: AsyncSession, rt: Runtime, pair: Pair, risk: str | None) -> str:
    closed = (
        await s.exec(select(Checkin).where(Checkin.pair_id == pair.id, Checkin.status != CheckinStatus.DUE)
                     .order_by(col(Checkin.due_at).desc()))
    ).all()
    ratings = (
        await s.exec(select(Feedback.rating).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
                     .where(Checkin.pair_id == pair.id))
    ).all()
    met = sum(1 for c in closed if c.status == CheckinStatus.MET)
    last = rt.t("pairs.last", outcome=rt.t(f"outcome.{closed[0].status}"), period=closed[0].period) if closed else rt.t("pairs.no_checkins")
    avg = f"{sum(ratings) / len(ratings):.1f}" if ratings else "-"
    return rt.t("pairs.line", label=await label(s, rt, pair), status=rt.t(f"pair.status_{pair.status}"),
                met=met, total=len(closed), avg=avg, last=last, risk=rt.t("pairs.risk", why=risk) if risk else "")


@feature.command("report", access=Access.COORDINATOR, options=(impact.WEEKS, impact.CHART, PROGRAM),
                 grouped=("report", "show"))
async def report(ctx: Ctx, args: Args) -> Response:
    """`/mentor report`: the program at a glance, then every pair; with --weeks N or --chart, the program's
    impact week by week instead (bot/flows/impact.py)."""
    program = await coordinator_program(ctx, args, "report")
    if args.words:
        raise UserError("error.no_words", command="report")
    weeks, chart = impact.weeks_option(args), "chart" in args.flags
    if weeks is not None or chart:
        return await impact.impact_report(ctx, program, weeks or impact.CHART_WEEKS, chart)
    s, t = ctx.session, ctx.t
    # A coordinator in a pair reads the report without their own pair: another coordinator follows it.
    hidden = await safeguards.hidden_from(s, ctx.me, program)
    pair_counts = Counter(
        status for pid, status in (await s.exec(select(Pair.id, Pair.status).where(Pair.program_id == program.id))).all()
        if hidden.keeps(pid)
    )
    roles = Counter(
        (await s.exec(select(Enrollment.role).where(Enrollment.program_id == program.id,
                                                    col(Enrollment.active).is_(True),
                                                    Enrollment.role != Role.COORDINATOR))).all()
    )
    closed = await closed_checkins(s, program, hidden)
    outcomes = Counter(c.status for cs in closed.values() for c in cs)
    total = sum(outcomes.values())
    ratings = [r for rs in (await ratings_by_pair(s, program, hidden)).values() for r in rs]
    esc = Counter(
        status for pid, status in (await s.exec(select(Escalation.pair_id, Escalation.status)
                                                .where(Escalation.program_id == program.id))).all()
        if hidden.keeps(pid)
    )
    failed = (
        await s.exec(select(func.count()).select_from(Outbox).where(Outbox.program_id == program.id,
                                                                     Outbox.status == OutboxStatus.FAILED))
    ).one()
    fields: tuple[tuple[str, str], ...] = (
        (t("report.people"), t("report.people_value", mentors=roles[Role.MENTOR], mentees=roles[Role.MENTEE],
                               peers=roles[Role.PEER])),
        (t("report.pairs"), t("report.pairs_value", active=pair_counts[PairStatus.ACTIVE],
                              paused=pair_counts[PairStatus.PAUSED], ended=pair_counts[PairStatus.ENDED])),
        (t("report.checkins"), t("report.checkins_value", total=total, met=outcomes[CheckinStatus.MET],
                                 rescheduled=outcomes[CheckinStatus.RESCHEDULED],
                                 could_not=outcomes[CheckinStatus.COULD_NOT_MEET],
                                 missed=outcomes[CheckinStatus.MISSED],
                                 rate=f"{100 * outcomes[CheckinStatus.MET] / total:.0f}" if total else "-")),
        (t("report.ratings"), t("report.ratings_value", avg=f"{sum(ratings) / len(ratings):.1f}" if ratings else "-",
                                count=len(ratings), low=sum(1 for r in ratings if r <= 2))),
        (t("report.escalations"), t("report.escalations_value", open=esc[EscalationStatus.OPEN],
                                    acked=esc[EscalationStatus.ACKNOWLEDGED], resolved=esc[EscalationStatus.RESOLVED])),
        (t("report.failed"), str(failed)),
    )
    risky = await at_risk_pairs(s, ctx.rt, program, hidden)
    lines = [
        await pair_line(s, ctx.rt, p, risky.get(p.id))  # type: ignore[arg-type]
        for p in (await s.exec(select(Pair).where(Pair.program_id == program.id, col(Pair.status).in_(STARTED))
                               .order_by(col(Pair.id)))).all()
        if hidden.keeps(p.id)
    ]
    fields = (*fields, (t("report.pair_list"), "\n".join(lines) or t("pairs.no_pairs")),
              (t("impact.hint_label"), t("impact.hint")))
    if hidden.pair_ids:
        fields = (*fields, (t("report.hidden"), t("report.hidden_value", pairs=hidden.label())))
    head = t("report.head", program=program.name, when=ctx.now.strftime("%Y-%m-%d %H:%M UTC"))
    return Response([Message(head, fields)])


# --- the Monday digest -------------------------------------------------------------------------


def digest_time(program: Program, now: datetime) -> datetime:
    """This week's Monday 09:00 in the program's zone."""
    today = now.astimezone(zone(program.tz)).date()
    monday = today - timedelta(days=today.weekday())
    return datetime.combine(monday, DIGEST_AT, tzinfo=zone(program.tz))


def digest_after(program: Program, now: datetime) -> datetime:
    """The first Monday 09:00 in the program's zone later than `now`: this week's, else next week's (by the
    local calendar, so a daylight-saving change between the two moves the UTC moment, never the local one)."""
    at = digest_time(program, now)
    if at > now:
        return at
    return datetime.combine(at.date() + timedelta(days=7), DIGEST_AT, tzinfo=zone(program.tz))


async def digest_due(s: AsyncSession, program: Program, now: datetime) -> datetime:
    """When the program's next digest is due, computed from scratch: this week's Monday 09:00 (local) when
    the program existed by then and it has not gone out (a past one is due now), else the next one."""
    at = digest_time(program, now)
    key = outbox_key(OutboxKind.DIGEST, program.id, at.date().isoformat())
    if at >= program.created_at and not await _digest_sent(s, program, key):
        return at
    return digest_after(program, max(now, at))


def reschedule_digest(program: Program) -> None:
    """Something that decides the digest's moment or its readers changed (zone, coordinators, channel):
    the digest sweep recomputes `next_digest_at` on its next tick."""
    program.next_digest_at = None


async def send_digests(rt: Runtime, now: datetime) -> None:
    """Once a week per program, the counts coordinators need, posted Monday morning in its zone. Only the
    programs whose stored next_digest_at has come (or is not set yet) are looked at: two index probes when
    nothing is due."""
    live = col(Program.archived).is_(False)
    async with rt.db.transaction() as s:
        due = [*(await s.exec(select(Program).where(live, col(Program.next_digest_at).is_(None)))).all(),
               *(await s.exec(select(Program).where(live, col(Program.next_digest_at) <= now)
                              .with_for_update(skip_locked=True))).all()]
        for program in due:
            at = digest_time(program, now)
            if now >= at and at >= program.created_at:
                key = outbox_key(OutboxKind.DIGEST, program.id, at.date().isoformat())
                if not await _digest_sent(s, program, key):
                    await _send_digest(s, rt, program, key, at, now)
            program.next_digest_at = await digest_due(s, program, now)


async def _send_digest(s: AsyncSession, rt: Runtime, program: Program, key: str, at: datetime, now: datetime) -> None:
    """One digest per destination, each without the pairs its readers are in: a DM leaves out the
    coordinator's own pairs, the shared channel every pair that has a coordinator in it."""
    rows = []
    health = await weekly_snapshot(s, rt, program, at.date(), now)
    for target in await coordinators.targets(s, program):
        kind, dest = target
        if kind == "channel":
            hidden = safeguards.hidden_of(await safeguards.pairs_with_a_coordinator(s, program))
        else:
            reader = await s.get(Member, int(dest))
            hidden = await safeguards.hidden_from(s, reader, program) if reader else NOTHING_HIDDEN
        rows.append(outbox_row(kind=OutboxKind.DIGEST, subject_id=program.id, key=coordinators.addressed(key, target),
                               workspace_id=program.workspace_id, program_id=program.id, dest_kind=kind, target=dest,
                               message=await _digest(s, rt, program, at, hidden, health_fields=digest_fields(rt, health, hidden)),
                               now=now))
    await enqueue_rows(s, rows)


async def _digest_sent(s: AsyncSession, program: Program, key: str) -> bool:
    keys = [coordinators.addressed(key, target) for target in await coordinators.targets(s, program)]
    return not keys or (await s.exec(select(Outbox.id).where(col(Outbox.key).in_(keys)).limit(1))).first() is not None


async def next_digest(rt: Runtime, now: datetime) -> datetime | None:
    """Now while a program's digest is not scheduled yet, else the earliest stored next_digest_at."""
    live = col(Program.archived).is_(False)
    async with rt.db.read() as s:
        if (await s.exec(select(Program.id).where(live, col(Program.next_digest_at).is_(None)).limit(1))).first():
            return now
        return (await s.exec(select(Program.next_digest_at).where(live, col(Program.next_digest_at).is_not(None))
                             .order_by(col(Program.next_digest_at)).limit(1))).first()


async def _digest(s: AsyncSession, rt: Runtime, program: Program, at: datetime, hidden: Hidden,
                  health_fields: tuple[tuple[str, str], ...] = ()) -> Message:
    since = at - timedelta(days=7)
    # Last week's periods by their (program-local) date: a check-in due this Monday morning, before
    # the digest, belongs to this week, not last.
    last_week = (col(Checkin.period) >= since.date().isoformat(), col(Checkin.period) < at.date().isoformat())
    week = [
        status for pid, status in (
            await s.exec(select(Checkin.pair_id, Checkin.status).join(Pair, col(Pair.id) == col(Checkin.pair_id))
                         .where(Pair.program_id == program.id, *last_week))
        ).all() if hidden.keeps(pid)
    ]
    ratings = [
        rating for pid, rating in (
            await s.exec(select(Checkin.pair_id, Feedback.rating).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
                         .join(Pair, col(Pair.id) == col(Checkin.pair_id))
                         .where(Pair.program_id == program.id, *last_week))
        ).all() if hidden.keeps(pid)
    ]
    active = sum(1 for pid in (await s.exec(select(Pair.id).where(Pair.program_id == program.id,
                                                                  Pair.status == PairStatus.ACTIVE))).all()
                 if hidden.keeps(pid))
    open_esc = sum(1 for pid in (await s.exec(select(Escalation.pair_id).where(
        Escalation.program_id == program.id, Escalation.status != EscalationStatus.RESOLVED))).all()
        if hidden.keeps(pid))
    risky = await at_risk_pairs(s, rt, program, hidden)
    fields = (
        (rt.t("digest.active"), str(active)),
        (rt.t("digest.met"), rt.t("digest.met_value", met=sum(1 for st in week if st == CheckinStatus.MET),
                                  total=len(week))),
        (rt.t("digest.rating"), f"{sum(ratings) / len(ratings):.1f}" if ratings else "-"),
        (rt.t("digest.open_escalations"), str(open_esc)),
        (rt.t("digest.at_risk"), ", ".join(f"#{pid}" for pid in sorted(risky)) or "-"),
        *health_fields,
    )
    if hidden.pair_ids:
        fields = (*fields, (rt.t("digest.hidden"), rt.t("digest.hidden_value", pairs=hidden.label())))
    return Message(rt.t("digest.head", program=program.name, week=since.date().isoformat()), fields)


feature.sweep("digests", send_digests, next_digest)
