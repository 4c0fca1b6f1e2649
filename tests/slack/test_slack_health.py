"""The fit check through Slack: after the first meeting each member privately gets "Is this a good match?";
"No" reaches the coordinators' channel as a rematch escalation, and the partner sees nothing of it."""

from __future__ import annotations

from datetime import datetime

from bot.clock import ManualClock
from testkit.console import START
from tests.slack.conftest import Slack, text_of
from tests.slack.test_slack_stories import ALICE_DM, BOB_DM, LEADS, PAIR_DM, advance, setup_pair


async def test_fit_check_no_escalates_privately_on_slack(slack: Slack, clock: ManualClock) -> None:
    await setup_pair(slack)
    await advance(slack.bot, clock, datetime(2026, 12, 7, 9, 5, tzinfo=START.tzinfo))
    await slack.deliver()
    await slack.click("UALICE", slack.last(PAIR_DM), "We met")
    await slack.deliver()
    ask = slack.find(ALICE_DM, "Is this a good match for you?")
    assert "never told" in ask.text
    assert slack.find(BOB_DM, "Is this a good match for you?")
    hook = await slack.click("UALICE", ask, "No")
    assert slack.fake.replies(hook)
    await slack.deliver()
    post = [p for p in slack.posts(LEADS) if "Rematch" in text_of(p.blocks) or "rematch" in text_of(p.blocks)]
    assert post, [text_of(p.blocks)[:200] for p in slack.posts(LEADS)]
    assert "You answered: No" in text_of(slack.find(ALICE_DM, "Is this a good match").blocks)
    bob_sees = " ".join(text_of(p.blocks) for p in slack.posts(BOB_DM) + slack.posts(PAIR_DM))
    assert "You answered" not in bob_sees and "rematch" not in bob_sees.lower()
