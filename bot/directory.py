"""Who is who: workspaces, members, mentions and the program a command is about."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import zones
from bot.errors import UserError
from bot.events import Actor
from storage.models import Enrollment, Member, ProcessedEvent, Program, Role, Workspace

_MENTION = re.compile(r"^<@!?([\w.\-]{1,128})(?:\|([^>]{0,200}))?>$")
_CHANNEL = re.compile(r"^<#([\w.\-]{1,128})(?:\|([^>]*))?>$")
MAX_CHANNEL_REF = 128  # the width of Program.channel_ref and Outbox.target


@dataclass(frozen=True)
class Mention:
    user_id: str | None  # platform id when the adapter resolved it
    name: str


def parse_mention(token: str) -> Mention | None:
    if m := _MENTION.match(token):
        return Mention(m.group(1), m.group(2) or "")
    if token.startswith("@") and len(token) > 1:
        return Mention(None, token[1:])
    return None


def parse_channel(token: str) -> str | None:
    """A channel reference as the adapter gave it: <#C123|name> keeps C123; #name keeps #name."""
    if m := _CHANNEL.match(token):
        return m.group(1) if len(m.group(1)) <= MAX_CHANNEL_REF else None
    if token.startswith("#") and 1 < len(token) <= MAX_CHANNEL_REF and " " not in token:
        return token
    return None


# Built once: every event runs these, and building a statement (and its cache key) costs more than
# running it on SQLite.
_WORKSPACE = select(Workspace).where(Workspace.platform == bindparam("platform"),
                                     Workspace.external_id == bindparam("workspace"))
_MEMBER = select(Member).where(Member.workspace_id == bindparam("workspace_id"),
                               Member.external_id == bindparam("user_id"))
_KNOWN = select(Workspace, Member, exists().where(ProcessedEvent.event_key == bindparam("event_key"))).join(
    Member, col(Member.workspace_id) == col(Workspace.id)).where(
    Workspace.platform == bindparam("platform"), Workspace.external_id == bindparam("workspace"),
    Member.external_id == bindparam("user_id"))


class Known(NamedTuple):
    """Someone the bot has met: their workspace and member rows, and whether the event asked about was
    already handled."""

    workspace: Workspace
    member: Member
    seen: bool


async def find_workspace(session: AsyncSession, platform: str, external_id: str) -> Workspace | None:
    return (await session.exec(_WORKSPACE, params={"platform": platform, "workspace": external_id})).first()


async def known_member(session: AsyncSession, platform: str, workspace: str, user_id: str,
                       event_key: str = "") -> Known | None:
    """The workspace and member row of someone the bot has met, without creating either (read-only views),
    and whether the event `event_key` names was handled already: one statement."""
    found = (await session.exec(_KNOWN, params={"platform": platform, "workspace": workspace, "user_id": user_id,
                                                "event_key": event_key})).first()
    return None if found is None else Known(*found)


async def ensure_workspace(session: AsyncSession, platform: str, external_id: str) -> Workspace:
    ws = await find_workspace(session, platform, external_id)
    if ws is None:
        ws = Workspace(platform=platform, external_id=external_id)
        session.add(ws)
        await session.flush()
    return ws


def member_changes(member: Member, actor: Actor) -> dict[str, object]:
    """What the platform now says about the actor that their member row does not hold yet (often nothing)."""
    changes: dict[str, object] = {}
    if (name := actor.display_name or member.display_name or actor.user_id) != member.display_name:
        changes["display_name"] = name
    if actor.tz and (zone := zones.canonical(actor.tz)) is not None and zone != member.tz_from_platform:
        changes["tz_from_platform"] = zone  # a zone we could not use is ignored
    if actor.is_admin is not None and actor.is_admin != member.is_admin:
        changes["is_admin"] = actor.is_admin
    return changes


async def ensure_member(session: AsyncSession, ws: Workspace, actor: Actor, now: datetime) -> Member:
    """The member row for whoever acted, refreshed with what the platform says about them. Writes only
    when the row is new or something changed, so a read-only command stays read-only."""
    member = (await session.exec(_MEMBER, params={"workspace_id": ws.id, "user_id": actor.user_id})).first()
    if member is None:
        member = Member(workspace_id=ws.id, external_id=actor.user_id, created_at=now)  # type: ignore[arg-type]
        session.add(member)
    if changes := member_changes(member, actor):
        for name, value in changes.items():
            setattr(member, name, value)
        await session.flush()
    return member


async def find_member(session: AsyncSession, ws: Workspace, mention: Mention) -> Member | None:
    if mention.user_id:
        found = (await session.exec(_MEMBER, params={"workspace_id": ws.id, "user_id": mention.user_id})).first()
        if found:
            return found
    name = mention.name.lower()
    rows = (await session.exec(select(Member).where(Member.workspace_id == ws.id))).all()
    matches = [m for m in rows if m.external_id.lower() == name or m.display_name.lower() == name]
    return matches[0] if len(matches) == 1 else None


async def member_from_token(session: AsyncSession, ws: Workspace, token: str) -> Member:
    mention = parse_mention(token)
    if mention is None:
        raise UserError("error.not_a_mention", token=token)
    member = await find_member(session, ws, mention)
    if member is None:
        raise UserError("error.unknown_person", name=mention.name or mention.user_id or token)
    return member


async def program_by_name(session: AsyncSession, ws: Workspace, name: str) -> Program:
    programs = (await session.exec(select(Program).where(Program.workspace_id == ws.id))).all()
    for p in programs:
        if p.name.lower() == name.lower():
            return p
    names = ", ".join(p.name for p in programs) or "-"
    raise UserError("error.unknown_program", name=name, names=names)


async def programs_of(session: AsyncSession, ws: Workspace) -> list[Program]:
    stmt = select(Program).where(Program.workspace_id == ws.id, col(Program.archived).is_(False))
    return list((await session.exec(stmt.order_by(col(Program.id)))).all())


async def is_coordinator(session: AsyncSession, member: Member, program: Program) -> bool:
    if member.is_admin:
        return True
    row = (
        await session.exec(
            select(Enrollment).where(
                Enrollment.program_id == program.id,
                Enrollment.member_id == member.id,
                Enrollment.role == Role.COORDINATOR,
                col(Enrollment.active).is_(True),
            )
        )
    ).first()
    return row is not None


async def coordinated_programs(session: AsyncSession, member: Member, ws: Workspace) -> list[Program]:
    """The workspace's live programs this member coordinates (all of them for an admin), in one query."""
    if member.is_admin:
        return await programs_of(session, ws)
    stmt = select(Program).join(Enrollment, col(Enrollment.program_id) == col(Program.id)).where(
        Program.workspace_id == ws.id, col(Program.archived).is_(False), Enrollment.member_id == member.id,
        Enrollment.role == Role.COORDINATOR, col(Enrollment.active).is_(True),
    )
    return list((await session.exec(stmt.order_by(col(Program.id)))).all())


def member_tz(member: Member, default: str) -> str:
    return member.tz or member.tz_from_platform or default


def interests_of(member: Member) -> list[str]:
    return [i for i in member.interests.split(",") if i]
