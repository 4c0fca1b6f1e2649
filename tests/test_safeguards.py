"""Safeguarding in pairing (bot/safeguards.py): never again after a pairing that went wrong unless a
coordinator forces it, paused people start paused pairs, and a coordinator in a pair never sees the
private side of it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from adapters.console import PLATFORM, WORKSPACE
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.home import home_messages
from storage.models import AuditLog, Checkin, CheckinStatus, Escalation, Pair, PairEndCause, PairStatus
from testkit.console import SETUP, Script
from tests.old_schema import upgraded
from tests.test_flow_checkin import FIRST_NUDGE, PAIRED, blocks, posted_to, rows, seen_by

# --- never again ---------------------------------------------------------------------------------

REFUSAL = ("(only carol sees) bob and alice were paired before (#1), which ended 2026-11-30 after {cause}; "
           "I won't pair them again. If it is right anyway: /mentor pair @bob @alice --force \"reason\" (audited).")


async def test_after_an_unpair_the_same_two_are_not_paired_again(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@carol /mentor unpair 1 schedules never matched\n@carol /mentor pair @bob @alice")
    assert REFUSAL.format(cause="a coordinator's unpair") in out
    assert [p.id for p in await rows(bot, Pair)] == [1]
    [pair] = await rows(bot, Pair)
    assert pair.end_cause == PairEndCause.UNPAIR


async def test_force_with_a_reason_pairs_them_and_is_audited(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @carol /mentor unpair 1 schedules never matched
        @carol /mentor pair @bob @alice --force "both asked to try again"
    """)
    assert ("(only carol sees) Paired #2: bob and alice. I'm introducing them in a shared conversation now.\n"
            "  Paired despite their earlier pair #1; your --force reason is in the audit log.") in out
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ENDED, PairStatus.ACTIVE]
    forced = [a.detail for a in await rows(bot, AuditLog) if a.action == "pair.force"]
    assert forced == ["#2 bob & alice overriding never_again after #1 (unpair): both asked to try again"]


async def test_force_reason_may_be_unquoted_but_not_empty(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @carol /mentor unpair 1 moved
        @carol /mentor pair @bob @alice --force ""
        @carol /mentor pair @bob @alice --force they both asked
    """)
    assert '(only carol sees) --force needs a reason, e.g. --force "both asked to try again".' in out
    forced = [a.detail for a in await rows(bot, AuditLog) if a.action == "pair.force"]
    assert forced == ["#2 bob & alice overriding never_again after #1 (unpair): they both asked"]


async def test_the_gravest_cause_on_record_is_the_one_remembered(run: Script, bot: MentorBot) -> None:
    await run(SETUP + """
        @bob /mentor profile --capacity 3
        @dave /mentor join mentee
        @erin /mentor join mentee
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
        @carol /mentor pair @bob @erin
        @alice /mentor problem he is rude
        @dave /mentor rematch no chemistry
    """)
    await run(f"clock {FIRST_NUDGE}\n@erin click We met\n@erin click 1\n@erin cancel")
    out = await run("""
        @carol /mentor unpair 1 report
        @carol /mentor unpair 2 rematch
        @carol /mentor unpair 3 rating
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
        @carol /mentor pair @bob @erin
    """)
    assert [p.end_cause for p in await rows(bot, Pair)] == [
        PairEndCause.PROBLEM, PairEndCause.REMATCH, PairEndCause.LOW_RATING]
    assert "ended 2026-12-07 after a problem report" in out
    assert "ended 2026-12-07 after a rematch request" in out
    assert "ended 2026-12-07 after a rating of 2 or less" in out


async def test_leaving_is_not_a_pairing_that_went_wrong(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @alice /mentor leave
        @alice /mentor join mentee
        @carol /mentor pair @bob @alice
    """)
    assert "(only carol sees) Paired #2: bob and alice." in out
    assert [p.end_cause for p in await rows(bot, Pair)] == [PairEndCause.LEFT, None]


async def test_leaving_after_a_report_still_bars_the_pair(run: Script) -> None:
    out = await run(PAIRED + """
        @alice /mentor problem he is rude
        @alice /mentor leave
        @alice /mentor join mentee
        @carol /mentor pair @bob @alice
    """)
    assert "which ended 2026-11-30 after a problem report" in out


# --- paused people -------------------------------------------------------------------------------


async def test_a_paused_person_is_paired_with_a_warning_and_the_pair_starts_paused(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + "@alice /mentor pause until 2026-12-20\n@carol /mentor pair @bob @alice")
    assert ("(only carol sees) Paired #1: bob and alice. I'm introducing them in a shared conversation now.\n"
            "  Warning: alice has paused check-ins until Sun 20 Dec 2026, 05:00 (UTC), so pair #1 starts paused: "
            "no check-ins until everyone in it is back.") in out
    assert "First check-in for bob: when alice is back from a pause" in seen_by(out, "bob")
    [pair] = await rows(bot, Pair)
    assert pair.status == PairStatus.PAUSED
    # No check-in while paused; the pause ends on its own and check-ins start from the next period.
    assert "Check-in time" not in await run("clock 2026-12-19T00:00Z")
    out = await run("clock 2026-12-21T09:00Z")
    assert "Check-in time, bob and alice! Have you met this period (2026-12-21)" in out
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE]


async def test_a_paused_pairs_period_is_not_missed_and_never_escalates(run: Script, bot: MentorBot) -> None:
    # Threshold 2. Period 12-07 is missed while active; bob pauses during 12-14 and resumes after it
    # closed; 12-28 is missed again. Only one period since the resume was missed: no escalation.
    await run(PAIRED + f"clock {FIRST_NUDGE}\nclock 2026-12-14T09:01Z\n@bob /mentor pause")
    out = await run("clock 2026-12-21T09:01Z")
    assert "Check-in 2026-12-14: check-ins were paused, so nothing is recorded for this period." in out
    assert "recorded as missed" not in out
    await run("@bob /mentor resume\nclock 2026-12-28T09:01Z\nclock 2027-01-04T09:01Z")
    checkins = {c.period: c.status for c in await rows(bot, Checkin)}
    assert checkins["2026-12-07"] == CheckinStatus.MISSED and "2026-12-14" not in checkins
    # 12-21 was due before the resume, so it was never asked; 12-28 is the first missed active period.
    assert "2026-12-21" not in checkins
    assert checkins["2026-12-28"] == CheckinStatus.MISSED
    assert [e.kind for e in await rows(bot, Escalation)] == []


# --- the migration that added the end cause ------------------------------------------------------

_OLD_ROWS = """
INSERT INTO workspace (id, platform, external_id, name) VALUES (1, 'console', 'w', '');
INSERT INTO member (id, workspace_id, external_id, display_name, interests, goals, is_admin, paused, created_at)
  VALUES (1, 1, 'carol', 'carol', '', '', true, false, '2026-11-30 08:00:00'),
         (2, 1, 'bob', 'bob', '', '', false, false, '2026-11-30 08:00:00'),
         (3, 1, 'alice', 'alice', '', '', false, false, '2026-11-30 08:00:00');
INSERT INTO program (id, workspace_id, name, cadence, weekday, local_time, tz, missed_threshold, archived, created_at)
  VALUES (1, 1, 'Spring', 'weekly', 0, '10:00', 'UTC', 2, false, '2026-11-30 08:00:00');
INSERT INTO pair (id, program_id, member_a_id, member_b_id, kind, status, created_at, active_since, ended_at)
  VALUES (1, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (2, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (3, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (4, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (5, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (6, 1, 2, 3, 'mentorship', 'active', '2026-11-30 08:00:00', '2026-11-30 08:00:00', NULL),
         (11, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00');
INSERT INTO escalation (id, program_id, pair_id, reporter_id, kind, reason, status, opened_at, resolution)
  VALUES (1, 1, 1, 3, 'problem', 'rude', 'open', '2026-11-30 09:00:00', ''),
         (2, 1, 3, 3, 'rematch', 'no fit', 'open', '2026-11-30 09:00:00', ''),
         (3, 1, 5, NULL, 'rematch', 'alice left', 'open', '2026-11-30 09:00:00', ''),
         (4, 1, 6, 3, 'problem', 'live pair', 'open', '2026-11-30 09:00:00', '');
INSERT INTO checkin (id, pair_id, period, due_at, closes_at, status)
  VALUES (1, 2, '2026-11-30', '2026-11-30 10:00:00', '2026-12-07 10:00:00', 'met');
INSERT INTO feedback (id, checkin_id, member_id, rating, note, created_at)
  VALUES (1, 1, 3, 2, '', '2026-11-30 11:00:00');
INSERT INTO auditlog (workspace_id, program_id, actor_id, action, detail, at)
  VALUES (1, 1, 1, 'unpair', '#4: moved', '2026-12-01 08:00:00'),
         (1, 1, 1, 'unpair', '#1: rude', '2026-12-01 08:00:00');
"""


async def test_the_migration_fills_the_end_cause_of_pairs_that_already_ended(
    tmp_path: Path, pg_ready: str | None,
) -> None:
    async with upgraded(tmp_path, pg_ready, "0002", _OLD_ROWS) as engines:
        for engine in engines:
            async with engine.connect() as conn:
                causes = dict((await conn.execute(text("SELECT id, end_cause FROM pair ORDER BY id"))).all())
            # 1: report then unpair; 2: low rating; 3: a member's rematch; 4: unpair in the audit log;
            # 5: the rematch raised when someone leaves is not a complaint; 6 is live; 11 is not #1.
            assert causes == {1: "problem", 2: "low_rating", 3: "rematch", 4: "unpair", 5: "left", 6: None,
                              11: "left"}, engine.url


# --- a coordinator in a pair ---------------------------------------------------------------------

# bob mentors alice and is made a coordinator of Spring too (carol, an admin, runs it with #leads).
# alice rates their first check-in 1/5 with a note and reports a problem.
COORDINATOR_IN_PAIR = PAIRED + f"""
@carol /mentor coordinators add @bob
clock {FIRST_NUDGE}
@alice click We met
@alice click 1
@alice submit note="he talked over me"
@alice /mentor problem bob is condescending
"""
SECRETS = ("1/5", "talked over me", "condescending", "Low rating", "Problem report", "Escalation #")


def assert_bob_sees_none_of_it(transcript: str, secrets: tuple[str, ...] = SECRETS) -> None:
    seen = seen_by(transcript, "bob")
    for secret in secrets:
        assert secret not in seen, f"bob saw {secret!r}"


async def test_escalations_about_a_coordinators_own_pair_skip_the_channel_and_go_to_the_others(
    run: Script, bot: MentorBot,
) -> None:
    out = await run(COORDINATOR_IN_PAIR)
    # The reproduction: the low rating must not reach bob, through #leads or anywhere else.
    assert "alice rated the check-in of 2026-12-07 with bob 1/5" not in posted_to(out, "#leads")
    assert "Escalation #" not in posted_to(out, "#leads")
    assert "talked over me" not in posted_to(out, "#leads") and "condescending" not in posted_to(out, "#leads")
    carol = seen_by(out, "carol")
    assert "carol (direct message)" in out
    assert "Details: alice rated the check-in of 2026-12-07 with bob 1/5." in carol
    assert "Note on escalation #1 from alice: he talked over me" in carol
    assert "Details: bob is condescending" in carol
    # The 48-hour reminder and the acknowledgement edit follow the same route.
    out = await run("clock +3d\n@carol /mentor ack 2")
    assert "Reminder: escalation #1" in seen_by(out, "carol") and "#leads" not in out
    assert_bob_sees_none_of_it(run.all)


async def test_a_coordinator_cannot_see_or_work_escalations_about_their_own_pair(run: Script, bot: MentorBot) -> None:
    out = await run(COORDINATOR_IN_PAIR + """
        @bob /mentor escalations --all
        @bob /mentor ack 1
        @bob /mentor resolve 2 sorted it out
    """)
    assert ("(only bob sees) Not listed: 2 escalation(s) about your own pair. Another coordinator handles them."
            in out)
    assert ("(only bob sees) Escalation #1 is about your own pair, so you cannot /mentor ack it; another "
            "coordinator of Spring handles it.") in out
    assert "Escalation #2 is about your own pair, so you cannot /mentor resolve it" in out
    assert [e.status for e in await rows(bot, Escalation)] == ["open", "open"]
    # The refusals name the ids bob typed, and nothing of what is in them.
    assert_bob_sees_none_of_it(run.all, tuple(x for x in SECRETS if x != "Escalation #"))
    # carol lists and works them as usual.
    out = await run("@carol /mentor escalations\n@carol /mentor ack 1")
    assert "#1 Low rating, open, pair #1" in out and "Escalation #1 acknowledged." in out


async def test_a_coordinators_report_pairs_and_digest_leave_their_own_pair_out(run: Script) -> None:
    await run(COORDINATOR_IN_PAIR.replace("@carol /mentor coordinators add @bob\n", """
        @carol /mentor coordinators add @bob
        @dave /mentor join mentee
        @erin /mentor join mentor
        @carol /mentor pair @erin @dave
    """))
    out = await run("@bob /mentor report\n@bob /mentor pairs\n@bob /mentor pairs --at-risk")
    assert "Ratings: average - from 0 ratings, 0 at 2 or below" in out
    assert "Escalations: 0 open, 0 acknowledged, 0 resolved" in out
    assert "Left out: your own pair(s) #1: another coordinator follows them" in out
    assert "#2 erin (mentor) & dave (mentee)" in out
    assert "#1 bob" not in out
    assert ("  #2 erin (mentor) & dave (mentee): active, met 0/0, avg rating -, no check-ins yet -- too early to tell\n"
            "  Not listed: your own pair(s) #1. Another coordinator follows them.") in out
    assert ("(only bob sees) No pair in Spring is at risk right now.\n"
            "  Not listed: your own pair(s) #1. Another coordinator follows them.") in out
    # carol's report has everything.
    out = await run("@carol /mentor report")
    assert "Ratings: average 1.0 from 1 ratings, 1 at 2 or below" in out and "Left out" not in out
    # The digest in #leads (which bob can read) leaves pair #1 out; carol has its escalations by DM.
    out = await run("clock 2026-12-14T09:00Z")
    [digest] = [text for who, text in blocks(out) if who == {"#leads"} and "Weekly digest" in text]
    assert "Average rating last week: -" in digest and "Open escalations: 0" in digest
    assert "At-risk pairs: -" in digest
    assert "Left out: pair(s) #1, which have a coordinator in them" in digest
    assert_bob_sees_none_of_it(run.all)


async def test_without_a_channel_each_coordinators_digest_leaves_their_own_pair_out(run: Script) -> None:
    await run(COORDINATOR_IN_PAIR.replace("@carol /mentor channel #leads\n", ""))
    out = await run("clock 2026-12-14T09:00Z")
    [bobs] = [text for who, text in blocks(out) if who == {"bob"} and "Weekly digest" in text]
    [carols] = [text for who, text in blocks(out) if who == {"carol"} and "Weekly digest" in text]
    assert "Average rating last week: -" in bobs and "Left out: pair(s) #1" in bobs
    assert "Average rating last week: 1.0" in carols and "Left out" not in carols
    assert_bob_sees_none_of_it(run.all)


async def test_a_coordinators_home_page_leaves_out_escalations_about_their_own_pair(
    run: Script, bot: MentorBot, clock: ManualClock,
) -> None:
    await run(COORDINATOR_IN_PAIR)
    bob = "\n".join(m.text + str(m.fields) for m in await home_messages(bot.rt, clock.now(), PLATFORM, WORKSPACE, "bob"))
    carol = "\n".join(m.text + str(m.fields) for m in await home_messages(bot.rt, clock.now(), PLATFORM, WORKSPACE,
                                                                          "carol"))
    assert "Low rating" in carol and "Problem report" in carol
    assert "Low rating" not in bob and "Problem report" not in bob and "('Open escalations', '0')" in bob


async def test_a_lone_coordinator_in_a_pair_hands_its_escalations_to_the_admins(run: Script) -> None:
    # erin alone coordinates Autumn and mentors dave there; carol is a workspace admin.
    out = await run(SETUP + """
        @carol /mentor program create Autumn
        @carol /mentor coordinators add @erin --program Autumn
        @carol /mentor coordinators remove @carol --program Autumn
        @erin /mentor join mentor Autumn
        @dave /mentor join mentee Autumn
        @erin /mentor pair @erin @dave --program Autumn
        @dave /mentor problem erin keeps cancelling
    """)
    assert "Details: erin keeps cancelling" in seen_by(out, "carol")
    assert "keeps cancelling" not in seen_by(out, "erin")
