"""Members' own data: `/mentor my-data` (everything mentorbot holds about me, as a JSON file), `/mentor forget-me`
(after a confirmation button: leave every program and erase me), a coordinator's `/mentor forget @person
<reason>`, the same erasure when a platform says an account was deleted, and a per-program retention of free text
(`program set --keep-notes-days N`) enforced by a sweep.

Privacy first, both ways:
- my-data holds what the person gave or did: their profile, enrollments, their pairs (partners by name only),
  the check-ins they answered, their own ratings and notes, the reports they raised (their text, not what a
  coordinator wrote in reply), the blocks they made, and the audit entries of their own actions. It never holds
  what others said or reported about them, blocks others made against them, or why a pair ended (that text is
  the coordinators' and may carry the partner's report).
- Erasure keeps every row that a count stands on (enrollments, pairs, check-ins, ratings, escalations, audit
  entries) and strips the strings: the member row becomes "former member #N" with a platform id that can never
  match one (it holds a colon, which no Slack or Discord id does), the profile is cleared, the notes, report
  texts and resolutions they wrote are blanked, their blocks are deleted, and their name and platform id are
  replaced by "former member #N" wherever other text mentions them (end reasons, escalations, others' notes,
  audit details, outbox payloads), and verbatim copies of their own texts are blanked there too. Pending outbox
  rows to them or to a pair of theirs are cancelled (marked failed), and what was already sent there (an intro
  quotes both profiles) is blanked, with the conversation references; partners are told by direct message."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import audit
from bot.args import Args, as_int_in
from bot.context import Ctx, Runtime
from bot.directory import coordinated_programs, member_from_token, parse_mention, programs_of
from bot.errors import UserError
from bot.feature import Access, Arg, Feature, Kind
from bot.flows.membership import _leave_program
from bot.messages import Attachment, Button, Message, Response
from storage.models import (
    AuditLog,
    Block,
    Checkin,
    Enrollment,
    Escalation,
    EscalationStatus,
    Feedback,
    Member,
    Outbox,
    OutboxStatus,
    Pair,
    ProcessedEvent,
    Program,
    Role,
    Workspace,
)

MAX_KEEP_DAYS = 3650
CANCELLED = "cancelled: the person asked to be forgotten"
feature = Feature("mydata")


# --- extension point: other features' data ------------------------------------------------------------------

Section = Callable[[AsyncSession, Member], Awaitable[list[dict[str, Any]]]]
Eraser = Callable[[AsyncSession, Member, Callable[[str], str]], Awaitable[None]]


@dataclass(frozen=True)
class DataPart:
    """Another feature's share of a person's data (goals, surveys, ...): `export` lists its rows for my-data
    under `name`; `erase` strips what the person wrote, given the function that replaces their name in text."""

    name: str
    export: Section
    erase: Eraser


# Features holding personal data append a DataPart here (one line in their module); my-data and every erasure
# follow.
PARTS: list[DataPart] = []


# --- my-data --------------------------------------------------------------------------------------------------

def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


async def collect(s: AsyncSession, me: Member) -> dict[str, Any]:
    """Everything mentorbot holds about `me` that is theirs to see (see the module docstring), as plain data."""
    ws = await s.get(Workspace, me.workspace_id)
    assert ws is not None
    programs = {p.id: p.name for p in (await s.exec(select(Program).where(Program.workspace_id == ws.id))).all()}
    enrollments = (await s.exec(select(Enrollment).where(Enrollment.member_id == me.id)
                                .order_by(col(Enrollment.id)))).all()
    pairs = (await s.exec(select(Pair).where((col(Pair.member_a_id) == me.id) | (col(Pair.member_b_id) == me.id))
                          .order_by(col(Pair.id)))).all()
    partner_ids = {p.member_b_id if p.member_a_id == me.id else p.member_a_id for p in pairs}
    names = {m.id: m.display_name for m in (await s.exec(select(Member).where(col(Member.id).in_(partner_ids)))).all()}
    answered = (await s.exec(select(Checkin).where(Checkin.answered_by_id == me.id).order_by(col(Checkin.id)))).all()
    ratings = (await s.exec(select(Feedback, Checkin).join(Checkin, col(Checkin.id) == col(Feedback.checkin_id))
                            .where(Feedback.member_id == me.id).order_by(col(Feedback.id)))).all()
    reports = (await s.exec(select(Escalation).where(Escalation.reporter_id == me.id)
                            .order_by(col(Escalation.id)))).all()
    blocked = (await s.exec(select(Block, Member).join(Member, col(Member.id) == col(Block.blocked_id))
                            .where(Block.member_id == me.id).order_by(col(Block.id)))).all()
    actions = (await s.exec(select(AuditLog).where(AuditLog.actor_id == me.id).order_by(col(AuditLog.id)))).all()
    data: dict[str, Any] = {
        "member": {
            "platform": ws.platform, "workspace": ws.external_id, "platform_id": me.external_id,
            "display_name": me.display_name, "tz": me.tz, "tz_from_platform": me.tz_from_platform,
            "topics": me.topics, "interests": me.interests, "languages": me.languages, "goals": me.goals,
            "is_admin": me.is_admin, "paused": me.paused, "paused_until": _iso(me.paused_until),
            "created_at": _iso(me.created_at),
        },
        "enrollments": [{"program": programs.get(e.program_id), "role": e.role, "capacity": e.capacity,
                         "active": e.active, "joined_at": _iso(e.joined_at), "left_at": _iso(e.left_at)}
                        for e in enrollments],
        "pairs": [{"pair": p.id, "program": programs.get(p.program_id), "kind": p.kind,
                   "my_role": _role_in(p, me), "partner": names.get(p.member_b_id if p.member_a_id == me.id
                                                                     else p.member_a_id),
                   "status": p.status, "started_at": _iso(p.created_at), "ended_at": _iso(p.ended_at)}
                  for p in pairs],
        "checkins_answered": [{"pair": c.pair_id, "period": c.period, "answer": c.status,
                               "answered_at": _iso(c.answered_at)} for c in answered],
        "ratings": [{"pair": c.pair_id, "period": c.period, "rating": f.rating, "note": f.note,
                     "at": _iso(f.created_at)} for f, c in ratings],
        "reports": [{"escalation": e.id, "program": programs.get(e.program_id), "kind": e.kind, "text": e.reason,
                     "status": e.status, "opened_at": _iso(e.opened_at), "resolved_at": _iso(e.resolved_at)}
                    for e in reports],
        "blocks": [{"person": m.display_name, "since": _iso(b.created_at)} for b, m in blocked],
        "my_actions": [{"action": a.action, "program": programs.get(a.program_id), "detail": a.detail,
                        "at": _iso(a.at)} for a in actions],
    }
    for part in PARTS:
        data[part.name] = await part.export(s, me)
    return data


def _role_in(pair: Pair, me: Member) -> str:
    if pair.kind == "peer":
        return Role.PEER
    return Role.MENTOR if pair.member_a_id == me.id else Role.MENTEE


@feature.command("my-data", grouped=("data", "mine"))
async def my_data(ctx: Ctx, args: Args) -> Response:
    """`/mentor my-data`: everything mentorbot holds about me, privately, as one JSON file."""
    if args.words or args.options:
        raise UserError("mydata.no_words")
    data = await collect(ctx.session, ctx.me)
    body = json.dumps({"generated_at": ctx.now.isoformat(), **data}, indent=2, ensure_ascii=False).encode()
    name = f"mentorbot-my-data-{ctx.now:%Y-%m-%d}.json"
    return Response([Message(ctx.t("mydata.sent"))], files=[Attachment(name, body, ctx.t("mydata.file_title"))])


# --- forgetting -------------------------------------------------------------------------------------------------

@feature.command("forget-me", grouped=("data", "forget-me"))
async def forget_me(ctx: Ctx, args: Args) -> Response:
    """`/mentor forget-me`: asks to confirm with a button; nothing changes before the click."""
    if args.words or args.options:
        raise UserError("mydata.no_words_forget")
    buttons = (Button(ctx.t("mydata.button_confirm"), "mydata.forget", str(ctx.me.id), "danger"),
               Button(ctx.t("mydata.button_cancel"), "mydata.keep", str(ctx.me.id)))
    return Response([Message(ctx.t("mydata.confirm"), buttons=buttons)])


@feature.action("mydata.forget")
async def forget_confirmed(ctx: Ctx, value: str) -> Response:
    """The confirmation: only the person who asked can press it (a button in their own private reply)."""
    if as_int_in(value, 1, 2**62) != ctx.me.id:
        raise UserError("mydata.not_yours")
    await erase(ctx.session, ctx.rt, ctx.now, ctx.me)
    return ctx.reply("mydata.forgotten")


@feature.action("mydata.keep")
async def forget_cancelled(ctx: Ctx, value: str) -> Response:
    return ctx.reply("mydata.kept")


@feature.command("forget", access=Access.COORDINATOR,
                 args=(Arg("person", Kind.PERSON, required=True, help="forget_person"),
                       Arg("reason", Kind.TEXT, required=True)),
                 grouped=("data", "forget"))
async def forget(ctx: Ctx, args: Args) -> Response:
    """`/mentor forget @person <reason>`: a coordinator erases someone of their programs at once (the person
    asked by other means, or is gone); audited as "member #N", never by name."""
    if not args.words or parse_mention(args.words[0]) is None:
        raise UserError("mydata.forget_usage")
    reason = args.rest(1)
    if not reason:
        raise UserError("mydata.forget_needs_reason")
    person = await member_from_token(ctx.session, ctx.ws, args.words[0])
    if person.id == ctx.me.id:
        raise UserError("mydata.forget_self")
    if not await _may_forget(ctx, person):
        if not await coordinated_programs(ctx.session, ctx.me, ctx.ws):
            raise UserError("mydata.forget_not_coordinator")
        raise UserError("mydata.forget_not_yours", name=person.display_name)
    label = anonymous_name(ctx.rt, person)
    detail = _scrubber(_identifiers(person), label)(reason)
    await erase(ctx.session, ctx.rt, ctx.now, person)
    await audit.record(ctx, "forget", f"{label}: {detail}")
    return ctx.reply("mydata.forgot_other", label=label)


async def _may_forget(ctx: Ctx, person: Member) -> bool:
    """An admin may erase anyone; a coordinator, anyone who is or was enrolled in a program they coordinate."""
    if ctx.me.is_admin:
        return True
    mine = select(Enrollment.program_id).where(Enrollment.member_id == ctx.me.id, Enrollment.role == Role.COORDINATOR,
                                               col(Enrollment.active).is_(True))
    theirs = select(Enrollment.id).where(Enrollment.member_id == person.id, col(Enrollment.program_id).in_(mine))
    return (await ctx.session.exec(theirs.limit(1))).first() is not None


async def account_deleted(ctx: Ctx) -> Response:
    """The platform says the account itself is gone (Slack: user_change with deleted=true): leave and erase."""
    await erase(ctx.session, ctx.rt, ctx.now, ctx.me)
    return Response()


def anonymous_name(rt: Runtime, member: Member) -> str:
    """What stands for a forgotten member everywhere: "former member #N" (N is their row id, which says nothing)."""
    return rt.t("mydata.former_member", id=member.id)


def _identifiers(member: Member) -> list[str]:
    """The strings that name a member in text: their name and platform id (one character is too short to
    replace safely)."""
    return sorted({w for w in (member.display_name.strip(), member.external_id) if len(w) > 1}, key=len, reverse=True)


def _scrubber(words: Iterable[str], label: str, written: Iterable[str] = ()) -> Callable[[str], str]:
    """Blanks each verbatim copy of the texts `written`, then replaces each whole-word, case-insensitive
    occurrence of `words` (also inside <@ID|name> mentions) by `label`."""
    words, written = list(words), list(written)

    def scrub(text: str) -> str:
        if not text:
            return text
        for copy in written:
            text = text.replace(copy, "")
        return pattern.sub(label, text) if pattern else text

    pattern = re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words), re.IGNORECASE) if words else None
    return scrub


def _scrub_json(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_json(v, scrub) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_json(v, scrub) for k, v in value.items()}
    return value


def _mentions(column: Any, words: list[str]) -> Any:
    """A row whose text (or JSON, with its escapes) may contain one of `words`: the narrow pass the database
    does before Python replaces whole words."""
    text = sa.func.lower(sa.cast(column, sa.Text))
    needles = {w.lower() for w in words} | {json.dumps(w.lower())[1:-1] for w in words}
    return sa.or_(*(text.contains(n, autoescape=True) for n in needles))


async def erase(s: AsyncSession, rt: Runtime, now: datetime, member: Member) -> None:
    """Leave every program as `leave` does (partners told neutrally, coordinators asked for a rematch), then
    erase the person's strings irreversibly while keeping every row the reports count. Idempotent."""
    ws = await s.get(Workspace, member.workspace_id)
    assert ws is not None
    for program in await programs_of(s, ws):
        await _leave_program(s, rt, now, member, program)
    label = anonymous_name(rt, member)
    mid = member.id
    # Their own texts are copied into messages (an escalation's post, a note passed on): blanked there too.
    written = [*(await s.exec(select(Feedback.note).where(Feedback.member_id == mid))).all(),
               *(await s.exec(select(Escalation.reason).where(Escalation.reporter_id == mid))).all(),
               *(await s.exec(select(Escalation.resolution).where(Escalation.resolved_by_id == mid))).all()]
    written = sorted({t for t in written if len(t.strip()) > 1}, key=len, reverse=True)
    words = _identifiers(member)
    scrub = _scrubber(words, label, written)
    my_pairs = (await s.exec(select(Pair).where((col(Pair.member_a_id) == mid) | (col(Pair.member_b_id) == mid)))).all()
    await _cancel_outbox(s, member, my_pairs)
    for pair in my_pairs:
        pair.reasons = None  # shared topics and interests: their profile, seen through the pair
        pair.conversation_ref = None  # a conversation with them; the pair is over
    # What they wrote: blanked. What others wrote about them: their name replaced.
    await s.exec(update(Feedback).where(col(Feedback.member_id) == mid).values(note=""))  # type: ignore[call-overload]
    await s.exec(update(Escalation).where(col(Escalation.reporter_id) == mid).values(reason=""))  # type: ignore[call-overload]
    await s.exec(update(Escalation).where(col(Escalation.resolved_by_id) == mid).values(resolution=""))  # type: ignore[call-overload]
    await s.exec(sa.delete(Block).where(col(Block.member_id) == mid))  # type: ignore[call-overload]
    if words or written:
        needles = [*words, *written]
        in_ws = select(Program.id).where(Program.workspace_id == ws.id)
        pair_ids = select(Pair.id).where(col(Pair.program_id).in_(in_ws))
        checkin_ids = select(Checkin.id).where(col(Checkin.pair_id).in_(pair_ids))
        texts: list[tuple[Any, tuple[str, ...], Any]] = [
            (Pair, ("end_reason",), col(Pair.program_id).in_(in_ws)),
            (Escalation, ("reason", "resolution"), col(Escalation.program_id).in_(in_ws)),
            (Feedback, ("note",), col(Feedback.checkin_id).in_(checkin_ids)),
            (AuditLog, ("detail",), AuditLog.workspace_id == ws.id),
            (Outbox, ("payload", "last_error"), Outbox.workspace_id == ws.id),
        ]
        for model, columns, scope in texts:
            found = sa.or_(*(_mentions(getattr(model, c), needles) for c in columns))
            for row in (await s.exec(select(model).where(scope, found))).all():
                for c in columns:
                    value = getattr(row, c)
                    if isinstance(value, str):
                        setattr(row, c, scrub(value))
                    elif value is not None:
                        setattr(row, c, _scrub_json(value, scrub))  # a new object, so the change is seen
    await _forget_event_keys(s, ws, member)
    for part in PARTS:
        await part.erase(s, member, scrub)
    member.display_name = label
    member.external_id = f"forgotten:{secrets.token_hex(16)}"
    member.tz = member.tz_from_platform = None
    member.interests = member.topics = member.languages = member.goals = ""
    member.is_admin = member.paused = False
    member.paused_until = None


async def _forget_event_keys(s: AsyncSession, ws: Workspace, member: Member) -> None:
    """Some platforms' event ids hold the user's id (a Slack click's); the deduplication keys keep their shape
    with it replaced, so a late redelivery is merely handled again (as a stranger's, changing nothing of theirs)."""
    if len(member.external_id) < 2:
        return
    prefix = f"{ws.platform}:{ws.external_id}:"
    stmt = select(ProcessedEvent).where(col(ProcessedEvent.event_key).startswith(prefix, autoescape=True),
                                        col(ProcessedEvent.event_key).contains(member.external_id, autoescape=True))
    for row in (await s.exec(stmt)).all():
        row.event_key = prefix + row.event_key[len(prefix):].replace(member.external_id, f"forgotten-{member.id}")


async def _cancel_outbox(s: AsyncSession, member: Member, pairs: list[Pair]) -> None:
    """Nothing more goes to a forgotten person, nor to a conversation with them: pending rows to them or to a
    pair of theirs are cancelled (the partner's own notice goes by direct message), and the texts already sent
    there (an intro quotes both profiles) are blanked, with the conversation and message references (the
    platform keeps its own copy; mentorbot needs none)."""
    to_them = (col(Outbox.dest_kind) == "user") & (col(Outbox.target) == str(member.id))
    if pairs:
        to_them = to_them | ((col(Outbox.dest_kind) == "pair") & col(Outbox.target).in_([str(p.id) for p in pairs]))
    await s.exec(update(Outbox).where(to_them, col(Outbox.status) == OutboxStatus.PENDING)  # type: ignore[call-overload]
                 .values(status=OutboxStatus.FAILED, last_error=CANCELLED, claimed_until=None))
    await s.exec(update(Outbox).where(to_them)  # type: ignore[call-overload]
                 .values(payload={"text": ""}, conversation_ref=None, message_ref=None))


# --- retention --------------------------------------------------------------------------------------------------

RETENTION = (Arg("keep-notes-days", Kind.TEXT),)
# Notes are kept for whole days: blanking them up to an hour late spares every tick a scan of the program.
RETENTION_EVERY = timedelta(hours=1)
# Audit actions whose detail is "<what>: <free text a coordinator typed>".
FREE_TEXT_ACTIONS = ("escalation.resolve", "unpair")


def retention_option(args: Args, program: Program) -> None:
    """`program set --keep-notes-days N|off`: how long free-text notes and reports are kept (off: forever)."""
    if "keep-notes-days" not in args.options:
        return
    value = args.options["keep-notes-days"].strip().lower()
    days = as_int_in(value, 1, MAX_KEEP_DAYS)
    if value not in ("off", "keep") and days is None:
        raise UserError("mydata.bad_keep_days", value=args.options["keep-notes-days"], max=MAX_KEEP_DAYS)
    program.keep_notes_days = days
    program.retention_at = None  # due at the next tick with the new setting (or never, when off)


def retention_shown(ctx: Ctx, program: Program) -> str:
    """The retention line of `program set`'s answer."""
    if program.keep_notes_days is None:
        return ctx.t("mydata.keep_forever")
    return ctx.t("mydata.keep_days", days=program.keep_notes_days)


async def enforce_retention(rt: Runtime, now: datetime) -> None:
    """Blank, in each program with a retention, the free text older than it: feedback notes, the reason and
    resolution of escalations resolved before the cutoff (an open case keeps its text until it is resolved),
    the end reasons of pairs ended before it, the texts of outbox rows delivered before it, and the typed text of
    audit entries (resolve and unpair notes) before it. Counts stay."""
    keeps = col(Program.keep_notes_days).is_not(None)
    # Two probes of the (retention_at, keep_notes_days) index: due, and never run (just set, or made so).
    due = (col(Program.retention_at) <= now) | col(Program.retention_at).is_(None)
    async with rt.db.read() as s:  # looked at first on the read path: most ticks have nothing to blank
        if (await s.exec(select(Program.id).where(due, keeps).limit(1))).first() is None:
            return
    async with rt.db.transaction() as s:
        programs = [*(await s.exec(select(Program).where(col(Program.retention_at) <= now, keeps))).all(),
                    *(await s.exec(select(Program).where(col(Program.retention_at).is_(None), keeps))).all()]
        for program in programs:
            assert program.keep_notes_days is not None
            program.retention_at = now + RETENTION_EVERY
            cutoff = now - timedelta(days=program.keep_notes_days)
            pair_ids = select(Pair.id).where(Pair.program_id == program.id)
            checkin_ids = select(Checkin.id).where(col(Checkin.pair_id).in_(pair_ids))
            work: list[tuple[Any, Any, dict[str, Any]]] = [
                (Feedback, sa.and_(col(Feedback.checkin_id).in_(checkin_ids), col(Feedback.created_at) < cutoff,
                                   col(Feedback.note) != ""), {"note": ""}),
                (Escalation, sa.and_(col(Escalation.program_id) == program.id,
                                     col(Escalation.status) == EscalationStatus.RESOLVED,
                                     col(Escalation.resolved_at) < cutoff,
                                     (col(Escalation.reason) != "") | (col(Escalation.resolution) != "")),
                 {"reason": "", "resolution": ""}),
                (Pair, sa.and_(col(Pair.program_id) == program.id, col(Pair.ended_at) < cutoff,
                               col(Pair.end_reason).is_not(None), col(Pair.end_reason) != ""), {"end_reason": ""}),
                (Outbox, sa.and_(col(Outbox.program_id) == program.id, col(Outbox.status) != OutboxStatus.PENDING,
                                 col(Outbox.created_at) < cutoff,
                                 sa.cast(col(Outbox.payload), sa.Text) != json.dumps({"text": ""})),
                 {"payload": {"text": ""}}),
            ]
            for model, where, values in work:
                # Look before writing: an UPDATE that changes nothing still takes SQLite's writer lock.
                if (await s.exec(select(model.id).where(where).limit(1))).first() is not None:
                    await s.exec(update(model).where(where).values(**values))  # type: ignore[call-overload]
            # Audit entries keep what was done and to which row ("#3"), not the free text typed with it.
            stale = select(AuditLog).where(AuditLog.program_id == program.id, col(AuditLog.at) < cutoff,
                                           col(AuditLog.action).in_(FREE_TEXT_ACTIONS),
                                           col(AuditLog.detail).contains(": "))
            for entry in (await s.exec(stale)).all():
                entry.detail = entry.detail.split(": ", 1)[0]


# No next_at: retention is not a moment anything waits for; the regular sweep tick covers it, once an hour
# per program (RETENTION_EVERY), so an idle tick is two index probes whatever the size of the program.
feature.sweep("retention", enforce_retention)
