"""A member's own commands end to end: join, profile, status, pause/resume, leave, leaving the
workspace, and peers."""

from __future__ import annotations

import re

from bot.core import MentorBot
from bot.events import Actor, MemberLeft
from storage.models import Checkin, Enrollment, Escalation, EscalationKind, Member, Pair, PairStatus
from testkit.console import SETUP, Script
from tests.test_flow_checkin import FIRST_NUDGE, PAIRED, member_id, posted_to, rows, seen_by


def nudged_periods(out: str) -> list[str]:
    return re.findall(r"Have you met this period \((\S+)\)", out)


# --- join and profile ----------------------------------------------------------------------------


async def test_join_welcomes_once_and_refuses_a_second_role(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @alice /mentor join mentee
        @alice /mentor join mentor
        @alice /mentor join boss
        @alice /mentor join
    """)
    assert "(only alice sees) Welcome to Spring as a mentee!" in out
    assert "(only alice sees) You are already in Spring as a mentee." in out
    assert "(only alice sees) You are already in Spring as a mentee. To change role, /mentor leave Spring first." in out
    assert '(only alice sees) "boss" is not a role. Use mentor, mentee or peer' in out
    assert "(only alice sees) Say which role: /mentor join mentor, /mentor join mentee or /mentor join peer." in out
    alice = await member_id(bot, "alice")
    assert [e.role for e in await rows(bot, Enrollment, Enrollment.member_id == alice)] == ["mentee"]


async def test_join_without_a_time_zone_says_which_one_is_used(run: Script) -> None:
    out = await run(SETUP)
    assert "Welcome to Spring as a mentor!" in out
    assert "Your check-ins use the time zone UTC until you set yours with /mentor profile --tz" in out


async def test_time_zones_are_read_in_any_case_and_abbreviations_get_the_zone_to_use(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @alice /mentor profile --tz europe/paris
        @bob /mentor profile --tz utc
        @carol /mentor program set --tz america/new_york
        @alice /mentor profile --tz EST
        @alice /mentor profile --tz Etc/GMT+5
        @alice /mentor profile --tz UTC+2
    """)
    assert "(only alice sees) Profile saved, alice:\n    Time zone: Europe/Paris" in out
    assert "(only bob sees) Profile saved, bob:\n    Time zone: UTC" in out
    assert "(digest in America/New_York)" in out
    assert '"EST" is an abbreviation' in out and "e.g. America/New_York." in out
    assert '"Etc/GMT+5" means UTC-5 (those names invert the sign)' in out and "e.g. America/New_York." in out
    assert '"UTC+2" is a fixed offset' in out and "e.g. Europe/Athens." in out
    [alice] = await rows(bot, Member, Member.external_id == "alice")
    assert alice.tz == "Europe/Paris"  # the refused zones changed nothing


async def test_join_before_any_program_exists(run: Script) -> None:
    out = await run("@alice /mentor join mentee")
    assert "(only alice sees) There is no program to join yet. Ask a coordinator to create one." in out


async def test_profile_shows_and_updates_and_checks_its_input(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @alice /mentor profile
        @alice /mentor profile --tz Mars/Base
        @alice /mentor profile --capacity 2
        @bob /mentor profile --capacity 3 --goals "Share what I know"
    """)
    assert "(only alice sees) Your profile, alice:\n    Time zone: America/New_York\n    Topics: -\n    Interests: python, career" in out
    assert '(only alice sees) "Mars/Base" is not a time zone I know.' in out
    assert "(only alice sees) Capacity is for mentors. Join as a mentor first: /mentor join mentor." in out
    assert "(only bob sees) Profile saved, bob:" in out and "Mentees at once: 3" in out
    [bob] = await rows(bot, Member, Member.external_id == "bob")
    assert (bob.tz, bob.interests, bob.goals) == ("Europe/Berlin", "python,music", "Share what I know")


# --- status --------------------------------------------------------------------------------------


async def test_status_shows_pair_and_next_check_in_in_my_time_zone(run: Script) -> None:
    out = await run(PAIRED + "@alice /mentor status\n@bob /mentor status")
    assert ("(only alice sees) Status for alice:\n  • Spring: mentee\n"
            "  • Pair #1 bob (mentor) & alice (mentee), with bob: active\n"
            "    Next check-in: Mon 07 Dec 2026, 04:00 (America/New_York)") in out
    assert "with alice: active\n    Next check-in: Mon 07 Dec 2026, 10:00 (Europe/Berlin)" in out


async def test_status_shows_an_open_check_in(run: Script) -> None:
    out = await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice /mentor status")
    assert "Check-in 2026-12-07 is waiting for your answer." in out


async def test_status_before_joining_and_before_pairing(run: Script) -> None:
    out = await run(SETUP + "@zed /mentor status\n@alice /mentor status")
    assert "(only zed sees) You have not joined a program yet." in out
    assert "(only alice sees) Status for alice:\n  • Spring: mentee\n  • No pair yet. A coordinator will match you." in out


async def test_a_coordinators_status_says_what_they_coordinate_not_that_they_will_be_matched(run: Script) -> None:
    out = await run(SETUP + "@carol /mentor status\n@carol /mentor join mentor\n@carol /mentor status")
    assert ("(only carol sees) Status for carol:\n  • Spring: coordinator. /mentor pairs and /mentor report show "
            "how its pairs are doing.\n") in out
    first, second = out.split("carol: /mentor status")[1:]
    assert "A coordinator will match you" not in first
    # Once carol also joins as a mentor, she is told about her own (missing) pair.
    assert "  • Spring: coordinator. /mentor pairs and /mentor report show how its pairs are doing.\n  • Spring: mentor\n  • No pair yet. A coordinator will match you." in second


# --- pause and resume ----------------------------------------------------------------------------


async def test_paused_member_gets_no_nudges_and_is_resumed_and_told_at_the_date(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@alice /mentor pause until 2026-12-16")
    assert ("(only alice sees) Check-ins paused until Wed 16 Dec 2026, 00:00 (America/New_York). "
            "I'll resume them then, or use /mentor resume.") in out
    assert "alice has paused check-ins for a while." in seen_by(out, "bob")
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.PAUSED]
    out = await run("@alice /mentor status\nclock 2026-12-16T04:59Z")
    assert "Check-ins are paused until Wed 16 Dec 2026, 00:00 (America/New_York)." in out
    assert nudged_periods(out) == []
    out = await run("clock +1m")
    # Midnight in New York is 05:00 UTC.
    assert "[Wed 2026-12-16 05:00 UTC | alice Wed 00:00 America/New_York] to alice (direct message)" in out
    assert "Your pause has ended: check-ins resume from the next period. Welcome back!" in out
    assert "alice has resumed check-ins." in seen_by(out, "bob")
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE]
    out = await run("clock 2026-12-22T00:00Z")
    assert nudged_periods(out) == ["2026-12-21"]
    assert [c.period for c in await rows(bot, Checkin)] == ["2026-12-21"]


async def test_pause_without_date_lasts_until_resume(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@bob /mentor pause\nclock 2026-12-20T00:00Z")
    assert "(only bob sees) Check-ins paused. Use /mentor resume when you are back." in out
    assert nudged_periods(out) == []
    out = await run("@bob /mentor resume\n@bob /mentor resume")
    assert "(only bob sees) Welcome back! Check-ins resume from the next period." in out
    assert "(only bob sees) You are not paused, nothing to resume." in out
    assert "bob has resumed check-ins." in seen_by(out, "alice")
    assert nudged_periods(await run("clock 2026-12-22T00:00Z")) == ["2026-12-21"]


async def test_pause_during_an_open_period_stops_its_reminder(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    out = await run("@alice /mentor pause\nclock +6d")
    assert "gentle reminder" not in out


async def test_pair_stays_paused_until_both_members_are_back(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + "@alice /mentor pause\n@bob /mentor pause\n@alice /mentor resume")
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.PAUSED]
    await run("@bob /mentor resume")
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE]


async def test_pause_dates_are_checked(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @alice /mentor pause until someday
        @alice /mentor pause until 2026-11-01
        @alice /mentor pause until 2028-11-01
        @alice /mentor resume now
    """)
    assert '"someday" is not a date. Use YYYY-MM-DD' in out
    assert "2026-11-01 has already started. Pick a later date." in out
    assert "2028-11-01 is more than a year away." in out
    assert "/mentor resume takes no extra words." in out
    assert [m.paused for m in await rows(bot, Member, Member.external_id == "alice")] == [False]


# --- leaving -------------------------------------------------------------------------------------


async def test_leave_ends_the_pair_tells_the_partner_neutrally_and_asks_for_a_rematch(
    run: Script, bot: MentorBot
) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    out = await run("@bob /mentor leave")
    assert "(only bob sees) You have left Spring. Thank you for taking part!" in out
    alice = seen_by(out, "alice")
    assert "Your pairing in Spring has ended. A coordinator will be in touch about what comes next." in alice
    assert "left" not in alice
    # The open nudge no longer asks for an answer.
    assert "Check-in 2026-12-07: this pairing has ended, so no answer is needed." in alice
    post = posted_to(out, "#leads")
    assert "Why: Rematch request" in post
    assert "Details: bob left the program; alice needs a new match." in post
    [pair] = await rows(bot, Pair)
    assert pair.status == PairStatus.ENDED
    [esc] = await rows(bot, Escalation)
    assert esc.kind == EscalationKind.REMATCH
    assert not any(e.active for e in await rows(bot, Enrollment, Enrollment.member_id == await member_id(bot, "bob")))
    assert nudged_periods(await run("clock +14d")) == []
    out = await run("@carol /mentor people --unmatched")
    assert "alice: mentee, 0/1 pairs" in out and "bob" not in out.split("(only carol sees)")[1]


async def test_member_leaving_the_workspace_leaves_every_program(run: Script, bot: MentorBot) -> None:
    await run(PAIRED)
    await bot.handle(MemberLeft(Actor("console", "local", "alice", "alice"), "left-1"))
    out = await run("clock +1m")
    bob = seen_by(out, "bob")
    assert "Your pairing in Spring has ended. A coordinator will be in touch about what comes next." in bob
    assert "alice" not in bob.replace("to bob (direct message)", "")
    assert "Details: alice left the program; bob needs a new match." in posted_to(out, "#leads")
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ENDED]
    # The platform repeating the event changes nothing.
    await bot.handle(MemberLeft(Actor("console", "local", "alice", "alice"), "left-1"))
    assert len(await rows(bot, Escalation)) == 1


# --- peers ---------------------------------------------------------------------------------------


async def test_two_peers_can_be_paired_and_checked_in(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @zed /mentor join peer
        @zed /mentor profile --tz Europe/London --interests go,music
        @yan /mentor join peer
        @yan /mentor profile --tz Asia/Tokyo --interests go
        @carol /mentor pair @zed @yan
        @carol /mentor pair @bob @zed
    """)
    assert "(only carol sees) Paired #1: zed and yan." in out
    assert "Hello zed and yan! You have been matched as peers in Spring." in out
    assert "Shared interests: go" in out
    assert "(only carol sees) bob is a mentor and zed is a peer. Pair a mentor with a mentee, or two peers." in out
    # Tokyo's Monday 10:00 (01:00 UTC) comes before London's.
    out = await run("clock 2026-12-07T01:00Z\n@yan click We met\n@carol /mentor pairs")
    assert "[Mon 2026-12-07 01:00 UTC | zed Mon 01:00 Europe/London | yan Mon 10:00 Asia/Tokyo] to zed & yan" in out
    assert 'yan answered "met"' in out
    assert "#1 zed & yan (peers): active, met 1/1" in out
    [pair] = await rows(bot, Pair)
    assert pair.kind == "peer"
