"""What coordinators read: the program report, the at-risk list, the Monday digest."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.access import coordinator_program
from bot.commands.parser import Args
from bot.context import Ctx, Runtime
from bot.errors import UserError
from bot.flows.checkin import BAD
from bot.flows.escalation import coordinator_targets, notify_coordinators
from bot.messages import Message, Response
from bot.pairs import LIVE, label
from bot.periods import zone
from storage.models import (
    Checkin,
    CheckinStatus,
    Enrollment,
    Escalation,
    EscalationStatus,
    Feedback,
    Outbox,
    OutboxStatus,
    Pair,
    PairStatus,
    Program,
    Role,
)

DIGEST_AT = time(9, 0)


async def _closed_checkins(s: AsyncSession, program: Program) -> dict[int, list[Checkin]]:
    """Answered or missed check-ins per pair, newest first."""
    stmt = (
        select(Checkin).join(Pair, col(Pair.id) == col(Checkin.pair_id))
        .where(Pair.program_id == program.id, Checkin.status != CheckinStatus.DUE)
        .order_by(col(Checkin.due_at).desc())
    )
    out: dict[int, list[Checkin]] = defaultdict(list)
    for c in (await s.exec(stmt)).all():
        out[c.pair_id].append(c)
    return out


async def _ratings(s: AsyncSession, program: Program) -> dict[int, list[int]]:
    """Ratings per pair, newest first."""
    stmt = (
        select(Checkin.pair_id, Feedback.rating).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
        .join(Pair, col(Pair.id) == col(Checkin.pair_id)).where(Pair.program_id == program.id)
        .order_by(col(Feedback.created_at).desc())
    )
    out: dict[int, list[int]] = defaultdict(list)
    for pair_id, rating in (await s.exec(stmt)).all():
        out[pair_id].append(rating)
    return out


async def at_risk_pairs(s: AsyncSession, rt: Runtime, program: Program) -> dict[int, str]:
    """Live pairs that need a coordinator's eye, each with why."""
    live = [pid for pid in (await s.exec(select(Pair.id).where(Pair.program_id == program.id,
                                                                 col(Pair.status).in_(LIVE)))).all() if pid]
    closed, ratings = await _closed_checkins(s, program), await _ratings(s, program)
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


async def report(ctx: Ctx, args: Args) -> Response:
    """`/mentor report`: the program at a glance, then every pair."""
    program = await coordinator_program(ctx, args, "report")
    if args.words:
        raise UserError("error.no_words", command="report")
    s, t = ctx.session, ctx.t
    pair_counts = Counter(
        (await s.exec(select(Pair.status).where(Pair.program_id == program.id))).all()
    )
    roles = Counter(
        (await s.exec(select(Enrollment.role).where(Enrollment.program_id == program.id,
                                                    col(Enrollment.active).is_(True),
                                                    Enrollment.role != Role.COORDINATOR))).all()
    )
    closed = await _closed_checkins(s, program)
    outcomes = Counter(c.status for cs in closed.values() for c in cs)
    total = sum(outcomes.values())
    ratings = [r for rs in (await _ratings(s, program)).values() for r in rs]
    esc = Counter((await s.exec(select(Escalation.status).where(Escalation.program_id == program.id))).all())
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
    risky = await at_risk_pairs(s, ctx.rt, program)
    lines = [
        await pair_line(s, ctx.rt, p, risky.get(p.id))  # type: ignore[arg-type]
        for p in (await s.exec(select(Pair).where(Pair.program_id == program.id).order_by(col(Pair.id)))).all()
    ]
    fields = (*fields, (t("report.pair_list"), "\n".join(lines) or t("pairs.no_pairs")))
    head = t("report.head", program=program.name, when=ctx.now.strftime("%Y-%m-%d %H:%M UTC"))
    return Response([Message(head, fields)])


# --- the Monday digest -------------------------------------------------------------------------


def digest_time(program: Program, now: datetime) -> datetime:
    """This week's Monday 09:00 in the program's zone."""
    today = now.astimezone(zone(program.tz)).date()
    monday = today - timedelta(days=today.weekday())
    return datetime.combine(monday, DIGEST_AT, tzinfo=zone(program.tz))


async def send_digests(rt: Runtime, now: datetime) -> None:
    """Once a week per program, the counts coordinators need, posted Monday morning in its zone."""
    async with rt.db.transaction() as s:
        for program in (await s.exec(select(Program).where(col(Program.archived).is_(False)))).all():
            at = digest_time(program, now)
            if now < at or at < program.created_at:
                continue
            key = f"digest:{program.id}:{at.date().isoformat()}"
            if not await _digest_sent(s, program, key):
                await notify_coordinators(s, program, key, await _digest(s, rt, program, at), now)


async def _digest_sent(s: AsyncSession, program: Program, key: str) -> bool:
    keys = [f"{key}@{kind}:{target}" for kind, target in await coordinator_targets(s, program)]
    return not keys or (await s.exec(select(Outbox.id).where(col(Outbox.key).in_(keys)).limit(1))).first() is not None


async def next_digest(rt: Runtime, now: datetime) -> datetime | None:
    async with rt.db.transaction() as s:
        programs = (await s.exec(select(Program).where(col(Program.archived).is_(False)))).all()
        times = []
        for program in programs:
            at = digest_time(program, now)
            if at <= now:
                key = f"digest:{program.id}:{at.date().isoformat()}"
                if not await _digest_sent(s, program, key) and at >= program.created_at:
                    times.append(now)
                    continue
                at = digest_time(program, now + timedelta(days=7))
            times.append(at)
    return min(times) if times else None


async def _digest(s: AsyncSession, rt: Runtime, program: Program, at: datetime) -> Message:
    since = at - timedelta(days=7)
    # Last week's periods by their (program-local) date: a check-in due this Monday morning, before
    # the digest, belongs to this week, not last.
    last_week = (col(Checkin.period) >= since.date().isoformat(), col(Checkin.period) < at.date().isoformat())
    week = (
        await s.exec(select(Checkin.status).join(Pair, col(Pair.id) == col(Checkin.pair_id))
                     .where(Pair.program_id == program.id, *last_week))
    ).all()
    ratings = (
        await s.exec(select(Feedback.rating).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
                     .join(Pair, col(Pair.id) == col(Checkin.pair_id))
                     .where(Pair.program_id == program.id, *last_week))
    ).all()
    active = (
        await s.exec(select(func.count()).select_from(Pair).where(Pair.program_id == program.id,
                                                                   Pair.status == PairStatus.ACTIVE))
    ).one()
    open_esc = (
        await s.exec(select(func.count()).select_from(Escalation).where(
            Escalation.program_id == program.id, Escalation.status != EscalationStatus.RESOLVED))
    ).one()
    risky = await at_risk_pairs(s, rt, program)
    fields = (
        (rt.t("digest.active"), str(active)),
        (rt.t("digest.met"), rt.t("digest.met_value", met=sum(1 for st in week if st == CheckinStatus.MET),
                                  total=len(week))),
        (rt.t("digest.rating"), f"{sum(ratings) / len(ratings):.1f}" if ratings else "-"),
        (rt.t("digest.open_escalations"), str(open_esc)),
        (rt.t("digest.at_risk"), ", ".join(f"#{pid}" for pid in sorted(risky)) or "-"),
    )
    return Message(rt.t("digest.head", program=program.name, week=since.date().isoformat()), fields)
