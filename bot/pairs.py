"""Pair look-ups shared by the flows: a member's pairs, partners, labels, zones, recent check-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.args import Args, as_id
from bot.context import Ctx, Runtime
from bot.errors import UserError
from bot.periods import next_period
from storage.models import Checkin, CheckinStatus, Feedback, Member, Pair, PairStatus, Program

LIVE = (PairStatus.ACTIVE, PairStatus.PAUSED)
STARTED = (*LIVE, PairStatus.ENDED)  # not proposals, taken or not


async def members_of(session: AsyncSession, pair: Pair) -> tuple[Member, Member]:
    a = await session.get(Member, pair.member_a_id)
    b = await session.get(Member, pair.member_b_id)
    assert a is not None and b is not None
    return a, b


def zones(rt: Runtime, a: Member, b: Member) -> tuple[str, ...]:
    return tuple(sorted({rt.tz(a), rt.tz(b)}))


# Built once: status, the home tab and most flows ask it.
_PAIRS_OF = select(Pair).where(
    or_(Pair.member_a_id == bindparam("member_id"), Pair.member_b_id == bindparam("member_id")),
    col(Pair.status).in_(bindparam("statuses", expanding=True))).order_by(col(Pair.id))


async def pairs_of(session: AsyncSession, member: Member, statuses: tuple[str, ...] = LIVE) -> list[Pair]:
    found = await session.exec(_PAIRS_OF, params={"member_id": member.id, "statuses": list(statuses)})
    return list(found.all())


async def label(session: AsyncSession, rt: Runtime, pair: Pair) -> str:
    """`#3 Bob (mentor) & Alice (mentee)`."""
    a, b = await members_of(session, pair)
    if pair.kind == "peer":
        return rt.t("pair.label_peer", id=pair.id, a=a.display_name, b=b.display_name)
    return rt.t("pair.label", id=pair.id, mentor=a.display_name, mentee=b.display_name)


async def pair_in_program(ctx: Ctx, program: Program, token: str) -> Pair:
    pair_id = as_id(token)
    if pair_id is None:
        raise UserError("error.not_a_pair_id", token=token)
    pair = await ctx.session.get(Pair, pair_id)
    if pair is None or pair.program_id != program.id:
        raise UserError("error.unknown_pair", id=pair_id, program=program.name)
    return pair


async def my_pair(ctx: Ctx, args: Args, command: str) -> Pair:
    """The actor's live pair: the only one, or the one named with --pair."""
    mine = await pairs_of(ctx.session, ctx.me)
    if not mine:
        raise UserError("error.no_pair")
    if token := args.options.get("pair"):
        pair_id = as_id(token)
        for pair in mine:
            if pair.id == pair_id:
                return pair
        raise UserError("error.not_your_pair", token=token)
    if len(mine) == 1:
        return mine[0]
    labels = ", ".join([await label(ctx.session, ctx.rt, p) for p in mine])
    raise UserError("error.which_pair", pairs=labels, command=command)


def partner_id(pair: Pair, member_id: int | None) -> int:
    return pair.member_b_id if pair.member_a_id == member_id else pair.member_a_id


def in_pair(pair: Pair, member_id: int | None) -> bool:
    return member_id in (pair.member_a_id, pair.member_b_id)


async def open_checkin(session: AsyncSession, pair_id: int) -> Checkin | None:
    """The pair's unanswered check-in, if any (there is at most one: a period closes when the next is due)."""
    stmt = select(Checkin).where(Checkin.pair_id == pair_id, Checkin.status == CheckinStatus.DUE)
    return (await session.exec(stmt.order_by(col(Checkin.due_at).desc()))).first()


async def period_checkin(session: AsyncSession, pair_id: int, day: date) -> Checkin | None:
    stmt = select(Checkin).where(Checkin.pair_id == pair_id, Checkin.period == day.isoformat())
    return (await session.exec(stmt)).first()


@dataclass(frozen=True)
class NextCheckin:
    """What a member is told about their pair's next check-in (status, home page)."""

    waiting: str | None = None  # the period of an unanswered check-in
    due: datetime | None = None  # else, for an active pair, when the next one opens
    logged: bool = False  # that next one was already logged with /mentor checkin


async def next_checkin(session: AsyncSession, rt: Runtime, pair: Pair, program: Program,
                       a: Member, b: Member, now: datetime) -> NextCheckin:
    """The pair's unanswered check-in, or when its next one opens and whether it is already logged."""
    if (waiting := await open_checkin(session, pair.id)) is not None:  # type: ignore[arg-type]
        return NextCheckin(waiting=waiting.period)
    if pair.status != PairStatus.ACTIVE:
        return NextCheckin()
    day, due = next_period(program, zones(rt, a, b), max(now, pair.active_since))
    return NextCheckin(due=due, logged=await period_checkin(session, pair.id, day) is not None)  # type: ignore[arg-type]


async def recent_checkins(session: AsyncSession, pair_id: int, limit: int = 4) -> list[Checkin]:
    stmt = select(Checkin).where(Checkin.pair_id == pair_id).order_by(col(Checkin.due_at).desc()).limit(limit)
    return list((await session.exec(stmt)).all())


async def checkin_history(session: AsyncSession, rt: Runtime, pair_id: int, limit: int = 4) -> str:
    """The last few check-ins as one line each, with ratings, for coordinators only."""
    lines = []
    for c in await recent_checkins(session, pair_id, limit):
        ratings = (await session.exec(select(Feedback.rating).where(Feedback.checkin_id == c.id))).all()
        stars = rt.t("checkin.history_ratings", ratings="/".join(str(r) for r in ratings)) if ratings else ""
        lines.append(rt.t("checkin.history_line", period=c.period, outcome=rt.t(f"outcome.{c.status}"), ratings=stars))
    return "\n".join(lines) or rt.t("checkin.history_none")
