"""A person's home page (Slack's App Home tab; any adapter may show it): a member sees their pairs, next
check-in in their own time zone and recent answers; a coordinator also sees each program's counts and its
open escalations. Read only. Ratings and notes never appear here: they are for the report."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import safeguards
from bot.context import Runtime
from bot.directory import coordinated_programs, known_member
from bot.features import REGISTRY
from bot.messages import Message
from bot.pairs import label, members_of, next_checkin, pairs_of, recent_checkins
from storage.models import (
    CheckinStatus,
    Enrollment,
    Escalation,
    EscalationStatus,
    Member,
    Pair,
    PairStatus,
    Program,
    Role,
)

RECENT = 3  # answers shown per pair
OPEN_SHOWN = 10  # open escalations listed per program


async def home_messages(rt: Runtime, now: datetime, platform: str, workspace: str, user_id: str) -> list[Message]:
    """What `user_id` of `workspace` on `platform` sees on their home page, as core messages."""
    async with rt.db.transaction() as s:
        if (found := await known_member(s, platform, workspace, user_id)) is None:
            return [Message(rt.t("home.welcome"))]
        ws, me = found.workspace, found.member
        messages = [Message(rt.t("home.head", name=me.display_name))]
        messages += await _member_part(s, rt, now, me)
        coordinated = await coordinated_programs(s, me, ws)
        for program in coordinated:
            messages += await _program_part(s, rt, program, me)
        messages.append(_commands(rt, me.is_admin or bool(coordinated)))
        return messages


def _commands(rt: Runtime, coordinator: bool) -> Message:
    """The subcommands this person may run, as `/mentor help` lists them."""
    subs = [sub for sub in REGISTRY.subcommands if coordinator or not sub.coordinator]
    return Message("\n".join([rt.t("help.home_head")] +
                             [rt.t("help.line", usage=rt.t(f"usage.{sub.key}")) for sub in subs]))


async def _member_part(s: AsyncSession, rt: Runtime, now: datetime, me: Member) -> list[Message]:
    enrolled = (await s.exec(select(func.count()).select_from(Enrollment).where(
        Enrollment.member_id == me.id, Enrollment.role != Role.COORDINATOR, col(Enrollment.active).is_(True)))).one()
    pairs = await pairs_of(s, me)
    if not pairs:
        return [Message(rt.t("home.no_pair" if enrolled else "home.not_enrolled"))]
    out = []
    for pair in pairs:
        program = await s.get(Program, pair.program_id)
        assert program is not None
        a, b = await members_of(s, pair)
        partner = b if a.id == me.id else a
        fields = [(rt.t("home.field_partner"), partner.display_name),
                  (rt.t("home.field_state"), rt.t(f"pair.status_{pair.status}"))]
        upcoming = await next_checkin(s, rt, pair, program, a, b, now)
        if upcoming.waiting:
            fields.append((rt.t("home.field_next"), rt.t("home.waiting", period=upcoming.waiting)))
        elif upcoming.due:
            when = rt.when(upcoming.due, me)
            fields.append((rt.t("home.field_next"), rt.t("home.logged", when=when) if upcoming.logged else when))
        answers = []
        for c in await recent_checkins(s, pair.id, RECENT + 1):  # type: ignore[arg-type]
            if c.status != CheckinStatus.DUE:
                who = await s.get(Member, c.answered_by_id) if c.answered_by_id else None
                answers.append(rt.t("home.answer", period=c.period, outcome=rt.t(f"outcome.{c.status}"),
                                    who=who.display_name if who else rt.t("checkin.nobody")))
        fields.append((rt.t("home.field_recent"), "\n".join(answers[:RECENT]) or rt.t("home.no_answers")))
        text = rt.t("home.pair", label=await label(s, rt, pair), program=program.name)
        out.append(Message(text, tuple(fields)))
    return out


async def _program_part(s: AsyncSession, rt: Runtime, program: Program, me: Member) -> list[Message]:
    people = (await s.exec(select(func.count()).select_from(Enrollment).where(
        Enrollment.program_id == program.id, Enrollment.role != Role.COORDINATOR,
        col(Enrollment.active).is_(True)))).one()
    by_status = dict((await s.exec(select(Pair.status, func.count()).where(Pair.program_id == program.id)
                                   .group_by(col(Pair.status)))).all())
    # Escalations about the coordinator's own pair are for the other coordinators.
    hidden = await safeguards.hidden_from(s, me, program)
    escalations = [e for e in (await s.exec(select(Escalation).where(
        Escalation.program_id == program.id, Escalation.status != EscalationStatus.RESOLVED,
    ).order_by(col(Escalation.opened_at)))).all() if hidden.keeps(e.pair_id)]
    fields = (
        (rt.t("home.field_people"), str(people)),
        (rt.t("home.field_active"), str(by_status.get(PairStatus.ACTIVE, 0))),
        (rt.t("home.field_paused"), str(by_status.get(PairStatus.PAUSED, 0))),
        (rt.t("home.field_open"), str(len(escalations))),
    )
    lines = []
    for esc in escalations[:OPEN_SHOWN]:
        pair = await s.get(Pair, esc.pair_id) if esc.pair_id else None
        lines.append(rt.t("home.escalation", id=esc.id, kind=rt.t(f"escalation.kind_{esc.kind}"),
                          state=rt.t(f"escalation.status_{esc.status}"),
                          pair=await label(s, rt, pair) if pair else rt.t("home.no_pair_label"),
                          opened=esc.opened_at.strftime("%Y-%m-%d")))
    if len(escalations) > OPEN_SHOWN:
        lines.append(rt.t("home.more", count=len(escalations) - OPEN_SHOWN))
    out = [Message(rt.t("home.program", program=program.name), fields)]
    out.append(Message("\n".join(lines) if lines else rt.t("home.no_escalations")))
    return out
