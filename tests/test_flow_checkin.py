"""Introductions and check-ins, end to end through console scripts: what each person sees, and when.

The helpers at the top (PAIRED, seen_by, rows) are shared by the other test_flow_* files."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select

from bot.core import MentorBot
from bot.events import ActionEvent, Actor
from bot.messages import Button
from storage.models import Checkin, CheckinStatus, Feedback, Member
from testkit.console import SETUP, Script

# SETUP plus carol pairing mentor bob (Europe/Berlin) with mentee alice (America/New_York) on
# Mon 2026-11-30 08:00 UTC. The program nudges Mondays 10:00 local: Berlin's 10:00 (09:00 UTC)
# comes first, so the pair's first check-in lands Mon 2026-12-07 09:00 UTC.
PAIRED = SETUP + "@carol /mentor pair @bob @alice\n"
FIRST_NUDGE = "2026-12-07T09:00Z"
NUDGE_HEAD = "[Mon 2026-12-07 09:00 UTC | bob Mon 10:00 Europe/Berlin | alice Mon 04:00 America/New_York] to bob & alice"
BUTTONS = "[1] We met  [2] We rescheduled  [3] We couldn't meet  [4] Report a problem"

_POSTED = re.compile(r"^\[[^\]]*\] (?:to|edited) (.+) \(m\d+\)$")
_ACTED = re.compile(r"^\[[^\]]*\] ([^\s:]+)(?:: /mentor | clicks \[| submits )")
_PRIVATE = re.compile(r"^  \((?:only (\S+) sees|form for (\S+))\) ")


def audience(head: str) -> frozenset[str]:
    """Who sees a transcript block, from its first line; a channel is named by its #name."""
    if head.startswith("--- clock"):
        return frozenset({"*"})
    if m := _PRIVATE.match(head):
        return frozenset({m.group(1) or m.group(2)})
    if m := _POSTED.match(head):
        where = m.group(1)
        if where.endswith(" (shared conversation)"):
            return frozenset(where.removesuffix(" (shared conversation)").split(" & "))
        if where.endswith(" (direct message)"):
            return frozenset({where.removesuffix(" (direct message)")})
        return frozenset({where})
    if m := _ACTED.match(head):
        return frozenset({m.group(1)})
    return frozenset()


def blocks(transcript: str) -> list[tuple[frozenset[str], str]]:
    """The transcript cut into blocks (a posted message, a reply, a typed line), each with its audience."""
    out: list[tuple[frozenset[str], list[str]]] = []
    for line in transcript.split("\n"):
        if out and line.startswith("  ") and not _PRIVATE.match(line):
            out[-1][1].append(line)
        else:
            out.append((audience(line), [line]))
    return [(who, "\n".join(lines)) for who, lines in out]


def seen_by(transcript: str, user: str) -> str:
    """Everything `user` can see: what they typed and clicked, their replies, DMs and shared conversations."""
    return "\n".join(text for who, text in blocks(transcript) if user in who or "*" in who)


def posted_to(transcript: str, where: str) -> str:
    """The messages posted to one channel, e.g. '#leads'."""
    return "\n".join(text for who, text in blocks(transcript) if who == {where})


async def rows(bot: MentorBot, model: Any, *where: Any) -> list[Any]:
    async with bot.db.transaction() as s:
        return list((await s.exec(select(model).where(*where).order_by(col(model.id)))).all())


async def member_id(bot: MentorBot, name: str) -> int:
    return (await rows(bot, Member, Member.external_id == name))[0].id


def latest_buttons(run: Script, *audience: str) -> dict[str, Button]:
    """The buttons, by label, of the newest message with buttons posted to exactly these people."""
    posted = [p for p in run.console.posted if p.audience == audience and p.message.buttons]
    return {b.label: b for b in posted[-1].message.buttons}


async def press(bot: MentorBot, user: str, button: Button) -> str:
    """Press a button the way a stale screen (a second device, a slow client) still shows it."""
    response = await bot.handle(ActionEvent(Actor("console", "local", user, user), button.action_id, button.value))
    return response.text


# --- introduction --------------------------------------------------------------------------------


async def test_new_pair_gets_introduction_in_shared_conversation(run: Script) -> None:
    out = await run(PAIRED)
    intro = next(text for who, text in blocks(out) if who == {"bob", "alice"})
    assert "to bob & alice (shared conversation)" in intro
    assert "bob is the mentor, alice the mentee" in intro
    assert "Shared interests: python" in intro
    assert "alice's goals: First dev job" in intro
    assert "bob's goals: not written yet" in intro
    assert "Every week, on Monday at 10:00 your local time, I'll post a check-in here" in intro
    assert "One click tells me whether you met" in intro
    assert len(re.findall(r"^  • ", intro, re.M)) == 3
    assert "First check-in for bob: Mon 07 Dec 2026, 10:00 (Europe/Berlin)" in intro
    assert "First check-in for alice: Mon 07 Dec 2026, 04:00 (America/New_York)" in intro


async def test_introduction_without_shared_interests_lists_each_persons(run: Script) -> None:
    out = await run(SETUP + "@alice /mentor profile --interests gardening\n@carol /mentor pair @bob @alice")
    assert ("Shared interests: no interests in common yet (bob: python, music; alice: gardening): "
            "a good first thing to talk about") in out
    assert "none listed yet" not in out


async def test_introduction_when_someone_listed_no_interests(run: Script) -> None:
    out = await run(SETUP + "@erin /mentor join mentee\n@carol /mentor pair @bob @erin")
    assert "Shared interests: none listed yet: a good first thing to talk about" in out


# --- the nudge -----------------------------------------------------------------------------------


async def test_nudge_lands_at_program_time_in_the_earlier_of_the_two_zones(run: Script) -> None:
    await run(PAIRED)
    assert "Check-in time" not in await run("clock 2026-12-07T08:59Z")
    out = await run("clock +1m")
    assert f"{NUDGE_HEAD} (shared conversation)" in out
    assert "Check-in time, bob and alice! Have you met this period (2026-12-07) for Spring?" in out
    assert BUTTONS in out


async def test_pair_in_one_zone_is_nudged_at_its_own_local_time(run: Script) -> None:
    out = await run(SETUP + """
        @bob /mentor profile --tz Asia/Tokyo
        @alice /mentor profile --tz Asia/Tokyo
        @carol /mentor pair @bob @alice
        clock 2026-12-08T00:00Z
    """)
    # 10:00 in Tokyo is 01:00 UTC.
    assert "[Mon 2026-12-07 01:00 UTC | bob Mon 10:00 Asia/Tokyo | alice Mon 10:00 Asia/Tokyo] to bob & alice" in out
    assert out.count("Check-in time") == 1


async def test_pair_is_nudged_once_per_period(run: Script) -> None:
    out = await run(PAIRED + "clock +22d")
    nudges = re.findall(r"Have you met this period \((\S+)\)", out)
    assert nudges == ["2026-12-07", "2026-12-14", "2026-12-21"]


# --- answers -------------------------------------------------------------------------------------


async def test_first_answer_is_recorded_and_shown_to_the_partner(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    out = await run("@alice click We met")
    assert "(only alice sees) Great, recorded that you met. I've sent each of you a private 1-5 rating." in out
    # The nudge itself is edited, so bob sees the answer where he saw the question, without buttons.
    edited = [text for who, text in blocks(out) if who == {"bob", "alice"}]
    assert len(edited) == 1
    assert "edited bob & alice (shared conversation) (m" in edited[0]
    assert 'Check-in 2026-12-07: alice answered "met". Thanks!' in edited[0]
    assert "We met" not in edited[0]
    [checkin] = await rows(bot, Checkin)
    assert checkin.status == CheckinStatus.MET
    assert checkin.answered_by_id == await member_id(bot, "alice")


async def test_second_click_on_the_same_nudge_keeps_the_first_answer(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    nudge = latest_buttons(run, "bob", "alice")
    await run("@alice click We couldn't meet")
    reply = await press(bot, "bob", nudge["We met"])
    assert reply == 'This check-in was already answered: alice said "couldn\'t meet".'
    [checkin] = await rows(bot, Checkin)
    assert checkin.status == CheckinStatus.COULD_NOT_MEET
    assert "How was your check-in" not in await run("clock +1m")


async def test_rescheduled_and_could_not_meet_get_their_own_replies_and_no_rating(run: Script) -> None:
    out = await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We rescheduled\nclock +7d\n@alice click 3")
    assert "(only bob sees) Recorded as rescheduled. I'll ask again next period." in out
    assert 'Check-in 2026-12-07: bob answered "rescheduled"' in out
    assert "(only alice sees) Recorded that you couldn't meet." in out
    assert 'Check-in 2026-12-14: alice answered "couldn\'t meet"' in out
    assert "How was your check-in" not in out


async def test_someone_outside_the_pair_cannot_answer_its_check_in(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    reply = await press(bot, "mallory", latest_buttons(run, "bob", "alice")["We met"])
    assert reply == "That check-in belongs to another pair."
    assert (await rows(bot, Checkin))[0].status == CheckinStatus.DUE


# --- feedback ------------------------------------------------------------------------------------


async def test_after_we_met_each_member_privately_rates_with_an_optional_note(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice click We met")
    for me, partner in (("bob", "alice"), ("alice", "bob")):
        dm = seen_by(out, me)
        assert f"to {me} (direct message)" in dm
        assert f"How was your check-in with {partner} (2026-12-07)? 1 = not useful, 5 = great." in dm
        assert "[1] 1  [2] 2  [3] 3  [4] 4  [5] 5" in dm
    out = await run('@alice click 4\n@alice submit note="Went through my CV"\n@bob click 5\n@bob cancel')
    assert "(only alice sees) Thanks, recorded 4/5. Want to add a note? It is optional" in out
    assert "(form for alice) Add a note (optional): note (optional)" in out
    assert "(only alice sees) Note saved. Only the coordinators will see it." in out
    assert "edited alice (direct message)" in out and "You rated the check-in of 2026-12-07: 4/5." in out
    feedback = {f.member_id: f for f in await rows(bot, Feedback)}
    assert feedback[await member_id(bot, "alice")].rating == 4
    assert feedback[await member_id(bot, "alice")].note == "Went through my CV"
    assert feedback[await member_id(bot, "bob")].rating == 5
    assert feedback[await member_id(bot, "bob")].note == ""


async def test_a_check_in_is_rated_once_per_member(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice click We met")
    rating = latest_buttons(run, "alice")
    await run("@alice click 4\n@alice cancel")
    assert await press(bot, "alice", rating["1"]) == "You already rated this check-in (4/5)."
    assert [f.rating for f in await rows(bot, Feedback)] == [4]


async def test_partner_never_sees_a_rating_or_its_note(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice click We met")
    await run('@alice click 4\n@alice submit note="bob seemed distracted all the time"')
    bob = seen_by(run.all, "bob")
    assert "distracted" not in bob
    assert "4/5" not in bob
    assert "recorded 4" not in bob


# --- reminder and missed -------------------------------------------------------------------------


async def test_unanswered_check_in_gets_exactly_one_reminder_after_48_hours(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    assert "gentle reminder" not in await run("clock 2026-12-09T08:59Z")
    out = await run("clock 2026-12-13T23:00Z")
    assert out.count("A gentle reminder, bob and alice: how did this period (2026-12-07) go?") == 1
    assert "[Wed 2026-12-09 09:00 UTC | bob Wed 10:00 Europe/Berlin | alice Wed 04:00 America/New_York] to bob & alice" in out
    assert BUTTONS in out


async def test_answered_check_in_gets_no_reminder(run: Script) -> None:
    out = await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We rescheduled\nclock 2026-12-13T00:00Z")
    assert "gentle reminder" not in out


async def test_answer_on_the_reminder_counts(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + "clock 2026-12-09T09:00Z")
    out = await run("@bob click We met")
    assert 'Check-in 2026-12-07: bob answered "met"' in out
    assert (await rows(bot, Checkin))[0].status == CheckinStatus.MET


async def test_no_answer_by_the_end_of_the_period_is_recorded_as_missed(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    assert "recorded as missed" not in await run("clock 2026-12-14T08:59Z")
    out = await run("clock +1m")
    assert "edited bob & alice (shared conversation)" in out
    assert "[Mon 2026-12-14 09:00 UTC | bob Mon 10:00 Europe/Berlin | alice Mon 04:00 America/New_York] edited" in out
    assert "Check-in 2026-12-07: no answer came in, so it is recorded as missed." in out
    assert "Have you met this period (2026-12-14)" in out
    statuses = [c.status for c in await rows(bot, Checkin)]
    assert statuses == [CheckinStatus.MISSED, CheckinStatus.DUE]
    # One missed period is not yet a pattern: nothing goes to the coordinators.
    assert "Escalation" not in out


# --- /mentor checkin -----------------------------------------------------------------------------


async def test_checkin_command_logs_a_meeting_now_and_asks_for_ratings(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + "clock 2026-12-03T12:00Z")
    out = await run("@alice /mentor checkin")
    assert ("(only alice sees) Logged your meeting for the period of 2026-12-07. "
            "I've sent each of you a private 1-5 rating.") in out
    assert 'Check-in 2026-12-07: alice answered "met"' in out
    assert "How was your check-in with alice (2026-12-07)?" in seen_by(out, "bob")
    assert "How was your check-in with bob (2026-12-07)?" in seen_by(out, "alice")
    [checkin] = await rows(bot, Checkin)
    assert (checkin.status, checkin.answered_by_id) == (CheckinStatus.MET, await member_id(bot, "alice"))
    # The period is answered, so its nudge never goes out.
    assert "Check-in time" not in await run("clock 2026-12-08T00:00Z")


async def test_checkin_command_answers_the_open_nudge(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\nclock +1d")
    out = await run("@bob /mentor checkin")
    assert "Logged your meeting for the period of 2026-12-07." in out
    assert "edited bob & alice (shared conversation)" in out
    assert [c.status for c in await rows(bot, Checkin)] == [CheckinStatus.MET]


async def test_one_meeting_logged_by_both_members_is_one_check_in(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\nclock +1d\n@alice click We met")
    out = await run("@bob /mentor checkin\n@alice /mentor checkin --pair 1")
    assert ("(only bob sees) alice already logged this meeting: the check-in for 2026-12-07 is recorded as met, "
            "once for both of you.") in out
    assert "(only alice sees) You already logged this meeting: the check-in for 2026-12-07 is recorded as met." in out
    assert "Logged your meeting" not in out
    assert "How was your check-in" not in out  # no second rating request
    [checkin] = await rows(bot, Checkin)
    assert (checkin.period, checkin.status) == ("2026-12-07", CheckinStatus.MET)
    # The next period is not pre-answered: its nudge comes as usual.
    out = await run("clock 2026-12-14T09:00Z\n@carol /mentor pairs")
    assert "Have you met this period (2026-12-14)" in out
    assert "met 1/1" in out


async def test_checkin_command_then_we_met_then_checkin_is_still_one_check_in(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    nudge = latest_buttons(run, "bob", "alice")
    out = await run("@alice /mentor checkin")
    assert "Logged your meeting for the period of 2026-12-07" in out
    assert await press(bot, "bob", nudge["We met"]) == 'This check-in was already answered: alice said "met".'
    out = await run("@bob /mentor checkin")
    assert "(only bob sees) alice already logged this meeting" in out
    assert [c.period for c in await rows(bot, Checkin)] == ["2026-12-07"]
    assert "How was your check-in" not in out


async def test_a_meeting_logged_before_the_first_period_is_not_logged_again_in_it(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + "clock 2026-12-03T12:00Z\n@alice /mentor checkin")
    out = await run("clock 2026-12-08T00:00Z\n@bob /mentor checkin")
    assert "(only bob sees) alice already logged this meeting: the check-in for 2026-12-07" in out
    assert [(c.period, c.status) for c in await rows(bot, Checkin)] == [("2026-12-07", CheckinStatus.MET)]


async def test_checkin_after_we_rescheduled_records_this_period_as_met(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We rescheduled\nclock +2d")
    out = await run("@alice /mentor checkin")
    assert "(only alice sees) Logged your meeting for the period of 2026-12-07." in out
    assert 'Check-in 2026-12-07: alice answered "met"' in out
    assert "How was your check-in with bob (2026-12-07)?" in seen_by(out, "alice")
    assert [(c.period, c.status) for c in await rows(bot, Checkin)] == [("2026-12-07", CheckinStatus.MET)]


async def test_checkin_command_takes_no_words_and_needs_a_pair(run: Script) -> None:
    out = await run(SETUP + "@alice /mentor checkin\n@carol /mentor pair @bob @alice\n@alice /mentor checkin yesterday")
    assert "(only alice sees) You don't have a pair right now. A coordinator will match you." in out
    assert "(only alice sees) /mentor checkin logs a meeting now and takes no extra words" in out


# --- cadences ------------------------------------------------------------------------------------


def nudge_times(out: str) -> list[str]:
    """The UTC stamps of the check-in nudges in a transcript."""
    return re.findall(r"^\[(\w{3} \d{4}-\d\d-\d\d \d\d:\d\d) UTC[^\n]*\n  Check-in time", out, re.M)


async def test_biweekly_cadence_nudges_every_other_week(run: Script) -> None:
    out = await run(SETUP + """
        @carol /mentor program set --cadence biweekly
        @carol /mentor pair @bob @alice
        clock 2027-01-12T00:00Z
    """)
    assert "Program Spring updated: Every other week on Monday at 10:00" in out
    assert "Every other week, on Monday at 10:00 your local time" in out
    # Periods count from the program's first Monday (2026-11-30); the pair starts after that one.
    assert "First check-in for bob: Mon 14 Dec 2026, 10:00 (Europe/Berlin)" in out
    assert nudge_times(out) == ["Mon 2026-12-14 09:00", "Mon 2026-12-28 09:00", "Mon 2027-01-11 09:00"]


async def test_monthly_cadence_nudges_on_the_first_weekday_of_each_month(run: Script) -> None:
    out = await run(SETUP + """
        @carol /mentor program set --cadence monthly --day wed --time 17:30
        @carol /mentor pair @bob @alice
        clock 2027-03-05T00:00Z
    """)
    assert "Once a month, on Wednesday at 17:30 your local time" in out
    # First Wednesdays: 2 Dec 2026, 6 Jan, 3 Feb, 3 Mar 2027; 17:30 in Berlin is 16:30 UTC in winter.
    # The pair starts two days after pairing (Wed 2 Dec, 08:00 UTC), in time for December's.
    assert "First check-in for bob: Wed 02 Dec 2026, 17:30 (Europe/Berlin)" in out
    assert nudge_times(out) == ["Wed 2026-12-02 16:30", "Wed 2027-01-06 16:30", "Wed 2027-02-03 16:30",
                                "Wed 2027-03-03 16:30"]
    # Each period still gets its one reminder 48 hours after the nudge (March's is not due yet).
    assert re.findall(r"how did this period \((\S+)\) go", out) == ["2026-12-02", "2027-01-06", "2027-02-03"]


# --- a schedule change mid-period ----------------------------------------------------------------


async def test_a_day_change_mid_period_keeps_the_open_period_and_starts_from_the_next(
    run: Script, bot: MentorBot
) -> None:
    await run(PAIRED + "clock 2026-12-08T12:00Z\n@carol /mentor program set --day wed")
    out = await run("clock 2026-12-10T12:00Z\n@alice click We met\n@alice cancel\nclock 2026-12-22T12:00Z")
    # Mon 7 Dec's period runs its full week, to Mon 14 Dec; the first Wednesday after that is the 16th.
    assert nudge_times(run.all) == ["Mon 2026-12-07 09:00", "Wed 2026-12-16 09:00"]
    assert 'Check-in 2026-12-07: alice answered "met"' in out
    assert "recorded as missed" not in run.all
    assert [(c.period, c.status) for c in await rows(bot, Checkin)] == [
        ("2026-12-07", CheckinStatus.MET), ("2026-12-16", CheckinStatus.DUE)]


async def test_a_schedule_change_never_costs_a_missed_period_or_an_escalation(run: Script, bot: MentorBot) -> None:
    # Nobody answers. Before the fix Wed 9 Dec opened beside Mon 7 Dec; both were missed and escalated.
    await run(PAIRED + "clock 2026-12-08T12:00Z\n@carol /mentor program set --day wed\nclock 2026-12-17T00:00Z")
    assert run.all.count("recorded as missed") == 1  # Mon 7 Dec's own full week, unanswered
    assert "Escalation #" not in run.all
    assert [(c.period, c.status) for c in await rows(bot, Checkin)] == [
        ("2026-12-07", CheckinStatus.MISSED), ("2026-12-16", CheckinStatus.DUE)]


async def test_a_cadence_change_mid_period_keeps_the_open_period_its_full_length(run: Script, bot: MentorBot) -> None:
    await run(SETUP + """
        @carol /mentor program set --cadence biweekly
        @carol /mentor pair @bob @alice
        clock 2026-12-15T12:00Z
        @carol /mentor program set --cadence weekly
        clock 2026-12-16T12:00Z
        @bob click We met
        @bob cancel
        clock 2026-12-29T12:00Z
        @alice click We met
        @alice cancel
        clock 2027-01-05T00:00Z
    """)
    # The two-week period of 14 Dec runs to 28 Dec; weekly check-ins start then.
    assert nudge_times(run.all) == ["Mon 2026-12-14 09:00", "Mon 2026-12-28 09:00", "Mon 2027-01-04 09:00"]
    assert "recorded as missed" not in run.all
    assert [(c.period, c.status) for c in await rows(bot, Checkin)] == [
        ("2026-12-14", CheckinStatus.MET), ("2026-12-28", CheckinStatus.MET), ("2027-01-04", CheckinStatus.DUE)]
