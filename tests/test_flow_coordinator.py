"""Coordinator commands end to end: programs, coordinators, the channel, pairing, the lists,
nudges, the report, the Monday digest, and the audit log behind every action."""

from __future__ import annotations

import re

from bot.core import MentorBot
from storage.models import AuditLog, Checkin, Enrollment, Pair, PairStatus, Program, Role
from testkit.console import SETUP, Script
from tests.test_flow_checkin import FIRST_NUDGE, PAIRED, blocks, member_id, posted_to, rows, seen_by


async def audit_actions(bot: MentorBot) -> list[tuple[str, str]]:
    return [(a.action, a.detail) for a in await rows(bot, AuditLog)]


def digests(out: str, where: str = "#leads") -> list[str]:
    return [text for who, text in blocks(out) if who == {where} and "Weekly digest for" in text]


# --- programs ------------------------------------------------------------------------------------


async def test_only_a_workspace_admin_creates_a_program(run: Script, bot: MentorBot) -> None:
    out = await run("@bob /mentor program create Bobs\nadmin carol\n@carol /mentor program create Spring --day tue")
    assert "(only bob sees) Only workspace admins can create programs." in out
    assert ("(only carol sees) Program Spring created: Every week on Tuesday at 10:00 local time (digest in UTC); "
            "escalate after 2 missed check-ins in a row. You are its coordinator.") in out
    [program] = await rows(bot, Program)
    assert program.name == "Spring"
    [enrollment] = await rows(bot, Enrollment)
    assert (enrollment.member_id, enrollment.role) == (await member_id(bot, "carol"), Role.COORDINATOR)


async def test_program_set_changes_the_schedule_and_list_shows_it(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @carol /mentor program set --cadence biweekly --day thu --time 17:30 --tz Europe/Paris --threshold 4
        @carol /mentor program set
        @carol /mentor program set --time 25:00
        @alice /mentor program list
    """)
    assert ("Program Spring updated: Every other week on Thursday at 17:30 local time (digest in Europe/Paris); "
            "escalate after 4 missed check-ins in a row.") in out
    assert "(only carol sees) Say what to change, e.g. /mentor program set --day tue --time 09:30." in out
    assert '(only carol sees) "25:00" is not a time. Use 24-hour HH:MM' in out
    # Anyone may list programs.
    assert "(only alice sees) Programs:\n  • Spring: Every other week on Thursday at 17:30" in out
    [program] = await rows(bot, Program)
    assert (program.cadence, program.weekday, program.local_time, program.tz, program.missed_threshold) == (
        "biweekly", 3, "17:30", "Europe/Paris", 4)


async def test_program_set_moves_the_next_nudge(run: Script) -> None:
    await run(PAIRED + "@carol /mentor program set --day wed --time 08:00")
    out = await run("clock 2026-12-17T00:00Z")
    # Wednesday 08:00 in Berlin is 07:00 UTC; Wed 2 Dec is too soon after pairing (two days' lead).
    assert re.findall(r"^\[([^|\]]+)\|[^\n]*\n  Check-in time", out, re.M) == ["Wed 2026-12-09 07:00 UTC ",
                                                                                "Wed 2026-12-16 07:00 UTC "]


async def test_commands_for_a_second_program_name_it(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @carol /mentor program create Fall --cadence monthly
        @carol /mentor pairs
        @carol /mentor pairs --program Fall
    """)
    assert "(only carol sees) You coordinate more than one program (Spring, Fall)." in out
    assert "(only carol sees) No pairs in Fall yet." in out


async def test_a_program_name_of_several_words_needs_no_quotes_after_program(run: Script) -> None:
    out = await run(SETUP + """
        @carol /mentor program create Monthly Alumni --cadence monthly
        @dave /mentor join mentee --program Monthly Alumni
        @erin /mentor join mentor Monthly Alumni
        @carol /mentor pair @erin @dave --program Monthly Alumni
        @carol /mentor people --program Monthly Alumni --unmatched
    """)
    assert "(only dave sees) Welcome to Monthly Alumni" in out
    assert "(only erin sees) Welcome to Monthly Alumni" in out
    assert "(only carol sees) Paired #1: erin and dave." in out
    assert "(only carol sees) Everyone in Monthly Alumni is matched" in out


# --- coordinators and channel --------------------------------------------------------------------


async def test_coordinators_add_list_and_remove(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @dan /mentor help
        @erin /mentor help
        @carol /mentor coordinators add @dan
        @carol /mentor coordinators add @dan
        @dan /mentor coordinators
        @dan /mentor coordinators remove @carol
        @dan /mentor coordinators remove @dan
        @carol /mentor coordinators remove @erin
    """)
    assert "(only carol sees) dan is now a coordinator of Spring." in out
    assert "(only carol sees) dan is already a coordinator of Spring." in out
    assert "(only dan sees) Coordinators of Spring: carol, dan" in out
    assert "(only dan sees) carol is no longer a coordinator of Spring." in out
    assert "(only dan sees) Spring needs at least one coordinator. Add another before removing this one." in out
    assert "(only carol sees) carol is not a coordinator of Spring" not in out
    # carol is a workspace admin: still allowed, though no longer listed.
    assert "(only carol sees) erin is not a coordinator of Spring." in out
    coordinators = await rows(bot, Enrollment, Enrollment.role == Role.COORDINATOR, Enrollment.active)
    assert [e.member_id for e in coordinators] == [await member_id(bot, "dan")]


async def test_a_new_coordinator_sees_the_channel_and_can_act(run: Script) -> None:
    out = await run(PAIRED + """
        @dan /mentor help
        @carol /mentor coordinators add @dan
        @alice /mentor problem bob never answers
        @dan click Acknowledge
    """)
    assert "(only dan sees) Escalation #1 acknowledged." in out


async def test_non_coordinators_are_refused_every_coordinator_command(run: Script, bot: MentorBot) -> None:
    commands = ["program set --day tue", "coordinators", "channel #x", "pair @bob @alice", "unpair 1 x", "pairs",
                "people", "escalations", "nudge all", "report"]
    out = await run(PAIRED + "\n".join(f"@bob /mentor {c}" for c in commands))
    for c in commands:
        word = "program set" if c.startswith("program") else c.split()[0]
        assert (f"(only bob sees) /mentor {word} is for program coordinators, and you are not one." in out), c
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE]
    carol = await member_id(bot, "carol")
    assert all(a.actor_id == carol for a in await rows(bot, AuditLog))


async def test_channel_receives_escalations_and_digests(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@carol /mentor channel #mentoring-leads\n@carol /mentor channel")
    assert "(only carol sees) Escalations and the weekly digest for Spring will be posted in #mentoring-leads." in out
    assert "(only carol sees) Name one channel: /mentor channel #mentoring-coordinators." in out
    out = await run("@alice /mentor problem late again\nclock 2026-11-30T09:00Z")
    assert "Escalation #1 in Spring" in posted_to(out, "#mentoring-leads")
    assert len(digests(out, "#mentoring-leads")) == 1
    assert posted_to(out, "#leads") == ""


# --- pairing -------------------------------------------------------------------------------------


async def test_pair_checks_roles_order_capacity_and_duplicates(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @dave /mentor join mentee
        @carol /mentor pair @alice @bob
        @carol /mentor pair @bob @bob
        @carol /mentor pair @bob @nobody
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
        @carol /mentor pair @bob
    """)
    assert "(only carol sees) Put the mentor first: /mentor pair @bob @alice." in out
    assert "(only carol sees) A person cannot be paired with themselves." in out
    assert "(only carol sees) I don't know nobody yet." in out
    assert "(only carol sees) Paired #1: bob and alice. I'm introducing them in a shared conversation now." in out
    assert "(only carol sees) They are already paired (#1)." in out
    assert "(only carol sees) bob already has 1 pair(s), their limit." in out
    assert "(only carol sees) Name two people: /mentor pair @mentor @mentee." in out
    assert len(await rows(bot, Pair)) == 1
    out = await run("@bob /mentor profile --capacity 2\n@carol /mentor pair @bob @dave")
    assert "(only carol sees) Paired #2: bob and dave." in out


async def test_pair_refuses_someone_who_has_not_joined(run: Script) -> None:
    out = await run(SETUP + "@zed /mentor help\n@carol /mentor pair @bob @zed")
    assert "(only carol sees) zed has not joined Spring." in out


async def test_people_with_any_unicode_name_can_be_paired_in_the_console(run: Script) -> None:
    out = await run(SETUP + """
        @jürgen /mentor join mentor
        @zoë /mentor join mentee
        @carol /mentor pair @jürgen @zoë
    """)
    assert "(only carol sees) Paired #1" in out
    assert "Hello jürgen and zoë!" in out


async def test_unpair_tells_both_without_the_reason(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    out = await run("@carol /mentor unpair 1 alice complained about his tone\n@carol /mentor unpair 1 again")
    assert "(only carol sees) Pair #1 has ended. Both members were told, without the reason." in out
    for member in ("bob", "alice"):
        seen = seen_by(out, member)
        assert "Your pairing in Spring has ended. A coordinator will be in touch about what comes next." in seen
        assert "complained" not in seen_by(run.all, member)
    assert "Check-in 2026-12-07: this pairing has ended, so no answer is needed." in out
    [pair] = await rows(bot, Pair)
    assert (pair.status, pair.end_reason) == (PairStatus.ENDED, "alice complained about his tone")
    assert "(only carol sees) Pair #1 has already ended" in out.split("unpair 1 again")[1]
    assert re.findall(r"Have you met this period", await run("clock +14d")) == []


async def test_unpair_needs_a_reason(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@carol /mentor unpair 1")
    assert "(only carol sees) Usage: /mentor unpair <pair> <reason>" in out
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE]


# --- lists ---------------------------------------------------------------------------------------


async def test_pairs_lists_the_record_and_flags_pairs_at_risk(run: Script) -> None:
    await run(SETUP + """
        @bob /mentor profile --capacity 2
        @dave /mentor join mentee
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
    """)
    await run(f"clock {FIRST_NUDGE}")
    await run("@alice click We met\n@alice click 4\n@alice cancel\n@dave click We couldn't meet")
    out = await run("@carol /mentor pairs\n@carol /mentor pairs --at-risk")
    assert "#1 bob (mentor) & alice (mentee): active, met 1/1, avg rating 4.0, last met (2026-12-07) -- on track\n" in out
    assert ("#2 bob (mentor) & dave (mentee): active, met 0/1, avg rating -, last couldn't meet (2026-12-07)"
            " -- AT RISK: last check-in couldn't meet") in out
    at_risk = out.split("pairs --at-risk")[1]
    assert "Pairs in Spring (1):" in at_risk and "#2 bob" in at_risk and "#1 bob" not in at_risk


async def test_pairs_all_includes_ended_pairs(run: Script) -> None:
    out = await run(PAIRED + "@carol /mentor unpair 1 moved\n@carol /mentor pairs\n@carol /mentor pairs --all")
    assert "(only carol sees) No active or paused pairs in Spring; /mentor pairs --all also shows ended ones." in out
    assert "#1 bob (mentor) & alice (mentee): ended, met 0/0" in out


async def test_low_rating_and_open_escalation_put_a_pair_at_risk(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We met\n@alice click 2\n@alice cancel")
    out = await run("@carol /mentor pairs --at-risk")
    assert "AT RISK: last rating 2/5; open escalation" in out


async def test_people_lists_roles_pairs_and_who_is_unmatched(run: Script) -> None:
    out = await run(PAIRED + """
        @dave /mentor join mentee
        @dave /mentor pause
        @carol /mentor people
        @carol /mentor people --unmatched
    """)
    people, unmatched = out.split("people --unmatched")
    assert "People in Spring (3):" in people
    assert "• alice: mentee, 1/1 pairs, America/New_York" in people
    assert "• dave: mentee, 0/1 pairs, UTC, paused" in people
    assert "• bob: mentor, 1/1 pairs, Europe/Berlin" in people
    assert "People in Spring with room for a pair (1):\n  • dave: mentee, 0/1 pairs, UTC, paused" in unmatched


async def test_escalations_ack_and_resolve_by_command(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @alice /mentor problem one
        @bob /mentor problem two
        @carol /mentor ack 1
        @carol /mentor ack 1
        @carol /mentor resolve 2 spoke to bob
        @carol /mentor resolve 2 again
        @carol /mentor resolve 1
        @carol /mentor ack 9
        @carol /mentor escalations
        @carol /mentor escalations --all
    """)
    assert "(only carol sees) Escalation #1 acknowledged." in out
    assert "(only carol sees) Escalation #1 is already acknowledged." in out
    assert "(only carol sees) Escalation #2 resolved." in out
    assert "(only carol sees) Escalation #2 is already resolved." in out
    assert "(only carol sees) Usage: /mentor resolve <id> <note>" in out
    assert "(only carol sees) There is no escalation #9." in out
    open_list, all_list = out.split("escalations --all")
    assert "Escalations in Spring (1):\n  #1 Problem report, acknowledged, pair #1, opened 2026-11-30: one" in open_list
    assert "#2 Problem report, resolved, pair #1, opened 2026-11-30: two" in all_list
    assert "Escalations in Spring (2):" in all_list
    # Resolving straight from open (escalation #2) records who acknowledged it too.
    assert "resolved by carol at 2026-11-30 08:00 UTC: spoke to bob" in posted_to(out, "#leads")


async def test_escalations_when_there_are_none(run: Script) -> None:
    assert "(only carol sees) No open escalations in Spring." in await run(PAIRED + "@carol /mentor escalations")


# --- nudges --------------------------------------------------------------------------------------


async def test_nudge_a_pair_repeats_the_open_question(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\nclock +1h")
    out = await run("@carol /mentor nudge 1")
    assert "(only carol sees) Nudged 1 pair(s); 0 skipped (paused, ended, or already answered)." in out
    assert "Have you met this period (2026-12-07)" in seen_by(out, "alice")
    out = await run("@alice click We met")
    assert 'alice answered "met"' in out


async def test_nudge_before_the_first_period_opens_it_early(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "clock 2026-12-03T12:00Z\n@carol /mentor nudge 1")
    assert "[Thu 2026-12-03 12:00 UTC | bob Thu 13:00 Europe/Berlin | alice Thu 07:00 America/New_York] to bob & alice" in out
    assert "Have you met this period (2026-12-07)" in out
    # The scheduled nudge for that period does not come a second time.
    out = await run("clock 2026-12-08T00:00Z")
    assert "Check-in time" not in out
    assert [c.period for c in await rows(bot, Checkin)] == ["2026-12-07"]


async def test_nudge_all_skips_paused_and_answered_pairs(run: Script) -> None:
    await run(SETUP + """
        @bob /mentor profile --capacity 3
        @dave /mentor join mentee
        @erin /mentor join mentee
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
        @carol /mentor pair @bob @erin
        @erin /mentor pause
    """)
    await run(f"clock {FIRST_NUDGE}\n@dave click We met\n@dave cancel")
    out = await run("@carol /mentor nudge all\n@carol /mentor nudge 3")
    # Pair 1 is asked again; pair 2 already answered this period, but its next one opens early.
    assert "(only carol sees) Nudged 2 pair(s); 0 skipped" in out
    assert "Have you met this period (2026-12-07)" in seen_by(out, "alice")
    assert "Have you met this period (2026-12-14)" in seen_by(out, "dave")
    assert "(only carol sees) Pair #3 is paused, so it gets no nudges." in out
    assert "Check-in time" not in seen_by(out, "erin")


async def test_nudge_needs_a_pair_or_all(run: Script) -> None:
    out = await run(PAIRED + "@carol /mentor nudge\n@carol /mentor nudge 7\n@carol /mentor nudge x")
    assert "(only carol sees) Usage: /mentor nudge <pair> or /mentor nudge all." in out
    assert "(only carol sees) There is no pair #7 in Spring." in out
    assert '(only carol sees) "x" is not a pair number.' in out


# --- report and digest ---------------------------------------------------------------------------


async def test_report_shows_the_program_at_a_glance(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We met\n@alice click 5\n@alice cancel\n@bob click 3")
    await run("@bob cancel\nclock 2026-12-21T09:00Z\n@alice /mentor problem meh")
    out = await run("@carol /mentor report")
    assert "(only carol sees) Report for Spring, 2026-12-21 09:00 UTC" in out
    assert "People: 1 mentors, 1 mentees, 0 peers" in out
    assert "Pairs: 1 active, 0 paused, 0 ended" in out
    assert "Check-ins: 2 closed: 1 met, 0 rescheduled, 0 couldn't meet, 1 missed (50% met)" in out
    assert "Ratings: average 4.0 from 2 ratings, 0 at 2 or below" in out
    assert "Escalations: 1 open, 0 acknowledged, 0 resolved" in out
    assert "Messages that could not be delivered: 0" in out
    assert "#1 bob (mentor) & alice (mentee): active, met 1/2, avg rating 4.0, last missed (no answer) (2026-12-14)" in out


async def test_weekly_digest_goes_out_monday_9_in_the_program_time_zone(run: Script) -> None:
    out = await run(SETUP.replace("program create Spring", "program create Spring --tz America/New_York") + """
        @bob /mentor profile --capacity 2
        @dave /mentor join mentee
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
        clock 2026-12-07T09:00Z
        @alice click We met
        @alice click 4
        @alice cancel
        @bob click 2
        @bob cancel
        clock 2026-12-14T13:59Z
    """)
    # 09:00 in New York is 14:00 UTC; the first one is the day the program started.
    assert [d.split("]")[0] for d in digests(out)] == ["[Mon 2026-11-30 14:00 UTC", "[Mon 2026-12-07 14:00 UTC"]
    out = await run("clock +1m")
    [digest] = digests(out)
    assert digest.startswith("[Mon 2026-12-14 14:00 UTC] to #leads")
    assert "Weekly digest for Spring (week from 2026-12-07)" in digest
    assert "Active pairs: 2" in digest
    # Pair 1 met and rated 4 and 2; pair 2's check-in went unanswered.
    assert "Check-ins met last week: 1 of 2" in digest
    assert "Average rating last week: 3.0" in digest
    assert "Open escalations: 1" in digest
    assert "At-risk pairs: #1, #2" in digest
    assert len(digests(await run("clock 2026-12-21T13:59Z"))) == 0


async def test_digest_without_a_channel_goes_to_each_coordinator(run: Script) -> None:
    setup = SETUP.replace("@carol /mentor channel #leads\n", "")
    out = await run(setup + "@dan /mentor help\n@carol /mentor coordinators add @dan\nclock 2026-11-30T09:00Z")
    assert len(digests(out, "carol")) == 1 and len(digests(out, "dan")) == 1
    assert digests(out, "alice") == []


# --- audit log -----------------------------------------------------------------------------------


async def test_every_coordinator_action_lands_in_the_audit_log(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + """
        @carol /mentor program set --threshold 3
        @dan /mentor help
        @carol /mentor coordinators add @dan
        @dan /mentor coordinators remove @carol
        @dan /mentor nudge 1
        @alice /mentor problem rude
        @dan click Acknowledge
        @dan click Resolve
        @dan submit note="sorted"
        @alice /mentor problem again
        @dan /mentor ack 2
        @dan /mentor resolve 2 sorted too
        @dan /mentor unpair 1 moved on
    """)
    actions = await audit_actions(bot)
    assert actions == [
        ("program.create", "Spring"),
        ("channel.set", "#leads"),
        ("pair", "#1 bob & alice"),
        ("program.set", "threshold=3"),
        ("coordinators.add", "dan"),
        ("coordinators.remove", "carol"),
        ("nudge", "1"),
        ("escalation.ack", "#1"),
        ("escalation.resolve", "#1: sorted"),
        ("escalation.ack", "#2"),
        ("escalation.resolve", "#2: sorted too"),
        ("unpair", "#1: moved on"),
    ]
    logs = await rows(bot, AuditLog)
    carol, dan = await member_id(bot, "carol"), await member_id(bot, "dan")
    assert [a.actor_id for a in logs] == [carol] * 5 + [dan] * 7
    assert all(a.program_id == logs[0].program_id for a in logs)


async def test_refused_and_read_only_commands_leave_no_audit_entry(run: Script, bot: MentorBot) -> None:
    await run(PAIRED)
    before = await audit_actions(bot)
    await run("""
        @bob /mentor unpair 1 nope
        @carol /mentor pairs
        @carol /mentor people
        @carol /mentor report
        @carol /mentor program set --day funday
    """)
    assert await audit_actions(bot) == before


async def test_a_pair_nudged_in_the_last_12_hours_is_not_nudged_again(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + f"clock {FIRST_NUDGE}\n@carol /mentor nudge 1\n@carol /mentor nudge 1\nclock +11h\n"
                    "@carol /mentor nudge #1")
    assert out.count("Nudged 1 pair(s)") == 1
    assert out.count("(only carol sees) Pair #1 was already nudged at Mon 07 Dec 2026, 09:00 (UTC), less than 12 "
                     "hours ago, so I posted nothing. You can nudge it again from Mon 07 Dec 2026, 21:00 (UTC).") == 2
    assert out.count("Check-in time, bob and alice!") == 2  # the scheduled nudge and one by hand
    # Twelve hours on, a second nudge by hand goes out (each is numbered, so none is swallowed).
    out = await run("clock 2026-12-07T21:00Z\n@carol /mentor nudge 1")
    assert "Nudged 1 pair(s)" in out and out.count("Check-in time, bob and alice!") == 1
    assert [d for a, d in await audit_actions(bot) if a == "nudge"] == ["1", "1"]


async def test_nudge_all_skips_pairs_nudged_in_the_last_12_hours_and_says_how_many(run: Script) -> None:
    await run(SETUP + """
        @erin /mentor join mentor
        @dave /mentor join mentee
        @carol /mentor pair @bob @alice
        @carol /mentor pair @erin @dave
        clock 2026-12-07T09:00Z
        @carol /mentor nudge 1
        clock +1h
    """)
    out = await run("@carol /mentor nudge all")
    assert ("(only carol sees) Nudged 1 pair(s); 0 skipped (paused, ended, or already answered); 1 skipped "
            "because they were nudged in the last 12 hours.") in out
    assert "Check-in time" in seen_by(out, "dave") and "Check-in time" not in seen_by(out, "alice")
    out = await run("@carol /mentor nudge all")
    assert "Nudged 0 pair(s); 0 skipped (paused, ended, or already answered); 2 skipped because" in out
    assert "Check-in time" not in out


async def test_status_says_when_the_next_check_in_is_already_logged(run: Script) -> None:
    out = await run(PAIRED + "@alice /mentor checkin\n@alice /mentor status")
    assert "Next check-in: Mon 07 Dec 2026, 04:00 (America/New_York), already logged as met." in out
