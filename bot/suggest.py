"""Read-only suggestions for platforms that complete what a person types (Discord autocomplete), chosen by
the kind of argument being typed.

Each shows only what the person may already see with a command, and only what that command accepts:
programs of the workspace, their own pairs (checkin, problem, rematch), the live pairs of the programs
they coordinate (unpair, nudge), escalations of the programs they coordinate."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import safeguards, zones
from bot.context import Runtime
from bot.feature import Arg, Kind, Subcommand
from bot.directory import coordinated_programs, find_workspace, known_member, programs_of
from bot.pairs import LIVE, label, pairs_of
from storage.models import Escalation, EscalationStatus, Member, Pair

LIMIT = 25  # Discord shows at most 25 choices


def _matches(typed: str, *texts: str) -> bool:
    typed = typed.strip().lower().removeprefix("#")
    return not typed or any(typed in text.lower() for text in texts)


async def programs(rt: Runtime, platform: str, workspace: str, typed: str) -> list[str]:
    """Names of the workspace's programs containing what was typed."""
    async with rt.db.transaction() as s:
        ws = await find_workspace(s, platform, workspace)
        names = [p.name for p in await programs_of(s, ws)] if ws else []
    return [n for n in names if _matches(typed, n)][:LIMIT]


async def _labelled(s: AsyncSession, rt: Runtime, rows: Sequence[Pair], typed: str) -> list[tuple[int, str]]:
    """(id, label) of the first LIMIT pairs whose label contains what was typed.

    The members of all of them come in one query; label() then finds each in the session's identity map
    instead of querying, so a keystroke costs the same however many pairs there are. The identity map
    holds objects weakly: `members` keeps them alive until the labels are made."""
    ids = {m for p in rows for m in (p.member_a_id, p.member_b_id)}
    members = (await s.exec(select(Member).where(col(Member.id).in_(ids)))).all() if ids else []
    found: list[tuple[int, str]] = []
    for pair in rows:
        text = await label(s, rt, pair)
        if pair.id is not None and _matches(typed, text):
            found.append((pair.id, text))
            if len(found) == LIMIT:
                break
    del members
    return found


async def my_pairs(rt: Runtime, platform: str, workspace: str, user_id: str, typed: str) -> list[tuple[int, str]]:
    """(id, label) of this person's own live pairs: what checkin, problem and rematch accept."""
    async with rt.db.transaction() as s:
        found = await known_member(s, platform, workspace, user_id)
        if found is None:
            return []
        return await _labelled(s, rt, await pairs_of(s, found.member), typed)


async def coordinated_pairs(rt: Runtime, platform: str, workspace: str, user_id: str,
                            typed: str) -> list[tuple[int, str]]:
    """(id, label) of the live pairs of the programs this person coordinates: what unpair and nudge accept."""
    async with rt.db.transaction() as s:
        found = await known_member(s, platform, workspace, user_id)
        if found is None:
            return []
        coordinated = [p.id for p in await coordinated_programs(s, found.member, found.workspace)]
        if not coordinated:
            return []
        stmt = select(Pair).where(col(Pair.program_id).in_(coordinated), col(Pair.status).in_(LIVE))
        return await _labelled(s, rt, (await s.exec(stmt.order_by(col(Pair.id)))).all(), typed)


async def escalations(rt: Runtime, platform: str, workspace: str, user_id: str, typed: str) -> list[tuple[int, str]]:
    """(id, label) of the unresolved escalations of the programs this person coordinates."""
    async with rt.db.transaction() as s:
        found = await known_member(s, platform, workspace, user_id)
        if found is None:
            return []
        ws, me = found.workspace, found.member
        programs_by_id = {p.id: p for p in await coordinated_programs(s, me, ws)}
        if not programs_by_id:
            return []
        rows = (await s.exec(
            select(Escalation).where(col(Escalation.program_id).in_(list(programs_by_id)),
                                     Escalation.status != EscalationStatus.RESOLVED).order_by(col(Escalation.id))
        )).all()
        own = {pid for p in programs_by_id.values() for pid in await safeguards.own_pair_ids(s, me, p)}
        labelled = [
            (e.id, rt.t("escalation.choice", id=e.id, program=programs_by_id[e.program_id].name,
                        kind=rt.t(f"escalation.kind_{e.kind}")))
            for e in rows if e.pair_id not in own  # not even the kind of one about their own pair
        ]
    return [(eid, text) for eid, text in labelled if eid is not None and _matches(typed, text)][:LIMIT]


def time_zones(typed: str) -> list[str]:
    """IANA zones containing what was typed (`berl` -> Europe/Berlin); spaces count as underscores."""
    wanted = typed.strip().replace(" ", "_")
    return [z for z in zones.names() if _matches(wanted, z)][:LIMIT]


Choice = tuple[int | str, str]  # (value, label)


async def for_argument(rt: Runtime, platform: str, workspace: str, user_id: str, sub: Subcommand, arg: Arg,
                       typed: str) -> list[Choice]:
    """What to offer for `arg` of `sub` while this person types it: only what that command accepts from them."""
    found: list[Choice] = []
    if arg.kind is Kind.PROGRAM:
        found = [(name, name) for name in await programs(rt, platform, workspace, typed)]
    elif arg.kind is Kind.TZ:
        found = [(z, z) for z in time_zones(typed)]
    elif arg.kind is Kind.ESCALATION:
        found = list(await escalations(rt, platform, workspace, user_id, typed))
    elif arg.kind is Kind.PAIR:
        lookup = coordinated_pairs if sub.coordinator else my_pairs
        found = list(await lookup(rt, platform, workspace, user_id, typed))
        if arg.also:  # the value is then text: the extra word, or a pair's id as text
            found = [(arg.also, rt.t(f"arg.{arg.also}_choice"))] + [(str(v), text) for v, text in found]
    return found[:LIMIT]
