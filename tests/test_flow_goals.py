"""Goals end to end in the console: agreed from the intro's button and form one at a time, listed, edited,
done and dropped; bad input answered with what to write instead; progress asked privately of the mentee
after "We met"; an overdue goal mentioned in the next nudge; and nobody outside the pair (but its
coordinators, for listing) ever sees a pair's goals."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import event

from bot.core import MentorBot
from bot.flows.goals import goal_counts, overdue_note, stalled_pairs
from storage.models import Goal, GoalLevel, GoalProgress, GoalStatus, Member, Pair, Program
from testkit.console import Script
from tests.test_flow_checkin import FIRST_NUDGE, PAIRED, blocks, press, rows, seen_by

FORM = 'submit goal="{}" success="{}" by="{}"'
THREE = f"""
@alice click Set our goals
@alice {FORM.format("Land a first dev job", "An offer signed", "2027-03-31")}
@alice click Add another goal
@alice {FORM.format("Ship a side project", "Deployed, used by 5 people", "2026-12-10")}
@alice click Add another goal
@alice {FORM.format("Learn SQL", "Write 3 reports at work", "2027-01-15")}
"""
SECOND_PAIR = """
@dan /mentor join mentor
@eva /mentor join mentee
@eva /mentor profile --tz Asia/Tokyo
@carol /mentor pair @dan @eva
"""


def goal_dms(run: Script, user: str) -> list[dict[str, object]]:
    """The progress questions posted to `user`, newest last, with their buttons by label."""
    return [{b.label: b for b in p.message.buttons} for p in run.console.posted
            if p.audience == (user,) and p.message.buttons and "How did goal" in p.message.text]


async def test_goals_are_agreed_from_the_intros_button_one_form_at_a_time(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + THREE + "@bob /mentor goals")
    intro = next(text for who, text in blocks(out) if who == {"bob", "alice"})
    assert "Goals: alice, write down one to 3 goals for this mentorship, each with what success looks like" in intro
    assert "[1] Set our goals" in intro
    assert "(form for alice) A goal for this mentorship: goal, success, by" in out
    assert "(only alice sees) Goal #1 saved: Land a first dev job (success: An offer signed; by 2027-03-31). " \
           "You can add 2 more.\n  [1] Add another goal" in out
    assert "Goal #3 saved: Learn SQL (success: Write 3 reports at work; by 2027-01-15). That makes 3 open goals" in out
    listing = seen_by(out, "bob").split("bob: /mentor goals")[1]
    assert "Goals of #1 bob (mentor) & alice (mentee):" in listing
    assert "• #1 [open] Land a first dev job — success: An offer signed — by 2027-03-31 — progress: No progress" \
        in listing
    assert "• #3 [open] Learn SQL" in listing
    goals = await rows(bot, Goal)
    assert [(g.pair_id, g.text, g.target_date, g.status) for g in goals] == [
        (1, "Land a first dev job", date(2027, 3, 31), GoalStatus.OPEN),
        (1, "Ship a side project", date(2026, 12, 10), GoalStatus.OPEN),
        (1, "Learn SQL", date(2027, 1, 15), GoalStatus.OPEN),
    ]
    # A fourth is refused, by the intro's button and by command, with what to do instead.
    out = await run("@alice click Set our goals\n@bob /mentor goal add Read a book --success 1 --by 2027-02-01")
    assert out.count("Pair #1 already has 3 open goals, the most at once. Mark one done") == 2
    assert "(form for alice)" not in out and len(await rows(bot, Goal)) == 3


async def test_bad_goals_are_answered_with_what_to_write_instead(run: Script, bot: MentorBot) -> None:
    # 08:00 UTC on 2026-11-30 is still 2026-11-30 for alice in New York: "today" is not a target date.
    out = await run(PAIRED + """
        @bob /mentor goal add Learn SQL --by 2027-01-15
        @bob /mentor goal add Learn SQL --success "3 reports"
        @bob /mentor goal add Learn SQL --success "3 reports" --by next-week
        @bob /mentor goal add Learn SQL --success "3 reports" --by 2026-11-30
        @bob /mentor goal add Learn SQL --success "3 reports" --by 2029-01-01
        @bob /mentor goal add --success "3 reports" --by 2027-01-15
        @alice click Set our goals
        @alice submit goal="Learn SQL" success="3 reports" by="31/12/2026"
        @alice click Set our goals
        @alice submit goal="Learn SQL" success="3 reports" by="2026-12-31"
        @alice /mentor goal edit 1 --by 2026-11-01
        @alice /mentor goal edit 1
        @alice /mentor goal edit one --by 2027-01-01
        @alice /mentor goal done 7
        @alice /mentor goal done
    """)
    assert "Say what success looks like, so you both know when the goal is reached" in out
    assert "A goal needs a target date, YYYY-MM-DD." in out
    assert '"next-week" is not a date. Write it as YYYY-MM-DD' in out
    assert "2026-11-30 is not in the future (today is 2026-11-30 for the mentee)" in out
    assert "2029-01-01 is more than two years away; pick a date by 2028-11-30" in out
    assert "A goal needs its text: what you want to reach, in one sentence." in out
    assert '"31/12/2026" is not a date.' in out
    assert "Goal #1 saved: Learn SQL" in out  # the form opened again and the second try worked
    assert "2026-11-01 is not in the future" in out
    assert "Nothing to change on goal #1" in out
    assert '"one" is not a goal number.' in out
    assert "You have no goal #7." in out
    assert "Say which goal: /mentor goal done <id>" in out
    [goal] = await rows(bot, Goal)
    assert goal.target_date == date(2026, 12, 31)
    long = "x" * 151
    out = await run(f'@bob /mentor goal add {long} --success s --by 2027-01-01')
    assert "That goal is 151 characters; keep it to 150" in out


async def test_goals_are_edited_done_and_dropped(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + THREE + """
        @bob /mentor goal edit 1 Land a first backend job --success "An offer signed by March" --by 2027-04-30
        @alice /mentor goal done 2
        @alice /mentor goal drop 3
        @alice /mentor goal done 2
        @bob /mentor goal edit 3 --by 2027-02-01
        @alice /mentor goals
        @bob /mentor goal add Learn SQL --success "3 reports" --by 2027-02-01
    """)
    assert ("Goal #1 now reads: Land a first backend job (success: An offer signed by March; by 2027-04-30).") in out
    assert "Well done! Goal #2 is reached: Ship a side project." in out
    assert "Goal #3 dropped: Learn SQL. It no longer counts, and there is room for another." in out
    assert "Goal #2 is done already, so it can't change." in out
    assert "Goal #3 is dropped already, so it can't change." in out
    listing = out.split("alice: /mentor goals")[1].split("bob: /mentor goal add")[0]
    assert "• #1 [open] Land a first backend job — success: An offer signed by March — by 2027-04-30" in listing
    assert "• #2 [done] Ship a side project" in listing and "progress: Done" in listing
    assert "#3" not in listing  # dropped goals leave the list
    assert "Goal #4 saved: Learn SQL" in out  # two open: room again
    statuses = {g.id: g.status for g in await rows(bot, Goal)}
    assert statuses == {1: GoalStatus.OPEN, 2: GoalStatus.DONE, 3: GoalStatus.DROPPED, 4: GoalStatus.OPEN}


async def test_only_the_pair_sees_and_changes_its_goals_and_coordinators_may_list_them(
        run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + SECOND_PAIR + THREE + """
        @eva /mentor goal add Speak at a meetup --success "A 10 minute talk given" --by 2027-05-01
        @eva /mentor goals
        @eva /mentor goals --pair 1
        @eva /mentor goal done 1
        @eva /mentor goal edit 2 --by 2027-01-01
        @zoe /mentor goals
        @zoe /mentor goals --pair 1
        @carol /mentor goals --pair 1
        @carol /mentor goals --pair 2
        @carol /mentor goal done 1
        @carol /mentor goals --pair 99
    """)
    eva = seen_by(out, "eva")
    assert "Goals of #2 dan (mentor) & eva (mentee):\n  • #4 [open] Speak at a meetup" in eva
    for secret in ("Land a first dev job", "Ship a side project", "Learn SQL", "An offer signed"):
        assert secret not in eva and secret not in seen_by(out, "zoe") and secret not in seen_by(out, "dan")
    assert "Speak at a meetup" not in seen_by(out, "alice") and "Speak at a meetup" not in seen_by(out, "bob")
    assert "(only eva sees) Pair #1 is not yours: you can only see and change your own pair's goals." in out
    assert "(only eva sees) You have no goal #1." in out and "(only eva sees) You have no goal #2." in out
    assert "(only zoe sees) You have no pair yet, so there are no goals to show." in out
    assert "(only zoe sees) Pair #1 is not yours" in out
    carol = seen_by(out, "carol")
    assert "Goals of #1 bob (mentor) & alice (mentee):\n  • #1 [open] Land a first dev job" in carol
    assert "Goals of #2 dan (mentor) & eva (mentee):\n  • #4 [open] Speak at a meetup" in carol
    assert "(only carol sees) You have no goal #1." in out  # coordinators list; the pair changes
    assert "(only carol sees) Pair #99 is not yours" in out
    # A stale or forwarded button does not open another pair's form either.
    intro_button = next(b for p in run.console.posted if p.audience == ("bob", "alice")
                        for b in p.message.buttons if b.label == "Set our goals")
    assert "Pair #1 is not yours" in await press(bot, "eva", intro_button)
    statuses = {g.id: g.status for g in await rows(bot, Goal)}
    assert set(statuses.values()) == {GoalStatus.OPEN}


async def test_after_we_met_the_mentee_privately_says_how_each_open_goal_moved(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + THREE + f"@alice /mentor goal drop 3\nclock {FIRST_NUDGE}\n@bob click We met")
    assert "How did goal #1 move since your last meeting? Land a first dev job" in seen_by(out, "alice")
    assert "How did goal" not in seen_by(out, "bob")  # the mentor rates; the mentee answers for the goals
    assert "How was your check-in with bob (2026-12-07)?" in seen_by(out, "alice")  # the rating still comes
    assert "How did goal #3" not in out  # dropped
    first, second = goal_dms(run, "alice")
    assert list(first) == ["No progress", "Some", "A lot", "Done"]
    assert "only alice" not in await press(bot, "bob", first["Some"])  # not the mentee: refused
    assert (await rows(bot, GoalProgress)) == []
    assert "Noted: Some on goal #1." in await press(bot, "alice", first["Some"])
    assert "Well done! Goal #2 is marked done." in await press(bot, "alice", second["Done"])
    assert "You already answered for goal #1 after this meeting: Some." in await press(bot, "alice", first["A lot"])
    out = await run("clock +1m\n@alice /mentor goals")
    assert "edited alice (direct message)" in out
    assert 'Goal #1, Land a first dev job: you answered "Some". Thanks!' in out
    assert 'Goal #2, Ship a side project: you answered "Done". Thanks!' in out
    assert "• #1 [open] Land a first dev job — success: An offer signed — by 2027-03-31 — progress: Some" in out
    assert "• #2 [done] Ship a side project" in out
    progress = [(p.goal_id, p.level) for p in await rows(bot, GoalProgress)]
    assert progress == [(1, GoalLevel.SOME), (2, GoalLevel.DONE)]


async def test_refused_progress_click_from_the_mentor(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + THREE + f"clock {FIRST_NUDGE}\n@bob click We met")
    first = goal_dms(run, "alice")[0]
    assert "This question is for the mentee of the pair." in await press(bot, "bob", first["Some"])


async def test_an_overdue_goal_is_mentioned_in_the_next_nudge_until_it_is_settled(run: Script) -> None:
    out = await run(PAIRED + THREE + f"clock {FIRST_NUDGE}")
    assert "Past its target date" not in out  # 2026-12-10 is still ahead on 2026-12-07
    out = await run("clock 2026-12-14T09:00Z")
    nudge = next(t for who, t in blocks(out) if who == {"bob", "alice"} and "Check-in time" in t)
    assert ("Past its target date and not done yet: #2 Ship a side project (by 2026-12-10). Talk it over: "
            "/mentor goal edit <id> --by YYYY-MM-DD for a new date") in nudge
    assert "#1 Land" not in nudge
    out = await run("@alice /mentor goals\n@alice /mentor goal edit 2 --by 2027-01-31\nclock 2026-12-21T09:00Z")
    assert "by 2026-12-10 (overdue) — progress: No progress" in out
    nudge = next(t for who, t in blocks(out) if who == {"bob", "alice"} and "Check-in time" in t)
    assert "Past its target date" not in nudge


async def test_overdue_is_read_in_the_mentees_zone_for_a_whole_batch(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + SECOND_PAIR + """
        @bob /mentor goal add One --success s --by 2026-12-13 --pair 1
        @dan /mentor goal add Two --success s --by 2026-12-13
    """)
    # 2026-12-14 03:00 UTC: still the 13th in New York (alice), already noon on the 14th in Tokyo (eva).
    now = datetime(2026, 12, 14, 3, 0, tzinfo=UTC)
    selects: list[str] = []

    def count(*call: object) -> None:
        if str(call[2]).lstrip().upper().startswith("SELECT"):
            selects.append(str(call[2]))

    async with bot.db.transaction() as s:
        await s.connection()  # the transaction's own opening statements are not the note's
        event.listen(bot.db.engine.sync_engine, "before_cursor_execute", count)
        try:
            notes = await overdue_note(s, bot.rt, [1, 2, 3], now)
        finally:
            event.remove(bot.db.engine.sync_engine, "before_cursor_execute", count)
    assert list(notes) == [2] and "#2 Two (by 2026-12-13)" in notes[2]
    assert len(selects) == 1  # one query for the whole batch of nudges, not one a pair
    async with bot.db.transaction() as s:
        assert await overdue_note(s, bot.rt, [], now) == {}


async def test_goal_counts_and_stalled_pairs_for_the_report_and_health(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + SECOND_PAIR + THREE + f"""
        @eva /mentor goal add Speak at a meetup --success "A talk given" --by 2027-05-01
        @eva /mentor goal add Write a blog --success "Published" --by 2027-05-01
        @eva /mentor goal drop 5
        clock {FIRST_NUDGE}
        @bob click We met
        @dan click We met
    """)
    await press(bot, "alice", goal_dms(run, "alice")[0]["A lot"])
    await press(bot, "alice", goal_dms(run, "alice")[2]["Done"])
    program = (await rows(bot, Program))[0]
    now = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # goal #2 is overdue
    async with bot.db.transaction() as s:
        counts = await goal_counts(s, program.id, now)
        stalled_soon = await stalled_pairs(s, program.id, now)
        stalled_later = await stalled_pairs(s, program.id, datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    assert counts == {"set": 4, "in_progress": 1, "done": 1, "overdue": 1, "open": 3}
    assert stalled_soon == {1}  # overdue; eva's goal is young
    assert stalled_later == {1, 2}  # eva's goal has not moved for five weeks
    assert {p.id for p in await rows(bot, Pair)} == {1, 2}
    assert len(await rows(bot, Member)) >= 5


async def test_goals_reach_the_report_the_export_my_data_and_erasure(run: Script, bot: MentorBot) -> None:
    import io
    import json
    import zipfile

    from tests.test_flow_mydata import strings_in_database

    out = await run(PAIRED + THREE + "@carol /mentor report --weeks 4")
    assert re.search(r"Goals: 3 set, 0 in progress, 0 done, 0 overdue", out), out[-1500:]
    await run("@carol /mentor export")
    archive = zipfile.ZipFile(io.BytesIO(run.console.files[-1].read_bytes()))
    assert "Learn SQL,Write 3 reports at work,2027-01-15" in archive.read("goals.csv").decode()
    await run("@alice /mentor my-data")
    mine = json.loads(run.console.files[-1].read_bytes())
    assert {g["goal"] for g in mine["goals"]} == {"Land a first dev job", "Ship a side project", "Learn SQL"}
    await run("@alice /mentor forget-me\n@alice click Erase my data")
    assert await strings_in_database(bot, ("Land a first dev job", "Write 3 reports at work")) == []
