"""Matching a whole program: `/mentor match` proposes the optimal pairs (bot/matching.py, in a worker
process), explains each, and a coordinator approves, skips or discards them with buttons; approving
re-checks every rule at that moment. `/mentor suggest` shows a mentee their three best mentors with room
and sends their choice to the coordinators. See docs/matching.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import audit, coordinators, matching, pair_rules
from bot.access import coordinator_program, member_program
from bot.args import Args, as_id
from bot.context import Ctx, Runtime
from bot.directory import is_coordinator
from bot.errors import UserError
from bot.feature import PROGRAM, Access, Feature
from bot.flows.escalation import resolve
from bot.flows.intro import introduce
from bot.flows.membership import end_pair
from bot.messages import Button, Message, Response
from bot.offload import in_worker
from bot.outbox import enqueue, outbox_key
from bot.pairs import LIVE, in_pair, members_of
from storage.models import (
    Enrollment,
    Escalation,
    EscalationKind,
    EscalationStatus,
    Member,
    OutboxKind,
    Pair,
    PairEndCause,
    PairStatus,
    Program,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Role,
    Workspace,
)

feature = Feature("matching")
# Proposed pairs a proposal message lists and offers Approve/Skip for at once (the undecided first): with
# Approve all and Discard, within Discord's 25 buttons a message.
LISTED = 10
APPROVE_BATCH = 25  # pairs approved per transaction by "Approve all" (about 0.2 s): other events get the lock between
SUGGESTED = 3


# --- computing a proposal ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Solved:
    mentorship: matching.Proposal
    peers: matching.Proposal


def solve(pool: pair_rules.Pool) -> Solved:
    """The exact optimum for the pool's mentorship and peer parts (run in the worker process)."""
    return Solved(
        matching.match_mentorship(pool.mentors, pool.mentees, pool.weights, pool.rules, pool.forbidden),
        matching.match_peers(pool.peers, pool.weights, pool.rules, pool.forbidden, pool.first_in_line),
    )


def _reasons(why: matching.Reasons) -> dict[str, Any]:
    return {"topics": list(why.topics), "interests": list(why.interests), "languages": list(why.languages),
            "overlap_hours": why.overlap_hours}


@feature.command("match", access=Access.COORDINATOR, options=(PROGRAM,))
async def match(ctx: Ctx, args: Args) -> Response:
    """`/mentor match [--program P]`: propose the best pairs for everyone waiting, to approve with buttons."""
    program = await coordinator_program(ctx, args, "match")
    if args.words:
        raise UserError("error.no_words", command="match")
    pool = await pair_rules.pool(ctx.session, ctx.rt, program, ctx.now)
    if not pool.waiting:
        return ctx.reply("match.nobody_waiting", program=program.name)
    rt, now, ws_id, me_id, program_id = ctx.rt, ctx.now, ctx.ws.id, ctx.me.id, program.id

    async def compute_and_store() -> Response:
        solved = await in_worker(solve, pool)  # off the event loop and off the database's writer lock
        async with rt.db.transaction() as s:
            later = await _ctx(rt, s, now, ws_id, me_id)
            return await _store(later, program_id, solved)  # type: ignore[arg-type]

    return Response(then=compute_and_store)


async def _ctx(rt: Runtime, s: AsyncSession, now: datetime, ws_id: int | None, me_id: int | None) -> Ctx:
    ws, me = await s.get(Workspace, ws_id), await s.get(Member, me_id)
    assert ws is not None and me is not None
    return Ctx(rt, s, now, ws, me)


async def _store(ctx: Ctx, program_id: int, solved: Solved) -> Response:
    """Store the solved proposal (replacing an open one) and post it to the coordinator."""
    program = await ctx.session.get(Program, program_id)
    assert program is not None
    for older in (await ctx.session.exec(select(Proposal).where(
            Proposal.program_id == program.id, Proposal.kind == ProposalKind.MATCH,
            Proposal.status == ProposalStatus.OPEN))).all():
        await _close(ctx, older, ctx.t("match.skip_replaced"))
    unmatched = [*solved.mentorship.unmatched, *solved.peers.unmatched]
    proposal = Proposal(program_id=program.id, kind=ProposalKind.MATCH, requested_by_id=ctx.me.id,  # type: ignore[arg-type]
                        created_at=ctx.now, unmatched=[
                            {"member_id": u.member_id, "reason": u.reason, "rules": list(u.rules)} for u in unmatched])
    ctx.session.add(proposal)
    await ctx.session.flush()
    rows = [{"program_id": program.id, "member_a_id": p.first, "member_b_id": p.second, "kind": kind,
             "status": PairStatus.PROPOSED, "proposal_id": proposal.id, "score": round(p.score, 3),
             "reasons": _reasons(p.reasons), "created_at": ctx.now, "active_since": ctx.now}
            for kind, part in (("mentorship", solved.mentorship), ("peer", solved.peers)) for p in part.pairs]
    if rows:  # thousands at once: one executemany, not an ORM object each
        await ctx.session.exec(insert(Pair), params=rows)  # type: ignore[call-overload]
    await audit.record(ctx, "match", f"proposal #{proposal.id}: {len(rows)} pairs, {len(unmatched)} unmatched",
                       program.id)
    if not rows:
        proposal.status, proposal.closed_at = ProposalStatus.CLOSED, ctx.now
    await _post(ctx, proposal, first=True)
    return ctx.reply("match.proposed", id=proposal.id, program=program.name, pairs=len(rows), unmatched=len(unmatched))


# --- the proposal message ----------------------------------------------------------------------------


async def _pairs_of(session: AsyncSession, proposal: Proposal) -> list[Pair]:
    return list((await session.exec(select(Pair).where(Pair.proposal_id == proposal.id).order_by(col(Pair.id)))).all())


def _why(rt: Runtime, r: dict[str, Any]) -> str:
    """Why a pair was proposed, from its stored reasons."""
    parts = []
    if r.get("topics"):
        parts.append(rt.t("match.why_topics", topics=", ".join(r["topics"])))
    if r.get("interests"):
        parts.append(rt.t("match.why_interests", interests=", ".join(r["interests"])))
    parts.append(rt.t("match.why_overlap", hours=f"{float(r.get('overlap_hours', 0)):g}"))
    if r.get("languages"):
        parts.append(rt.t("match.why_languages", languages=", ".join(r["languages"])))
    return "; ".join(parts)


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.exec(select(Member.id, Member.display_name).where(col(Member.id).in_(ids)))).all()
    return {i: n for i, n in rows if i is not None}


def _pair_line(rt: Runtime, pair: Pair, names: dict[int, str]) -> str:
    a, b = names.get(pair.member_a_id, "?"), names.get(pair.member_b_id, "?")
    who = rt.t("match.who_peer" if pair.kind == "peer" else "match.who", a=a, b=b)
    if pair.status == PairStatus.PROPOSED:
        state = ""
    elif pair.status == PairStatus.SKIPPED:
        state = rt.t("match.state_skipped", reason=pair.end_reason or "")
    else:
        state = rt.t("match.state_approved", id=pair.id)
    return rt.t("match.line", id=pair.id, who=who, score=f"{pair.score or 0:.2f}", why=_why(rt, pair.reasons or {}), state=state)


def _unmatched_line(rt: Runtime, item: dict[str, object], names: dict[int, str]) -> str:
    rules = [rt.t(f"match.rule_{r}") for r in item.get("rules", []) or []]  # type: ignore[union-attr]
    why = rt.t(f"match.unmatched_{item['reason']}", rules=", ".join(rules))
    return rt.t("match.unmatched_line", name=names.get(int(item["member_id"]), "?"), why=why)  # type: ignore[call-overload]


async def _message(session: AsyncSession, rt: Runtime, proposal: Proposal, pairs: list[Pair]) -> Message:
    """The proposal as the coordinator reads it: the pairs (undecided first), then who is left out and why.
    Sized for the smallest platform (Discord: 2,000 characters of text, 1,024 a field, 25 buttons)."""
    program = await session.get(Program, proposal.program_id)
    assert program is not None
    pending = [p for p in pairs if p.status == PairStatus.PROPOSED]
    shown = (pending + [p for p in pairs if p.status != PairStatus.PROPOSED])[:LISTED]
    unmatched = proposal.unmatched or []
    names = await _names(session, {i for p in shown for i in (p.member_a_id, p.member_b_id)}
                         | {int(u["member_id"]) for u in unmatched[:LISTED]})
    lines = [rt.t("match.head", id=proposal.id, program=program.name, pairs=len(pairs), pending=len(pending),
                  unmatched=len(unmatched))]
    lines += [_pair_line(rt, p, names) for p in shown]
    if len(pairs) > len(shown):
        lines.append(rt.t("match.more_pairs", count=len(pairs) - len(shown)))
    fields = ()
    if unmatched:
        left_out = [_unmatched_line(rt, u, names) for u in unmatched[:LISTED]]
        if len(unmatched) > LISTED:
            left_out.append(rt.t("match.more_unmatched", count=len(unmatched) - LISTED))
        fields = ((rt.t("match.unmatched_head", count=len(unmatched)), "\n".join(left_out)),)
    if proposal.status == ProposalStatus.CLOSED:
        lines.append(rt.t("match.closed"))
        return Message("\n".join(lines), fields)
    buttons = [Button(rt.t("button.approve_all", count=len(pending)), "match.approve_all", str(proposal.id), "primary")]
    for p in pending[:LISTED]:
        buttons.append(Button(rt.t("button.approve_one", id=p.id), "match.approve", str(p.id)))
        buttons.append(Button(rt.t("button.skip_one", id=p.id), "match.skip", str(p.id)))
    buttons.append(Button(rt.t("button.discard"), "match.discard", str(proposal.id), "danger"))
    return Message("\n".join(lines), fields, tuple(buttons))


async def _post(ctx: Ctx, proposal: Proposal, first: bool = False) -> None:
    """Post the proposal to the coordinator who asked for it, or edit that post to show where it stands."""
    pairs = await _pairs_of(ctx.session, proposal)
    decided = sum(1 for p in pairs if p.status != PairStatus.PROPOSED)
    details = () if first else ("edit", decided, proposal.status)
    await enqueue(ctx.session, kind=OutboxKind.PROPOSAL, subject_id=proposal.id, details=details,
                  workspace_id=ctx.ws.id, program_id=proposal.program_id, dest_kind="user",
                  target=proposal.requested_by_id, message=await _message(ctx.session, ctx.rt, proposal, pairs),
                  now=ctx.now, edits_key=None if first else outbox_key(OutboxKind.PROPOSAL, proposal.id))


async def _close(ctx: Ctx, proposal: Proposal, reason: str) -> None:
    """Close a proposal: what is still pending is skipped with `reason`."""
    for p in await _pairs_of(ctx.session, proposal):
        if p.status == PairStatus.PROPOSED:
            p.status, p.end_reason = PairStatus.SKIPPED, reason[:1000]
    proposal.status, proposal.closed_at = ProposalStatus.CLOSED, ctx.now
    await _refresh(ctx, proposal)


async def _refresh(ctx: Ctx, proposal: Proposal) -> None:
    if proposal.kind == ProposalKind.MATCH:
        await _post(ctx, proposal)
    else:
        await _post_request(ctx, proposal)


# --- approving -----------------------------------------------------------------------------------------


async def _still_holds(ctx: Ctx, program: Program, pair: Pair, leaving: dict[int, Pair]) -> str | None:
    """Why the proposed pair no longer holds now (someone left, paused, was paired, blocked), or None.
    `leaving`: the program's pairs someone asked to leave (pair_rules.rematch_requests)."""
    a, b = await members_of(ctx.session, pair)
    for member, role in ((a, Role.PEER if pair.kind == "peer" else Role.MENTOR),
                         (b, Role.PEER if pair.kind == "peer" else Role.MENTEE)):
        enrolled = (await ctx.session.exec(select(Enrollment).where(
            Enrollment.program_id == program.id, Enrollment.member_id == member.id, Enrollment.role == role,
            col(Enrollment.active).is_(True)))).first()
        if enrolled is None:
            return ctx.t("match.skip_left", name=member.display_name)
        if member.paused:
            return ctx.t("match.skip_paused", name=member.display_name)
        live = [p for p in await _live_pairs(ctx.session, program, member) if p.id not in leaving]
        if len(live) >= enrolled.capacity:
            return ctx.t("match.skip_taken", name=member.display_name)
        if any(in_pair(p, a.id) and in_pair(p, b.id) for p in live):
            return ctx.t("match.skip_taken", name=member.display_name)
    if refused := await pair_rules.refusals(ctx.session, ctx.rt, program, a, b, ctx.now):
        return ctx.t(f"match.skip_rule_{refused[0].rule}")
    return None


async def _live_pairs(session: AsyncSession, program: Program, member: Member) -> list[Pair]:
    stmt = select(Pair).where(Pair.program_id == program.id, col(Pair.status).in_(LIVE),
                              (Pair.member_a_id == member.id) | (Pair.member_b_id == member.id))
    return list((await session.exec(stmt)).all())


async def _approve(ctx: Ctx, program: Program, pair: Pair, leaving: dict[int, Pair]) -> str | None:
    """Start a proposed pair if every rule still holds (the reason it does not, else None): intro, and
    the end of a pair someone in it asked to leave."""
    if (reason := await _still_holds(ctx, program, pair, leaving)) is not None:
        pair.status, pair.end_reason = PairStatus.SKIPPED, reason[:1000]
        return reason
    a, b = await members_of(ctx.session, pair)
    for old in leaving.values():
        if old.status in LIVE and (in_pair(old, a.id) or in_pair(old, b.id)):
            await _end_for_rematch(ctx, program, old, pair)
    await introduce(ctx, program, pair, a, b)
    await audit.record(ctx, "match.approve", f"#{pair.id} {a.display_name} & {b.display_name}", program.id)
    return None


async def _end_for_rematch(ctx: Ctx, program: Program, old: Pair, new: Pair) -> None:
    """A member who asked for a rematch has a new partner: the old pair ends, its escalation is resolved."""
    await end_pair(ctx.session, ctx.rt, ctx.now, old, ctx.t("match.rematched_reason", id=new.id),
                   list(await members_of(ctx.session, old)), PairEndCause.REMATCH)
    for esc in (await ctx.session.exec(select(Escalation).where(
            Escalation.pair_id == old.id, Escalation.kind == EscalationKind.REMATCH,
            Escalation.status != EscalationStatus.RESOLVED))).all():
        try:
            await resolve(ctx, str(esc.id), ctx.t("match.rematched_reason", id=new.id))
        except UserError:  # the approver is in that pair: it stays for the other coordinators to close
            pass


async def _proposal_for(ctx: Ctx, proposal_id: int | None) -> tuple[Proposal, Program]:
    proposal = await ctx.session.get(Proposal, proposal_id, with_for_update=True) if proposal_id else None
    program = await ctx.session.get(Program, proposal.program_id) if proposal else None
    if proposal is None or program is None or program.workspace_id != ctx.ws.id:
        raise UserError("error.stale_button")
    if not await is_coordinator(ctx.session, ctx.me, program):
        raise UserError("error.not_coordinator", command="match", program=program.name)
    return proposal, program


async def _proposed_pair(ctx: Ctx, value: str) -> tuple[Pair, Proposal, Program]:
    pair = await ctx.session.get(Pair, as_id(value)) if as_id(value) else None
    if pair is None or pair.proposal_id is None:
        raise UserError("error.stale_button")
    proposal, program = await _proposal_for(ctx, pair.proposal_id)
    await ctx.session.refresh(pair)  # read again under the proposal's lock: a twin click may have decided it
    return pair, proposal, program


async def _decided(ctx: Ctx, proposal: Proposal) -> None:
    """After a decision: close the proposal when nothing is pending (telling who is first in line), and refresh it."""
    # Only whether one is still pending: _refresh reads the pairs once more, to draw the message.
    pending = (await ctx.session.exec(select(Pair.id).where(
        Pair.proposal_id == proposal.id, Pair.status == PairStatus.PROPOSED).limit(1))).first()
    if proposal.status == ProposalStatus.OPEN and pending is None:
        proposal.status, proposal.closed_at = ProposalStatus.CLOSED, ctx.now
        await _tell_first_in_line(ctx, proposal)
    await _refresh(ctx, proposal)


async def _tell_first_in_line(ctx: Ctx, proposal: Proposal) -> None:
    program = await ctx.session.get(Program, proposal.program_id)
    assert program is not None
    for item in proposal.unmatched or []:
        if item["reason"] == matching.FIRST_IN_LINE:
            await enqueue(ctx.session, kind=OutboxKind.FIRST_IN_LINE, subject_id=proposal.id,
                          details=(item["member_id"],), workspace_id=ctx.ws.id, program_id=program.id,
                          dest_kind="user", target=item["member_id"],
                          message=Message(ctx.t("match.first_in_line", program=program.name)), now=ctx.now)


async def _pending(ctx: Ctx, value: str) -> tuple[Pair, Proposal, Program]:
    """The proposed pair a button is about, still undecided; a coordinator in it leaves it to the others."""
    pair, proposal, program = await _proposed_pair(ctx, value)
    if pair.status != PairStatus.PROPOSED:
        raise UserError("match.already_decided", id=pair.id)
    if ctx.me.id in (pair.member_a_id, pair.member_b_id):
        raise UserError("match.request_own")
    return pair, proposal, program


async def _approve_and_say(ctx: Ctx, value: str) -> Response:
    pair, proposal, program = await _pending(ctx, value)
    reason = await _approve(ctx, program, pair, await pair_rules.rematch_requests(ctx.session, program))
    if reason is not None and proposal.kind == ProposalKind.REQUEST:
        await _decline_to_mentee(ctx, proposal)
    await _decided(ctx, proposal)
    if reason is not None:
        return ctx.reply("match.not_approved", id=pair.id, reason=reason)
    return ctx.reply("match.approved", id=pair.id)


async def _skip_and_say(ctx: Ctx, value: str) -> Response:
    pair, proposal, _ = await _pending(ctx, value)
    pair.status, pair.end_reason = PairStatus.SKIPPED, ctx.t("match.skip_by", who=ctx.me.display_name)
    await audit.record(ctx, "match.skip", f"#{pair.id}", proposal.program_id)
    if proposal.kind == ProposalKind.REQUEST:
        await _decline_to_mentee(ctx, proposal)
    await _decided(ctx, proposal)
    return ctx.reply("match.declined" if proposal.kind == ProposalKind.REQUEST else "match.skipped", id=pair.id)


@feature.action("match.approve")
async def approve_one(ctx: Ctx, value: str) -> Response:
    return await _approve_and_say(ctx, value)


@feature.action("match.skip")
async def skip_one(ctx: Ctx, value: str) -> Response:
    return await _skip_and_say(ctx, value)


@feature.action("match.discard")
async def discard(ctx: Ctx, value: str) -> Response:
    proposal, _ = await _proposal_for(ctx, as_id(value))
    if proposal.status != ProposalStatus.OPEN:
        return ctx.reply("match.already_closed", id=proposal.id)
    await _close(ctx, proposal, ctx.t("match.skip_discarded", who=ctx.me.display_name))
    await audit.record(ctx, "match.discard", f"proposal #{proposal.id}", proposal.program_id)
    return ctx.reply("match.discarded", id=proposal.id)


@feature.action("match.approve_all")
async def approve_all(ctx: Ctx, value: str) -> Response:
    proposal, _ = await _proposal_for(ctx, as_id(value))
    if proposal.status != ProposalStatus.OPEN:
        return ctx.reply("match.already_closed", id=proposal.id)
    rt, now, ws_id, me_id, proposal_id = ctx.rt, ctx.now, ctx.ws.id, ctx.me.id, proposal.id

    async def in_batches() -> Response:
        approved = skipped = 0
        while True:
            async with rt.db.transaction() as s:
                later = await _ctx(rt, s, now, ws_id, me_id)
                found, program = await _proposal_for(later, proposal_id)
                batch = list((await s.exec(select(Pair).where(
                    Pair.proposal_id == found.id, Pair.status == PairStatus.PROPOSED)
                    .order_by(col(Pair.id)).limit(APPROVE_BATCH))).all())
                leaving = await pair_rules.rematch_requests(s, program)
                for pair in batch:
                    if await _approve(later, program, pair, leaving) is None:
                        approved += 1
                    else:
                        skipped += 1
                if len(batch) < APPROVE_BATCH:
                    await _decided(later, found)
                    return later.reply("match.approved_all", id=proposal_id, approved=approved, skipped=skipped)

    return Response(then=in_batches)


# --- a mentee's own suggestions --------------------------------------------------------------------------


async def _waiting_mentee(ctx: Ctx, program: Program) -> None:
    """Refuse unless the actor is an active, unpaused mentee of the program without a mentor (or leaving one)."""
    enrolled = (await ctx.session.exec(select(Enrollment).where(
        Enrollment.program_id == program.id, Enrollment.member_id == ctx.me.id, Enrollment.role == Role.MENTEE,
        col(Enrollment.active).is_(True)))).first()
    if enrolled is None:
        raise UserError("match.suggest_mentees_only", program=program.name)
    if ctx.me.paused:
        raise UserError("match.suggest_paused")
    leaving = await pair_rules.rematch_requests(ctx.session, program)
    if any(p.id not in leaving for p in await _live_pairs(ctx.session, program, ctx.me)):
        raise UserError("match.suggest_has_mentor")


async def best_mentors(ctx: Ctx, program: Program, limit: int = SUGGESTED) -> list[tuple[Member, float, matching.Reasons]]:
    """The mentors with room the rules allow for the actor, best first."""
    pool = await pair_rules.pool(ctx.session, ctx.rt, program, ctx.now)
    me = next((c for c in pool.mentees if c.member_id == ctx.me.id), None)
    if me is None:
        return []
    scored = []
    for mentor in pool.mentors:
        if matching.allowed(mentor, me, pool.rules, pool.forbidden) is None:
            value, why = matching.score(mentor, me, pool.weights)
            scored.append((value, mentor.member_id, why))
    scored.sort(key=lambda x: (-x[0], x[1]))
    out = []
    for value, member_id, why in scored[:limit]:
        member = await ctx.session.get(Member, member_id)
        assert member is not None
        out.append((member, value, why))
    return out


@feature.command("suggest", options=(PROGRAM,))
async def suggest(ctx: Ctx, args: Args) -> Response:
    """`/mentor suggest`: a mentee's three best mentors with room, and why; choosing one asks the coordinators."""
    program = await member_program(ctx, args, args.rest() or None)
    await _waiting_mentee(ctx, program)
    if (pending := await _open_request(ctx.session, program, ctx.me)) is not None:
        return ctx.reply("match.request_pending", id=pending.id)
    best = await best_mentors(ctx, program)
    if not best:
        return ctx.reply("match.suggest_none", program=program.name)
    lines = [ctx.t("match.suggest_head", program=program.name)]
    buttons = []
    for member, value, why in best:
        lines.append(ctx.t("match.suggest_line", name=member.display_name, score=f"{value:.2f}",
                           why=_why(ctx.rt, _reasons(why))))
        buttons.append(Button(ctx.t("button.ask_for", name=member.display_name), "match.request",
                              f"{program.id}:{member.id}"))
    return Response([Message("\n".join(lines), buttons=tuple(buttons))])


async def _open_request(session: AsyncSession, program: Program, mentee: Member) -> Proposal | None:
    stmt = select(Proposal).where(Proposal.program_id == program.id, Proposal.kind == ProposalKind.REQUEST,
                                  Proposal.status == ProposalStatus.OPEN, Proposal.requested_by_id == mentee.id)
    return (await session.exec(stmt)).first()


@feature.action("match.request")
async def request(ctx: Ctx, value: str) -> Response:
    """A mentee chose a suggested mentor: the coordinators get the request with Approve and Decline."""
    program_token, _, mentor_token = value.partition(":")
    program = await ctx.session.get(Program, as_id(program_token)) if as_id(program_token) else None
    mentor = await ctx.session.get(Member, as_id(mentor_token)) if as_id(mentor_token) else None
    if program is None or mentor is None or program.workspace_id != ctx.ws.id or mentor.workspace_id != ctx.ws.id:
        raise UserError("error.stale_button")
    await _waiting_mentee(ctx, program)
    if (pending := await _open_request(ctx.session, program, ctx.me)) is not None:
        return ctx.reply("match.request_pending", id=pending.id)
    # The suggestion may be old: only a mentor the rules still allow, with room now, can be asked for.
    best = {m.id: (v, why) for m, v, why in await best_mentors(ctx, program, limit=10_000)}
    if mentor.id not in best:
        return ctx.reply("match.request_unavailable", name=mentor.display_name)
    value_, why = best[mentor.id]
    proposal = Proposal(program_id=program.id, kind=ProposalKind.REQUEST, requested_by_id=ctx.me.id,  # type: ignore[arg-type]
                        created_at=ctx.now)
    ctx.session.add(proposal)
    await ctx.session.flush()
    ctx.session.add(Pair(program_id=program.id, member_a_id=mentor.id, member_b_id=ctx.me.id, kind="mentorship",  # type: ignore[arg-type]
                         status=PairStatus.PROPOSED, proposal_id=proposal.id, score=round(value_, 3),
                         reasons=_reasons(why), created_at=ctx.now, active_since=ctx.now))
    await ctx.session.flush()
    await _post_request(ctx, proposal, first=True)
    return ctx.reply("match.request_sent", name=mentor.display_name)


async def _request_message(ctx: Ctx, proposal: Proposal) -> Message:
    program = await ctx.session.get(Program, proposal.program_id)
    assert program is not None
    (pair,) = await _pairs_of(ctx.session, proposal)
    names = await _names(ctx.session, {pair.member_a_id, pair.member_b_id})
    text = ctx.t("match.request_post", id=proposal.id, program=program.name, mentee=names.get(pair.member_b_id, "?"),
                 line=_pair_line(ctx.rt, pair, names))
    if proposal.status == ProposalStatus.CLOSED:
        return Message(text)
    return Message(text, buttons=(Button(ctx.t("button.approve"), "match.approve", str(pair.id), "primary"),
                                  Button(ctx.t("button.decline"), "match.skip", str(pair.id), "danger")))


async def _post_request(ctx: Ctx, proposal: Proposal, first: bool = False) -> None:
    """The request to the coordinators (never to the mentor or anyone in the pair), or its edit."""
    program = await ctx.session.get(Program, proposal.program_id)
    assert program is not None
    (pair,) = await _pairs_of(ctx.session, proposal)
    details = () if first else ("edit", pair.status)
    await coordinators.notify(ctx.session, program, OutboxKind.REQUEST, proposal.id, details,  # type: ignore[arg-type]
                              await _request_message(ctx, proposal), ctx.now,
                              edits=None if first else outbox_key(OutboxKind.REQUEST, proposal.id), pair_id=pair.id)


async def _decline_to_mentee(ctx: Ctx, proposal: Proposal) -> None:
    """Tell the mentee, neutrally, that the mentor they asked for could not be arranged."""
    program = await ctx.session.get(Program, proposal.program_id)
    assert program is not None
    await enqueue(ctx.session, kind=OutboxKind.REQUEST_ANSWER, subject_id=proposal.id, workspace_id=ctx.ws.id,
                  program_id=program.id, dest_kind="user", target=proposal.requested_by_id,
                  message=Message(ctx.t("match.request_declined", program=program.name)), now=ctx.now)
