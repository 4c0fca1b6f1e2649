"""Relationship health end to end on the console: the fit check after the first meeting, the pulse survey
on the injected clock, every pair's health state in /mentor pairs and in the digest, and who sees what."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import safeguards
from bot.core import MentorBot
from bot.flows import health
from bot.messages import Button
from storage.models import Escalation, EscalationKind, FitCheck, Member, Program, Pulse
from testkit.console import SETUP, Script
from tests.test_flow_checkin import FIRST_NUDGE, PAIRED, member_id, press, rows, seen_by


def fit_buttons(run: Script, user: str) -> dict[str, Button]:
    """The fit check's buttons in `user`'s DM (the rating request, sent after it, is the newest question)."""
    posted = [p for p in run.console.posted if p.audience == (user,)
              and any(b.action_id == "health.fit" for b in p.message.buttons)]
    return {b.label: b for b in posted[-1].message.buttons}


async def test_fit_check_after_the_first_meeting_only_and_no_escalates_privately(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + f"clock {FIRST_NUDGE}\n@alice click We met")
    assert "(direct message)" in out and "Is this a good match for you?" in seen_by(out, "alice")
    assert "Is this a good match for you?" in seen_by(out, "bob")
    alice_fit = fit_buttons(run, "alice")
    assert list(alice_fit) == ["Yes", "Not sure", "No"]
    # The rating is still the newest question: one click answers it as before.
    out = await run("@alice click 4\n@alice cancel\n@alice click No")
    assert "A coordinator will reach out to you privately about a new match" in out
    assert "You answered: No" in out
    [esc] = await rows(bot, Escalation)
    assert (esc.kind, esc.reporter_id) == (EscalationKind.REMATCH, await member_id(bot, "alice"))
    assert "alice answered No" in esc.reason
    leads = "\n".join(t for t in out.split("\n[") if "to #leads" in t)
    assert "Escalation #1 in Spring" in leads and "Rematch request" in leads and "alice answered No" in leads
    assert "answered No" not in seen_by(run.all, "bob") and "Escalation" not in seen_by(run.all, "bob")
    # Answering twice, or someone else's question, changes nothing.
    assert await press(bot, "alice", alice_fit["Yes"]) == "You already answered this (No)."
    assert await press(bot, "bob", alice_fit["Yes"]) == "That question was sent to someone else."
    # The second meeting asks for a rating, not for the fit again.
    out = await run("clock +7d\n@bob click We met")
    assert "How was your check-in" in seen_by(out, "bob") and "good match" not in out
    assert len(await rows(bot, FitCheck)) == 2
    assert [f.answer for f in await rows(bot, FitCheck)] == [None, "no"]  # bob, alice


async def test_pulse_survey_at_30_then_90_days_and_the_quality_score(run: Script, bot: MentorBot) -> None:
    # Paired Mon 2026-11-30 08:00 UTC: the survey is due 30 days later, then at 90.
    await run(PAIRED + "clock 2026-12-30T07:59Z")
    assert "days into your mentorship" not in run.all
    out = await run("clock 2026-12-30T08:00Z")
    assert "30 days into your mentorship with bob: how useful is it to you?" in seen_by(out, "alice")
    assert "30 days into your mentorship with alice" in seen_by(out, "bob")
    out = await run('@alice click 4\n@alice submit note="More code review please"\n@bob click 2\n@bob cancel')
    assert "Thanks, recorded 4/5" in out and "Note saved" in out and "You answered 4/5" in out
    assert "More code review" not in seen_by(run.all, "bob")
    out = await run("clock 2027-02-28T07:59Z")
    assert "days into your mentorship" not in out
    out = await run("clock 2027-02-28T08:00Z")
    assert "90 days into your mentorship with bob" in seen_by(out, "alice")
    out = await run("@alice click 5")
    assert [(p.round, p.rating) for p in await rows(bot, Pulse)] == [(0, 2), (0, 4), (1, None), (1, 5)]
    [program] = await rows(bot, Program)
    async with bot.db.transaction() as s:
        assert await health.quality_score(s, program.id) == (11 / 3, 3)
        assert await health.quality_score(s, program.id, since=datetime(2027, 1, 1, tzinfo=UTC)) == (5.0, 1)


FOUR_PAIRS = SETUP + """
    @erin /mentor join mentor
    @dave /mentor join mentee
    @frank /mentor join mentor
    @gina /mentor join mentee
    @carol /mentor pair @bob @alice
    @carol /mentor pair @erin @dave
    @carol /mentor pair @frank @gina
"""


async def test_health_states_pairs_filter_and_digest_changes(run: Script, bot: MentorBot) -> None:
    await run(FOUR_PAIRS + """
        clock 2026-12-07T10:30Z
        @alice click We met
        @alice click 5
        @alice cancel
        @dave click We met
        @gina click We couldn't meet
        clock 2026-12-14T10:30Z
        @alice click We met
        @alice click 3
        @alice cancel
        @dave click We met
        @gina click We couldn't meet
        @hank /mentor join mentor
        @ivy /mentor join mentee
        @carol /mentor pair @hank @ivy
    """)
    [program] = await rows(bot, Program)
    async with bot.db.transaction() as s:
        states = await health.health_states(s, bot.rt, program, health.NOTHING_HIDDEN, bot.clock.now())
        stalled = await health.health_states(s, bot.rt, program, health.NOTHING_HIDDEN, bot.clock.now(), stalled={2})
    assert states == {1: "attention", 2: "on-track", 3: "at-risk", 4: "early"}
    assert stalled[2] == "attention"
    out = await run("""
        @carol /mentor pairs
        @carol /mentor pairs --health attention
        @carol /mentor pairs --health early
        @carol /mentor pairs --at-risk
        @carol /mentor pairs --health fine
    """)
    assert "avg rating 4.0, last met (2026-12-14) -- needs attention: rating fell from 5.0 to 3.0" in out
    assert "#2 erin (mentor) & dave (mentee): active, met 2/2, avg rating -, last met (2026-12-14) -- on track" in out
    assert "#3 frank (mentor) & gina (mentee): active, met 0/2" in out and "-- AT RISK: last check-in couldn't meet" in out
    assert "#4 hank (mentor) & ivy (mentee): active, met 0/0, avg rating -, no check-ins yet -- too early to tell" in out
    attention = out.split("--health attention")[1].split("--health early")[0]
    assert "Pairs in Spring (1):" in attention and "#1 bob" in attention
    early = out.split("--health early")[1].split("--at-risk")[0]
    assert "Pairs in Spring (1):" in early and "#4 hank" in early
    at_risk = out.split("--at-risk")[1]
    assert "Pairs in Spring (1):" in at_risk and "#3 frank" in at_risk
    assert '"fine" is not a health state. Use one of: at-risk, attention, on-track, early.' in out

    # The digests: 7 Dec everyone too early; 14 Dec after week 1; 21 Dec after week 2.
    out = await run("clock 2026-12-21T09:30Z")
    digests = [t for t in run.all.split("\n[") if "Weekly digest for Spring" in t][1:]  # after 30 Nov's
    assert len(digests) == 3
    assert "Health: 0 on track, 0 need attention, 0 at risk, 3 too early to tell" in digests[0]
    assert "Changed since 2026-11-30: nothing" in digests[0]
    assert "Health: 2 on track, 0 need attention, 1 at risk, 0 too early to tell" in digests[1]
    assert ("Changed since 2026-12-07: #1: too early to tell -> on track\n      #2: too early to tell -> on track\n"
            "      #3: too early to tell -> at risk") in digests[1]
    assert "Health: 1 on track, 1 need attention, 1 at risk, 1 too early to tell" in digests[2]
    assert "Changed since 2026-12-14: #1: on track -> needs attention\n      #4: new, too early to tell" in digests[2]
    async with bot.db.transaction() as s:
        over_time = await health.states_over_time(s, program.id)
    assert [(d.isoformat(), dict(c)) for d, c in over_time] == [
        ("2026-11-30", {"early": 3}), ("2026-12-07", {"early": 3}), ("2026-12-14", {"on-track": 2, "at-risk": 1}),
        ("2026-12-21", {"on-track": 1, "attention": 1, "at-risk": 1, "early": 1})]


async def test_a_mentor_who_coordinates_never_sees_his_mentees_answers(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + f"""
        @dan /mentor help
        @carol /mentor coordinators add @dan
        @carol /mentor join mentor
        @erin /mentor join mentee
        @carol /mentor pair @carol @erin
        clock {FIRST_NUDGE}
        clock 2026-12-07T10:30Z
        @erin click We met
    """)
    fit = fit_buttons(run, "erin")
    assert await press(bot, "erin", fit["No"]) == (
        "Thanks for being honest. A coordinator will reach out to you privately about a new match; "
        "your partner is not told.")
    await run("clock +1m")
    [esc] = await rows(bot, Escalation)
    assert esc.kind == EscalationKind.REMATCH
    assert "erin answered No" in seen_by(run.all, "dan")
    assert "erin answered No" not in seen_by(run.all, "carol") and "answered No" not in seen_by(run.all, "#leads")
    out = await run("@carol /mentor pairs\n@dan /mentor pairs")
    carol_sees = seen_by(out, "carol")
    assert "erin" not in carol_sees.split("Not listed")[0] and "Not listed: your own pair(s) #1" in carol_sees
    assert "#1 carol (mentor) & erin (mentee)" in seen_by(out, "dan") and "AT RISK: open escalation" in out
    [program] = await rows(bot, Program)
    carol_id = await member_id(bot, "carol")
    async with bot.db.transaction() as s:
        me = await s.get(Member, carol_id)
        assert me is not None
        hidden = await safeguards.hidden_from(s, me, program)
        assert await health.health_states(s, bot.rt, program, hidden, bot.clock.now()) == {}
        assert await health.health_states(s, bot.rt, program, health.NOTHING_HIDDEN, bot.clock.now()) == {1: "at-risk"}


async def test_pulse_answers_are_in_my_data_and_erased_with_the_person(run: Script, bot: MentorBot) -> None:
    import json

    from tests.test_flow_mydata import strings_in_database

    await run(PAIRED + "clock 2026-12-30T08:00Z")
    await run('@alice click 4\n@alice submit note="More code review please"\n@alice /mentor my-data')
    mine = json.loads(run.console.files[-1].read_bytes())
    assert {"pair": 1, "pulse_round": 0, "rating": 4, "note": "More code review please"}.items() <= \
        next(a for a in mine["health"] if "pulse_round" in a).items()
    await run("@alice /mentor forget-me\n@alice click Erase my data")
    assert await strings_in_database(bot, ("More code review please",)) == []
    async with bot.db.transaction() as s:  # the number stays: the quality score is unchanged
        assert (await health.quality_score(s, 1))[0] == 4.0


async def test_the_impact_report_says_how_many_pairs_are_in_each_state(run: Script) -> None:
    out = await run(PAIRED + "clock 2026-12-07T12:00Z\n@alice click We met\n@carol /mentor report --weeks 2")
    assert "Health now: on track: 1" in out
