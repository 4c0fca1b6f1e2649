"""Which hard rules refuse a pair, read from the database: for one pair (`/mentor pair`, approving a
proposal, a mentee's request) and for a whole program at once (what bot/matching.py is handed).

Roles and capacity are never overridden. The rules below are, by a coordinator's `--force <reason>` on
`/mentor pair` only: never again (bot/safeguards.py), either person's private block list, the program's
maximum time-zone gap and its required shared language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import matching, safeguards
from bot.context import Runtime
from bot.errors import UserError
from bot.pairs import LIVE
from bot.periods import zone
from bot.tags import tags_of
from storage.models import (
    Block,
    Enrollment,
    Escalation,
    EscalationKind,
    EscalationStatus,
    Member,
    Pair,
    PairStatus,
    Program,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Role,
)

WEIGHT_NAMES = ("topics", "interests", "tz", "languages")
MAX_WEIGHT = 100
MAX_TZ_GAP = 12
NEVER_AGAIN = "never_again"  # a refusal's code besides bot/matching.RULES


# --- a program's matching settings ------------------------------------------------------------------


def parse_weights(text: str) -> dict[str, float] | None:
    """`topics=3,interests=1,tz=2,languages=1` (any of them, each 0 to 100), or None when malformed."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        try:
            number = float(value)
        except ValueError:
            return None
        if not eq or name not in WEIGHT_NAMES or name in out or not 0 <= number <= MAX_WEIGHT:
            return None
        out[name] = number
    return out or None


def weights_of(program: Program) -> matching.Weights:
    """The program's weights: the defaults, with what `program set --weights` changed."""
    return matching.Weights(**(parse_weights(program.match_weights) or {}))


def shown_weights(program: Program) -> str:
    w = weights_of(program)
    return ",".join(f"{n}={getattr(w, n):g}" for n in WEIGHT_NAMES)


def rules_of(program: Program) -> matching.Rules:
    return matching.Rules(program.max_tz_gap, program.require_language)


# --- people as matching sees them ---------------------------------------------------------------------


def utc_offset(rt: Runtime, member: Member, now: datetime) -> float:
    """Hours east of UTC in the member's zone at `now`."""
    offset = now.astimezone(zone(rt.tz(member))).utcoffset()
    return offset.total_seconds() / 3600 if offset is not None else 0.0


def candidate(rt: Runtime, member: Member, role: str, now: datetime, capacity: int = 1,
              load: int = 0) -> matching.Candidate:
    return matching.Candidate(
        member.id, Role(role), frozenset(tags_of(member.topics)), frozenset(tags_of(member.interests)),  # type: ignore[arg-type]
        frozenset(tags_of(member.languages)), utc_offset(rt, member, now), capacity, load,
    )


async def live_pair_count(session: AsyncSession, program: Program, member: Member) -> int:
    stmt = select(func.count()).select_from(Pair).where(
        Pair.program_id == program.id, col(Pair.status).in_(LIVE),
        (Pair.member_a_id == member.id) | (Pair.member_b_id == member.id),
    )
    return int((await session.exec(stmt)).one())


async def blocked_either_way(session: AsyncSession, a: Member, b: Member) -> bool:
    stmt = select(Block.id).where(or_((Block.member_id == a.id) & (Block.blocked_id == b.id),
                                      (Block.member_id == b.id) & (Block.blocked_id == a.id)))
    return (await session.exec(stmt.limit(1))).first() is not None


# --- one pair -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A rule refusing a pair: its code (bot/matching.RULES, or never_again), and the message saying so."""

    rule: str
    error: UserError


async def refusals(session: AsyncSession, rt: Runtime, program: Program, a: Member, b: Member,
                   now: datetime) -> list[Refusal]:
    """Every overridable rule refusing a pair of a and b in `program` (roles and capacity are checked apart).
    A block is named without saying whose: the other person must never learn of it."""
    out = []
    if (earlier := await safeguards.went_wrong_before(session, a, b)) is not None:
        out.append(Refusal(NEVER_AGAIN, UserError(
            "error.never_again", a=a.display_name, b=b.display_name, id=earlier.id,
            cause=rt.t(f"endcause.{earlier.end_cause}"),
            ended=earlier.ended_at.strftime("%Y-%m-%d") if earlier.ended_at else "?")))
    if await blocked_either_way(session, a, b):
        out.append(Refusal(matching.FORBIDDEN, UserError("error.pair_blocked", a=a.display_name, b=b.display_name)))
    ca, cb = candidate(rt, a, Role.PEER, now), candidate(rt, b, Role.PEER, now)
    rules = rules_of(program)
    if rules.max_tz_gap_hours is not None and (gap := matching.tz_gap(ca.utc_offset, cb.utc_offset)) > rules.max_tz_gap_hours:
        out.append(Refusal(matching.TZ_GAP, UserError(
            "error.pair_tz_gap", a=a.display_name, b=b.display_name, gap=f"{gap:g}", max=rules.max_tz_gap_hours)))
    if rules.require_shared_language and not (ca.languages & cb.languages):
        out.append(Refusal(matching.NO_SHARED_LANGUAGE, UserError(
            "error.pair_no_language", a=a.display_name, b=b.display_name, la=", ".join(sorted(ca.languages)) or "-",
            lb=", ".join(sorted(cb.languages)) or "-")))
    return out


# --- a whole program ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """Everyone `/mentor match` may pair in a program, as plain data (matched off the event loop)."""

    mentors: tuple[matching.Candidate, ...]
    mentees: tuple[matching.Candidate, ...]
    peers: tuple[matching.Candidate, ...]
    weights: matching.Weights
    rules: matching.Rules
    forbidden: frozenset[frozenset[int]]
    # Who asked for a rematch: member id -> the live pair they are leaving when a new one is approved.
    leaving: dict[int, int]
    # Peers left over by the last match of the program: matched first this time.
    first_in_line: frozenset[int] = frozenset()

    @property
    def waiting(self) -> int:
        return len(self.mentees) + len(self.peers)


async def rematch_requests(session: AsyncSession, program: Program) -> dict[int, Pair]:
    """Live pairs a member asked to leave (an open rematch escalation they raised), by pair id."""
    stmt = select(Pair).join(Escalation, col(Escalation.pair_id) == col(Pair.id)).where(
        Pair.program_id == program.id, col(Pair.status).in_(LIVE), Escalation.kind == EscalationKind.REMATCH,
        Escalation.status != EscalationStatus.RESOLVED, col(Escalation.reporter_id).is_not(None))
    return {p.id: p for p in (await session.exec(stmt)).all() if p.id is not None}


async def pool(session: AsyncSession, rt: Runtime, program: Program, now: datetime) -> Pool:
    """Read the program's waiting mentees and peers, mentors with room, and every pair the rules forbid."""
    rows = (await session.exec(
        select(Enrollment, Member).join(Member, col(Member.id) == col(Enrollment.member_id)).where(
            Enrollment.program_id == program.id, col(Enrollment.active).is_(True),
            col(Enrollment.role).in_([Role.MENTOR, Role.MENTEE, Role.PEER]), col(Member.paused).is_(False))
        .order_by(col(Member.id)))).all()
    leaving_pairs = await rematch_requests(session, program)
    load: dict[int, int] = {}
    partners: dict[int, set[int]] = {}
    for a_id, b_id, pair_id in (await session.exec(
            select(Pair.member_a_id, Pair.member_b_id, Pair.id).where(
                Pair.program_id == program.id, col(Pair.status).in_(LIVE)))).all():
        partners.setdefault(a_id, set()).add(b_id)
        partners.setdefault(b_id, set()).add(a_id)
        if pair_id in leaving_pairs:
            continue  # on its way out: it holds no room
        load[a_id] = load.get(a_id, 0) + 1
        load[b_id] = load.get(b_id, 0) + 1
    forbidden: set[frozenset[int]] = set()
    leaving: dict[int, int] = {}
    for pair in leaving_pairs.values():
        forbidden.add(frozenset((pair.member_a_id, pair.member_b_id)))
        leaving[pair.member_a_id] = leaving[pair.member_b_id] = pair.id  # type: ignore[assignment]
    mentors, mentees, peers = [], [], []
    for e, m in rows:
        mine = load.get(m.id, 0)  # type: ignore[arg-type]
        if e.role == Role.MENTOR:
            if mine < e.capacity:
                mentors.append(candidate(rt, m, e.role, now, e.capacity, mine))
            # A mentor keeps their other mentees: never propose one of them again.
            forbidden.update(frozenset((m.id, p)) for p in partners.get(m.id, ()))  # type: ignore[misc]
        elif mine == 0:
            (mentees if e.role == Role.MENTEE else peers).append(candidate(rt, m, e.role, now))
    ids = {c.member_id for c in (*mentors, *mentees, *peers)}
    forbidden.update(await _never_again_and_blocks(session, program, ids))
    return Pool(tuple(mentors), tuple(mentees), tuple(peers), weights_of(program), rules_of(program),
                frozenset(forbidden), leaving, await _left_over(session, program))


async def _left_over(session: AsyncSession, program: Program) -> frozenset[int]:
    """The peers the program's last closed match left over (told they are first in line)."""
    last = (await session.exec(select(Proposal).where(
        Proposal.program_id == program.id, Proposal.kind == ProposalKind.MATCH, Proposal.status == ProposalStatus.CLOSED)
        .order_by(col(Proposal.id).desc()).limit(1))).first()
    return frozenset(int(u["member_id"]) for u in (last.unmatched if last else []) if u["reason"] == matching.FIRST_IN_LINE)


async def _never_again_and_blocks(session: AsyncSession, program: Program, ids: set[int]) -> set[frozenset[int]]:
    """Pairs of these people that went wrong before (in any program of the workspace) or that a block forbids."""
    ended = select(Pair.member_a_id, Pair.member_b_id).join(Program, col(Program.id) == col(Pair.program_id)).where(
        Program.workspace_id == program.workspace_id, Pair.status == PairStatus.ENDED,
        col(Pair.end_cause).in_(list(safeguards.NEVER_AGAIN)))
    blocks = select(Block.member_id, Block.blocked_id).join(Member, col(Member.id) == col(Block.member_id)).where(
        Member.workspace_id == program.workspace_id)
    out = set()
    for stmt in (ended, blocks):
        for x, y in (await session.exec(stmt)).all():  # type: ignore[call-overload]
            if x in ids and y in ids:
                out.add(frozenset((x, y)))
    return out
