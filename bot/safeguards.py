"""Safeguarding rules every way of making a pair shares, and who may see what about a pair.

- Never again: two people whose pair went wrong (a problem report, a rating of 2 or less, a rematch
  request, a coordinator's unpair) are not paired again unless a coordinator forces it with a reason.
- Paused people can be paired, but the pair starts paused and the coordinator is warned.
- A coordinator who is in a pair never sees the private side (ratings, notes, reports) of that pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.directory import is_coordinator
from storage.models import (
    Checkin,
    Enrollment,
    Escalation,
    EscalationKind,
    Feedback,
    Member,
    Pair,
    PairEndCause,
    PairStatus,
    Program,
    Role,
)

# Causes after which the same two people are not paired again without --force.
NEVER_AGAIN = frozenset({PairEndCause.PROBLEM, PairEndCause.LOW_RATING, PairEndCause.REMATCH, PairEndCause.UNPAIR})
LOW_RATING = 2


# --- why a pair ended --------------------------------------------------------------------------


async def end_cause(session: AsyncSession, pair: Pair, ended_by: PairEndCause) -> PairEndCause:
    """The cause to store when `pair` ends by `ended_by` (unpair or left): the most serious thing on
    its record wins, so a pair unpaired after a problem report is remembered for the report."""
    kinds = set(
        (await session.exec(select(Escalation.kind, Escalation.reporter_id).where(Escalation.pair_id == pair.id))).all()
    )
    if any(kind == EscalationKind.PROBLEM for kind, _ in kinds):
        return PairEndCause.PROBLEM
    low = (
        await session.exec(
            select(Feedback.id).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
            .where(Checkin.pair_id == pair.id, Feedback.rating <= LOW_RATING).limit(1)
        )
    ).first()
    if low is not None:
        return PairEndCause.LOW_RATING
    # The rematch escalation raised when someone leaves has no reporter: leaving is not a complaint.
    if any(kind == EscalationKind.REMATCH and reporter is not None for kind, reporter in kinds):
        return PairEndCause.REMATCH
    return ended_by


# --- never again -------------------------------------------------------------------------------


async def went_wrong_before(session: AsyncSession, a: Member, b: Member) -> Pair | None:
    """The latest ended pair of these two people (in any program of the workspace) whose end cause
    bars pairing them again, or None."""
    stmt = select(Pair).where(
        Pair.status == PairStatus.ENDED,
        col(Pair.end_cause).in_(list(NEVER_AGAIN)),
        or_((Pair.member_a_id == a.id) & (Pair.member_b_id == b.id),
            (Pair.member_a_id == b.id) & (Pair.member_b_id == a.id)),
    )
    return (await session.exec(stmt.order_by(col(Pair.ended_at).desc(), col(Pair.id).desc()))).first()


# --- paused people -----------------------------------------------------------------------------


def paused_among(*members: Member) -> list[Member]:
    """Who of these is paused: a pair with any of them starts paused."""
    return [m for m in members if m.paused]


# --- a coordinator in a pair -------------------------------------------------------------------


async def own_pair_ids(session: AsyncSession, viewer: Member, program: Program) -> set[int]:
    """The viewer's own pairs in the program (any status): what they must not see the private side of."""
    stmt = select(Pair.id).where(Pair.program_id == program.id,
                                 or_(Pair.member_a_id == viewer.id, Pair.member_b_id == viewer.id))
    return {pid for pid in (await session.exec(stmt)).all() if pid is not None}


async def coordinators_in(session: AsyncSession, program: Program, pair: Pair) -> list[Member]:
    """The members of `pair` who coordinate its program (an admin coordinates every program)."""
    out = []
    for member_id in (pair.member_a_id, pair.member_b_id):
        member = await session.get(Member, member_id)
        if member is not None and await is_coordinator(session, member, program):
            out.append(member)
    return out


async def pairs_with_a_coordinator(session: AsyncSession, program: Program) -> set[int]:
    """The program's pairs that have a coordinator in them: kept out of the shared coordinators' channel."""
    enrolled = select(Enrollment.member_id).where(Enrollment.program_id == program.id,
                                                  Enrollment.role == Role.COORDINATOR, col(Enrollment.active).is_(True))
    admins = select(Member.id).where(Member.workspace_id == program.workspace_id, col(Member.is_admin).is_(True))
    stmt = select(Pair.id).where(Pair.program_id == program.id, or_(
        col(Pair.member_a_id).in_(enrolled), col(Pair.member_b_id).in_(enrolled),
        col(Pair.member_a_id).in_(admins), col(Pair.member_b_id).in_(admins)))
    return {pid for pid in (await session.exec(stmt)).all() if pid is not None}


@dataclass(frozen=True)
class Hidden:
    """The pairs a view leaves out for its readers."""

    pair_ids: frozenset[int]

    def keeps(self, pair_id: int | None) -> bool:
        return pair_id is None or pair_id not in self.pair_ids

    def label(self) -> str:
        return ", ".join(f"#{pid}" for pid in sorted(self.pair_ids))


async def hidden_from(session: AsyncSession, viewer: Member, program: Program) -> Hidden:
    """What `viewer` may not see in the program's coordinator views: their own pairs."""
    return Hidden(frozenset(await own_pair_ids(session, viewer, program)))


def hidden_of(pair_ids: Iterable[int]) -> Hidden:
    return Hidden(frozenset(pair_ids))


NOTHING_HIDDEN = Hidden(frozenset())
