"""Coordinator commands: programs, coordinators, the coordinators' channel, pairing, lists, nudges."""

from __future__ import annotations

from collections import Counter

from sqlmodel import col, select

from bot import audit, matching, pair_rules, safeguards, tags
from bot.access import coordinator_program
from bot.args import Args, as_int_in
from bot.context import Ctx
from bot.directory import member_from_token, parse_channel, programs_of
from bot.errors import UserError
from bot.feature import PROGRAM, Access, Arg, Feature, Kind
from bot.flows import checkin as checkin_flow
from bot.flows import mydata
from bot.flows.escalation import acknowledge, resolve
from bot.flows.intro import start_pair
from bot.flows.membership import MAX_CAPACITY, end_pair
from bot.flows.health import STATES, State, describe, pair_health
from bot.flows.report import pair_line, reschedule_digest
from bot.messages import Message, Response
from bot.pairs import LIVE, STARTED, members_of, pair_in_program
from bot import zones
from bot.periods import WEEKDAYS, parse_hhmm
from storage.models import (
    Cadence,
    Enrollment,
    Escalation,
    EscalationStatus,
    Member,
    Pair,
    PairEndCause,
    PairStatus,
    Program,
    Role,
)

MAX_NAME = 100
MAX_THRESHOLD = 10  # missed check-ins in a row before coordinators hear
SCHEDULE = (
    Arg("cadence", Kind.CHOICE, choices=tuple(c.value for c in Cadence), choice_prompts="cadence"),
    Arg("day", Kind.CHOICE, choices=WEEKDAYS, choice_prompts="weekday"),
    Arg("time", Kind.TIME),
    Arg("tz", Kind.TZ, help="program_tz"),
    Arg("threshold", Kind.INT, low=1, high=MAX_THRESHOLD),
)
feature = Feature("coordinator")


def _schedule_options(ctx: Ctx, args: Args, program: Program) -> None:
    """Apply --cadence/--day/--time/--tz/--threshold to a program, checking each."""
    opts = args.options
    if "cadence" in opts:
        if opts["cadence"].lower() not in tuple(Cadence):
            raise UserError("error.bad_cadence", value=opts["cadence"])
        program.cadence = opts["cadence"].lower()
    if "day" in opts:
        day = opts["day"].lower()[:3]
        if day not in WEEKDAYS:
            raise UserError("error.bad_day", value=opts["day"])
        program.weekday = WEEKDAYS.index(day)
    if "time" in opts:
        at = parse_hhmm(opts["time"])
        if at is None:
            raise UserError("error.bad_time", value=opts["time"])
        program.local_time = at.strftime("%H:%M")
    if "tz" in opts:
        program.tz = zones.read(opts["tz"])
        reschedule_digest(program)  # Monday 09:00 moved
    if "threshold" in opts:
        value = opts["threshold"]
        threshold = as_int_in(value, 1, MAX_THRESHOLD)
        if threshold is None:
            raise UserError("error.bad_threshold", value=value)
        program.missed_threshold = threshold


@feature.command("program", "create", access=Access.COORDINATOR, args=(Arg("name", Kind.TEXT, required=True),),
                 options=SCHEDULE)
async def program_create(ctx: Ctx, args: Args) -> Response:
    """`/mentor program create <name> [--cadence] [--day] [--time] [--tz] [--threshold]` (workspace admins)."""
    if not ctx.me.is_admin:
        raise UserError("error.not_admin")
    name = args.rest()
    if not name:
        raise UserError("error.program_needs_name")
    if len(name) > MAX_NAME or name.startswith("#"):
        raise UserError("error.bad_program_name", max=MAX_NAME)
    if any(p.name.lower() == name.lower() for p in await programs_of(ctx.session, ctx.ws)):
        raise UserError("error.program_exists", name=name)
    program = Program(workspace_id=ctx.ws.id, name=name, tz=ctx.rt.tz(ctx.me), created_at=ctx.now)  # type: ignore[arg-type]
    _schedule_options(ctx, args, program)
    ctx.session.add(program)
    await ctx.session.flush()
    ctx.session.add(Enrollment(program_id=program.id, member_id=ctx.me.id, role=Role.COORDINATOR, joined_at=ctx.now))  # type: ignore[arg-type]
    await audit.record(ctx, "program.create", name, program.id)
    return ctx.reply("program.created", **_schedule_params(ctx, program))


def _schedule_params(ctx: Ctx, program: Program) -> dict[str, object]:
    return {
        "name": program.name,
        "cadence": ctx.t(f"cadence.{program.cadence}"),
        "day": ctx.t(f"weekday.{WEEKDAYS[program.weekday]}"),
        "time": program.local_time,
        "tz": program.tz,
        "threshold": program.missed_threshold,
    }


# What `program set` adds to the schedule: the program's matching weights and optional hard rules.
MATCHING = (
    Arg("weights", Kind.TEXT),
    Arg("max-tz-gap", Kind.CHOICE, choices=("off", *(str(h) for h in range(pair_rules.MAX_TZ_GAP + 1)))),
    Arg("language-required", Kind.CHOICE, choices=("yes", "no")),
)


def _matching_options(args: Args, program: Program) -> None:
    """Apply --weights/--max-tz-gap/--language-required to a program, checking each."""
    opts = args.options
    if "weights" in opts:
        weights = pair_rules.parse_weights(opts["weights"])
        if weights is None:
            raise UserError("matchsettings.bad_weights", value=opts["weights"], max=pair_rules.MAX_WEIGHT,
                            names=", ".join(pair_rules.WEIGHT_NAMES))
        # The weights named change; the others keep what they were.
        merged = (pair_rules.parse_weights(program.match_weights) or {}) | weights
        program.match_weights = ",".join(f"{n}={merged[n]:g}" for n in pair_rules.WEIGHT_NAMES if n in merged)
    if "max-tz-gap" in opts:
        value = opts["max-tz-gap"].strip().lower()
        gap = as_int_in(value, 0, pair_rules.MAX_TZ_GAP)
        if value != "off" and gap is None:
            raise UserError("matchsettings.bad_tz_gap", value=opts["max-tz-gap"], max=pair_rules.MAX_TZ_GAP)
        program.max_tz_gap = gap
    if "language-required" in opts:
        value = opts["language-required"].strip().lower()
        if value not in ("yes", "no"):
            raise UserError("matchsettings.bad_language_required", value=opts["language-required"])
        program.require_language = value == "yes"


def _matching_params(ctx: Ctx, program: Program) -> dict[str, object]:
    return {
        "weights": pair_rules.shown_weights(program),
        "gap": ctx.t("matchsettings.gap_off") if program.max_tz_gap is None
        else ctx.t("matchsettings.gap_hours", hours=program.max_tz_gap),
        "language": ctx.t("matchsettings.language_yes" if program.require_language else "matchsettings.language_no"),
    }


@feature.command("program", "set", access=Access.COORDINATOR,
                 options=(PROGRAM, *SCHEDULE, *MATCHING, *mydata.RETENTION))
async def program_set(ctx: Ctx, args: Args) -> Response:
    """`/mentor program set [--cadence] [--day] [--time] [--tz] [--threshold] [--weights] [--max-tz-gap]
    [--language-required]`."""
    program = await coordinator_program(ctx, args, "program set")
    if not set(args.options) - {"program"}:
        raise UserError("error.program_set_nothing")
    before = Program.model_validate(program.model_dump())
    _schedule_options(ctx, args, program)
    _matching_options(args, program)
    mydata.retention_option(args, program)
    if any(getattr(before, f) != getattr(program, f) for f in ("cadence", "weekday", "local_time", "tz")):
        await checkin_flow.reschedule(ctx, before, program)
    await audit.record(ctx, "program.set", " ".join(f"{k}={v}" for k, v in args.options.items()), program.id)
    lines = [ctx.t("program.updated", **_schedule_params(ctx, program)),
             ctx.t("matchsettings.shown", **_matching_params(ctx, program))]
    if "keep-notes-days" in args.options or program.keep_notes_days is not None:
        lines.append(mydata.retention_shown(ctx, program))
    return Response([Message("\n".join(lines))])


@feature.command("program", "list")
async def program_list(ctx: Ctx, args: Args) -> Response:
    programs = await programs_of(ctx.session, ctx.ws)
    if not programs:
        return ctx.reply("program.none")
    lines = [ctx.t("program.list_line", **_schedule_params(ctx, p)) for p in programs]
    return Response([Message("\n".join([ctx.t("program.list_head"), *lines]))])


@feature.command("coordinators", access=Access.COORDINATOR,
                 args=(Arg("action", Kind.CHOICE, choices=("add", "remove")), Arg("person", Kind.PERSON)),
                 options=(PROGRAM,), grouped=("program", "coordinators"))
async def coordinators(ctx: Ctx, args: Args) -> Response:
    """`/mentor coordinators add|remove @person`, or `coordinators` to list them."""
    program = await coordinator_program(ctx, args, "coordinators")
    rows = (
        await ctx.session.exec(
            select(Enrollment, Member).join(Member, col(Member.id) == col(Enrollment.member_id)).where(
                Enrollment.program_id == program.id, Enrollment.role == Role.COORDINATOR,
                col(Enrollment.active).is_(True))
        )
    ).all()
    if not args.words:
        names = ", ".join(m.display_name for _, m in rows)
        return ctx.reply("coordinators.list", program=program.name, names=names)
    verb = args.words[0].lower()
    if verb not in ("add", "remove") or len(args.words) != 2:
        raise UserError("error.coordinators_usage")
    person = await member_from_token(ctx.session, ctx.ws, args.words[1])
    current = {m.id: e for e, m in rows}
    if verb == "add":
        if person.id in current:
            return ctx.reply("coordinators.already", name=person.display_name, program=program.name)
        ctx.session.add(Enrollment(program_id=program.id, member_id=person.id, role=Role.COORDINATOR, joined_at=ctx.now))  # type: ignore[arg-type]
        reschedule_digest(program)  # a new reader: their copy of this week's digest may be owed
        await audit.record(ctx, "coordinators.add", person.display_name, program.id)
        return ctx.reply("coordinators.added", name=person.display_name, program=program.name)
    if person.id not in current:
        raise UserError("error.not_a_coordinator", name=person.display_name, program=program.name)
    if len(current) == 1:
        raise UserError("error.last_coordinator", program=program.name)
    current[person.id].active, current[person.id].left_at = False, ctx.now
    reschedule_digest(program)
    await audit.record(ctx, "coordinators.remove", person.display_name, program.id)
    return ctx.reply("coordinators.removed", name=person.display_name, program=program.name)


@feature.command("channel", access=Access.COORDINATOR, args=(Arg("channel", Kind.CHANNEL, required=True),),
                 options=(Arg("pairs", Kind.FLAG), PROGRAM), grouped=("program", "channel"))
async def channel(ctx: Ctx, args: Args) -> Response:
    """`/mentor channel #name [--pairs]`: where escalations and digests go, or where pairs' threads open."""
    program = await coordinator_program(ctx, args, "channel")
    if len(args.words) != 1 or (ref := parse_channel(args.words[0])) is None:
        raise UserError("error.channel_usage")
    if "pairs" in args.flags:
        program.pairs_channel_ref = ref
        await audit.record(ctx, "channel.pairs_set", ref, program.id)
        return ctx.reply("channel.pairs_set", program=program.name, channel=args.words[0])
    program.channel_ref = ref
    reschedule_digest(program)  # the digest's destination, hence its key, changed
    await audit.record(ctx, "channel.set", ref, program.id)
    return ctx.reply("channel.set", program=program.name, channel=args.words[0])


async def _enrollment(ctx: Ctx, program: Program, member: Member) -> Enrollment | None:
    return (
        await ctx.session.exec(
            select(Enrollment).where(Enrollment.program_id == program.id, Enrollment.member_id == member.id,
                                     Enrollment.role != Role.COORDINATOR, col(Enrollment.active).is_(True))
        )
    ).first()


async def _overridden(ctx: Ctx, refusal: pair_rules.Refusal) -> str:
    """A forced rule as the audit log names it: its code (and, for never-again, the earlier pair and how it ended)."""
    if refusal.rule == pair_rules.NEVER_AGAIN:
        earlier = await ctx.session.get(Pair, refusal.error.params["id"])
        return f"{refusal.rule} after #{refusal.error.params['id']} ({earlier.end_cause if earlier else '?'})"
    return refusal.rule


def _despite(ctx: Ctx, refusal: pair_rules.Refusal) -> str:
    """A forced rule as the coordinator's reply names it."""
    if refusal.rule == pair_rules.NEVER_AGAIN:
        return ctx.t("pairing.despite_never_again", id=refusal.error.params["id"])
    if refusal.rule == matching.FORBIDDEN:
        return ctx.t("pairing.despite_blocked")
    if refusal.rule == matching.TZ_GAP:
        return ctx.t("pairing.despite_tz_gap")
    return ctx.t("pairing.despite_language")


@feature.command("pair", access=Access.COORDINATOR,
                 args=(Arg("mentor", Kind.PERSON, required=True), Arg("mentee", Kind.PERSON, required=True)),
                 options=(Arg("force", Kind.TEXT), PROGRAM))
async def pair(ctx: Ctx, args: Args) -> Response:
    """`/mentor pair @mentor @mentee [--force REASON]` (or two peers): introduce them."""
    program = await coordinator_program(ctx, args, "pair")
    words, force = args.words, args.options.get("force")
    if force is not None:
        # `--force they asked for it` without quotes: the words after the two people are the reason.
        force = " ".join([force, *words[2:]]).strip()
        words = words[:2]
        if not force:
            raise UserError("error.force_needs_reason")
    if len(words) != 2:
        raise UserError("error.pair_usage")
    a = await member_from_token(ctx.session, ctx.ws, words[0])
    b = await member_from_token(ctx.session, ctx.ws, words[1])
    if a.id == b.id:
        raise UserError("error.pair_self")
    ea, eb = await _enrollment(ctx, program, a), await _enrollment(ctx, program, b)
    for member, enrolled in ((a, ea), (b, eb)):
        if enrolled is None:
            raise UserError("error.not_enrolled_other", name=member.display_name, program=program.name)
    assert ea is not None and eb is not None
    if {ea.role, eb.role} == {Role.PEER}:
        kind = "peer"
    elif ea.role == Role.MENTOR and eb.role == Role.MENTEE:
        kind = "mentorship"
    elif ea.role == Role.MENTEE and eb.role == Role.MENTOR:
        raise UserError("error.pair_order", mentor=b.display_name, mentee=a.display_name)
    else:
        raise UserError("error.pair_roles", a=a.display_name, ra=ea.role, b=b.display_name, rb=eb.role)
    existing = (
        await ctx.session.exec(
            select(Pair).where(Pair.program_id == program.id, col(Pair.status).in_(LIVE),
                               ((Pair.member_a_id == a.id) & (Pair.member_b_id == b.id))
                               | ((Pair.member_a_id == b.id) & (Pair.member_b_id == a.id)))
        )
    ).first()
    if existing is not None:
        raise UserError("error.already_paired", id=existing.id)
    if await pair_rules.live_pair_count(ctx.session, program, a) >= ea.capacity:
        raise UserError("error.at_capacity", name=a.display_name, capacity=ea.capacity)
    if await pair_rules.live_pair_count(ctx.session, program, b) >= eb.capacity:
        raise UserError("error.at_capacity", name=b.display_name, capacity=eb.capacity)
    refused = await pair_rules.refusals(ctx.session, ctx.rt, program, a, b, ctx.now)
    if refused and force is None:
        raise refused[0].error  # it says how to override
    paused = safeguards.paused_among(a, b)
    new = await start_pair(ctx, program, a, b, kind, paused=paused)
    await audit.record(ctx, "pair", f"#{new.id} {a.display_name} & {b.display_name}", program.id)
    lines = [ctx.t("pair.created", id=new.id, a=a.display_name, b=b.display_name)]
    if refused:
        # Rule codes only: the entry never says whose block it was (coordinators read the audit log).
        await audit.record(ctx, "pair.force", f"#{new.id} {a.display_name} & {b.display_name} overriding "
                           f"{', '.join([await _overridden(ctx, r) for r in refused])}: {force}", program.id)
        lines.append(ctx.t("pairing.forced", rules=", ".join(_despite(ctx, r) for r in refused)))
    for member in paused:
        until = ctx.rt.when(member.paused_until, ctx.me) if member.paused_until else ctx.t("pair.until_resume")
        lines.append(ctx.t("pair.paused_warning", name=member.display_name, until=until, id=new.id))
    return Response([Message("\n".join(lines))])


@feature.command("unpair", access=Access.COORDINATOR,
                 args=(Arg("pair", Kind.PAIR, required=True, help="unpair_pair"),
                       Arg("reason", Kind.TEXT, required=True, help="unpair_reason")),
                 options=(PROGRAM,))
async def unpair(ctx: Ctx, args: Args) -> Response:
    """`/mentor unpair <pair> <reason>`: end a pair; the members are told neutrally."""
    program = await coordinator_program(ctx, args, "unpair")
    if len(args.words) < 2:
        raise UserError("error.unpair_usage")
    target = await pair_in_program(ctx, program, args.words[0])
    if target.status == PairStatus.ENDED:
        raise UserError("error.already_ended", id=target.id)
    reason = args.rest(1)
    await end_pair(ctx.session, ctx.rt, ctx.now, target, reason, list(await members_of(ctx.session, target)),
                   PairEndCause.UNPAIR)
    await audit.record(ctx, "unpair", f"#{target.id}: {reason}", program.id)
    return ctx.reply("pair.unpaired", id=target.id)


@feature.command("pairs", access=Access.COORDINATOR,
                 options=(Arg("at-risk", Kind.FLAG), Arg("health", Kind.CHOICE, choices=STATES, choice_prompts="health.state"),
                          Arg("all", Kind.FLAG, help="all_pairs"), PROGRAM))
async def pairs(ctx: Ctx, args: Args) -> Response:
    """`/mentor pairs [--at-risk] [--health on-track|attention|at-risk|early] [--all]`."""
    program = await coordinator_program(ctx, args, "pairs")
    if args.words:
        raise UserError("error.no_words", command="pairs")
    # --at-risk is the older spelling of --health at-risk: the same rule.
    wanted = State.AT_RISK if "at-risk" in args.flags else args.options.get("health", "").lower() or None
    if wanted and wanted not in STATES:
        raise UserError("health.bad_state", value=args.options["health"], states=", ".join(STATES))
    statuses = STARTED if "all" in args.flags else LIVE
    rows = list(
        (await ctx.session.exec(select(Pair).where(Pair.program_id == program.id, col(Pair.status).in_(statuses))
                                .order_by(col(Pair.id)))).all()
    )
    # A coordinator's own pairs are not listed: their ratings, answers and health are for the other coordinators.
    own = await safeguards.own_pair_ids(ctx.session, ctx.me, program)
    hidden = safeguards.hidden_of(p.id for p in rows if p.id in own)
    rows = [p for p in rows if hidden.keeps(p.id)]
    health = await pair_health(ctx.session, ctx.rt, program, hidden, ctx.now)
    if wanted:
        rows = [p for p in rows if p.id in health and health[p.id].state == wanted]
    left_out = [ctx.t("pairs.hidden", pairs=hidden.label())] if hidden.pair_ids else []
    if not rows:
        if wanted == State.AT_RISK:
            return Response([Message("\n".join([ctx.t("pairs.none_at_risk", program=program.name), *left_out]))])
        if wanted:
            return Response([Message("\n".join([ctx.t("health.none_in_state", program=program.name,
                                                        state=ctx.t(f"health.state.{wanted}")), *left_out]))])
        if left_out:
            return Response([Message(left_out[0])])
        any_pair = (await ctx.session.exec(select(Pair.id).where(Pair.program_id == program.id).limit(1))).first()
        return ctx.reply("pairs.none_live" if any_pair else "pairs.none", program=program.name)
    lines = [ctx.t("pairs.head", program=program.name, count=len(rows))]
    for p in rows:
        state = health.get(p.id)  # type: ignore[arg-type]
        risk = state.why if state and state.state == State.AT_RISK else None
        line = await pair_line(ctx.session, ctx.rt, p, risk)
        lines.append(line + (describe(ctx.rt, state) if state and not risk else ""))
    return Response([Message("\n".join([*lines, *left_out]))])


def _profile_tags(ctx: Ctx, member: Member) -> str:
    """One line of what matching reads from a profile (topics, interests, languages), or "" when it is empty."""
    topics, interests, languages = (", ".join(tags.tags_of(c)) for c in (member.topics, member.interests,
                                                                         member.languages))
    parts = [ctx.t("profiles.people_topics", tags=topics) if topics else "",
             ctx.t("profiles.people_interests", tags=interests) if interests else "",
             ctx.t("profiles.people_languages", tags=languages) if languages else ""]
    parts = [p for p in parts if p]
    return ctx.t("profiles.people_tags", tags="; ".join(parts)) if parts else ""


@feature.command("people", access=Access.COORDINATOR, options=(Arg("unmatched", Kind.FLAG), PROGRAM))
async def people(ctx: Ctx, args: Args) -> Response:
    """`/mentor people [--unmatched]`: who is enrolled, their role, pairs, capacity and profile tags."""
    program = await coordinator_program(ctx, args, "people")
    if args.words:
        raise UserError("error.no_words", command="people")
    rows = (
        await ctx.session.exec(
            select(Enrollment, Member).join(Member, col(Member.id) == col(Enrollment.member_id)).where(
                Enrollment.program_id == program.id, Enrollment.role != Role.COORDINATOR,
                col(Enrollment.active).is_(True)).order_by(col(Enrollment.role), col(Member.display_name))
        )
    ).all()
    lines, listed = [], 0
    for e, m in rows:
        count = await pair_rules.live_pair_count(ctx.session, program, m)
        if "unmatched" in args.flags and count >= e.capacity:
            continue
        paused = ctx.t("people.paused") if m.paused else ""
        listed += 1
        lines.append(ctx.t("people.line", name=m.display_name, role=e.role, pairs=count, capacity=e.capacity,
                           tz=ctx.rt.tz(m), paused=paused))
        if profile := _profile_tags(ctx, m):
            lines.append(profile)
    if not lines:
        return ctx.reply("people.none_unmatched" if "unmatched" in args.flags else "people.none", program=program.name)
    head = ctx.t("people.head_unmatched" if "unmatched" in args.flags else "people.head", program=program.name,
                 count=listed)
    return Response([Message("\n".join([head, *lines]))])


@feature.command("capacity", access=Access.COORDINATOR,
                 args=(Arg("mentor", Kind.PERSON, required=True, help="capacity_mentor"),
                       Arg("capacity", Kind.INT, required=True, low=1, high=MAX_CAPACITY, help="capacity_value")),
                 options=(PROGRAM,))
async def capacity(ctx: Ctx, args: Args) -> Response:
    """`/mentor capacity @mentor N`: how many mentees a mentor takes at once in the program (audited)."""
    program = await coordinator_program(ctx, args, "capacity")
    if len(args.words) != 2:
        raise UserError("capacity.usage", max=MAX_CAPACITY)
    mentor = await member_from_token(ctx.session, ctx.ws, args.words[0])
    value = as_int_in(args.words[1], 1, MAX_CAPACITY)
    if value is None:
        raise UserError("error.bad_capacity", value=args.words[1], max=MAX_CAPACITY)
    enrolled = await _enrollment(ctx, program, mentor)
    if enrolled is None or enrolled.role != Role.MENTOR:
        raise UserError("capacity.not_mentor", name=mentor.display_name, program=program.name)
    if enrolled.capacity == value:
        return ctx.reply("capacity.unchanged", name=mentor.display_name, program=program.name, capacity=value)
    before, enrolled.capacity = enrolled.capacity, value
    await audit.record(ctx, "capacity", f"{mentor.display_name}: {before} -> {value}", program.id)
    lines = [ctx.t("capacity.set", name=mentor.display_name, program=program.name, capacity=value, before=before)]
    if (live := await pair_rules.live_pair_count(ctx.session, program, mentor)) > value:
        lines.append(ctx.t("capacity.over", name=mentor.display_name, pairs=live, capacity=value))
    return Response([Message("\n".join(lines))])


@feature.command("escalations", access=Access.COORDINATOR,
                 options=(Arg("all", Kind.FLAG, help="all_escalations"), PROGRAM), grouped=("escalations", "list"))
async def escalations(ctx: Ctx, args: Args) -> Response:
    """`/mentor escalations [--all]`: open (and acknowledged) escalations, or every one."""
    program = await coordinator_program(ctx, args, "escalations")
    if args.words:
        raise UserError("error.no_words", command="escalations")
    stmt = select(Escalation).where(Escalation.program_id == program.id)
    if "all" not in args.flags:
        stmt = stmt.where(Escalation.status != EscalationStatus.RESOLVED)
    every = (await ctx.session.exec(stmt.order_by(col(Escalation.id)))).all()
    # Escalations about the coordinator's own pair are the other coordinators' to see and handle.
    hidden = await safeguards.hidden_from(ctx.session, ctx.me, program)
    rows = [e for e in every if hidden.keeps(e.pair_id)]
    left_out = ctx.t("escalations.hidden", count=len(every) - len(rows)) if len(rows) < len(every) else None
    if not rows:
        return ctx.reply("escalations.none", program=program.name) if left_out is None else \
            Response([Message(left_out)])
    lines = [ctx.t("escalations.head", program=program.name, count=len(rows))]
    for e in rows:
        lines.append(ctx.t("escalations.line", id=e.id, kind=ctx.t(f"escalation.kind_{e.kind}"),
                           status=ctx.t(f"escalation.status_{e.status}"), pair=f"#{e.pair_id}" if e.pair_id else "-",
                           opened=e.opened_at.strftime("%Y-%m-%d"), reason=e.reason[:120]))
    if left_out:
        lines.append(left_out)
    return Response([Message("\n".join(lines))])


@feature.command("ack", access=Access.COORDINATOR, args=(Arg("escalation", Kind.ESCALATION, required=True),),
                 grouped=("escalations", "ack"))
async def ack(ctx: Ctx, args: Args) -> Response:
    """`/mentor ack <id>`."""
    if len(args.words) != 1:
        raise UserError("error.ack_usage")
    return await acknowledge(ctx, args.words[0])


@feature.command("resolve", access=Access.COORDINATOR,
                 args=(Arg("escalation", Kind.ESCALATION, required=True), Arg("note", Kind.TEXT, required=True)),
                 grouped=("escalations", "resolve"))
async def resolve_command(ctx: Ctx, args: Args) -> Response:
    """`/mentor resolve <id> <note>`."""
    if len(args.words) < 2:
        raise UserError("error.resolve_usage")
    return await resolve(ctx, args.words[0], args.rest(1))


@feature.command("nudge", access=Access.COORDINATOR,
                 args=(Arg("target", Kind.PAIR, required=True, help="nudge_target", also="all"),), options=(PROGRAM,))
async def nudge(ctx: Ctx, args: Args) -> Response:
    """`/mentor nudge <pair>|all`: post the check-in question now."""
    program = await coordinator_program(ctx, args, "nudge")
    if len(args.words) != 1:
        raise UserError("error.nudge_usage")
    if args.words[0].lower() == "all":
        targets = list(
            (await ctx.session.exec(select(Pair).where(Pair.program_id == program.id, Pair.status == PairStatus.ACTIVE)
                                    .order_by(col(Pair.id)))).all()
        )
    else:
        one = await pair_in_program(ctx, program, args.words[0])
        if one.status != PairStatus.ACTIVE:
            raise UserError("error.pair_not_active", id=one.id, status=ctx.t(f"pair.status_{one.status}"))
        targets = [one]
    outcomes = Counter([await checkin_flow.nudge_now(ctx, p, program) for p in targets])
    if len(targets) == 1 and outcomes["recent"]:
        last = targets[0].nudged_at
        assert last is not None
        return ctx.reply("nudge.recent", id=targets[0].id, when=ctx.rt.when(last, ctx.me),
                         again=ctx.rt.when(last + checkin_flow.NUDGE_GAP, ctx.me))
    await audit.record(ctx, "nudge", args.words[0], program.id)
    if outcomes["recent"]:
        return ctx.reply("nudge.done_recent", count=outcomes["sent"], skipped=outcomes["skipped"],
                         recent=outcomes["recent"])
    return ctx.reply("nudge.done", count=outcomes["sent"], skipped=outcomes["skipped"])
