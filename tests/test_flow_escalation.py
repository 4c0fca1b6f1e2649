"""Escalations end to end: every way one is raised, where it goes, the 48-hour reminder, and privacy:
the reporter is told, the coordinators see everything, the other member of the pair sees nothing."""

from __future__ import annotations

import re

from bot.core import MentorBot
from storage.models import Escalation, EscalationKind, EscalationStatus
from testkit.console import SETUP, Script
from tests.test_flow_checkin import FIRST_NUDGE, PAIRED, blocks, member_id, posted_to, rows, seen_by

OPEN_BUTTONS = "[1] Acknowledge  [2] Resolve"


def escalation_posts(out: str, where: str = "#leads") -> list[str]:
    """The escalation posts (not edits, reminders or digests) sent to one place."""
    return [text for who, text in blocks(out) if who == {where} and re.search(r"\] to .*\n  Escalation #", text)]


def assert_partner_sees_nothing_of(out: str, partner: str, *secrets: str) -> None:
    seen = seen_by(out, partner)
    for secret in secrets:
        assert secret not in seen, f"{partner} saw {secret!r}"
    assert "Escalation" not in seen
    assert "went privately to the coordinators" not in seen


# --- how an escalation is raised -----------------------------------------------------------------


async def test_problem_command_goes_privately_to_the_coordinators_channel(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    out = await run("@alice /mentor problem bob keeps cancelling at the last minute")
    assert ("(only alice sees) Thank you. Your report (#1) went privately to the coordinators; "
            "your partner is not told.") in out
    [post] = escalation_posts(out)
    assert "Escalation #1 in Spring: open, needs a coordinator" in post
    assert "Why: Problem report" in post
    assert "Pair: #1 bob (mentor) & alice (mentee)" in post
    assert "Raised by: alice" in post
    assert "Details: bob keeps cancelling at the last minute" in post
    assert "Last check-ins: 2026-12-07: waiting for an answer" in post
    assert OPEN_BUTTONS in post
    assert_partner_sees_nothing_of(out, "bob", "cancelling")
    [esc] = await rows(bot, Escalation)
    assert (esc.kind, esc.status, esc.reporter_id) == (EscalationKind.PROBLEM, EscalationStatus.OPEN,
                                                       await member_id(bot, "alice"))


async def test_problem_command_needs_text(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@alice /mentor problem")
    assert "(only alice sees) Tell me what happened: /mentor problem <what happened>." in out
    assert await rows(bot, Escalation) == []


async def test_report_a_problem_button_opens_a_private_form(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    out = await run("@bob click Report a problem")
    assert "(only bob sees) Opening a private form for your report." in out
    assert "(form for bob) Report a problem: text" in out
    out = await run('@bob submit text="alice never prepares anything"')
    assert "(only bob sees) Thank you. Your report (#1) went privately to the coordinators" in out
    [post] = escalation_posts(out)
    assert "Raised by: bob" in post and "Details: alice never prepares anything" in post
    assert_partner_sees_nothing_of(run.all, "alice", "prepares", "Report a problem: text")
    # The nudge is still open: reporting is not answering.
    assert "answered" not in out


async def test_report_form_requires_text(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click Report a problem")
    out = await run('@bob submit text=""')
    assert "(form for bob) text is required" in out
    assert await rows(bot, Escalation) == []


async def test_rematch_request_escalates_once(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@alice /mentor rematch our schedules never fit\n@alice /mentor rematch please")
    assert "(only alice sees) Your rematch request went privately to the coordinators; your partner is not told." in out
    assert "(only alice sees) You already asked for a rematch; a coordinator will follow up." in out
    [post] = escalation_posts(out)
    assert "Why: Rematch request" in post and "Details: our schedules never fit" in post
    assert [e.kind for e in await rows(bot, Escalation)] == [EscalationKind.REMATCH]
    assert_partner_sees_nothing_of(run.all, "bob", "schedules never fit", "rematch")


async def test_rating_of_two_or_less_escalates_and_its_note_follows(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We met")
    out = await run('@alice click 2\n@alice submit note="he was on his phone the whole time"')
    assert "(only alice sees) Thanks, recorded 2/5. A coordinator will reach out to you privately." in out
    [post] = escalation_posts(out)
    assert "Why: Low rating" in post
    assert "Details: alice rated the check-in of 2026-12-07 with bob 2/5." in post
    assert "Last check-ins: 2026-12-07: met (ratings 2)" in post
    assert "Note on escalation #1 from alice: he was on his phone the whole time" in posted_to(out, "#leads")
    assert_partner_sees_nothing_of(run.all, "bob", "on his phone", "2/5", "recorded 2")


async def test_rating_of_three_does_not_escalate(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We met")
    out = await run('@alice click 3\n@alice submit note="fine"')
    assert escalation_posts(out) == []
    assert await rows(bot, Escalation) == []


async def test_two_bad_periods_in_a_row_escalate_without_telling_the_pair(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice click We couldn't meet")
    assert escalation_posts(await run("clock 2026-12-21T08:59Z")) == []
    out = await run("clock +1m")
    # The second period (2026-12-14) closes unanswered at the moment the third is due.
    [post] = escalation_posts(out)
    assert post.startswith("[Mon 2026-12-21 09:00 UTC] to #leads")
    assert "Why: Pair stopped meeting" in post
    assert "Raised by: mentorbot (automatic)" in post
    assert "Details: The last 2 check-ins were missed or could not happen: 2026-12-07, 2026-12-14." in post
    assert "Last check-ins: 2026-12-14: missed (no answer)\n      2026-12-07: couldn't meet" in post
    for member in ("alice", "bob"):
        assert "Escalation" not in seen_by(run.all, member)
        assert "stopped meeting" not in seen_by(run.all, member)
    # Still not meeting the period after: the open escalation is not raised again.
    await run("clock 2026-12-29T00:00Z")
    assert [e.kind for e in await rows(bot, Escalation)] == [EscalationKind.NOT_MEETING]


async def test_a_met_period_in_between_resets_the_count(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice click We couldn't meet\nclock +7d\n@alice click We met")
    await run("@alice cancel\nclock 2026-12-28T12:00Z")
    # 2026-12-07 couldn't meet, 2026-12-14 met, 2026-12-21 missed: never two bad ones in a row.
    assert await rows(bot, Escalation) == []


async def test_rescheduled_does_not_count_as_not_meeting(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice click We rescheduled\nclock +7d\n@bob click We rescheduled")
    assert await rows(bot, Escalation) == []


async def test_threshold_is_configurable_per_program(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@carol /mentor program set --threshold 3")
    assert "escalate after 3 missed check-ins in a row" in out
    await run("clock 2026-12-21T09:00Z")
    assert await rows(bot, Escalation) == []  # two missed: not yet
    out = await run("clock 2026-12-28T09:00Z")
    [post] = escalation_posts(out)
    assert "The last 3 check-ins were missed or could not happen: 2026-12-07, 2026-12-14, 2026-12-21." in post


async def test_threshold_of_one_escalates_the_first_could_not_meet(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + f"@carol /mentor program set --threshold 1\nclock {FIRST_NUDGE}")
    out = await run("@bob click We couldn't meet")
    [post] = escalation_posts(out)
    assert "The last 1 check-ins were missed or could not happen: 2026-12-07." in post
    assert "Escalation" not in seen_by(out, "bob")


async def test_bad_threshold_is_refused(run: Script) -> None:
    out = await run(PAIRED + "@carol /mentor program set --threshold 0\n@carol /mentor program set --threshold x")
    assert out.count("is not a threshold. Use a number from 1 to 10.") == 2


async def test_escalation_post_shows_only_the_last_four_check_ins(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}")
    for _ in range(5):
        await run("@alice click We met\n@alice cancel\nclock +7d")
    out = await run("@alice /mentor problem something else")
    [post] = escalation_posts(out)
    history = post.split("Last check-ins: ", 1)[1]
    periods = re.findall(r"(2026-\d\d-\d\d|2027-\d\d-\d\d): ", history)
    # Six periods so far (the newest still open); the post shows the newest four.
    assert periods == ["2027-01-11", "2027-01-04", "2026-12-28", "2026-12-21"]
    assert "2027-01-11: waiting for an answer" in history


# --- working an escalation -----------------------------------------------------------------------


async def test_acknowledge_and_resolve_buttons_update_the_post(run: Script, bot: MentorBot) -> None:
    await run(PAIRED + "@alice /mentor problem rude")
    out = await run("@carol click Acknowledge")
    assert "(only carol sees) Escalation #1 acknowledged. Resolve it with /mentor resolve 1 <what was done>." in out
    assert "edited #leads" in out
    assert "Escalation #1 in Spring: acknowledged by carol at 2026-11-30 08:00 UTC" in out
    assert "  [1] Resolve" in out and "Acknowledge" not in out.split("edited #leads")[1]
    out = await run('@carol click Resolve\n@carol submit note="Talked to both; fine now."')
    assert "(form for carol) Resolve escalation #1: note" in out
    assert "(only carol sees) Escalation #1 resolved." in out
    assert "resolved by carol at 2026-11-30 08:00 UTC: Talked to both; fine now." in out
    [esc] = await rows(bot, Escalation)
    assert esc.status == EscalationStatus.RESOLVED and esc.resolution == "Talked to both; fine now."
    assert_partner_sees_nothing_of(run.all, "bob", "rude", "Talked to both")
    assert "Talked to both" not in seen_by(run.all, "alice")


async def test_unacknowledged_escalation_gets_one_reminder_after_48_hours(run: Script) -> None:
    await run(PAIRED + "@alice /mentor problem rude")
    assert "Reminder: escalation" not in await run("clock 2026-12-02T07:59Z")
    out = await run("clock 2026-12-10T00:00Z")
    reminders = [text for who, text in blocks(out) if who == {"#leads"} and "Reminder: escalation" in text]
    assert len(reminders) == 1
    assert reminders[0].startswith("[Wed 2026-12-02 08:00 UTC] to #leads")
    assert "Reminder: escalation #1 in Spring (Problem report) has waited 48 hours without being acknowledged." in reminders[0]
    assert "[1] Acknowledge" in reminders[0]
    # The reminder's button works like the post's.
    out = await run("@carol click Acknowledge")
    assert "Escalation #1 acknowledged." in out


def reminders_in(out: str, where: str = "#leads") -> list[str]:
    return [text for who, text in blocks(out) if who == {where} and "Reminder: escalation" in text]


async def test_the_reminder_offers_what_the_escalation_allows_and_follows_its_state(run: Script) -> None:
    await run(PAIRED + "@alice /mentor problem rude")
    [reminder] = reminders_in(await run("clock 2026-12-02T08:00Z"))
    assert OPEN_BUTTONS in reminder
    out = await run("@carol click Acknowledge")
    assert "Escalation #1 acknowledged." in out
    # Both the post and the reminder are edited: each now offers only Resolve.
    edits = [text for who, text in blocks(out) if who == {"#leads"} and "] edited #leads" in text]
    assert len(edits) == 2
    [edited_reminder] = [e for e in edits if "Reminder: escalation" in e]
    assert "Reminder: escalation #1 in Spring (Problem report) waited 48 hours. Now acknowledged by carol" in edited_reminder
    assert "  [1] Resolve" in edited_reminder and "Acknowledge" not in edited_reminder
    assert all("Acknowledge" not in e for e in edits)
    out = await run('@carol click Resolve\n@carol submit note="Talked to both."')
    assert "Escalation #1 resolved." in out
    [edited_reminder] = reminders_in(out)
    assert "Now resolved by carol" in edited_reminder and "[1]" not in edited_reminder


async def test_acknowledging_by_command_also_updates_the_reminder(run: Script) -> None:
    await run(PAIRED + "@alice /mentor problem rude\nclock 2026-12-02T08:00Z")
    out = await run("@carol /mentor ack 1")
    [edited_reminder] = reminders_in(out)
    assert "] edited #leads" in edited_reminder and "  [1] Resolve" in edited_reminder
    # An escalation acknowledged before its reminder was due never had one to edit.
    out = await run("@alice /mentor problem still rude\n@carol /mentor ack 2\nclock +3d")
    assert reminders_in(out) == []


async def test_acknowledged_escalation_gets_no_reminder(run: Script) -> None:
    out = await run(PAIRED + "@alice /mentor problem rude\nclock +1d\n@carol /mentor ack 1\nclock +7d")
    assert "Reminder: escalation" not in out


async def test_without_a_channel_coordinators_get_escalations_by_direct_message(run: Script) -> None:
    setup = SETUP.replace("@carol /mentor channel #leads\n", "")
    out = await run(setup + """
        @dan /mentor help
        @carol /mentor coordinators add @dan
        @carol /mentor pair @bob @alice
        @alice /mentor problem bob never shows up
    """)
    for coordinator in ("carol", "dan"):
        dms = [text for who, text in blocks(out) if who == {coordinator} and "(direct message)" in text]
        assert any("Escalation #1 in Spring: open" in dm and "Details: bob never shows up" in dm for dm in dms)
    assert "#leads" not in out
    assert "never shows up" not in seen_by(out, "bob")
    # A DM'd escalation is worked from the DM: dan acknowledges, both copies are updated.
    out = await run("@dan click Acknowledge")
    edits = [who for who, text in blocks(out) if "acknowledged by dan" in text]
    assert sorted(next(iter(w)) for w in edits) == ["carol", "dan"]


async def test_a_coordinator_in_the_pair_is_not_sent_their_partners_escalations(run: Script) -> None:
    setup = SETUP.replace("@carol /mentor channel #leads\n", "")
    await run(setup + f"""
        @carol /mentor coordinators add @bob
        @carol /mentor pair @bob @alice
        clock {FIRST_NUDGE}
        @bob click We met
        @alice click 1
        @alice submit note="he talked over me"
        @alice /mentor problem bob is condescending
        clock +3d
        @carol click Acknowledge
    """)
    carol = seen_by(run.all, "carol")
    assert "Details: bob is condescending" in carol
    assert "Note on escalation #1 from alice: he talked over me" in carol
    assert "Reminder: escalation #2" in carol
    assert "acknowledged by carol" in carol
    assert_partner_sees_nothing_of(run.all, "bob", "condescending", "talked over me", "1/5")


async def test_only_a_coordinator_can_acknowledge(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@alice /mentor problem rude\n@bob /mentor ack 1\n@alice /mentor resolve 1 done")
    assert "(only bob sees) Only coordinators of Spring can use /mentor ack." in out
    assert "(only alice sees) Only coordinators of Spring can use /mentor resolve." in out
    assert (await rows(bot, Escalation))[0].status == EscalationStatus.OPEN


async def test_coordinators_see_ratings_notes_and_reports_in_the_report(run: Script) -> None:
    await run(PAIRED + f"clock {FIRST_NUDGE}\n@bob click We met\n@alice click 1")
    out = await run('@alice submit note="bad vibes"\n@carol /mentor report\n@carol /mentor escalations')
    assert "Ratings: average 1.0 from 1 ratings, 1 at 2 or below" in out
    assert "#1 Low rating, open, pair #1" in out
    assert "Note on escalation #1 from alice: bad vibes" in posted_to(run.all, "#leads")
    assert_partner_sees_nothing_of(run.all, "bob", "bad vibes", "1/5", "Low rating")
