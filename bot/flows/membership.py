"""A member's own commands: join, profile, status, pause, resume, leave (and leaving the workspace)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import safeguards, tags
from bot.access import member_program
from bot.args import Args, as_int_in
from bot.context import Ctx, Runtime
from bot.directory import coordinated_programs, member_from_token, parse_mention, programs_of
from bot.errors import UserError
from bot.feature import PROGRAM, Arg, Feature, Kind
from bot.flows.escalation import raise_escalation
from bot.messages import Message, Response
from bot.outbox import enqueue, outbox_key
from bot.pairs import LIVE, label, members_of, next_checkin, pairs_of, partner_id
from bot import zones
from bot.periods import zone
from storage.models import (
    Checkin,
    CheckinStatus,
    Enrollment,
    EscalationKind,
    Member,
    OutboxKind,
    Pair,
    PairEndCause,
    PairStatus,
    Program,
    Role,
)

JOIN_ROLES = (Role.MENTOR, Role.MENTEE, Role.PEER)
MAX_CAPACITY = 10
MAX_PAUSE = timedelta(days=366)
feature = Feature("membership")


@feature.command("join", args=(Arg("role", Kind.CHOICE, required=True, choices=tuple(r.value for r in JOIN_ROLES)),), options=(PROGRAM,))
async def join(ctx: Ctx, args: Args) -> Response:
    """`/mentor join mentor|mentee|peer [program]`."""
    if not args.words:
        raise UserError("error.join_needs_role")
    role = args.words[0].lower()
    if role not in JOIN_ROLES:
        raise UserError("error.bad_role", role=args.words[0])
    name = args.rest(1) or args.options.get("program")
    if name:
        program = await member_program(ctx, args, name)
    else:
        programs = await programs_of(ctx.session, ctx.ws)
        if not programs:
            raise UserError("error.no_programs")
        if len(programs) > 1:
            raise UserError("error.join_which", names=", ".join(p.name for p in programs), role=role)
        program = programs[0]
    enrollments = (
        await ctx.session.exec(
            select(Enrollment).where(Enrollment.program_id == program.id, Enrollment.member_id == ctx.me.id,
                                     Enrollment.role != Role.COORDINATOR)
        )
    ).all()
    current = next((e for e in enrollments if e.active), None)
    if current is not None:
        if current.role == role:
            return ctx.reply("join.already", program=program.name, role=role)
        raise UserError("error.join_other_role", program=program.name, role=current.role)
    again = next((e for e in enrollments if e.role == role), None)
    if again is not None:
        again.active, again.left_at, again.joined_at = True, None, ctx.now
    else:
        ctx.session.add(Enrollment(program_id=program.id, member_id=ctx.me.id, role=role, joined_at=ctx.now))  # type: ignore[arg-type]
    hint = "" if (ctx.me.tz or ctx.me.tz_from_platform) else ctx.t("join.tz_hint", tz=ctx.rt.default_tz)
    return ctx.reply("join.done", program=program.name, role=role, hint=hint)


# The tag options of /mentor profile, each with the example its error message shows.
TAG_OPTIONS = {"topics": "python,career", "interests": "music,hiking", "languages": "en,de"}


def _tags(option: str, text: str) -> str:
    """A tag option's value as the profile stores it, or a clear refusal when there are too many or one is too long."""
    parsed = tags.parse_tags(text)
    if parsed is None:
        raise UserError("profiles.bad_tags", option=option, max=tags.MAX_TAGS, chars=tags.MAX_TAG_CHARS,
                        example=TAG_OPTIONS[option])
    return tags.stored(parsed)


async def _mentor_capacity(s: AsyncSession, member: Member) -> int | None:
    return (
        await s.exec(
            select(Enrollment.capacity).where(Enrollment.member_id == member.id, Enrollment.role == Role.MENTOR,
                                              col(Enrollment.active).is_(True))
        )
    ).first()


async def profile_fields(ctx: Ctx, member: Member) -> tuple[tuple[str, str], ...]:
    """A profile as its reply shows it: time zone, the tags (normalized), goals and mentor capacity."""
    def shown(column: str) -> str:
        return ", ".join(tags.tags_of(column)) or "-"

    capacity = await _mentor_capacity(ctx.session, member)
    return (
        (ctx.t("profile.field_tz"), ctx.rt.tz(member)),
        (ctx.t("profiles.field_topics"), shown(member.topics)),
        (ctx.t("profile.field_interests"), shown(member.interests)),
        (ctx.t("profiles.field_languages"), shown(member.languages)),
        (ctx.t("profile.field_goals"), member.goals or "-"),
        (ctx.t("profile.field_capacity"), str(capacity) if capacity is not None else "-"),
    )


async def _may_see_profile(ctx: Ctx, person: Member) -> bool:
    """A coordinator sees the profile of anyone enrolled in a program they coordinate; an admin, anyone's."""
    if ctx.me.is_admin:
        return True
    mine = select(Enrollment.program_id).where(Enrollment.member_id == ctx.me.id, Enrollment.role == Role.COORDINATOR,
                                               col(Enrollment.active).is_(True))
    theirs = select(Enrollment.id).where(Enrollment.member_id == person.id, Enrollment.role != Role.COORDINATOR,
                                         col(Enrollment.active).is_(True), col(Enrollment.program_id).in_(mine))
    return (await ctx.session.exec(theirs.limit(1))).first() is not None


async def _someone_elses_profile(ctx: Ctx, args: Args, person: Member) -> Response:
    """`/mentor profile @person`: a coordinator reads (never changes) the profile of someone in their program."""
    if args.options:  # capacity, the one thing a coordinator sets for someone, is /mentor capacity
        raise UserError("profiles.no_change_others", name=person.display_name)
    if not await _may_see_profile(ctx, person):
        if not await coordinated_programs(ctx.session, ctx.me, ctx.ws):
            raise UserError("profiles.members_see_own")
        raise UserError("profiles.not_in_your_programs", name=person.display_name)
    return Response([Message(ctx.t("profiles.show_other", name=person.display_name),
                             await profile_fields(ctx, person))])


@feature.command("profile", args=(Arg("person", Kind.PERSON, help="profile_person"),),
                 options=(Arg("tz", Kind.TZ), Arg("topics", Kind.TEXT), Arg("interests", Kind.TEXT),
                          Arg("languages", Kind.TEXT), Arg("goals", Kind.TEXT),
                          Arg("capacity", Kind.INT, low=1, high=MAX_CAPACITY)))
async def profile(ctx: Ctx, args: Args) -> Response:
    """`/mentor profile [@person] [--tz ZONE] [--topics a,b] [--interests a,b] [--languages en,de] [--goals TEXT]
    [--capacity N]`; no options shows it. A coordinator names @person to read theirs."""
    if args.words and parse_mention(args.words[0]) is None:
        raise UserError("error.profile_words", words=" ".join(args.words))
    if len(args.words) > 1:
        raise UserError("profiles.one_person")
    if args.words and (person := await member_from_token(ctx.session, ctx.ws, args.words[0])).id != ctx.me.id:
        return await _someone_elses_profile(ctx, args, person)
    me, opts = ctx.me, args.options
    if "tz" in opts:
        me.tz = zones.read(opts["tz"])
    if "topics" in opts:
        me.topics = _tags("topics", opts["topics"])
    if "interests" in opts:
        me.interests = _tags("interests", opts["interests"])
    if "languages" in opts:
        me.languages = _tags("languages", opts["languages"])
    if "goals" in opts:
        if len(opts["goals"]) > 500:
            raise UserError("error.goals_too_long")
        me.goals = opts["goals"].strip()
    if "capacity" in opts:
        cap = opts["capacity"]
        capacity = as_int_in(cap, 1, MAX_CAPACITY)
        if capacity is None:
            raise UserError("error.bad_capacity", value=cap, max=MAX_CAPACITY)
        mentoring = (
            await ctx.session.exec(
                select(Enrollment).where(Enrollment.member_id == me.id, Enrollment.role == Role.MENTOR,
                                         col(Enrollment.active).is_(True))
            )
        ).all()
        if not mentoring:
            raise UserError("error.capacity_not_mentor")
        for e in mentoring:
            e.capacity = capacity
    key = "profile.updated" if opts else "profile.show"
    return Response([Message(ctx.t(key, name=me.display_name), await profile_fields(ctx, me))])


# Built once: status is the command people type most.
_ENROLLED = (select(Enrollment, Program).join(Program, col(Program.id) == col(Enrollment.program_id))
             .where(Enrollment.member_id == bindparam("member_id"), col(Enrollment.active).is_(True))
             .order_by(col(Program.id), col(Enrollment.id)))


@feature.command("status")
async def status(ctx: Ctx, args: Args) -> Response:
    """`/mentor status`: my programs, pairs and next check-in, in my time zone."""
    enrollments = (await ctx.session.exec(_ENROLLED, params={"member_id": ctx.me.id})).all()
    if not enrollments:
        return ctx.reply("status.not_enrolled")
    lines = [ctx.t("status.head", name=ctx.me.display_name)]
    for e, p in enrollments:
        if e.role == Role.COORDINATOR:
            lines.append(ctx.t("status.coordinating", program=p.name))
        else:
            lines.append(ctx.t("status.enrolled", program=p.name, role=e.role))
    if ctx.me.paused:
        until = ctx.rt.when(ctx.me.paused_until, ctx.me) if ctx.me.paused_until else ctx.t("status.until_resume")
        lines.append(ctx.t("status.paused", until=until))
    pairs = await pairs_of(ctx.session, ctx.me)
    if not pairs and any(e.role != Role.COORDINATOR for e, _ in enrollments):  # coordinators are not matched
        lines.append(ctx.t("status.no_pair"))
    for pair in pairs:
        program = await ctx.session.get(Program, pair.program_id)
        assert program is not None
        a, b = await members_of(ctx.session, pair)
        partner = b if a.id == ctx.me.id else a
        lines.append(ctx.t("status.pair", label=await label(ctx.session, ctx.rt, pair), partner=partner.display_name,
                           state=ctx.t(f"pair.status_{pair.status}")))
        upcoming = await next_checkin(ctx.session, ctx.rt, pair, program, a, b, ctx.now)
        if upcoming.waiting:
            lines.append(ctx.t("status.open_checkin", period=upcoming.waiting))
        elif upcoming.due:
            key = "status.next_logged" if upcoming.logged else "status.next_checkin"
            lines.append(ctx.t(key, when=ctx.rt.when(upcoming.due, ctx.me)))
    return Response([Message("\n".join(lines))])


def _parse_until(ctx: Ctx, args: Args) -> datetime | None:
    words = [w for w in args.words if w.lower() != "until"]
    if not words:
        return None
    if len(words) != 1:
        raise UserError("error.bad_date", text=" ".join(args.words))
    try:
        day = date.fromisoformat(words[0])
    except ValueError:
        raise UserError("error.bad_date", text=words[0]) from None
    until = datetime.combine(day, time(0, 0), tzinfo=zone(ctx.rt.tz(ctx.me)))
    if until <= ctx.now:
        raise UserError("error.date_in_past", text=words[0])
    if until - ctx.now > MAX_PAUSE:
        raise UserError("error.date_too_far", text=words[0])
    return until


@feature.command("pause", args=(Arg("until", Kind.DATE),))
async def pause(ctx: Ctx, args: Args) -> Response:
    """`/mentor pause [until YYYY-MM-DD]`: no nudges until then (or until `resume`)."""
    until = _parse_until(ctx, args)
    ctx.me.paused, ctx.me.paused_until = True, until
    for pair in await pairs_of(ctx.session, ctx.me, (PairStatus.ACTIVE,)):
        pair.status = PairStatus.PAUSED
        partner = await ctx.session.get(Member, partner_id(pair, ctx.me.id))
        assert partner is not None
        await enqueue(
            ctx.session, kind=OutboxKind.PAUSED, subject_id=pair.id, details=(ctx.me.id, ctx.now.isoformat()),
            workspace_id=ctx.ws.id, program_id=pair.program_id, dest_kind="user", target=partner.id,
            message=Message(ctx.t("pause.partner_told", who=ctx.me.display_name)), now=ctx.now,
        )
    if until:
        return ctx.reply("pause.until", when=ctx.rt.when(until, ctx.me))
    return ctx.reply("pause.open")


async def _resume(s: AsyncSession, rt: Runtime, member: Member, now: datetime) -> None:
    member.paused, member.paused_until = False, None
    for pair in await pairs_of(s, member, (PairStatus.PAUSED,)):
        partner = await s.get(Member, partner_id(pair, member.id))
        if partner is not None and not partner.paused:
            pair.status = PairStatus.ACTIVE
            # A pair made while paused keeps its first-meeting lead when the pause ends early.
            pair.active_since = max(pair.active_since, now)
            pair.resumed_at = now
        if partner is not None:  # the pause told them "I'll let you know when they resume"
            await enqueue(
                s, kind=OutboxKind.RESUMED_PARTNER, subject_id=pair.id, details=(member.id, now.isoformat()),
                workspace_id=member.workspace_id, program_id=pair.program_id, dest_kind="user", target=partner.id,  # type: ignore[arg-type]
                message=Message(rt.t("resume.partner_told", who=member.display_name)), now=now,
            )


@feature.command("resume")
async def resume(ctx: Ctx, args: Args) -> Response:
    """`/mentor resume`: nudges start again from the next period."""
    if args.words:
        raise UserError("error.resume_words")
    if not ctx.me.paused:
        return ctx.reply("resume.not_paused")
    await _resume(ctx.session, ctx.rt, ctx.me, ctx.now)
    return ctx.reply("resume.done")


async def auto_resume(rt: Runtime, now: datetime) -> None:
    """Resume everyone whose pause has run out, and tell them."""
    async with rt.db.transaction() as s:
        stmt = select(Member).where(col(Member.paused).is_(True), col(Member.paused_until).is_not(None),
                                    col(Member.paused_until) <= now)
        for member in (await s.exec(stmt.with_for_update(skip_locked=True))).all():
            await _resume(s, rt, member, now)
            await enqueue(
                s, kind=OutboxKind.RESUMED, subject_id=member.id, details=(now.isoformat(),),
                workspace_id=member.workspace_id,
                dest_kind="user", target=member.id,  # type: ignore[arg-type]
                message=Message(rt.t("resume.auto")), now=now,
            )


async def next_auto_resume(rt: Runtime, now: datetime) -> datetime | None:
    async with rt.db.read() as s:
        stmt = select(Member.paused_until).where(col(Member.paused).is_(True), col(Member.paused_until).is_not(None))
        return (await s.exec(stmt.order_by(col(Member.paused_until)).limit(1))).first()


async def end_pair(s: AsyncSession, rt: Runtime, now: datetime, pair: Pair, reason: str, notify: list[Member],
                   ended_by: PairEndCause) -> None:
    """End a pair and tell the given members, neutrally (reasons stay with the coordinators).
    `ended_by` is how it ended (unpair, left); the stored cause may be graver (see bot/safeguards.py)."""
    pair.end_cause = await safeguards.end_cause(s, pair, ended_by)
    pair.status, pair.end_reason, pair.ended_at = PairStatus.ENDED, reason[:1000], now
    program = await s.get(Program, pair.program_id)
    assert program is not None
    # An ended pair owes no answer: drop its unanswered check-in and take the buttons off its nudge.
    for checkin in (
        await s.exec(select(Checkin).where(Checkin.pair_id == pair.id, Checkin.status == CheckinStatus.DUE))
    ).all():
        await enqueue(
            s, kind=OutboxKind.ENDED_CHECKIN, subject_id=checkin.id, workspace_id=program.workspace_id,
            program_id=program.id,
            dest_kind="pair", target=pair.id,  # type: ignore[arg-type]
            message=Message(rt.t("checkin.pair_ended", period=checkin.period)), now=now,
            edits_key=outbox_key(OutboxKind.NUDGE, pair.id, checkin.period),
        )
        await s.delete(checkin)
    for member in notify:
        await enqueue(
            s, kind=OutboxKind.ENDED, subject_id=pair.id, details=(member.id,), workspace_id=program.workspace_id,
            program_id=program.id,
            dest_kind="user", target=member.id,  # type: ignore[arg-type]
            message=Message(rt.t("pair.ended_notice", program=program.name)), now=now,
        )


async def _leave_program(s: AsyncSession, rt: Runtime, now: datetime, me: Member, program: Program,
                         *, keep_coordinator: bool = False) -> None:
    for e in (
        await s.exec(select(Enrollment).where(Enrollment.program_id == program.id, Enrollment.member_id == me.id,
                                              col(Enrollment.active).is_(True)))
    ).all():
        if keep_coordinator and e.role == Role.COORDINATOR:
            continue  # stepping down is /mentor coordinators remove, which keeps the last coordinator
        e.active, e.left_at = False, now
    for pair in await pairs_of(s, me, LIVE):
        if pair.program_id != program.id:
            continue
        partner = await s.get(Member, partner_id(pair, me.id))
        assert partner is not None
        reason = rt.t("pair.left_reason", who=me.display_name)
        await end_pair(s, rt, now, pair, reason, [partner], PairEndCause.LEFT)
        await raise_escalation(
            s, rt, now, program=program, kind=EscalationKind.REMATCH, pair=pair,
            reason=rt.t("escalation.left_reason", who=me.display_name, partner=partner.display_name),
        )


@feature.command("leave", options=(PROGRAM,))
async def leave(ctx: Ctx, args: Args) -> Response:
    """`/mentor leave [program]`: leave the program; an active pair ends and the coordinators are told."""
    program = await member_program(ctx, args, args.rest() or None)
    enrolled = (
        await ctx.session.exec(select(Enrollment).where(Enrollment.program_id == program.id,
                                                        Enrollment.member_id == ctx.me.id,
                                                        Enrollment.role != Role.COORDINATOR,
                                                        col(Enrollment.active).is_(True)))
    ).first()
    if enrolled is None:
        raise UserError("error.not_in_program", program=program.name)
    await _leave_program(ctx.session, ctx.rt, ctx.now, ctx.me, program, keep_coordinator=True)
    return ctx.reply("leave.done", program=program.name)


async def left_workspace(ctx: Ctx) -> Response:
    """The platform says the member is gone: leave every program so nobody waits on them."""
    for program in await programs_of(ctx.session, ctx.ws):
        await _leave_program(ctx.session, ctx.rt, ctx.now, ctx.me, program)
    return Response()


feature.sweep("auto-resume", auto_resume, next_auto_resume)
