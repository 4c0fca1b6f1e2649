"""Feedback: after a met check-in each member privately rates it 1-5 and may add a note.
Only coordinators ever see ratings and notes; a rating of 2 or less escalates."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import coordinators
from bot.args import as_id, as_int_in
from bot.context import Ctx, Runtime
from bot.errors import UserError
from bot.feature import Feature
from bot.flows.escalation import raise_escalation
from bot.messages import Button, Form, FormField, Message, Response
from bot.outbox import enqueue, enqueue_rows, outbox_key, outbox_row
from bot.pairs import in_pair, members_of, partner_id
from storage.models import (
    Checkin,
    CheckinStatus,
    Escalation,
    EscalationKind,
    Feedback,
    Member,
    OutboxKind,
    Pair,
    Program,
)

LOW_RATING = 2
NOTE_FORM = "feedback.note"
feature = Feature("feedback")


@feature.on_met
async def rating_requests(
    s: AsyncSession, rt: Runtime, now: datetime, program: Program, pair: Pair, checkin: Checkin
) -> None:
    """Ask each member of the pair, privately, to rate the check-in."""
    a, b = await members_of(s, pair)
    rows = []
    for me, partner in ((a, b), (b, a)):
        buttons = tuple(Button(str(n), "feedback.rate", f"{checkin.id}:{n}") for n in range(1, 6))
        rows.append(
            outbox_row(
                kind=OutboxKind.RATE, subject_id=checkin.id, details=(me.id,),
                workspace_id=program.workspace_id,
                program_id=program.id,
                dest_kind="user",
                target=me.id,  # type: ignore[arg-type]
                message=Message(rt.t("feedback.ask", partner=partner.display_name, period=checkin.period), buttons=buttons),
                now=now,
            )
        )
    await enqueue_rows(s, rows)


@feature.action("feedback.rate")
async def rate(ctx: Ctx, value: str) -> Response:
    """A 1-5 click: recorded at once, then an optional note form."""
    checkin_part, _, rating_part = value.partition(":")
    checkin_id, rating = as_id(checkin_part), as_int_in(rating_part, 1, 5)
    checkin = await ctx.session.get(Checkin, checkin_id) if checkin_id else None
    pair = await ctx.session.get(Pair, checkin.pair_id) if checkin else None
    if checkin is None or pair is None or rating is None:
        raise UserError("error.stale_button")
    if not in_pair(pair, ctx.me.id):
        raise UserError("error.not_your_checkin")
    if checkin.status != CheckinStatus.MET:
        raise UserError("error.stale_button")
    given = (
        await ctx.session.exec(
            select(Feedback).where(Feedback.checkin_id == checkin.id, Feedback.member_id == ctx.me.id)
        )
    ).first()
    if given is not None:
        return ctx.reply("feedback.already", rating=given.rating)
    feedback = Feedback(checkin_id=checkin.id, member_id=ctx.me.id, rating=rating, created_at=ctx.now)  # type: ignore[arg-type]
    ctx.session.add(feedback)
    await ctx.session.flush()
    program = await ctx.session.get(Program, pair.program_id)
    assert program is not None
    # Replace the buttons in the DM so the choice is visible and cannot be clicked again.
    await enqueue(
        ctx.session,
        kind=OutboxKind.RATED, subject_id=checkin.id, details=(ctx.me.id,), workspace_id=program.workspace_id,
        program_id=program.id,
        dest_kind="user", target=ctx.me.id,  # type: ignore[arg-type]
        message=Message(ctx.t("feedback.rated_edit", rating=rating, period=checkin.period)), now=ctx.now,
        edits_key=outbox_key(OutboxKind.RATE, checkin.id, ctx.me.id),
    )
    key = "feedback.thanks"
    if rating <= LOW_RATING:
        partner = await ctx.session.get(Member, partner_id(pair, ctx.me.id))
        await raise_escalation(
            ctx.session, ctx.rt, ctx.now, program=program, kind=EscalationKind.LOW_RATING, pair=pair,
            reporter=ctx.me,
            reason=ctx.t("escalation.low_rating_reason", rating=rating, who=ctx.me.display_name,
                         partner=partner.display_name if partner else "?", period=checkin.period),
        )
        key = "feedback.thanks_low"
    form = Form(
        NOTE_FORM, ctx.t("form.note_title"), (FormField("note", ctx.t("form.note_label")),),
        state=str(feedback.id), submit_label=ctx.t("form.note_submit"),
    )
    return Response([Message(ctx.t(key, rating=rating))], form)


@feature.form(NOTE_FORM)
async def add_note(ctx: Ctx, state: str, values: dict[str, str]) -> Response:
    """The optional note after a rating; a note on a low rating is passed to the coordinators."""
    feedback_id = as_id(state)
    feedback = await ctx.session.get(Feedback, feedback_id) if feedback_id else None
    if feedback is None or feedback.member_id != ctx.me.id:
        raise UserError("error.stale_button")
    note = values.get("note", "").strip()
    if not note:
        return ctx.reply("feedback.no_note")
    feedback.note = note[:2000]
    if feedback.rating <= LOW_RATING:
        checkin = await ctx.session.get(Checkin, feedback.checkin_id)
        assert checkin is not None
        esc = (
            await ctx.session.exec(
                select(Escalation).where(
                    Escalation.pair_id == checkin.pair_id,
                    Escalation.kind == EscalationKind.LOW_RATING,
                    Escalation.reporter_id == ctx.me.id,
                ).order_by(Escalation.id.desc())  # type: ignore[union-attr]
            )
        ).first()
        program = await ctx.session.get(Program, esc.program_id) if esc else None
        if esc and program:
            await coordinators.notify(
                ctx.session, program, OutboxKind.ESCALATION_NOTE, esc.id, (feedback.id,),  # type: ignore[arg-type]
                Message(ctx.t("escalation.note_added", id=esc.id, who=ctx.me.display_name, note=feedback.note)),
                ctx.now, pair_id=esc.pair_id,
            )
    return ctx.reply("feedback.note_saved")
