"""Goals: each pair writes one to three goals (what, what success looks like, by when), sees and changes
them with `/mentor goals` and `/mentor goal add|edit|done|drop`, and after each meeting the mentee says
with one click how each open goal moved. An overdue goal is mentioned in the pair's next nudge.

Only the two members of a pair see or change its goals; the program's coordinators may list them
(`/mentor goals --pair N`). A coordinator who is in the pair is simply a member there.

A goal is entered one at a time (a form of three fields, then "Add another"): three goals of three fields
would not fit Discord's five-field forms, and one at a time reads better everywhere.

What other features read: `goal_counts` (the report), `stalled_pairs` (relationship health) and
`overdue_note` (the nudge, bot/flows/checkin.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.args import Args, as_id
from bot.context import Ctx, Runtime
from bot.directory import is_coordinator, member_tz
from bot.errors import UserError
from bot.feature import PAIR, Arg, Feature, Kind
from bot.messages import Button, Form, FormField, Message, Response
from bot.outbox import enqueue, enqueue_rows, outbox_key, outbox_row
from bot.flows import impact, mydata
from bot.pairs import LIVE, STARTED, in_pair, label, my_pair, pairs_of
from bot.safeguards import Hidden
from bot.periods import local
from storage.bulk import with_ids_in
from storage.db import Database
from storage.models import (
    Checkin,
    CheckinStatus,
    Goal,
    GoalLevel,
    GoalProgress,
    GoalStatus,
    Member,
    OutboxKind,
    Pair,
    Program,
)

MAX_OPEN = 3  # open goals a pair: more than three is a wish list, not a plan
TEXT_MAX, SUCCESS_MAX = 150, 300
MAX_AHEAD = timedelta(days=731)  # about two years: further out, a goal is not yet specific
STALL = timedelta(weeks=4)  # an open goal that has not moved for this long counts as stalled
GOAL_FORM = "goals.form"
OPEN_ACTION = "goals.open"
PROGRESS_ACTION = "goals.progress"
LEVELS = (GoalLevel.NONE, GoalLevel.SOME, GoalLevel.LOT, GoalLevel.DONE)
MOVED = (GoalLevel.SOME, GoalLevel.LOT, GoalLevel.DONE)

GOAL_ID = Arg("goal", Kind.INT, required=True, help="goal_id", low=1, high=999_999_999)
WHAT = Arg("text", Kind.TEXT, help="goal_text")
SUCCESS = Arg("success", Kind.TEXT, help="goal_success")
BY = Arg("by", Kind.DATE, help="goal_by")
feature = Feature("goals")


# ---- who and when -------------------------------------------------------------------------------------------

def mentee_id(pair: Pair) -> int:
    """Whose zone a goal's date is read in and who is asked about progress: the mentee (b); for peers, b."""
    return pair.member_b_id


def today_for(member: Member, now: datetime, default_tz: str = "UTC") -> date:
    """The calendar day it is for this member."""
    return local(now, member_tz(member, default_tz)).date()


def is_overdue(goal: Goal, today: date) -> bool:
    """Open, and its target day is over where the mentee lives."""
    return goal.status == GoalStatus.OPEN and goal.target_date < today


async def _mentees(session: AsyncSession, pair_ids: Iterable[int]) -> dict[int, Member]:
    """Each pair's mentee, in one query."""
    ids = list(pair_ids)
    if not ids:
        return {}
    rows = (await session.exec(
        select(Pair.id, Member).join(Member, col(Member.id) == col(Pair.member_b_id)).where(col(Pair.id).in_(ids))
    )).all()
    return {pid: m for pid, m in rows}  # type: ignore[misc]


async def _open_goals(session: AsyncSession, pair_id: int) -> list[Goal]:
    stmt = select(Goal).where(Goal.pair_id == pair_id, Goal.status == GoalStatus.OPEN).order_by(col(Goal.id))
    return list((await session.exec(stmt)).all())


# ---- input --------------------------------------------------------------------------------------------------

def _checked(text: str, success: str, by: str, today: date) -> tuple[str, str, date]:
    """A goal as typed, made specific (both texts, short), measurable (success) and dated (in the future,
    within about two years, counted in the mentee's zone); else what to write instead."""
    text, success = _texts(text, success)
    return text, success, _target(by.strip(), today)


def _texts(text: str, success: str) -> tuple[str, str]:
    text, success = " ".join(text.split()), " ".join(success.split())
    if not text:
        raise UserError("goals.no_text")
    if len(text) > TEXT_MAX:
        raise UserError("goals.text_too_long", max=TEXT_MAX, length=len(text))
    if not success:
        raise UserError("goals.no_success")
    if len(success) > SUCCESS_MAX:
        raise UserError("goals.success_too_long", max=SUCCESS_MAX, length=len(success))
    return text, success


def _target(by: str, today: date) -> date:
    if not by:
        raise UserError("goals.no_date")
    try:
        day = date.fromisoformat(by)
    except ValueError:
        raise UserError("goals.bad_date", text=by[:40]) from None
    if day <= today:
        raise UserError("goals.date_not_future", text=by, today=today.isoformat())
    if day > today + MAX_AHEAD:
        raise UserError("goals.date_too_far", text=by, latest=(today + MAX_AHEAD).isoformat())
    return day


async def _live_pair(ctx: Ctx, pair_id: int | None) -> Pair:
    """A live pair the actor is in (a button's or form's pair); anything else is refused."""
    pair = await ctx.session.get(Pair, pair_id) if pair_id else None
    if pair is None:
        raise UserError("error.stale_button")
    if not in_pair(pair, ctx.me.id):
        raise UserError("goals.not_your_pair", id=pair.id)
    if pair.status not in LIVE:
        raise UserError("goals.pair_not_live", id=pair.id)
    return pair


async def _my_goal(ctx: Ctx, token: str) -> tuple[Goal, Pair]:
    """A goal of one of the actor's live pairs, by id: other people's goals are never found."""
    goal_id = as_id(token)
    if goal_id is None:
        raise UserError("goals.not_a_goal_id", token=token[:40])
    goal = await ctx.session.get(Goal, goal_id)
    pair = await ctx.session.get(Pair, goal.pair_id) if goal else None
    if goal is None or pair is None or not in_pair(pair, ctx.me.id):
        raise UserError("goals.unknown_goal", id=goal_id)
    if pair.status not in LIVE:
        raise UserError("goals.pair_not_live", id=pair.id)
    return goal, pair


async def _room(ctx: Ctx, pair: Pair) -> int:
    """How many more goals the pair may open; none left is refused with what to do."""
    left = MAX_OPEN - len(await _open_goals(ctx.session, pair.id))  # type: ignore[arg-type]
    if left <= 0:
        raise UserError("goals.too_many", max=MAX_OPEN, pair=pair.id)
    return left


async def _today_of(ctx: Ctx, pair: Pair) -> date:
    mentee = await ctx.session.get(Member, mentee_id(pair))
    assert mentee is not None
    return today_for(mentee, ctx.now, ctx.rt.default_tz)


async def _add(ctx: Ctx, pair: Pair, text: str, success: str, by: str) -> Response:
    left = await _room(ctx, pair)
    text, success, day = _checked(text, success, by, await _today_of(ctx, pair))
    goal = Goal(pair_id=pair.id, created_by_id=ctx.me.id, text=text, success=success, target_date=day,  # type: ignore[arg-type]
                moved_at=ctx.now, created_at=ctx.now)
    ctx.session.add(goal)
    await ctx.session.flush()
    saved = ctx.t("goals.added", id=goal.id, text=text, success=success, by=day.isoformat())
    if left > 1:  # room for another: one click opens the next form
        button = Button(ctx.t("goals.add_another"), OPEN_ACTION, str(pair.id), "primary")
        return Response([Message(ctx.t("goals.added_more", saved=saved, left=left - 1), buttons=(button,))])
    return Response([Message(ctx.t("goals.added_full", saved=saved, max=MAX_OPEN))])


# ---- the intro's invitation and the form ----------------------------------------------------------------------

def invitation(rt: Runtime, pair: Pair, mentee: Member) -> tuple[str, Button]:
    """What the intro says about goals, and its button opening the goal form (bot/flows/intro.py)."""
    return (rt.t("goals.intro_ask", mentee=mentee.display_name, max=MAX_OPEN),
            Button(rt.t("goals.intro_button"), OPEN_ACTION, str(pair.id), "primary"))


def _form(ctx: Ctx, pair: Pair) -> Form:
    return Form(
        GOAL_FORM, ctx.t("goals.form_title"),
        (FormField("goal", ctx.t("goals.form_goal"), required=True, multiline=False, max_length=TEXT_MAX),
         FormField("success", ctx.t("goals.form_success"), required=True, max_length=SUCCESS_MAX),
         FormField("by", ctx.t("goals.form_by"), required=True, multiline=False, max_length=10)),
        state=str(pair.id), submit_label=ctx.t("goals.form_submit"),
    )


@feature.action(OPEN_ACTION)
async def open_form(ctx: Ctx, value: str) -> Response:
    """The intro's "Set our goals" and the "Add another" buttons: one goal's form, while there is room."""
    pair = await _live_pair(ctx, as_id(value))
    await _room(ctx, pair)
    return Response([Message(ctx.t("goals.form_opened"))], _form(ctx, pair))


@feature.form(GOAL_FORM)
async def submit_form(ctx: Ctx, state: str, values: dict[str, str]) -> Response:
    """One goal from the form; a mistake is answered with what to write instead (the button opens it again)."""
    pair = await _live_pair(ctx, as_id(state))
    return await _add(ctx, pair, values.get("goal", ""), values.get("success", ""), values.get("by", ""))


# ---- commands -----------------------------------------------------------------------------------------------

@feature.command("goals", options=(PAIR,), grouped=("goal", "list"))
async def list_goals(ctx: Ctx, args: Args) -> Response:
    """`/mentor goals [--pair N]`: my pairs' goals; coordinators may name any pair of their programs."""
    if args.words:
        raise UserError("error.no_words", command="goals")
    if token := args.options.get("pair"):
        pairs = [await _visible_pair(ctx, token)]
    else:
        pairs = await pairs_of(ctx.session, ctx.me)
        if not pairs:
            raise UserError("goals.no_pair")
    mentees = await _mentees(ctx.session, [p.id for p in pairs])  # type: ignore[misc]
    goals = (await ctx.session.exec(
        select(Goal).where(col(Goal.pair_id).in_([p.id for p in pairs]), Goal.status != GoalStatus.DROPPED)
        .order_by(col(Goal.id))
    )).all()
    parts = []
    for pair in pairs:
        today = today_for(mentees[pair.id], ctx.now, ctx.rt.default_tz)  # type: ignore[index]
        lines = [_line(ctx.rt, g, today) for g in goals if g.pair_id == pair.id]
        head = ctx.t("goals.list_head", pair=await label(ctx.session, ctx.rt, pair))
        parts.append("\n".join([head, *lines]) if lines else ctx.t("goals.list_none", head=head, pair=pair.id))
    return Response([Message("\n\n".join(parts))])


async def _visible_pair(ctx: Ctx, token: str) -> Pair:
    """A pair whose goals the actor may read: theirs, or one in a program they coordinate."""
    pair_id = as_id(token)
    if pair_id is None:
        raise UserError("error.not_a_pair_id", token=token[:40])
    pair = await ctx.session.get(Pair, pair_id)
    if pair is not None and in_pair(pair, ctx.me.id):
        return pair
    program = await ctx.session.get(Program, pair.program_id) if pair else None
    if pair is None or program is None or program.workspace_id != ctx.ws.id \
            or not await is_coordinator(ctx.session, ctx.me, program):
        raise UserError("goals.not_your_pair", id=pair_id)  # the same answer whether or not it exists
    return pair


def _line(rt: Runtime, goal: Goal, today: date) -> str:
    flag = rt.t("goals.overdue") if is_overdue(goal, today) else ""
    return rt.t("goals.line", id=goal.id, text=goal.text, success=goal.success, by=goal.target_date.isoformat(),
                status=rt.t(f"goals.status_{goal.status}"), progress=rt.t(f"goals.level_{goal.progress}"),
                overdue=flag)


@feature.command("goal", "add", args=(WHAT,), options=(SUCCESS, BY, PAIR))
async def add_goal(ctx: Ctx, args: Args) -> Response:
    """`/mentor goal add <goal> --success <what success looks like> --by YYYY-MM-DD [--pair N]`;
    with nothing typed, the form."""
    pair = await my_pair(ctx, args, "goal add")
    if pair.status not in LIVE:
        raise UserError("goals.pair_not_live", id=pair.id)
    if not args.words and not args.options.get("success") and not args.options.get("by"):
        await _room(ctx, pair)
        return Response([Message(ctx.t("goals.form_opened"))], _form(ctx, pair))
    return await _add(ctx, pair, args.rest(), args.options.get("success", ""), args.options.get("by", ""))


@feature.command("goal", "edit", args=(GOAL_ID, WHAT), options=(SUCCESS, BY))
async def edit_goal(ctx: Ctx, args: Args) -> Response:
    """`/mentor goal edit <id> [new goal] [--success ...] [--by YYYY-MM-DD]`: change what is given."""
    if not args.words:
        raise UserError("goals.which_goal", command="goal edit")
    goal, pair = await _my_goal(ctx, args.words[0])
    if goal.status != GoalStatus.OPEN:
        raise UserError("goals.not_open", id=goal.id, status=ctx.t(f"goals.status_{goal.status}"))
    text = args.rest(1) or goal.text
    success = args.options.get("success") or goal.success
    by = args.options.get("by", "")
    if text == goal.text and success == goal.success and not by:
        raise UserError("goals.nothing_to_change", id=goal.id)
    day = _target(by, await _today_of(ctx, pair)) if by else goal.target_date
    goal.text, goal.success = _texts(text, success)
    goal.target_date = day
    return ctx.reply("goals.edited", id=goal.id, text=goal.text, success=goal.success,
                     by=goal.target_date.isoformat())


async def _close(ctx: Ctx, args: Args, command: str, status: GoalStatus) -> Goal:
    if len(args.words) != 1:
        raise UserError("goals.which_goal", command=command)
    goal, _ = await _my_goal(ctx, args.words[0])
    if goal.status != GoalStatus.OPEN:
        raise UserError("goals.not_open", id=goal.id, status=ctx.t(f"goals.status_{goal.status}"))
    goal.status, goal.closed_at = status, ctx.now
    if status == GoalStatus.DONE:
        goal.progress, goal.moved_at = GoalLevel.DONE, ctx.now
    return goal


@feature.command("goal", "done", args=(GOAL_ID,))
async def goal_done(ctx: Ctx, args: Args) -> Response:
    """`/mentor goal done <id>`: reached."""
    goal = await _close(ctx, args, "goal done", GoalStatus.DONE)
    return ctx.reply("goals.done", id=goal.id, text=goal.text)


@feature.command("goal", "drop", args=(GOAL_ID,))
async def goal_drop(ctx: Ctx, args: Args) -> Response:
    """`/mentor goal drop <id>`: no longer pursued; it leaves the list and frees a place."""
    goal = await _close(ctx, args, "goal drop", GoalStatus.DROPPED)
    return ctx.reply("goals.dropped", id=goal.id, text=goal.text)


# ---- progress after a meeting -------------------------------------------------------------------------------

@feature.on_met
async def progress_requests(
    s: AsyncSession, rt: Runtime, now: datetime, program: Program, pair: Pair, checkin: Checkin
) -> None:
    """Ask the mentee privately, one message a goal, how each open goal moved since the last meeting."""
    goals = await _open_goals(s, pair.id)  # type: ignore[arg-type]
    if not goals:
        return
    rows = []
    for goal in goals:
        buttons = tuple(Button(rt.t(f"goals.level_{level}"), PROGRESS_ACTION, f"{goal.id}:{checkin.id}:{level}")
                        for level in LEVELS)
        rows.append(outbox_row(
            kind=OutboxKind.GOAL_PROGRESS, subject_id=goal.id, details=(checkin.id,),
            workspace_id=program.workspace_id, program_id=program.id,
            dest_kind="user", target=mentee_id(pair),  # type: ignore[arg-type]
            message=Message(rt.t("goals.progress_ask", id=goal.id, text=goal.text, success=goal.success,
                                 by=goal.target_date.isoformat()), buttons=buttons),
            now=now,
        ))
    await enqueue_rows(s, rows)


@feature.action(PROGRESS_ACTION)
async def record_progress(ctx: Ctx, value: str) -> Response:
    """One progress click: recorded once a goal and meeting, and the question edited to show the answer."""
    goal_part, checkin_part, level_part = (value.split(":") + ["", ""])[:3]
    goal_id, checkin_id = as_id(goal_part), as_id(checkin_part)
    goal = await ctx.session.get(Goal, goal_id) if goal_id else None
    checkin = await ctx.session.get(Checkin, checkin_id) if checkin_id else None
    pair = await ctx.session.get(Pair, goal.pair_id) if goal else None
    if goal is None or checkin is None or pair is None or level_part not in set(LEVELS) \
            or checkin.pair_id != pair.id or checkin.status != CheckinStatus.MET:
        raise UserError("error.stale_button")
    if ctx.me.id != mentee_id(pair):
        raise UserError("goals.not_your_question")
    given = (await ctx.session.exec(select(GoalProgress).where(
        GoalProgress.goal_id == goal.id, GoalProgress.checkin_id == checkin.id))).first()
    if given is not None:
        return ctx.reply("goals.progress_already", id=goal.id, level=ctx.t(f"goals.level_{given.level}"))
    if goal.status != GoalStatus.OPEN:
        raise UserError("goals.not_open", id=goal.id, status=ctx.t(f"goals.status_{goal.status}"))
    level = GoalLevel(level_part)
    ctx.session.add(GoalProgress(goal_id=goal.id, checkin_id=checkin.id, member_id=ctx.me.id,  # type: ignore[arg-type]
                                 level=level, created_at=ctx.now))
    goal.progress = level
    if level in MOVED:
        goal.moved_at = ctx.now
    if level == GoalLevel.DONE:
        goal.status, goal.closed_at = GoalStatus.DONE, ctx.now
    program = await ctx.session.get(Program, pair.program_id)
    assert program is not None
    shown = ctx.t(f"goals.level_{level}")
    await enqueue(
        ctx.session, kind=OutboxKind.GOAL_PROGRESSED, subject_id=goal.id, details=(checkin.id,),
        workspace_id=program.workspace_id, program_id=program.id,
        dest_kind="user", target=ctx.me.id,  # type: ignore[arg-type]
        message=Message(ctx.t("goals.progress_edit", id=goal.id, text=goal.text, level=shown)), now=ctx.now,
        edits_key=outbox_key(OutboxKind.GOAL_PROGRESS, goal.id, checkin.id),
    )
    return ctx.reply("goals.progress_thanks_done" if level == GoalLevel.DONE else "goals.progress_thanks",
                     id=goal.id, level=shown)


# ---- for other features -------------------------------------------------------------------------------------

_OVERDUE = with_ids_in(
    lambda pairs: select(Goal, Member).join(Pair, col(Pair.id) == col(Goal.pair_id))
    .join(Member, col(Member.id) == col(Pair.member_b_id))
    .where(pairs, Goal.status == GoalStatus.OPEN, col(Goal.target_date) < bindparam("before"))
    .order_by(col(Goal.id)),
    col(Goal.pair_id), "ids")


async def overdue_note(session: AsyncSession, rt: Runtime, pair_ids: Iterable[int], now: datetime) -> dict[int, str]:
    """For a planned batch of nudges: each pair's line about its overdue goals (pairs without none are left
    out), in one query for the whole batch."""
    ids = list(pair_ids)
    if not ids:
        return {}
    # Overdue means the target day is over in the mentee's zone; no zone is a day ahead of UTC's tomorrow,
    # so the query keeps only rows that may be, and the zone decides.
    rows = (await session.exec(_OVERDUE.for_session(session),
                               params={"ids": ids, "before": now.date() + timedelta(days=1)})).all()
    late: dict[int, list[Goal]] = {}
    for goal, mentee in rows:
        if is_overdue(goal, today_for(mentee, now, rt.default_tz)):
            late.setdefault(goal.pair_id, []).append(goal)
    return {pid: rt.t("goals.nudge_overdue", goals="; ".join(
        rt.t("goals.nudge_goal", id=g.id, text=g.text, by=g.target_date.isoformat()) for g in goals))
        for pid, goals in late.items()}


async def _program_goals(session: AsyncSession, program_id: int) -> list[tuple[Goal, Member]]:
    return list((await session.exec(
        select(Goal, Member).join(Pair, col(Pair.id) == col(Goal.pair_id))
        .join(Member, col(Member.id) == col(Pair.member_b_id))
        .where(Pair.program_id == program_id)
    )).all())  # type: ignore[arg-type]


async def goal_counts(session: AsyncSession, program_id: int, now: datetime, default_tz: str = "UTC") -> dict[str, int]:
    """The program's goals for the report: set (every goal not dropped), in progress (open and moved at
    least once), done, overdue (open and past its date), and open."""
    counts = {"set": 0, "in_progress": 0, "done": 0, "overdue": 0, "open": 0}
    for goal, mentee in await _program_goals(session, program_id):
        if goal.status == GoalStatus.DROPPED:
            continue
        counts["set"] += 1
        if goal.status == GoalStatus.DONE:
            counts["done"] += 1
            continue
        counts["open"] += 1
        counts["in_progress"] += goal.progress in MOVED
        counts["overdue"] += is_overdue(goal, today_for(mentee, now, default_tz))
    return counts


async def stalled_pairs(session: AsyncSession, program_id: int, now: datetime, default_tz: str = "UTC") -> set[int]:
    """Pairs with an open goal that has not moved for four weeks or more, or is overdue (health reads it)."""
    return {
        goal.pair_id for goal, mentee in await _program_goals(session, program_id)
        if goal.status == GoalStatus.OPEN
        and (goal.moved_at <= now - STALL or is_overdue(goal, today_for(mentee, now, default_tz)))
    }


async def pair_goals(session: AsyncSession, pair: Pair) -> list[Goal]:
    """A pair's goals, dropped ones too, oldest first (for an export or a person's own data)."""
    return list((await session.exec(select(Goal).where(Goal.pair_id == pair.id).order_by(col(Goal.id)))).all())


# --- goals in the program's report and export, and in a person's own data -------------------------------


async def _report_counts(session: AsyncSession, program: Program, hidden: Hidden, now: datetime) -> dict[str, int]:
    return await goal_counts(session, program.id, now)  # type: ignore[arg-type]


def _goal_row(g: Goal) -> list[object]:
    return [g.id, g.pair_id, g.text, g.success, g.target_date.isoformat(), g.status, g.progress,
            g.created_at.isoformat(), g.closed_at.isoformat() if g.closed_at else ""]


def _export_rows(db: Database, program_id: int, hidden: Hidden) -> AsyncIterator[list[list[object]]]:
    """goals.csv: every goal of the program's pairs the reader may see."""
    return impact.pair_rows(db, Goal, program_id, hidden, _goal_row)


async def _my_goals(session: AsyncSession, me: Member) -> list[dict[str, object]]:
    """my-data: the goals of the person's pairs (theirs as much as their partner's: they agreed them)."""
    out: list[dict[str, object]] = []
    for pair in await pairs_of(session, me, STARTED):
        out += [{"pair": pair.id, "goal": g.text, "success": g.success, "target_date": g.target_date.isoformat(),
                 "status": g.status, "progress": g.progress} for g in await pair_goals(session, pair)]
    return out


async def _erase_goals(session: AsyncSession, me: Member, scrub: Callable[[str], str]) -> None:
    """Erasure: the goals a person wrote are blanked; their name is taken out of their partner's."""
    for pair in await pairs_of(session, me, STARTED):
        for goal in await pair_goals(session, pair):
            if goal.created_by_id == me.id:
                goal.text, goal.success = "", ""
            else:
                goal.text, goal.success = scrub(goal.text), scrub(goal.success)


impact.SOURCES.goals = _report_counts
impact.SOURCES.export_tables.append(("goals.csv", ("id", "pair", "goal", "success", "target_date", "status",
                                                   "progress", "created_at", "closed_at"), _export_rows))
mydata.PARTS.append(mydata.DataPart("goals", _my_goals, _erase_goals))
