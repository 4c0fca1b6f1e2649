"""Introductions: a new pair gets one message in its shared conversation saying who is who,
what they share, how check-ins work, three conversation starters and the first check-in date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import prompts
from bot.context import Ctx
from bot.directory import interests_of
from bot.flows.goals import invitation
from bot.messages import Message
from bot.outbox import enqueue
from bot.periods import WEEKDAYS, next_period
from bot.pairs import zones
from bot.tags import tags_of
from storage.models import Member, OutboxKind, Pair, PairStatus, Program

# A new pair gets a couple of days to meet before the first check-in asks whether they did.
FIRST_CHECKIN_LEAD = timedelta(days=2)


def starters(lang: str, pair_id: int, count: int = 3) -> list[str]:
    """Three conversation starters, rotating by pair so a mentor with two mentees gets variety."""
    pool = prompts.choices("intro.starters", lang)
    if not pool:
        return []
    return [pool[(pair_id * count + i) % len(pool)] for i in range(min(count, len(pool)))]


def _shared_interests(ctx: Ctx, a: Member, b: Member) -> str:
    mine, theirs = interests_of(a), interests_of(b)
    if shared := sorted(set(mine) & set(theirs)):
        return ", ".join(shared)
    if mine and theirs:  # both wrote some: show each, so they can find common ground
        return ctx.t("intro.no_common", a=a.display_name, a_interests=", ".join(mine),
                     b=b.display_name, b_interests=", ".join(theirs))
    return ctx.t("intro.no_shared")


def intro_message(ctx: Ctx, program: Program, pair: Pair, a: Member, b: Member,
                  paused: Sequence[Member] = ()) -> Message:
    t = ctx.t
    if pair.kind == "peer":
        head = t("intro.head_peer", a=a.display_name, b=b.display_name, program=program.name)
    else:
        head = t("intro.head", mentor=a.display_name, mentee=b.display_name, program=program.name)
    due = next_period(program, zones(ctx.rt, a, b), pair.active_since)[1]
    shared_topics = [x for x in tags_of(b.topics) if x in set(tags_of(a.topics))]
    fields = [
        *([(t("intro.field_topics"), ", ".join(shared_topics))] if shared_topics else []),
        (t("intro.field_shared"), _shared_interests(ctx, a, b)),
        (t("intro.field_goals", who=a.display_name), a.goals or t("intro.no_goals")),
        (t("intro.field_goals", who=b.display_name), b.goals or t("intro.no_goals")),
        (t("intro.field_first", who=a.display_name), ctx.rt.when(due, a)),
        (t("intro.field_first", who=b.display_name), ctx.rt.when(due, b)),
    ]
    if paused:  # no date to promise: check-ins start when the paused member resumes
        when = t("intro.first_paused", who=" & ".join(m.display_name for m in paused))
        fields[-2:] = [(t("intro.field_first", who=a.display_name), when),
                       (t("intro.field_first", who=b.display_name), when)]
    how = t(
        "intro.how",
        cadence=t(f"cadence.{program.cadence}"),
        day=t(f"weekday.{WEEKDAYS[program.weekday]}"),
        time=program.local_time,
    )
    ideas = "\n".join(t("intro.starter_line", text=s) for s in starters(ctx.rt.lang, pair.id or 0))
    ask_goals, goals_button = invitation(ctx.rt, pair, b)
    text = "\n\n".join([head, how, ask_goals, t("intro.starters_head"), ideas])
    return Message(text, tuple(fields), (goals_button,))


async def start_pair(ctx: Ctx, program: Program, a: Member, b: Member, kind: str,
                     paused: Sequence[Member] = ()) -> Pair:
    """Create a pair and queue its introduction, in the caller's transaction; with someone in it
    `paused`, the pair starts paused and its check-ins start when they resume."""
    pair = Pair(program_id=program.id, member_a_id=a.id, member_b_id=b.id, kind=kind,  # type: ignore[arg-type]
                created_at=ctx.now, active_since=ctx.now)
    ctx.session.add(pair)
    await introduce(ctx, program, pair, a, b, paused)
    return pair


async def introduce(ctx: Ctx, program: Program, pair: Pair, a: Member, b: Member,
                    paused: Sequence[Member] = ()) -> None:
    """Start `pair` (new, or a proposal just approved) from now and queue its introduction."""
    pair.status = PairStatus.PAUSED if paused else PairStatus.ACTIVE
    pair.created_at, pair.active_since = ctx.now, ctx.now + FIRST_CHECKIN_LEAD
    await ctx.session.flush()
    await enqueue(
        ctx.session,
        kind=OutboxKind.INTRO, subject_id=pair.id,
        workspace_id=program.workspace_id,
        program_id=program.id,
        dest_kind="pair",
        target=pair.id,  # type: ignore[arg-type]
        message=intro_message(ctx, program, pair, a, b, paused),
        now=ctx.now,
    )
