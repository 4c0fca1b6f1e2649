"""Who a program's coordinators are and where to reach them: the coordinators' channel, or each of them by
direct message. Escalations and digests each post through this with their own notices."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import safeguards
from bot.messages import Message
from bot.outbox import enqueue_rows, outbox_key, outbox_row
from storage.models import Enrollment, Member, OutboxKind, Pair, Program, Role

log = logging.getLogger(__name__)
Target = tuple[str, str]  # (dest kind, target) as outbox rows hold them


async def targets(session: AsyncSession, program: Program, pair_id: int | None = None) -> list[Target]:
    """Where coordinator notices go: the coordinators' channel, else each coordinator by DM. A notice
    about a pair never reaches a coordinator who is in it (their partner's report is not for them):
    it goes by DM to the other coordinators instead of the channel, which that coordinator can read."""
    pair = await session.get(Pair, pair_id) if pair_id else None
    if program.channel_ref and (pair is None or not await safeguards.coordinators_in(session, program, pair)):
        return [("channel", program.channel_ref)]
    return await direct(session, program, pair_id)


async def direct(session: AsyncSession, program: Program, pair_id: int | None) -> list[Target]:
    """Each coordinator of the program by DM, leaving out the members of `pair_id`."""
    pair = await session.get(Pair, pair_id) if pair_id else None
    in_the_pair = {pair.member_a_id, pair.member_b_id} if pair else set()
    ids = (
        await session.exec(
            select(Enrollment.member_id).where(
                Enrollment.program_id == program.id,
                Enrollment.role == Role.COORDINATOR,
                col(Enrollment.active).is_(True),
            ).order_by(col(Enrollment.member_id))
        )
    ).all()
    others = [i for i in ids if i not in in_the_pair]
    if not others and pair is not None:
        # The pair's coordinator runs the program alone: the workspace admins step in.
        admins = (await session.exec(select(Member.id).where(Member.workspace_id == program.workspace_id,
                                                             col(Member.is_admin).is_(True))
                                     .order_by(col(Member.id)))).all()
        others = [i for i in admins if i is not None and i not in in_the_pair]
        if not others:
            log.warning("escalation about pair %s of program %s has no coordinator outside the pair to go to",
                        pair.id, program.id)
    return [("user", str(i)) for i in others]


def addressed(key: str, target: Target) -> str:
    """The key of one copy of a coordinator notice: one row per destination."""
    return f"{key}@{target[0]}:{target[1]}"


async def notify(
    session: AsyncSession, program: Program, kind: OutboxKind, subject_id: int, details: tuple[object, ...],
    message: Message, now: datetime, edits: str | None = None, pair_id: int | None = None,
) -> None:
    """Queue one notice to the coordinators; `edits` is the key of the earlier notice it replaces, if any;
    `pair_id` the pair it is about, whose members never get it."""
    key = outbox_key(kind, subject_id, *details)
    await enqueue_rows(session, [
        outbox_row(kind=kind, subject_id=subject_id, key=addressed(key, target), workspace_id=program.workspace_id,
                   program_id=program.id, dest_kind=target[0], target=target[1], message=message, now=now,
                   edits_key=addressed(edits, target) if edits else None)
        for target in await targets(session, program, pair_id)
    ])
