"""Escalations: raised by reports, rematch requests, low ratings, missed check-ins and failed sends;
posted to the coordinators, acknowledged and resolved by them. Never shown to the other member."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import audit, coordinators, safeguards
from bot.access import member_program
from bot.args import Args, as_id
from bot.context import Ctx, Runtime
from bot.directory import coordinated_programs, is_coordinator
from bot.errors import UserError
from bot.feature import PAIR, PROGRAM, Arg, Feature, Kind
from bot.messages import Button, Form, FormField, Message, Response
from bot.outbox import enqueue_rows, outbox_key, outbox_row
from bot.pairs import checkin_history, in_pair, label, my_pair, pairs_of
from storage.models import (
    Escalation,
    EscalationKind,
    EscalationStatus,
    Member,
    Outbox,
    OutboxKind,
    Pair,
    Program,
)

ACK_WITHIN = timedelta(hours=48)
REPORT_FORM = "escalation.report"
RESOLVE_FORM = "escalation.resolve"
feature = Feature("escalation")


async def _post(session: AsyncSession, rt: Runtime, esc: Escalation) -> Message:
    """The coordinators' view of an escalation, with the buttons its state allows."""
    program = await session.get(Program, esc.program_id)
    assert program is not None
    fields = [(rt.t("escalation.field_kind"), rt.t(f"escalation.kind_{esc.kind}"))]
    if esc.pair_id:
        pair = await session.get(Pair, esc.pair_id)
        assert pair is not None
        fields.append((rt.t("escalation.field_pair"), await label(session, rt, pair)))
    reporter = await session.get(Member, esc.reporter_id) if esc.reporter_id else None
    fields.append((rt.t("escalation.field_raised_by"), reporter.display_name if reporter else rt.t("escalation.automatic")))
    fields.append((rt.t("escalation.field_reason"), esc.reason))
    if esc.pair_id:
        fields.append((rt.t("escalation.field_history"), await checkin_history(session, rt, esc.pair_id)))
    text = rt.t("escalation.post", id=esc.id, program=program.name, state=await _state(session, rt, esc))
    return Message(text, tuple(fields), _buttons(rt, esc))


async def _state(session: AsyncSession, rt: Runtime, esc: Escalation) -> str:
    if esc.status == EscalationStatus.OPEN:
        return rt.t("escalation.state_open")
    if esc.status == EscalationStatus.ACKNOWLEDGED:
        who = await session.get(Member, esc.acked_by_id)
        return rt.t("escalation.state_acked", who=who.display_name if who else "?", at=_utc(esc.acked_at))
    who = await session.get(Member, esc.resolved_by_id)
    return rt.t("escalation.state_resolved", who=who.display_name if who else "?", at=_utc(esc.resolved_at),
                note=esc.resolution)


def _buttons(rt: Runtime, esc: Escalation) -> tuple[Button, ...]:
    """What can still be done: open -> Acknowledge, Resolve; acknowledged -> Resolve; resolved -> nothing."""
    if esc.status == EscalationStatus.OPEN:
        return (
            Button(rt.t("button.acknowledge"), "escalation.ack", str(esc.id), "primary"),
            Button(rt.t("button.resolve"), "escalation.resolve", str(esc.id)),
        )
    if esc.status == EscalationStatus.ACKNOWLEDGED:
        return (Button(rt.t("button.resolve"), "escalation.resolve", str(esc.id)),)
    return ()


async def _reminder(session: AsyncSession, rt: Runtime, program: Program, esc: Escalation) -> Message:
    """The 48-hour reminder; once the escalation moves on, the reminder is edited to say where it stands."""
    kind = rt.t(f"escalation.kind_{esc.kind}")
    if esc.status == EscalationStatus.OPEN:
        text = rt.t("escalation.reminder", id=esc.id, program=program.name, kind=kind)
    else:
        text = rt.t("escalation.reminder_now", id=esc.id, program=program.name, kind=kind,
                    state=await _state(session, rt, esc))
    return Message(text, buttons=_buttons(rt, esc))


def _utc(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "?"


async def raise_escalation(
    session: AsyncSession,
    rt: Runtime,
    now: datetime,
    *,
    program: Program,
    kind: EscalationKind,
    reason: str,
    pair: Pair | None = None,
    reporter: Member | None = None,
) -> Escalation:
    """Open an escalation and queue its post to the coordinators, in the caller's transaction."""
    esc = Escalation(
        program_id=program.id,  # type: ignore[arg-type]
        pair_id=pair.id if pair else None,
        reporter_id=reporter.id if reporter else None,
        kind=kind,
        reason=reason[:2000],
        opened_at=now,
    )
    session.add(esc)
    await session.flush()
    await coordinators.notify(session, program, OutboxKind.ESCALATION, esc.id, (),  # type: ignore[arg-type]
                              await _post(session, rt, esc), now, pair_id=esc.pair_id)
    return esc


async def open_escalation(session: AsyncSession, pair_id: int, kind: EscalationKind) -> Escalation | None:
    stmt = select(Escalation).where(
        Escalation.pair_id == pair_id, Escalation.kind == kind, Escalation.status != EscalationStatus.RESOLVED
    )
    return (await session.exec(stmt)).first()


async def _refresh_post(ctx: Ctx, esc: Escalation, step: str) -> None:
    program = await ctx.session.get(Program, esc.program_id)
    assert program is not None
    message = await _post(ctx.session, ctx.rt, esc)
    await coordinators.notify(ctx.session, program, OutboxKind.ESCALATION, esc.id, (step,),  # type: ignore[arg-type]
                              message, ctx.now, edits=outbox_key(OutboxKind.ESCALATION, esc.id), pair_id=esc.pair_id)
    if esc.reminded_at is not None:
        # The reminder carries buttons too: an old Acknowledge must not stay clickable once acknowledged.
        await coordinators.notify(ctx.session, program, OutboxKind.ESCALATION_REMINDER, esc.id,  # type: ignore[arg-type]
                                  (step,), await _reminder(ctx.session, ctx.rt, program, esc), ctx.now,
                                  edits=outbox_key(OutboxKind.ESCALATION_REMINDER, esc.id), pair_id=esc.pair_id)


async def _escalation_for_coordinator(ctx: Ctx, token: str, command: str) -> Escalation:
    esc_id = as_id(token)
    if esc_id is None:
        raise UserError("error.not_an_escalation_id", token=token)
    esc = await ctx.session.get(Escalation, esc_id, with_for_update=True)
    program = await ctx.session.get(Program, esc.program_id) if esc else None
    if esc is None or program is None or program.workspace_id != ctx.ws.id:
        # Someone who coordinates nothing learns nothing, not even which ids exist.
        if not await coordinated_programs(ctx.session, ctx.me, ctx.ws):
            raise UserError("error.not_coordinator_any", command=command)
        raise UserError("error.unknown_escalation", id=esc_id)
    if not await is_coordinator(ctx.session, ctx.me, program):
        raise UserError("error.not_coordinator", command=command, program=program.name)
    if esc.pair_id in await safeguards.own_pair_ids(ctx.session, ctx.me, program):
        raise UserError("error.own_pair_escalation", id=esc.id, command=command, program=program.name)
    return esc


@feature.action("escalation.ack")
async def acknowledge(ctx: Ctx, token: str) -> Response:
    esc = await _escalation_for_coordinator(ctx, token, "ack")
    if esc.status != EscalationStatus.OPEN:
        return ctx.reply("escalation.already", id=esc.id, state=ctx.t(f"escalation.status_{esc.status}"))
    esc.status = EscalationStatus.ACKNOWLEDGED
    esc.acked_by_id, esc.acked_at = ctx.me.id, ctx.now
    await audit.record(ctx, "escalation.ack", f"#{esc.id}", esc.program_id)
    await _refresh_post(ctx, esc, "ack")
    return ctx.reply("escalation.acked", id=esc.id)


async def resolve(ctx: Ctx, token: str, note: str) -> Response:
    esc = await _escalation_for_coordinator(ctx, token, "resolve")
    if esc.status == EscalationStatus.RESOLVED:
        return ctx.reply("escalation.already", id=esc.id, state=ctx.t(f"escalation.status_{esc.status}"))
    note = note.strip()
    if not note:
        raise UserError("error.resolve_needs_note", id=esc.id)
    if esc.acked_at is None:
        esc.acked_by_id, esc.acked_at = ctx.me.id, ctx.now
    esc.status = EscalationStatus.RESOLVED
    esc.resolved_by_id, esc.resolved_at, esc.resolution = ctx.me.id, ctx.now, note[:2000]
    await audit.record(ctx, "escalation.resolve", f"#{esc.id}: {note}", esc.program_id)
    await _refresh_post(ctx, esc, "resolve")
    return ctx.reply("escalation.resolved", id=esc.id)


# --- member side -------------------------------------------------------------------------------


async def report_problem(ctx: Ctx, program: Program, pair: Pair | None, text: str) -> Response:
    text = text.strip()
    if not text:
        raise UserError("error.problem_needs_text")
    esc = await raise_escalation(
        ctx.session, ctx.rt, ctx.now, program=program, kind=EscalationKind.PROBLEM, reason=text, pair=pair,
        reporter=ctx.me,
    )
    return ctx.reply("escalation.reported", id=esc.id)


@feature.command("problem", args=(Arg("what", Kind.TEXT, required=True),), options=(PAIR, PROGRAM))
async def problem_command(ctx: Ctx, args: Args) -> Response:
    """`/mentor problem <text>`: a private report to the coordinators."""
    text = args.rest()
    if not text:
        raise UserError("error.problem_needs_text")
    pairs = await pairs_of(ctx.session, ctx.me)
    pair = await my_pair(ctx, args, "problem") if pairs else None
    program = await ctx.session.get(Program, pair.program_id) if pair else await member_program(ctx, args)
    assert program is not None
    return await report_problem(ctx, program, pair, text)


@feature.command("rematch", args=(Arg("reason", Kind.TEXT, required=True),), options=(PAIR,))
async def rematch_command(ctx: Ctx, args: Args) -> Response:
    """`/mentor rematch <reason>`: ask the coordinators for a new match."""
    reason = args.rest()
    if not reason:
        raise UserError("error.rematch_needs_reason")
    pair = await my_pair(ctx, args, "rematch")
    if await open_escalation(ctx.session, pair.id, EscalationKind.REMATCH):  # type: ignore[arg-type]
        return ctx.reply("escalation.rematch_pending")
    program = await ctx.session.get(Program, pair.program_id)
    assert program is not None
    await raise_escalation(
        ctx.session, ctx.rt, ctx.now, program=program, kind=EscalationKind.REMATCH, reason=reason, pair=pair,
        reporter=ctx.me,
    )
    return ctx.reply("escalation.rematch_sent")


@feature.action("escalation.report")
async def report_button(ctx: Ctx, value: str) -> Response:
    """The Report a problem button opens a private form."""
    pair_id = as_id(value)
    pair = await ctx.session.get(Pair, pair_id) if pair_id else None
    if pair is None or not in_pair(pair, ctx.me.id):
        raise UserError("error.stale_button")
    form = Form(
        REPORT_FORM,
        ctx.t("form.report_title"),
        (FormField("text", ctx.t("form.report_label"), required=True),),
        state=str(pair.id),
        submit_label=ctx.t("form.report_submit"),
    )
    return Response([Message(ctx.t("form.report_opened"))], form)


@feature.form(REPORT_FORM)
async def report_form(ctx: Ctx, state: str, values: dict[str, str]) -> Response:
    pair_id = as_id(state)
    pair = await ctx.session.get(Pair, pair_id) if pair_id else None
    if pair is None or not in_pair(pair, ctx.me.id):
        raise UserError("error.stale_button")
    program = await ctx.session.get(Program, pair.program_id)
    assert program is not None
    return await report_problem(ctx, program, pair, values.get("text", ""))


@feature.action("escalation.resolve")
async def resolve_button(ctx: Ctx, value: str) -> Response:
    esc = await _escalation_for_coordinator(ctx, value, "resolve")
    if esc.status == EscalationStatus.RESOLVED:
        return ctx.reply("escalation.already", id=esc.id, state=ctx.t(f"escalation.status_{esc.status}"))
    form = Form(
        RESOLVE_FORM,
        ctx.t("form.resolve_title", id=esc.id),
        (FormField("note", ctx.t("form.resolve_label"), required=True),),
        state=str(esc.id),
        submit_label=ctx.t("form.resolve_submit"),
    )
    return Response([Message(ctx.t("form.resolve_opened", id=esc.id))], form)


@feature.form(RESOLVE_FORM)
async def resolve_form(ctx: Ctx, state: str, values: dict[str, str]) -> Response:
    return await resolve(ctx, state, values.get("note", ""))


# --- the clock ---------------------------------------------------------------------------------


async def remind_unacknowledged(rt: Runtime, now: datetime) -> None:
    """Remind the coordinators once about escalations nobody acknowledged within 48 hours."""
    async with rt.db.transaction() as s:
        stmt = select(Escalation).where(
            Escalation.status == EscalationStatus.OPEN,
            col(Escalation.reminded_at).is_(None),
            Escalation.opened_at <= now - ACK_WITHIN,
        )
        for esc in (await s.exec(stmt.with_for_update(skip_locked=True))).all():
            esc.reminded_at = now
            program = await s.get(Program, esc.program_id)
            assert program is not None
            message = await _reminder(s, rt, program, esc)
            await coordinators.notify(s, program, OutboxKind.ESCALATION_REMINDER, esc.id, (),  # type: ignore[arg-type]
                                      message, now, pair_id=esc.pair_id)


async def next_unacknowledged(rt: Runtime, now: datetime) -> datetime | None:
    async with rt.db.read() as s:
        stmt = select(Escalation.opened_at).where(
            Escalation.status == EscalationStatus.OPEN, col(Escalation.reminded_at).is_(None)
        )
        first = (await s.exec(stmt.order_by(col(Escalation.opened_at)).limit(1))).first()
    return first + ACK_WITHIN if first else None


async def delivery_failed(session: AsyncSession, rt: Runtime, row: Outbox, now: datetime) -> None:
    """A send failed for good: tell the coordinators; when the failing send was to them, DM them instead."""
    if row.program_id is None:
        return
    if OutboxKind(row.kind).for_coordinators:
        if row.dest_kind == "channel":
            await _post_directly(session, rt, row, now)
        return
    program = await session.get(Program, row.program_id)
    if program is None:
        return
    pair = await session.get(Pair, int(row.target)) if row.dest_kind == "pair" else None
    if pair is not None:
        dest = await label(session, rt, pair)
    elif row.dest_kind == "user" and (member := await session.get(Member, int(row.target))):
        dest = member.display_name
    else:
        dest = row.target
    what = row.kind
    reason = rt.t("escalation.delivery_reason", dest=dest, what=what, error=row.last_error or "?")
    await raise_escalation(session, rt, now, program=program, kind=EscalationKind.DELIVERY, reason=reason, pair=pair)


async def _post_directly(session: AsyncSession, rt: Runtime, row: Outbox, now: datetime) -> None:
    """The coordinators' channel cannot be reached (bot removed, channel deleted): DM each coordinator
    the post instead, saying why, so an escalation is never lost in the logs."""
    program = await session.get(Program, row.program_id)
    if program is None:
        return
    pair_id = None
    if row.kind != OutboxKind.DIGEST and row.subject_id is not None:  # the subject is the escalation
        esc = await session.get(Escalation, row.subject_id)
        pair_id = esc.pair_id if esc else None
    original = Message.from_dict(row.payload)
    note = rt.t("escalation.channel_unreachable", channel=row.target, error=row.last_error or "?")
    message = replace(original, text=f"{note}\n\n{original.text}")
    await enqueue_rows(session, [
        outbox_row(kind=OutboxKind(row.kind), subject_id=row.subject_id, key=f"{row.key}@direct:{target}",
                   workspace_id=program.workspace_id, program_id=program.id, dest_kind=kind, target=target,
                   message=message, now=now)
        for kind, target in await coordinators.direct(session, program, pair_id)
    ])


feature.sweep("remind-escalations", remind_unacknowledged, next_unacknowledged)
