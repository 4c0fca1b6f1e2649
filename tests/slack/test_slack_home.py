"""The App Home tab: a member sees their pair, next check-in in their zone and recent answers; a coordinator
also sees program counts and open escalations; nobody sees ratings, notes or reports there."""

from __future__ import annotations

from datetime import datetime

from bot.clock import ManualClock
from testkit.console import START
from tests.slack.conftest import Slack, text_of
from tests.slack.test_slack_stories import PAIR_DM, advance, setup_pair


async def open_home(slack: Slack, user: str, event_id: str) -> str:
    assert await slack.event({"type": "app_home_opened", "user": user, "tab": "home", "channel": "D1"}, event_id) == 200
    published = slack.fake.called("views.publish")[-1]
    assert published["user_id"] == user and published["view"]["type"] == "home"
    return text_of(published["view"]["blocks"])


async def test_a_stranger_is_welcomed(slack: Slack) -> None:
    assert "Welcome to mentorbot" in await open_home(slack, "UDAN", "Ev-h1")


async def test_member_and_coordinator_homes(slack: Slack, clock: ManualClock) -> None:
    await setup_pair(slack)
    home = await open_home(slack, "UALICE", "Ev-h2")
    assert "Pair #1 Bob (mentor) &amp; Alice (mentee) in Spring" in home
    # Alice is in New York: her next check-in is shown at her 04:00 (10:00 in Berlin, Bob's zone).
    assert "Mon 07 Dec 2026, 04:00 (America/New_York)" in home

    await advance(slack.bot, clock, datetime(2026, 12, 7, 9, 5, tzinfo=START.tzinfo))
    await slack.deliver()
    await slack.click("UBOB", slack.last(PAIR_DM), "We couldn't meet")
    await slack.command("UBOB", "problem Alice is hard to reach")
    home = await open_home(slack, "UALICE", "Ev-h3")
    assert "2026-12-07: couldn't meet (Bob)" in home
    assert "hard to reach" not in home and "Escalation" not in home
    # The commands she may run, from the same declarations as /mentor help; none of the coordinators'.
    assert "/mentor checkin [--pair N]" in home and "/mentor pair @mentor" not in home

    home = await open_home(slack, "UCAROL", "Ev-h4")
    assert "Program Spring (you coordinate it)" in home
    assert "*Active pairs*\n1" in home and "*Open escalations*\n1" in home
    assert "#1 Problem report, open: #1 Bob (mentor) &amp; Alice (mentee)" in home
    assert "/mentor pair @mentor @mentee [--force REASON]" in home


async def test_a_meeting_logged_ahead_shows_on_the_home_tab(slack: Slack) -> None:
    await setup_pair(slack)
    await slack.command("UALICE", "checkin")
    assert "Mon 07 Dec 2026, 04:00 (America/New_York), already logged as met" in await open_home(slack, "UALICE", "Ev-h5")
