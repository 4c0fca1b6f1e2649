"""Read-only suggestions for platforms that complete what a person types (Discord autocomplete).

Each shows only what the person may already see with a command: programs of the workspace, their own
pairs (all live pairs of the programs they coordinate), escalations of the programs they coordinate."""

from __future__ import annotations

import zoneinfo
from functools import cache

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Runtime
from bot.directory import coordinated_programs, programs_of
from bot.pairs import LIVE, label
from storage.models import Escalation, EscalationStatus, Member, Pair, Workspace

LIMIT = 25  # Discord shows at most 25 choices


def _matches(typed: str, *texts: str) -> bool:
    typed = typed.strip().lower().removeprefix("#")
    return not typed or any(typed in text.lower() for text in texts)


async def _me(s: AsyncSession, platform: str, workspace: str, user_id: str) -> tuple[Workspace, Member] | None:
    ws = (await s.exec(select(Workspace).where(Workspace.platform == platform,
                                               Workspace.external_id == workspace))).first()
    if ws is None:
        return None
    me = (await s.exec(select(Member).where(Member.workspace_id == ws.id, Member.external_id == user_id))).first()
    return (ws, me) if me is not None else None


async def programs(rt: Runtime, platform: str, workspace: str, typed: str) -> list[str]:
    """Names of the workspace's programs containing what was typed."""
    async with rt.db.transaction() as s:
        ws = (await s.exec(select(Workspace).where(Workspace.platform == platform,
                                                   Workspace.external_id == workspace))).first()
        names = [p.name for p in await programs_of(s, ws)] if ws else []
    return [n for n in names if _matches(typed, n)][:LIMIT]


async def pairs(rt: Runtime, platform: str, workspace: str, user_id: str, typed: str) -> list[tuple[int, str]]:
    """(id, label) of the live pairs this person is in or coordinates."""
    async with rt.db.transaction() as s:
        found = await _me(s, platform, workspace, user_id)
        if found is None:
            return []
        ws, me = found
        coordinated = [p.id for p in await coordinated_programs(s, me, ws)]
        mine = (col(Pair.member_a_id) == me.id) | (col(Pair.member_b_id) == me.id)
        visible = mine | col(Pair.program_id).in_(coordinated) if coordinated else mine
        rows = (await s.exec(select(Pair).where(col(Pair.status).in_(LIVE), visible).order_by(col(Pair.id)))).all()
        labelled = [(p.id, await label(s, rt, p)) for p in rows]
    return [(pid, text) for pid, text in labelled if pid is not None and _matches(typed, text)][:LIMIT]


async def escalations(rt: Runtime, platform: str, workspace: str, user_id: str, typed: str) -> list[tuple[int, str]]:
    """(id, label) of the unresolved escalations of the programs this person coordinates."""
    async with rt.db.transaction() as s:
        found = await _me(s, platform, workspace, user_id)
        if found is None:
            return []
        ws, me = found
        programs_by_id = {p.id: p for p in await coordinated_programs(s, me, ws)}
        if not programs_by_id:
            return []
        rows = (await s.exec(
            select(Escalation).where(col(Escalation.program_id).in_(list(programs_by_id)),
                                     Escalation.status != EscalationStatus.RESOLVED).order_by(col(Escalation.id))
        )).all()
        labelled = [
            (e.id, rt.t("escalation.post", id=e.id, program=programs_by_id[e.program_id].name,
                        state=rt.t(f"escalation.kind_{e.kind}")))
            for e in rows
        ]
    return [(eid, text) for eid, text in labelled if eid is not None and _matches(typed, text)][:LIMIT]


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def time_zones(typed: str) -> list[str]:
    """IANA zones containing what was typed (`berl` -> Europe/Berlin); spaces count as underscores."""
    wanted = typed.strip().replace(" ", "_")
    return [z for z in _zones() if _matches(wanted, z)][:LIMIT]
